"""The staged conv2d_backward exercises of 04: are their references the true gradients (PyTorch's
autograd), do correct alternatives get full marks on visible and hidden cases, does every plausible
wrong answer fail the visible check (so `fallback` never adopts it), and does each hint appear exactly
when its mistake was made?"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from corpus.conv_backward_steps import (
    batch_bias_per_image,
    batch_by_einsum,
    batch_first_image_only,
    batch_kernel_convolved,
    batch_kernel_dtype,
    batch_kernel_rotated,
    batch_overwrites_input_gradient,
    input_by_scatter,
    input_columns_flipped_only,
    input_kernel_dtype,
    input_not_flipped,
    input_rows_flipped_only,
    input_valid_only,
    kernel_by_loops,
    kernel_cached_by_shape,
    kernel_delta_dtype,
    kernel_flipped,
    kernel_float64_always,
    kernel_twice,
    strided_by_scatter,
    strided_ignores_stride,
    strided_kernel_dtype,
    strided_overwrites,
    strided_square_stride,
)

from course.grading import check
from course.grading.exercises.conv_backward_steps import (
    conv2d_backward_unstrided,
    grad_input_one_channel,
    grad_input_strided_one_channel,
    grad_kernel_one_channel,
)

SEEDS = range(1, 6)


def torch_grads(grad_out, x, w, stride=1):
    """(grad_x, grad_w, grad_b) of J = sum(conv2d(x, w, b, stride) * grad_out) by autograd, float64."""
    xt = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    wt = torch.tensor(np.asarray(w, np.float64), requires_grad=True)
    bt = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    z = torch.nn.functional.conv2d(xt, wt, bt, stride=stride)
    (z * torch.tensor(np.asarray(grad_out, np.float64))).sum().backward()
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


# --- correct answers (tests/corpus/conv_backward_steps.py), written differently from the references -----


@pytest.mark.parametrize(
    ("exercise", "fn"),
    [
        ("grad_input_strided_one_channel", strided_by_scatter),
        ("grad_kernel_one_channel", kernel_by_loops),
        ("grad_input_one_channel", input_by_scatter),
        ("conv2d_backward_unstrided", batch_by_einsum),
    ],
)
def test_correct_alternatives_get_full_marks_on_visible_and_hidden_cases(exercise, fn):
    for seed in SEEDS:
        result = check(exercise, fn, hidden_seed=seed)
        assert result.status == "passed", result


def test_the_references_are_the_gradients_autograd_computes():
    rng = np.random.default_rng(0)
    for _ in range(10):
        n, c, f = rng.integers(1, 4, size=3)
        h, wd = rng.integers(3, 8, size=2)
        kh, kw = rng.integers(1, h + 1), rng.integers(1, wd + 1)
        x, w = rng.normal(size=(n, c, h, wd)), rng.normal(size=(f, c, kh, kw))
        grad_out = rng.normal(size=(n, f, h - kh + 1, wd - kw + 1))
        expected = torch_grads(grad_out, x, w)
        for got, want in zip(conv2d_backward_unstrided(grad_out, x, w), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        grad_x, grad_w, _ = torch_grads(grad_out[:1, :1], x[:1, :1], w[:1, :1])
        np.testing.assert_allclose(grad_kernel_one_channel(x[0, 0], grad_out[0, 0]), grad_w[0, 0], rtol=1e-10)
        np.testing.assert_allclose(grad_input_one_channel(grad_out[0, 0], w[0, 0]), grad_x[0, 0], rtol=1e-10)
        sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
        strided_out = rng.normal(size=(1, 1, (h - kh) // sh + 1, (wd - kw) // sw + 1))
        grad_x, _, _ = torch_grads(strided_out, x[:1, :1], w[:1, :1], (sh, sw))
        got = grad_input_strided_one_channel(strided_out[0, 0], w[0, 0], (h, wd), (sh, sw))
        np.testing.assert_allclose(got, grad_x[0, 0], rtol=1e-10, atol=1e-12)


def test_the_references_keep_the_dtypes_their_statements_give_on_mixed_inputs():
    """a's dtype for dJ/dw, delta's for dJ/da, and x's, w's and grad_out's for the batch's three
    gradients, whatever the other arguments' dtype; the values are autograd's (float32 where the result
    is float32, float64-accurate where it is float64)."""
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(2, 3, 6, 5)).astype(np.float32), rng.normal(size=(2, 3, 3, 2))
    grad_out = rng.normal(size=(2, 2, 4, 4))
    grads = conv2d_backward_unstrided(grad_out, x, w)
    assert [g.dtype for g in grads] == [np.float32, np.float64, np.float64]
    for got, want, rtol in zip(grads, torch_grads(grad_out, x, w), (1e-5, 1e-10, 1e-10), strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    a, delta, kernel = x[0, 0], grad_out[0, 0], w[0, 0]
    one_x, one_w, _ = torch_grads(grad_out[:1, :1], x[:1, :1], w[:1, :1])
    got = grad_kernel_one_channel(a, delta)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, one_w[0, 0], rtol=1e-5, atol=1e-5)
    got = grad_input_one_channel(delta.astype(np.float32), kernel)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, one_x[0, 0], rtol=1e-5, atol=1e-5)
    strided_out = rng.normal(size=(1, 1, 2, 2)).astype(np.float32)  # 6 x 5 input, 3 x 2 kernel, stride 3
    want = torch_grads(strided_out, x[:1, :1], w[:1, :1], 3)[0][0, 0]
    got = grad_input_strided_one_channel(strided_out[0, 0], kernel, (6, 5), 3)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_the_stubs_read_not_attempted():
    def stub(*args):
        raise NotImplementedError("complete this function")

    for exercise in (
        "grad_kernel_one_channel",
        "grad_input_one_channel",
        "conv2d_backward_unstrided",
        "grad_input_strided_one_channel",
    ):
        assert check(exercise, stub).status == "not attempted"


# --- wrong answers: each verified wrong by autograd, each failing the visible check ----------------------

FLIPPED_HINT = "flipped by 180°"
NOT_FLIPPED_HINT = "the kernel is not flipped"
FULL_HINT = "pad delta with KH - 1 rows"
ROTATED_HINT = "grad_w is rotated by 180°"
ROWS_HINT = "only the order of the rows was reversed (w[::-1])"
COLUMNS_HINT = "only the order of the columns was reversed (w[:, ::-1])"


WRONG = {
    "grad_input_strided_one_channel": [
        strided_ignores_stride,
        strided_overwrites,
        strided_square_stride,
        strided_kernel_dtype,
    ],
    "grad_kernel_one_channel": [
        kernel_flipped,
        kernel_twice,
        kernel_cached_by_shape(),
        kernel_float64_always,
        kernel_delta_dtype,
    ],
    "grad_input_one_channel": [
        input_not_flipped,
        input_rows_flipped_only,
        input_columns_flipped_only,
        input_valid_only,
        input_kernel_dtype,
    ],
    "conv2d_backward_unstrided": [
        batch_first_image_only,
        batch_bias_per_image,
        batch_overwrites_input_gradient,
        batch_kernel_rotated,
        batch_kernel_convolved,
        batch_kernel_dtype,
    ],
}


@pytest.mark.parametrize(("exercise", "fn"), [(e, fn) for e, fns in WRONG.items() for fn in fns])
def test_every_wrong_answer_fails_its_visible_check(exercise, fn):
    assert check(exercise, fn).status != "passed"


def test_the_wrong_answers_are_wrong_by_autograd():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(2, 2, 5, 6)), rng.normal(size=(3, 2, 3, 2))
    grad_out = rng.normal(size=(2, 3, 3, 5))
    grad_x, grad_w, grad_b = torch_grads(grad_out, x, w)
    a, delta, kernel = x[0, 0], grad_out[0, 0], w[0, 0]
    one_x, one_w, _ = torch_grads(grad_out[:1, :1], x[:1, :1], w[:1, :1])
    for fn in (kernel_flipped, kernel_twice):
        assert not np.allclose(fn(a, delta), one_w[0, 0])
    assert kernel_float64_always(a.astype(np.float32), delta.astype(np.float32)).dtype != np.float32
    # working in the other argument's dtype: the statement's dtype is lost when the two differ
    assert kernel_delta_dtype(a.astype(np.float32), delta).dtype != np.float32
    assert input_kernel_dtype(delta.astype(np.float32), kernel).dtype != np.float32
    assert batch_kernel_dtype(grad_out, x.astype(np.float32), w)[0].dtype != np.float32
    assert strided_kernel_dtype(np.ones((2, 2), np.float32), kernel, (5, 6), (2, 3)).dtype != np.float32
    for fn in (input_not_flipped, input_rows_flipped_only, input_columns_flipped_only, input_valid_only):
        got = fn(delta, kernel)
        assert got.shape != one_x[0, 0].shape or not np.allclose(got, one_x[0, 0])
    got_x, got_w, _ = batch_first_image_only(grad_out, x, w)
    assert not np.allclose(got_w, grad_w)
    assert not np.allclose(batch_bias_per_image(grad_out, x, w)[2], grad_b)
    assert not np.allclose(batch_overwrites_input_gradient(grad_out, x, w)[0], grad_x)
    for fn in (batch_kernel_rotated, batch_kernel_convolved):
        assert not np.allclose(fn(grad_out, x, w)[1], grad_w)
    strided_out = rng.normal(size=(1, 1, 2, 2))  # 5 x 6 input, 3 x 2 kernel, stride (2, 3)
    want = torch_grads(strided_out, x[:1, :1], w[:1, :1], (2, 3))[0][0, 0]
    for fn in (strided_ignores_stride, strided_overwrites, strided_square_stride):
        assert not np.allclose(fn(strided_out[0, 0], kernel, (5, 6), (2, 3)), want)


def messages(result) -> str:
    return "\n".join(case.message for case in result.cases)


def test_each_hint_appears_for_its_mistake_and_never_for_another():
    assert FLIPPED_HINT in messages(check("grad_kernel_one_channel", kernel_flipped))
    for fn in (kernel_twice, kernel_by_loops):
        assert FLIPPED_HINT not in messages(check("grad_kernel_one_channel", fn))
    assert NOT_FLIPPED_HINT in messages(check("grad_input_one_channel", input_not_flipped))
    assert ROWS_HINT in messages(check("grad_input_one_channel", input_rows_flipped_only))
    assert COLUMNS_HINT in messages(check("grad_input_one_channel", input_columns_flipped_only))
    for fn in (input_by_scatter, input_not_flipped, input_columns_flipped_only, input_valid_only):
        assert ROWS_HINT not in messages(check("grad_input_one_channel", fn))
    for fn in (input_by_scatter, input_not_flipped, input_rows_flipped_only, input_valid_only):
        assert COLUMNS_HINT not in messages(check("grad_input_one_channel", fn))
    assert FULL_HINT in messages(check("grad_input_one_channel", input_valid_only))
    for fn in (input_by_scatter, input_valid_only, input_rows_flipped_only):
        assert NOT_FLIPPED_HINT not in messages(check("grad_input_one_channel", fn))
    assert "all N images" in messages(check("conv2d_backward_unstrided", batch_first_image_only))
    assert "all N images" not in messages(check("conv2d_backward_unstrided", batch_overwrites_input_gradient))
    # the rotated grad_w is not the input convolved with delta: each is told only what it did
    assert ROTATED_HINT in messages(check("conv2d_backward_unstrided", batch_kernel_rotated))
    for fn in (batch_kernel_convolved, batch_first_image_only, batch_by_einsum):
        assert ROTATED_HINT not in messages(check("conv2d_backward_unstrided", fn))
    assert "stride is ignored" in messages(check("grad_input_strided_one_channel", strided_ignores_stride))
    assert "windows that overlap overwrite" in messages(
        check("grad_input_strided_one_channel", strided_overwrites)
    )
    for fn in (strided_by_scatter, strided_square_stride):
        assert "windows that overlap overwrite" not in messages(check("grad_input_strided_one_channel", fn))


def test_a_dtype_mistake_gets_the_dtype_message_and_no_value_hint():
    result = check("grad_kernel_one_channel", kernel_float64_always)
    float32_cases = [case for case in result.cases if "float32" in case.name]
    assert float32_cases and all("dtype float64, expected float32" in case.message for case in float32_cases)
    assert all(FLIPPED_HINT not in case.message for case in float32_cases)


def test_a_hint_is_withheld_where_two_mistakes_give_the_same_answer():
    # with a 3 x 1 kernel, "not flipped" and "only the order of the columns reversed" are the same array
    result = check("grad_input_one_channel", input_not_flipped)
    one_column = next(case for case in result.cases if "3 x 1" in case.name)
    assert one_column.score < one_column.max_score and NOT_FLIPPED_HINT not in one_column.message
