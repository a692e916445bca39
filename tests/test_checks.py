"""Do the checks catch every plausible bug, accept every correct implementation, and say why?

The corpus (tests/corpus) holds wrong implementations written the way students get them wrong, and
correct ones written the different ways students get them right (loops, im2col, FFT, float32 sums).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from corpus import buggy_kernels, conv_backward_steps, conv_steps, correct_kernels, other_exercises, questions

from course import functional
from course.grading import (
    EXERCISES,
    cases_for,
    check,
    fallback,
    load_points,
    references,
)
from course.grading.exercises.components import MIXED_DTYPES
from course.grading.kernel_cases import VISIBLE_CONV, VISIBLE_POOL, hidden_conv, hidden_pool, pair

KERNEL_IDS = (
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "conv2d_backward",
    "max_pool2d_backward",
    "avg_pool2d_backward",
)
HIDDEN_SEEDS = (1, 2, 3)
BUGGY = (
    buggy_kernels.BUGGY
    + other_exercises.BUGGY
    + conv_steps.BUGGY
    + conv_backward_steps.BUGGY
    + questions.BUGGY
)
CORRECT = [
    (exercise_id, fn)
    for table in (
        correct_kernels.CORRECT,
        other_exercises.CORRECT,
        conv_steps.CORRECT,
        conv_backward_steps.CORRECT,
        questions.CORRECT,
    )
    for exercise_id, fns in table.items()
    for fn in fns
]


def _text(result) -> str:
    return "\n".join([result.message, *(case.message for case in result.cases)])


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_reference_gets_full_marks_on_visible_and_hidden_cases(exercise_id):
    exercise = EXERCISES[exercise_id]
    for seed in (None, *HIDDEN_SEEDS):
        result = check(exercise_id, exercise.reference, hidden_seed=seed)
        assert result.status == "passed", str(result)
        assert result.score == result.max_score == exercise.points


@pytest.mark.parametrize(("exercise_id", "fn"), CORRECT, ids=lambda v: getattr(v, "__name__", v))
def test_a_correct_implementation_written_differently_gets_full_marks(exercise_id, fn):
    for seed in (None, *HIDDEN_SEEDS):
        result = check(exercise_id, fn, hidden_seed=seed)
        assert result.status == "passed", str(result)


@pytest.mark.parametrize(("exercise_id", "fn", "words"), BUGGY, ids=lambda v: getattr(v, "__name__", None))
def test_a_buggy_implementation_loses_points_and_hears_why(exercise_id, fn, words):
    result = check(exercise_id, fn)
    assert result.score < result.max_score, str(result)
    if words is not None:
        assert words in _text(result), str(result)


def test_the_corpus_is_big_enough_and_covers_every_exercise():
    kernel_bugs = [entry for entry in buggy_kernels.BUGGY if entry[0] in KERNEL_IDS]
    assert len(kernel_bugs) >= 25
    assert {entry[0] for entry in kernel_bugs} == set(KERNEL_IDS)
    assert {entry[0] for entry in BUGGY} == set(EXERCISES)
    assert {exercise_id for exercise_id, _ in CORRECT} == set(EXERCISES)
    assert all(len(correct_kernels.CORRECT[e]) >= 2 for e in KERNEL_IDS)


def test_a_stub_is_not_attempted():
    def stub(*args):
        raise NotImplementedError("conv2d: complete this function")

    result = check("conv2d", stub, hidden_seed=1)
    assert result.status == "not attempted" and result.score == 0


def test_a_wrong_answer_on_hidden_cases_only_loses_points_there():
    """A conv2d that is right only for the visible shapes: full marks visibly, not with hidden cases."""
    visible = {((s.n, s.c, s.h, s.w), (s.f, s.c, s.kh, s.kw)) for s in (*VISIBLE_CONV, MIXED_DTYPES)}

    def memorised(x, w, b=None, stride=1, padding=0):
        z = functional.conv2d(x, w, b, stride, padding)
        return z if (x.shape, w.shape) in visible else -z

    assert check("conv2d", memorised).status == "passed"
    assert check("conv2d", memorised, hidden_seed=1).status == "partial"


# what the cases cover ----------------------------------------------------------------------------


def test_visible_conv_cases_cover_what_bugs_hide_from():
    setups = VISIBLE_CONV
    assert any(s.h != s.w for s in setups) and any(s.kh != s.kw for s in setups)
    assert any(max(pair(s.stride)) > 1 for s in setups)
    assert any(max(pair(s.padding)) == 0 for s in setups) and any(min(pair(s.padding)) > 0 for s in setups)
    assert any(0 in pair(s.padding) and max(pair(s.padding)) > 0 for s in setups)
    assert any(isinstance(s.stride, tuple) and s.stride[0] != s.stride[1] for s in setups)
    assert any(isinstance(s.padding, tuple) and s.padding[0] != s.padding[1] for s in setups)
    assert any(s.n > 1 for s in setups) and any(s.c != s.f and s.c > 1 for s in setups)
    assert {s.dtype for s in setups} == {"float32", "float64"}
    assert any(s.bias for s in setups) and any(not s.bias for s in setups)


def test_visible_pool_cases_overlap_and_leave_stride_to_its_default():
    setups = VISIBLE_POOL
    assert any(s.stride is None for s in setups)
    overlapping = [
        s for s in setups if s.stride is not None and min(pair(s.stride)) < max(pair(s.kernel_size))
    ]
    assert overlapping
    assert any(pair(s.kernel_size)[0] != pair(s.kernel_size)[1] for s in setups)
    assert {s.dtype for s in setups} == {"float32", "float64"}


@pytest.mark.parametrize("seed", HIDDEN_SEEDS)
def test_pooling_inputs_have_no_ties_except_in_the_case_about_ties(seed):
    for setup in [*VISIBLE_POOL, *hidden_pool(np.random.default_rng(seed))]:
        x, _ = setup.arrays(np.random.default_rng(seed))
        values = np.sort(x.ravel().astype(np.float64))
        assert np.all(np.diff(values) > 0.1)
    tie_case = next(c for c in cases_for(EXERCISES["max_pool2d_backward"], None) if "tied" in c.name)
    assert len(np.unique(tie_case.args[1])) < tie_case.args[1].size


def test_hidden_cases_change_with_the_seed_and_visible_ones_do_not():
    exercise = EXERCISES["conv2d"]
    first, second = cases_for(exercise, 1), cases_for(exercise, 2)
    visible = [c for c in first if not c.hidden]
    assert visible and all(not c.hidden for c in cases_for(exercise, None))
    assert [c.name for c in first if c.hidden] != [c.name for c in second if c.hidden]
    assert all(
        np.array_equal(a.args[0], b.args[0]) for a, b in zip(visible, cases_for(exercise, None), strict=True)
    )
    assert hidden_conv(np.random.default_rng(5)) == hidden_conv(np.random.default_rng(5))


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_every_case_can_be_sent_to_the_sandbox(exercise_id):
    cases = cases_for(EXERCISES[exercise_id], 1)
    assert len(pickle.loads(pickle.dumps(cases))) == len(cases)


def test_backward_checks_include_finite_differences_of_the_forward():
    for exercise_id in ("conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward"):
        names = [c.name for c in cases_for(EXERCISES[exercise_id], None)]
        assert any("finite differences" in name for name in names)


@pytest.mark.parametrize(
    ("exercise_id", "fn"),
    [
        ("conv2d_backward", buggy_kernels.conv2d_backward_not_flipped),
        ("conv2d_backward", buggy_kernels.conv2d_backward_grad_w_mean),
        ("max_pool2d_backward", buggy_kernels.max_pool2d_backward_overwrite),
        ("avg_pool2d_backward", buggy_kernels.avg_pool2d_backward_kh_only),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_the_finite_difference_case_catches_a_wrong_gradient_on_its_own(exercise_id, fn):
    result = check(exercise_id, fn)
    (numeric,) = [case for case in result.cases if "finite differences" in case.name]
    assert not numeric.passed and "the worst is at index" in numeric.message


# the receptive field against a probe ---------------------------------------------------------------


def probe_receptive_field(layers):
    """Bump input pixels of a stack of real convolutions / average poolings (positive weights, so every
    path adds up) and measure how far the pixels that move output (0, 0) reach along the first row and
    the first column (the region is square: both must agree). All bumped images go through the stack
    as one batch, the last one unbumped. The side runs from the first to the last pixel seen: kernels
    smaller than a stride leave gaps."""
    rng = np.random.default_rng(len(layers))
    side = references.receptive_field(layers) + 3
    x = rng.uniform(0.5, 1.5, size=(side, side))
    batch = np.repeat(x[None, None], 2 * side + 1, axis=0)
    positions = np.arange(side)
    batch[positions, 0, 0, positions] += 1.0  # images 0..side-1: a pixel of the first row
    batch[side + positions, 0, positions, 0] += 1.0  # then the pixels of the first column
    for index, (kernel_size, stride) in enumerate(layers):
        if index % 2:
            batch = functional.avg_pool2d(batch, kernel_size, stride)
        else:
            weights = rng.uniform(0.5, 1.5, size=(1, 1, kernel_size, kernel_size))
            batch = functional.conv2d(batch, weights, None, stride)
    moved = batch[:-1, 0, 0, 0] != batch[-1, 0, 0, 0]
    along_row, along_column = np.nonzero(moved[:side])[0], np.nonzero(moved[side:])[0]
    assert along_row[0] == 0 and np.array_equal(along_row, along_column)
    return int(along_row[-1] + 1)


def test_the_receptive_field_check_agrees_with_a_probe_through_real_layers():
    for seed in (None, *HIDDEN_SEEDS):
        assert check("receptive_field", probe_receptive_field, hidden_seed=seed).status == "passed"


# points, partial credit, fallback ----------------------------------------------------------------


def test_points_are_configurable_and_partial_credit_is_proportional(tmp_path):
    result = check("conv2d", buggy_kernels.conv2d_bias_forgotten, points=10)
    assert result.max_score == 10
    passed = sum(case.passed for case in result.cases)
    assert result.score == pytest.approx(10 * passed / len(result.cases), abs=1e-4)
    weighted = check("max_pool2d_backward", buggy_kernels.max_pool2d_backward_last_tie)
    weights = {case.name: case.max_score for case in weighted.cases}
    assert sorted(set(weights.values())) == [0.5, 1.0]
    assert weighted.score == pytest.approx(3 * (1 - 0.5 / sum(weights.values())), abs=1e-4)  # rounded
    table_file = tmp_path / "points.json"
    table_file.write_text(json.dumps({"conv2d": 5, "iou": 0.5}))
    assert load_points(table_file) == {"conv2d": 5.0, "iou": 0.5}
    with pytest.raises(KeyError, match="no exercise 'conv3d'"):
        load_points({"conv3d": 1})
    with pytest.raises(ValueError, match="must be a number >= 0"):
        load_points({"conv2d": -1})
    # JSON's NaN and Infinity passed the check and made the exercise's score nan or inf
    for value in ("NaN", "Infinity"):
        table_file.write_text(f'{{"conv2d": {value}}}')
        with pytest.raises(ValueError, match=r"points for 'conv2d' must be a number >= 0 and finite, got"):
            load_points(table_file)


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"points": -1}, ValueError, "check: points must be a number >= 0 and finite, got -1"),
        ({"points": float("nan")}, ValueError, "check: points must be a number >= 0 and finite, got nan"),
        ({"points": "5"}, TypeError, "check: points must be a number >= 0 and finite, got '5'"),
        ({"hidden_seed": "x"}, TypeError, "check: hidden_seed must be an int >= 0 (or None), got 'x'"),
        ({"hidden_seed": -1}, ValueError, "check: hidden_seed must be an int >= 0 (or None), got -1"),
        ({"hidden_seed": 1.5}, TypeError, "check: hidden_seed must be an int >= 0 (or None), got 1.5"),
    ],
)
def test_bad_points_or_hidden_seed_are_refused_naming_the_argument(options, error, message):
    """points=-1 was accepted and scored a case '-0/-0.1429 points'; hidden_seed='x' raised numpy's
    'unrecognized seed string', naming no argument."""
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        check("conv2d", correct_kernels.conv2d_im2col, **options)
    assert check("conv2d", correct_kernels.conv2d_im2col, hidden_seed=np.int64(3), points=2).score == 2


def test_fallback_keeps_a_passing_function_and_stands_in_for_an_unfinished_one(capsys):
    assert fallback("conv2d", correct_kernels.conv2d_im2col) is correct_kernels.conv2d_im2col
    assert capsys.readouterr().out == ""
    assert fallback("conv2d", buggy_kernels.conv2d_true_convolution) is functional.conv2d
    assert "using the reference conv2d until yours passes its check" in capsys.readouterr().out


def test_feedback_names_the_worst_entry_with_expected_and_got():
    text = _text(check("avg_pool2d", buggy_kernels.avg_pool2d_sum))
    assert "the worst is at index" in text and "expected" in text and ", got" in text


def test_numerical_gradient_cases_still_work_where_the_grader_poisons_the_references():
    """The grader's sandbox makes course.functional and course.grading uncallable by student code; the
    functions handed to a student's numerical_gradient must not need them (a fresh process, poisoned)."""
    script = """
import numpy as np
from course.grader.sandbox import poison, runner
from course.grading import EXERCISES, cases_for
from course.grading.exercise import run_case
cases = cases_for(EXERCISES["numerical_gradient"], 3)
poison.poison_references(keep=lambda name: name in runner.KEEP)
def student(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad
errors = [run_case(student, case).error for case in cases]
assert errors == [None] * len(cases) and poison.used() == [], (errors, poison.used())
"""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
