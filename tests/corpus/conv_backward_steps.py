"""Correct alternatives and plausible wrong answers for the staged conv2d_backward exercises of 04
(`course/grading/exercises/conv_backward_steps.py`), written as students write them. Each wrong answer
is verified wrong against PyTorch's autograd in tests/test_conv_backward_steps.py; BUGGY gives the words
its feedback must contain (None: no hint may be named)."""

from __future__ import annotations

import numpy as np

# --- correct answers, written differently from the references ------------------------------------------


def kernel_by_loops(a, delta):
    ho, wo = delta.shape
    kh, kw = a.shape[0] - ho + 1, a.shape[1] - wo + 1
    grad = np.zeros((kh, kw), dtype=a.dtype)
    for j in range(kh):
        for i in range(kw):
            grad[j, i] = np.sum(a[j : j + ho, i : i + wo] * delta)
    return grad


def input_by_scatter(delta, w):
    kh, kw = w.shape
    grad = np.zeros((delta.shape[0] + kh - 1, delta.shape[1] + kw - 1), dtype=delta.dtype)
    for (n, m), d in np.ndenumerate(delta):
        grad[n : n + kh, m : m + kw] += w * d
    return grad


def batch_by_einsum(grad_out, x, w):
    _, _, kh, kw = w.shape
    _, _, ho, wo = grad_out.shape
    grad_x, grad_w = np.zeros_like(x), np.zeros_like(w)
    for j in range(kh):
        for i in range(kw):
            grad_w[:, :, j, i] = np.einsum("nfrq,ncrq->fc", grad_out, x[:, :, j : j + ho, i : i + wo])
            grad_x[:, :, j : j + ho, i : i + wo] += np.einsum("nfrq,fc->ncrq", grad_out, w[:, :, j, i])
    return grad_x, grad_w, grad_out.sum(axis=(0, 2, 3))


def strided_by_scatter(delta, w, input_shape, stride):
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    kh, kw = w.shape
    grad = np.zeros(input_shape, dtype=delta.dtype)
    for (n, m), d in np.ndenumerate(delta):
        grad[n * sh : n * sh + kh, m * sw : m * sw + kw] += d * w
    return grad


# --- wrong answers --------------------------------------------------------------------------------------


def kernel_flipped(a, delta):  # a true convolution instead of a correlation
    return kernel_by_loops(a, delta)[::-1, ::-1].copy()


def kernel_twice(a, delta):  # a stray factor 2 (no known misconception)
    return 2 * kernel_by_loops(a, delta)


def kernel_cached_by_shape():  # work cached on the shape: right on the first call only
    cache = {}

    def fn(a, delta):
        if a.shape not in cache:
            cache[a.shape] = kernel_by_loops(a, delta)
        return cache[a.shape]

    return fn


def kernel_float64_always(a, delta):  # right values, wrong dtype for float32 inputs
    return kernel_by_loops(a.astype(np.float64), delta.astype(np.float64))


def kernel_delta_dtype(a, delta):  # works in delta's dtype: right whenever a and delta share one
    return kernel_by_loops(a.astype(delta.dtype), delta)


def input_not_flipped(delta, w):  # the full correlation with w itself, not w rotated by 180°
    return _full(delta, w)


def input_rows_flipped_only(delta, w):
    return _full(delta, w[::-1])


def input_columns_flipped_only(delta, w):
    return _full(delta, w[:, ::-1])


def _full(delta, kernel):
    kh, kw = kernel.shape
    padded = np.pad(delta, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    out = np.zeros((delta.shape[0] + kh - 1, delta.shape[1] + kw - 1), dtype=delta.dtype)
    for (p, q), _ in np.ndenumerate(out):
        out[p, q] = np.sum(padded[p : p + kh, q : q + kw] * kernel)
    return out


def input_valid_only(delta, w):  # forgot the zero padding: a valid correlation with the flipped kernel
    kh, kw = w.shape
    ho, wo = delta.shape[0] - kh + 1, delta.shape[1] - kw + 1
    if ho < 1 or wo < 1:
        return np.zeros((0, 0), dtype=delta.dtype)
    return np.array(
        [[np.sum(delta[r : r + kh, q : q + kw] * w[::-1, ::-1]) for q in range(wo)] for r in range(ho)]
    )


def input_kernel_dtype(delta, w):  # works in w's dtype: right whenever delta and w share one
    return input_by_scatter(delta.astype(w.dtype), w)


def batch_first_image_only(grad_out, x, w):
    grad_x, _, grad_b = batch_by_einsum(grad_out, x, w)
    return grad_x, batch_by_einsum(grad_out[:1], x[:1], w)[1], grad_b


def batch_bias_per_image(grad_out, x, w):
    grad_x, grad_w, _ = batch_by_einsum(grad_out, x, w)
    return grad_x, grad_w, grad_out[0].sum(axis=(1, 2))


def batch_kernel_rotated(grad_out, x, w):  # grad_w rotated by 180°, as if the forward flipped the kernel
    grad_x, grad_w, grad_b = batch_by_einsum(grad_out, x, w)
    return grad_x, grad_w[:, :, ::-1, ::-1].copy(), grad_b


def batch_kernel_convolved(grad_out, x, w):  # grad_w as the input truly convolved with delta (delta flipped)
    grad_x, _, grad_b = batch_by_einsum(grad_out, x, w)
    return grad_x, batch_by_einsum(grad_out[:, :, ::-1, ::-1].copy(), x, w)[1], grad_b


def batch_overwrites_input_gradient(grad_out, x, w):  # = instead of += between kernel offsets
    _, _, kh, kw = w.shape
    _, _, ho, wo = grad_out.shape
    grad_x, grad_w, grad_b = batch_by_einsum(grad_out, x, w)
    grad_x = np.zeros_like(x)
    for j in range(kh):
        for i in range(kw):
            grad_x[:, :, j : j + ho, i : i + wo] = np.einsum("nfrq,fc->ncrq", grad_out, w[:, :, j, i])
    return grad_x, grad_w, grad_b


def batch_kernel_dtype(grad_out, x, w):  # works in w's dtype: grad_x too, right when all share one
    return batch_by_einsum(grad_out.astype(w.dtype), x.astype(w.dtype), w)


def strided_ignores_stride(delta, w, input_shape, stride):
    return strided_by_scatter(delta, w, input_shape, 1)


def strided_overwrites(delta, w, input_shape, stride):  # = instead of += where windows overlap
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    kh, kw = w.shape
    grad = np.zeros(input_shape, dtype=delta.dtype)
    for (n, m), d in np.ndenumerate(delta):
        grad[n * sh : n * sh + kh, m * sw : m * sw + kw] = d * w
    return grad


def strided_kernel_dtype(delta, w, input_shape, stride):  # works in w's dtype
    return strided_by_scatter(delta.astype(w.dtype), w, input_shape, stride)


def strided_sized_by_windows(delta, w, input_shape, stride):
    """Sizes dJ/da as far as the windows reach, (Ho - 1) * sh + KH: the leftover rows are dropped."""
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    reached = ((delta.shape[0] - 1) * sh + w.shape[0], (delta.shape[1] - 1) * sw + w.shape[1])
    return strided_by_scatter(delta, w, reached, stride)


def strided_square_stride(delta, w, input_shape, stride):  # uses the row stride along the columns too
    sh = stride if isinstance(stride, int) else stride[0]
    return strided_by_scatter(delta, w, input_shape, sh)


CORRECT = {
    "grad_kernel_one_channel": [kernel_by_loops],
    "grad_input_one_channel": [input_by_scatter],
    "conv2d_backward_unstrided": [batch_by_einsum],
    "grad_input_strided_one_channel": [strided_by_scatter],
}
BUGGY = [
    ("grad_kernel_one_channel", kernel_flipped, "flipped by 180°"),
    ("grad_kernel_one_channel", kernel_twice, None),
    ("grad_kernel_one_channel", kernel_cached_by_shape(), None),
    ("grad_kernel_one_channel", kernel_float64_always, "dtype float64"),
    ("grad_kernel_one_channel", kernel_delta_dtype, "dJ/dw has dtype float64, expected float32"),
    ("grad_input_one_channel", input_not_flipped, "the kernel is not flipped"),
    ("grad_input_one_channel", input_rows_flipped_only, "only the order of the rows was reversed (w[::-1])"),
    (
        "grad_input_one_channel",
        input_columns_flipped_only,
        "only the order of the columns was reversed (w[:, ::-1])",
    ),
    ("grad_input_one_channel", input_valid_only, "pad delta with KH - 1 rows"),
    ("grad_input_one_channel", input_kernel_dtype, "dJ/da has dtype float64, expected float32"),
    ("conv2d_backward_unstrided", batch_first_image_only, "all N images"),
    ("conv2d_backward_unstrided", batch_bias_per_image, None),
    ("conv2d_backward_unstrided", batch_overwrites_input_gradient, "grad_x was overwritten (=)"),
    ("conv2d_backward_unstrided", batch_kernel_rotated, "grad_w is rotated by 180°"),
    ("conv2d_backward_unstrided", batch_kernel_convolved, None),
    ("conv2d_backward_unstrided", batch_kernel_dtype, "grad_x has dtype float64, expected float32"),
    ("grad_input_strided_one_channel", strided_ignores_stride, "the stride is ignored"),
    ("grad_input_strided_one_channel", strided_overwrites, "windows that overlap overwrite"),
    ("grad_input_strided_one_channel", strided_square_stride, None),
    ("grad_input_strided_one_channel", strided_sized_by_windows, "stops where the last window ends"),
    ("grad_input_strided_one_channel", strided_kernel_dtype, "dJ/da has dtype float64, expected float32"),
]
