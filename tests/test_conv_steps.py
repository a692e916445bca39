"""Do the steps to conv2d (zero_pad, conv2d_channels, conv2d_batch, conv2d_stride) teach honestly? The
references pass visible and hidden cases; each mistake's hint appears on the answer that makes that
mistake, and never on a right answer or on a differently wrong one; two visible cases share shapes."""

from __future__ import annotations

import pytest
from corpus import conv_steps as corpus

from course.grading import EXERCISES, cases_for, check
from course.grading.exercises import conv_steps

STEPS = [exercise.id for exercise in conv_steps.EXERCISES]
HINTS = {  # the hint words of each designed mistake, by exercise
    "zero_pad": ["one side only", "are swapped", "batch and channel axes"],
    "conv2d_channels": [
        "only channel 0",
        "was flipped",
        "averaged, not summed",
        "H and W are swapped in the kernel",
    ],
    "conv2d_batch": ["bias is missing", "first image"],
    "conv2d_stride": ["are swapped", "stride was ignored", "first entry of the stride pair"],
}


def _messages(result) -> str:
    return "\n".join(case.message for case in result.cases)


@pytest.mark.parametrize("exercise_id", STEPS)
def test_the_reference_and_a_loop_version_pass_visible_and_hidden_cases(exercise_id):
    for fn in (EXERCISES[exercise_id].reference, *corpus.CORRECT[exercise_id]):
        for seed in (None, 1, 2, 3):
            assert check(exercise_id, fn, hidden_seed=seed).status == "passed"


@pytest.mark.parametrize("exercise_id", STEPS)
def test_two_visible_cases_share_their_shapes_with_new_values(exercise_id):
    cases = cases_for(EXERCISES[exercise_id], None)
    shapes = [tuple(getattr(a, "shape", a) for a in case.args) for case in cases]
    assert len(set(shapes)) < len(shapes)


@pytest.mark.parametrize(
    ("exercise_id", "fn", "words"), corpus.BUGGY, ids=lambda v: getattr(v, "__name__", None)
)
def test_a_wrong_step_hears_its_own_hint_and_no_other(exercise_id, fn, words):
    result = check(exercise_id, fn)
    assert result.score < result.max_score
    text = _messages(result)
    if words is not None:
        assert words in text, text
    others = [hint for hint in HINTS[exercise_id] if words is None or words not in hint]
    assert [hint for hint in others if hint in text] == [], text


def test_a_dtype_error_gets_no_value_hint():
    text = _messages(check("zero_pad", corpus.zero_pad_float64))
    assert "dtype float64, expected float32" in text
    assert not any(hint in text for hint in HINTS["zero_pad"])


@pytest.mark.parametrize("exercise_id", STEPS)
def test_a_right_answer_gets_no_message(exercise_id):
    result = check(exercise_id, corpus.CORRECT[exercise_id][0])
    assert all(case.message == "" for case in result.cases)
