"""Does the feedback of a check say what is true, and only that? Each test is one of the ways a check
used to mislead a student (issue 12), turned into a question a wrong check fails."""

from __future__ import annotations

import numpy as np
import pytest
from corpus import buggy_kernels, correct_kernels, oracles, other_exercises, wrong_answers

from course import functional
from course.grader.sandbox.wire import decode_frames, decode_outcome, encode_outcome
from course.grading import EXERCISES, cases_for, check
from course.grading.compare import compare_number, distinct
from course.grading.exercise import Case, Outcome, describe, run_case
from course.grading.exercises.applications import _nms_mistakes
from course.grading.judging import judge_array, matching_number
from course.grading.kernel_cases import VISIBLE_CONV, VISIBLE_POOL, hidden_conv, hidden_pool, pair


def _feedback(result) -> str:
    return "\n".join([result.message, *(case.message for case in result.cases)])


# two calls per case -------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_every_check_calls_twice_with_the_same_shapes_and_new_values(exercise_id):
    """Every exercise whose cases hold float arrays has a visible case with a second call whose
    arrays have the same shapes and dtypes and different values."""
    cases = cases_for(EXERCISES[exercise_id], None)
    if not any(isinstance(v, np.ndarray) and v.dtype.kind == "f" for c in cases for v in c.args):
        pytest.skip("numbers only: its several cases are its several calls")
    repeated = [case for case in cases if case.again is not None]
    assert repeated
    for case in repeated:
        args, kwargs = case.again
        arrays = [(a, b) for a, b in zip(case.args, args, strict=True) if isinstance(a, np.ndarray)]
        assert all(a.shape == b.shape and a.dtype == b.dtype for a, b in arrays)
        assert any(not np.array_equal(a, b) for a, b in arrays)
        assert kwargs.keys() == case.kwargs.keys()


def test_a_returned_buffer_reused_by_the_next_call_is_caught():
    """The first output is held, not copied, until the second call is over."""
    buffer = {}

    def leaky(x, kernel_size, stride=None):
        y = functional.max_pool2d(x, kernel_size, stride)
        out = buffer.setdefault(y.shape, np.empty_like(y))
        out[...] = y
        return out

    result = check("max_pool2d", leaky)
    assert result.status == "failed"
    assert "changed when it was called again" in _feedback(result)


def test_the_second_call_goes_through_the_sandbox_wire():
    first = Outcome(output=np.arange(3.0), modified=("argument 1",))
    outcome = Outcome(output=np.ones(2), again=first, changed=True)
    frames, problem = decode_frames(encode_outcome(4, outcome))
    ((header, arrays),) = frames
    assert problem == ""
    back = decode_outcome(header, arrays)
    assert back.changed and back.again is not None and back.again.again is None
    assert np.array_equal(back.again.output, np.arange(3.0)) and back.again.modified == ("argument 1",)
    nested = dict(header, again=dict(header["again"], again=header["again"]))
    with pytest.raises(ValueError, match="one second call"):
        decode_outcome(nested, arrays)


# hints: only the one mistake that explains the output --------------------------------------------


def test_a_dtype_only_error_gets_the_dtype_message_and_no_value_hint():
    text = _feedback(check("conv2d", buggy_kernels.conv2d_always_float64))
    assert "dtype float64, expected float32 (the input's dtype); its values are right" in text
    assert "one side only" not in text and "padding" not in text


def test_a_numerical_gradient_in_the_inputs_dtype_is_not_told_float64_is_the_inputs_dtype():
    """The gradient is float64 whatever x's dtype: on the float32 and int64 cases, "expected float64
    (the input's dtype)" stated a rule that is false there."""

    def in_own_dtype(f, x, eps=1e-6):
        grad, point = np.zeros_like(x), x.astype(np.float64)
        for index in np.ndindex(x.shape):
            up, down = point.copy(), point.copy()
            up[index] += eps
            down[index] -= eps
            grad[index] = (f(up) - f(down)) / (2 * eps)
        return grad

    result = check("numerical_gradient", in_own_dtype)
    wrong = {case.name: case.message for case in result.cases if not case.passed}
    assert len(wrong) == 2 and all("float32" in name or "integer" in name for name in wrong)
    for message in wrong.values():
        assert "expected float64" in message and "the input's dtype" not in message


def test_a_returned_value_that_cannot_be_judged_is_not_said_to_be_raised():
    """A set was reported as "your function raised an unusable return value: a set": it raised nothing."""
    result = check("q_kernels_blind_to_flat_regions", lambda: {"w_laplace", "w_sobel_x", "w_sobel_y"})
    (case,) = result.cases
    assert case.message.startswith("your function returned an unusable value: a set;"), case.message
    assert "raised" not in case.message
    crashed = check("conv_output_size", lambda *args: 1 // 0)
    assert crashed.cases[0].message.startswith("your function raised ZeroDivisionError: ")


def test_a_hint_whose_mistake_gives_the_right_answer_on_the_case_is_not_given():
    """On size 28, kernel 5, padding 0, counting the padding once changes nothing: that hint can't be
    what explains a missing + 1."""
    text = _feedback(check("conv_output_size", other_exercises.conv_output_size_no_plus_one))
    assert "the + 1 is missing" in text and "counted once" not in text


def test_a_hint_that_two_mistakes_explain_equally_is_not_given():
    assert matching_number(5, 6, [("a", 5), ("b", 5)]) == ""
    assert matching_number(5, 6, [("a", 5), ("a", 5), ("b", 4)]) == "a"
    assert matching_number(6, 6, [("a", 6)]) == ""  # a "mistake" that gives the right answer
    expected = np.arange(4.0)
    variants = [("flipped", lambda: expected[::-1]), ("also flipped", lambda: expected[::-1].copy())]
    _, message = judge_array(expected, expected[::-1].copy(), "z", variants)
    assert "flipped" not in message


def test_the_zero_padding_hint_needs_an_error_about_an_empty_array():
    def raises_something_else(x, w, b=None, stride=1, padding=0):
        raise ValueError("my own check failed")

    assert "a[p:-p]" not in _feedback(check("conv2d", raises_something_else))
    assert "a[p:-p]" in _feedback(check("conv2d", buggy_kernels.conv2d_slice_padding))


@pytest.mark.parametrize(
    ("exercise_id", "fn"),
    [
        ("max_pool2d_backward", wrong_answers.max_pool2d_backward_sized_by_windows),
        ("conv2d_backward", wrong_answers.conv2d_backward_grad_x_sized_by_windows),
    ],
)
def test_a_gradient_a_row_short_is_told_the_shape_of_x_not_the_forward_output_size(exercise_id, fn):
    text = _feedback(check(exercise_id, fn))
    assert "it has the shape of x" in text and "(H + 2*ph - KH) // sh + 1" not in text


def test_iou_with_min_and_max_swapped_is_not_told_to_clamp():
    text = _feedback(check("iou", wrong_answers.iou_min_max_swapped))
    assert "min and max are swapped" in text and "clamp" not in text


def test_nms_with_pixel_widths_is_not_told_about_thresholds():
    text = _feedback(check("non_max_suppression", wrong_answers.non_max_suppression_pixels))
    assert "no + 1" in text and "threshold suppress" not in text


def test_nms_names_the_first_box_greedy_nms_treats_otherwise_not_the_lowest_index():
    """A chain of four 4 x 2 boxes, each overlapping the next with IoU 1/3 (review s28, H3): box 1 keeps
    box 3 by suppressing box 2, and box 3 suppresses box 0. An answer where suppressed boxes suppress keeps
    [1]; box 0 must be dropped, so "you dropped box 0 ... it should be kept" was false. Box 3 is the box
    to name."""
    boxes = np.array([[6, 0, 10, 2], [0, 0, 4, 2], [2, 0, 6, 2], [4, 0, 8, 2]], float)
    scores = np.array([0.5, 0.99, 0.95, 0.9])
    assert oracles.non_max_suppression(boxes, scores, 0.3) == [1, 3]
    score, message = EXERCISES["non_max_suppression"].judge(
        Case("chain", (boxes, scores, 0.3)),
        other_exercises.non_max_suppression_all_higher(boxes, scores, 0.3),
    )
    first, hint = message.split("\n")
    assert score == 0 and first.startswith("you dropped box 3 (score 0.9)") and "it should be kept" in first
    assert hint.startswith("boxes that were themselves suppressed suppressed others")


def test_what_nms_feedback_says_of_a_box_is_what_the_oracle_does_with_it():
    """On random scenes, every box the feedback says should be kept is kept by the oracle, and every box
    it says should have been suppressed is dropped, for each known mistake and for random wrong answers."""
    rng = np.random.default_rng(0)
    exercise = EXERCISES["non_max_suppression"]
    claims = 0
    for _ in range(200):
        count = int(rng.integers(3, 10))
        boxes = rng.uniform(0, 6, size=(count, 2))
        boxes = np.concatenate([boxes, boxes + rng.uniform(1, 5, size=(count, 2))], axis=1)
        levels = int(rng.choice([3, count]))  # many ties, or few
        scores = rng.integers(0, levels, size=count) / levels + 0.05
        threshold = float(rng.choice([0.1, 0.3, 0.5]))
        right = oracles.non_max_suppression(boxes, scores, threshold)
        order = sorted(range(count), key=lambda i: (-scores[i], i))
        answers = [kept for _, kept in _nms_mistakes(boxes, scores, threshold)]
        answers += [[i for i in order if rng.random() < 0.5] for _ in range(5)]
        for kept in answers:
            _, message = exercise.judge(Case("random", (boxes, scores, threshold)), np.array(kept, np.int64))
            words = message.split()
            if message.startswith("you dropped box "):
                assert int(words[3]) in right, (boxes, scores, threshold, kept, message)
                claims += 1
            elif message.startswith("you kept box "):
                assert int(words[3].rstrip(",")) not in right, (boxes, scores, threshold, kept, message)
                claims += 1
    assert claims > 100


def test_both_forms_of_the_overwrite_bug_in_max_pool_backward_get_the_hint():
    for fn in (
        buggy_kernels.max_pool2d_backward_overwrite,
        wrong_answers.max_pool2d_backward_slice_overwrite,
    ):
        assert "overwritten instead of accumulated" in _feedback(check("max_pool2d_backward", fn))


# messages ----------------------------------------------------------------------------------------


def test_numbers_print_with_enough_digits_to_differ():
    assert distinct(-1.534791, -1.534792) == ("-1.534791", "-1.534792")
    assert distinct(1.0, 1.0 + 1e-12)[0] != distinct(1.0, 1.0 + 1e-12)[1]
    _, message = compare_number(-1.5347912, -1.5347913)
    expected_text, got_text = message.split("expected ")[1].split(", got ")
    assert expected_text != got_text


def test_an_argument_modified_in_place_is_named():
    text = _feedback(check("gradient_descent_step", other_exercises.gradient_descent_step_in_place))
    assert "modified its input `w` in place" in text and "argument 1" not in text


def test_a_crash_points_at_the_students_line_not_numpys():
    def crashes(w, grad_w, lr):
        return np.dot(w, np.ones((7, 7))) - lr * grad_w  # the student's line

    outcome = run_case(crashes, cases_for(EXERCISES["gradient_descent_step"], None)[1])
    assert "np.dot(w, np.ones((7, 7)))" in outcome.error and "numeric.py" not in outcome.error


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (float("inf"), "returned inf where an integer was expected"),
        (("a", "b"), "returned a tuple of 2 str where an integer was expected"),
        (None, "returned None where an integer was expected"),
        (np.zeros(3), "returned an array of shape (3,) and dtype float64 where an integer was expected"),
    ],
)
def test_a_value_of_the_wrong_type_gets_a_clear_message(value, words):
    result = check("fc_param_count", lambda *args: value)
    assert words in _feedback(result)


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
@pytest.mark.parametrize(
    "value", [float("nan"), ("x",), {"a": 1}, [[1, 2], [3]], np.zeros((0,)), -1, True, "text", [None]]
)
def test_every_judge_gives_a_verdict_for_any_value(exercise_id, value):
    exercise = EXERCISES[exercise_id]
    for case in cases_for(exercise, None)[:2]:
        result = exercise.score_case(case, Outcome(output=value))
        assert result.score == 0 and result.message


def test_describe_names_any_value():
    assert describe(float("-inf")) == "-inf"
    assert describe([1, "a"]) == "a list of 2 values"
    assert describe({}) == "a dict"


def test_case_lines_show_credit_earned_out_of_possible():
    result = check("max_pool2d_backward", buggy_kernels.max_pool2d_backward_last_tie)
    text = str(result)
    tied = next(line for line in text.splitlines() if "tied maxima" in line)
    assert tied.split()[0] in ("part", "FAIL") and "/" in tied
    assert all(
        line.split()[1].count("/") == 1
        for line in text.splitlines()[1:]
        if line[:6].strip() in ("ok", "part", "FAIL")
    )
    html = result._repr_html_()
    assert "points" in html


# the statement's requirements are the graded ones ------------------------------------------------


def test_conv2d_single_keeps_the_inputs_dtype_as_its_statement_says():
    assert check("conv2d_single", other_exercises.conv2d_single_loops).status == "passed"
    result = check("conv2d_single", wrong_answers.conv2d_single_into_float64_zeros)
    assert result.status == "partial" and "dtype float64, expected float32" in _feedback(result)


def test_nms_ties_go_to_the_lower_index_and_the_reference_passes_tied_cases():
    boxes = np.array([[0, 0, 2, 2], [0.5, 0, 2.5, 2], [5, 5, 6, 6]], float)
    scores = np.array([0.5, 0.5, 0.5])
    from course.apps.boxes import non_max_suppression

    assert non_max_suppression(boxes, scores, 0.3).tolist() == [0, 2]
    exercise = EXERCISES["non_max_suppression"]
    assert exercise.judge(Case("ties", (boxes, scores, 0.3)), np.array([0, 2])) == (1.0, "")
    score, message = exercise.judge(Case("ties", (boxes, scores, 0.3)), np.array([1, 2]))
    assert score == 0 and "lower index" in message
    assert any("tied" in case.name or "equal scores" in case.name for case in cases_for(exercise, None))


# visible cases cover every class the hidden ones draw ---------------------------------------------


def _conv_class(s) -> frozenset:
    (sh, sw), (ph, pw) = pair(s.stride), pair(s.padding)
    kinds = set()
    for stride, padding, kernel in ((sh, ph, s.kh), (sw, pw, s.kw)):
        kinds |= {
            f"stride {'1' if stride == 1 else '>1'} with padding {'0' if padding == 0 else '>0'}",
            f"stride larger than kernel: {stride > kernel}",
            f"kernel 1 along an axis: {kernel == 1}",
        }
    kinds |= {f"pairs {isinstance(s.stride, tuple)}", s.dtype, f"bias {s.bias}", f"batch {s.n > 1}"}
    kinds |= {f"channels {s.c > 1}", f"kernels {s.f > 1}"}
    return frozenset(kinds)


def _pool_class(s) -> frozenset:
    (kh, kw) = pair(s.kernel_size)
    (sh, sw) = pair(s.kernel_size if s.stride is None else s.stride)
    kinds = {s.dtype, f"stride given {s.stride is not None}", f"square window {kh == kw}"}
    for stride, kernel in ((sh, kh), (sw, kw)):
        kinds |= {f"{'overlap' if stride < kernel else 'gap' if stride > kernel else 'tiled'}"}
        kinds |= {f"window 1: {kernel == 1}"}
    return frozenset(kinds)


@pytest.mark.parametrize("seed", range(1, 21))
def test_every_geometry_feature_a_hidden_setup_draws_is_in_a_visible_setup(seed):
    rng = np.random.default_rng(seed)
    visible_conv = set().union(*map(_conv_class, VISIBLE_CONV))
    visible_pool = set().union(*map(_pool_class, VISIBLE_POOL))
    for setup in hidden_conv(rng):
        assert _conv_class(setup) <= visible_conv, (setup, _conv_class(setup) - visible_conv)
    for setup in hidden_pool(rng):
        assert _pool_class(setup) <= visible_pool, (setup, _pool_class(setup) - visible_pool)


def test_a_correct_cache_keyed_on_values_is_not_mistaken_for_a_stale_one():
    """Right answers that remember things (here: on the values) keep full marks."""
    seen = {}

    def memo(x, w, b=None, stride=1, padding=0):
        key = (x.tobytes(), w.tobytes(), None if b is None else b.tobytes(), str(stride), str(padding))
        seen.setdefault(key, correct_kernels.conv2d_im2col(x, w, b, stride, padding))
        return seen[key].copy()

    assert check("conv2d", memo, hidden_seed=7).status == "passed"


def _conv2d_bias_on_last_axis(x, w, b=None, stride=1, padding=0):
    z = functional.conv2d(x, w, None, stride, padding)
    return z if b is None else z + b  # b (F,) lines up with the columns, not the channels


def _conv2d_batch_bias_on_last_axis(x, w, b=None):
    return _conv2d_bias_on_last_axis(x, w, b)


@pytest.mark.parametrize(
    ("exercise_id", "fn", "seed"),
    [
        ("conv2d", _conv2d_bias_on_last_axis, 15),
        ("conv2d", _conv2d_bias_on_last_axis, 16),
        ("conv2d_batch", _conv2d_batch_bias_on_last_axis, 3),
        ("conv2d_batch", _conv2d_batch_bias_on_last_axis, 23),
    ],
)
def test_a_bias_added_along_the_last_axis_is_told_so_not_the_output_size_rule(exercise_id, fn, seed):
    """With one output column, z + b gives F columns: the size rule is right, the broadcasting is not."""
    result = check(exercise_id, fn, hidden_seed=seed)
    hidden = "\n".join(case.message for case in result.cases if case.hidden and case.message)
    assert "the bias was added along the last axis (W)" in hidden, str(result)
    assert "one row or column too many" not in hidden, str(result)


def test_a_part_of_the_wrong_number_of_dimensions_is_named_not_called_the_output():
    def keepdims_bias(grad_out, x, w, stride=1, padding=0):
        grad_x, grad_w, grad_b = functional.conv2d_backward(grad_out, x, w, stride, padding)
        return grad_x, grad_w, grad_b.reshape(1, -1, 1, 1)

    feedback = _feedback(check("conv2d_backward", keepdims_bias))
    assert "grad_b should have shape" in feedback and "the output should have shape" not in feedback
