"""Correct alternatives and plausible wrong answers for the steps to conv2d (zero_pad, conv2d_channels,
conv2d_batch, conv2d_stride), written with plain loops and numpy, independently of course.functional."""

from __future__ import annotations

import numpy as np

from .other_exercises import conv2d_single_loops


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


# zero_pad ------------------------------------------------------------------------------------------


def zero_pad_by_assignment(x, padding):
    ph, pw = _pair(padding)
    out = np.zeros((*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    out[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return out


def zero_pad_one_side(x, padding):
    ph, pw = _pair(padding)
    return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)))


def zero_pad_negative_slice(x, padding):
    """The classic a[p:-p] bug: empty when p = 0."""
    ph, pw = _pair(padding)
    out = np.zeros((*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    out[:, :, ph:-ph, pw:-pw] = x
    return out


def zero_pad_float64(x, padding):
    ph, pw = _pair(padding)
    out = np.zeros((*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw))
    out[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return out


def zero_pad_edge(x, padding):
    """np.pad with mode='edge': the border values repeated instead of zeros."""
    ph, pw = _pair(padding)
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="edge")


def zero_pad_reflect(x, padding):
    ph, pw = _pair(padding)
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="reflect")


def zero_pad_returns_input(x, padding):
    """Nothing to pad, so hand back x itself: the caller's x then changes with the 'padded' array."""
    ph, pw = _pair(padding)
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# conv2d_channels -----------------------------------------------------------------------------------


def conv2d_channels_loops(a, w):
    channels, kernels = range(a.shape[0]), range(w.shape[0])
    return np.stack([sum(conv2d_single_loops(a[c], w[f, c]) for c in channels) for f in kernels])


def conv2d_channels_first_only(a, w):
    return np.stack([conv2d_single_loops(a[0], w[f, 0]) for f in range(w.shape[0])])


def conv2d_channels_flipped(a, w):
    return conv2d_channels_loops(a, w[:, :, ::-1, ::-1])


def conv2d_channels_kernel_transposed(a, w):
    """Reads the kernel as w[f, c, i, j]; on the first visible case's kernel that is also its rotation."""
    return conv2d_channels_loops(a, w.transpose(0, 1, 3, 2))


def conv2d_channels_kernel_dtype(a, w):
    """Works in w's dtype (a = a.astype(w.dtype) first): right whenever a and w share a dtype."""
    return conv2d_channels_loops(a.astype(w.dtype), w)


def conv2d_channels_not_summed(a, w):
    return np.stack(
        [np.stack([conv2d_single_loops(a[c], w[f, c]) for c in range(a.shape[0])]) for f in range(w.shape[0])]
    )


# conv2d_batch --------------------------------------------------------------------------------------


def conv2d_batch_loops(x, w, b=None):
    z = np.stack([conv2d_channels_loops(image, w) for image in x])
    return z if b is None else z + b.astype(x.dtype)[None, :, None, None]


def conv2d_batch_no_bias(x, w, b=None):
    return np.stack([conv2d_channels_loops(image, w) for image in x])


def conv2d_batch_kernel_dtype(x, w, b=None):
    """Works in w's dtype (x = x.astype(w.dtype) first): right whenever x, w and b share a dtype."""
    return conv2d_batch_loops(x.astype(w.dtype), w, b)


def conv2d_batch_first_image(x, w, b=None):
    one = conv2d_batch_loops(x[:1], w, b)
    return np.repeat(one, x.shape[0], axis=0)


def conv2d_batch_bias_on_width(x, w, b=None):
    z = np.stack([conv2d_channels_loops(image, w) for image in x])
    return z if b is None else z + b.sum()


# conv2d_stride -------------------------------------------------------------------------------------


def conv2d_stride_subsample(x, w, stride):
    """At stride 1, then every sh-th row and sw-th column: right, if wasteful."""
    sh, sw = _pair(stride)
    return conv2d_batch_loops(x, w)[:, :, ::sh, ::sw]


def conv2d_stride_kernel_dtype(x, w, stride):
    """Works in w's dtype (x = x.astype(w.dtype) first): right whenever x and w share a dtype."""
    return conv2d_stride_subsample(x.astype(w.dtype), w, stride)


def conv2d_stride_swapped(x, w, stride):
    sh, sw = _pair(stride)
    return conv2d_batch_loops(x, w)[:, :, ::sw, ::sh]


def conv2d_stride_ignored(x, w, stride):
    return conv2d_batch_loops(x, w)


def conv2d_stride_int_only(x, w, stride):
    """Takes only the first entry of a pair."""
    s = stride if isinstance(stride, int) else stride[0]
    return conv2d_batch_loops(x, w)[:, :, ::s, ::s]


CORRECT = {
    "zero_pad": [zero_pad_by_assignment],
    "conv2d_channels": [conv2d_channels_loops],
    "conv2d_batch": [conv2d_batch_loops],
    "conv2d_stride": [conv2d_stride_subsample],
}

# what an answer working in the kernel's dtype is told on the case of a float32 input and float64 kernel
DTYPE_ONLY = "z has dtype float64, expected float32 (the input's dtype); its values are right"

BUGGY = [
    ("zero_pad", zero_pad_one_side, "one side only"),
    ("zero_pad", zero_pad_negative_slice, "a[p:-p] is empty"),
    ("zero_pad", zero_pad_float64, "dtype"),
    ("zero_pad", zero_pad_edge, "mode='edge'"),
    ("zero_pad", zero_pad_reflect, "mode='reflect'"),
    ("zero_pad", zero_pad_returns_input, "shares memory with its argument `x`"),
    ("conv2d_channels", conv2d_channels_first_only, "only channel 0"),
    ("conv2d_channels", conv2d_channels_flipped, "flipped"),
    ("conv2d_channels", conv2d_channels_not_summed, "has shape"),
    ("conv2d_channels", conv2d_channels_kernel_transposed, "H and W are swapped in the kernel"),
    ("conv2d_channels", conv2d_channels_kernel_dtype, DTYPE_ONLY),
    ("conv2d_batch", conv2d_batch_no_bias, "bias is missing"),
    ("conv2d_batch", conv2d_batch_first_image, "first image"),
    ("conv2d_batch", conv2d_batch_bias_on_width, None),
    ("conv2d_batch", conv2d_batch_kernel_dtype, DTYPE_ONLY),
    ("conv2d_stride", conv2d_stride_swapped, "are swapped"),
    ("conv2d_stride", conv2d_stride_ignored, "stride was ignored"),
    ("conv2d_stride", conv2d_stride_int_only, "first entry of the stride pair"),
    ("conv2d_stride", conv2d_stride_kernel_dtype, DTYPE_ONLY),
]
