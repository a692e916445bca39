"""Plausible wrong implementations of the six kernel exercises, each with the words its feedback must
contain (None where no misconception message is designed). Each is a small change to a correct one."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .correct_kernels import (
    _out,
    _pad,
    _pair,
    avg_pool2d_backward_loops,
    conv2d_backward_loops,
    conv2d_im2col,
    max_pool2d_loops,
)

# conv2d ------------------------------------------------------------------------------------------


def conv2d_true_convolution(x, w, b=None, stride=1, padding=0):
    return conv2d_im2col(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, stride, padding)


def conv2d_slice_padding(x, w, b=None, stride=1, padding=0):
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    a = np.zeros((*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    a[:, :, ph:-ph, pw:-pw] = x  # empty slices when a padding is 0
    return conv2d_im2col(a, w, b, (sh, sw), 0)


def conv2d_pad_one_side(x, w, b=None, stride=1, padding=0):
    (ph, pw) = _pair(padding)
    a = np.pad(x, ((0, 0), (0, 0), (ph, 0), (pw, 0)))
    return conv2d_im2col(a, w, b, stride, 0)


def conv2d_edge_padding(x, w, b=None, stride=1, padding=0):
    (ph, pw) = _pair(padding)
    a = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="edge")
    return conv2d_im2col(a, w, b, stride, 0)


def conv2d_stride_ignored(x, w, b=None, stride=1, padding=0):
    return conv2d_im2col(x, w, b, 1, padding)


def conv2d_channels_overwritten(x, w, b=None, stride=1, padding=0):
    z = None
    for ch in range(x.shape[1]):
        z = conv2d_im2col(x[:, ch : ch + 1], np.ascontiguousarray(w[:, ch : ch + 1]), b, stride, padding)
    return z


def conv2d_bias_forgotten(x, w, b=None, stride=1, padding=0):
    return conv2d_im2col(x, w, None, stride, padding)


def conv2d_bias_per_channel(x, w, b=None, stride=1, padding=0):
    z = 0
    for ch in range(x.shape[1]):
        z = z + conv2d_im2col(x[:, ch : ch + 1], np.ascontiguousarray(w[:, ch : ch + 1]), b, stride, padding)
    return z


def conv2d_size_off_by_one(x, w, b=None, stride=1, padding=0):
    z = conv2d_im2col(x, w, b, stride, padding)
    return np.ascontiguousarray(z[:, :, :-1, :-1]) if min(z.shape[2:]) > 1 else z[:, :, :0]


def conv2d_pairs_swapped(x, w, b=None, stride=1, padding=0):
    return conv2d_im2col(x, w, b, _pair(stride)[::-1], _pair(padding)[::-1])


def conv2d_always_float64(x, w, b=None, stride=1, padding=0):
    return conv2d_im2col(x.astype(np.float64), w.astype(np.float64), b, stride, padding)


def conv2d_kernel_dtype(x, w, b=None, stride=1, padding=0):
    """Works in w's dtype (an accumulator made like w): right whenever x and w share a dtype."""
    return conv2d_im2col(x.astype(w.dtype), w, b, stride, padding)


def conv2d_kernel_transposed(x, w, b=None, stride=1, padding=0):
    return conv2d_im2col(x, np.ascontiguousarray(w.transpose(0, 1, 3, 2)), b, stride, padding)


# pooling -----------------------------------------------------------------------------------------


def max_pool2d_stride_one(x, kernel_size, stride=None):
    return max_pool2d_loops(x, kernel_size, 1)


def max_pool2d_stride_ignored(x, kernel_size, stride=None):
    return max_pool2d_loops(x, kernel_size)


def max_pool2d_mean(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw].mean(axis=(4, 5))


def max_pool2d_hw_swapped(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    return max_pool2d_loops(x, (kw, kh), (sw, sh))


def max_pool2d_window_short(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    ho, wo = _out(x.shape[2], kh, sh), _out(x.shape[3], kw, sw)
    y = np.empty((*x.shape[:2], ho, wo), dtype=x.dtype)
    for r in range(ho):
        for c in range(wo):  # the window stops one short: r*sh + kh - 1
            window = x[:, :, r * sh : r * sh + max(kh - 1, 1), c * sw : c * sw + max(kw - 1, 1)]
            y[:, :, r, c] = window.max(axis=(2, 3))
    return y


def avg_pool2d_square_count(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw].sum(axis=(4, 5)) / (kh * kh)


def avg_pool2d_sum(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw].sum(axis=(4, 5))


def avg_pool2d_in_place(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    x /= kh * kw  # scales the caller's array
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw].sum(axis=(4, 5))


def avg_pool2d_kernel_as_stride(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::kh, ::kw].mean(axis=(4, 5))


# conv2d_backward ---------------------------------------------------------------------------------


def _conv_backward_parts(grad_out, x, w, stride, padding, *, images=None, flip=False, step=None):
    """A loop backward with switches for classic mistakes."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    (th, tw) = step or (sh, sw)
    a = _pad(x, ph, pw)
    rows = max(a.shape[2], (grad_out.shape[2] - 1) * th + w.shape[2])
    cols = max(a.shape[3], (grad_out.shape[3] - 1) * tw + w.shape[3])
    grad_a = np.zeros((*a.shape[:2], rows, cols), dtype=x.dtype)
    grad_w = np.zeros_like(w)
    kernel = w[:, :, ::-1, ::-1] if flip else w
    kh, kw = w.shape[2:]
    for n in range(x.shape[0]) if images is None else images:
        for f in range(w.shape[0]):
            for r in range(grad_out.shape[2]):
                for c in range(grad_out.shape[3]):
                    d = grad_out[n, f, r, c]
                    grad_w[f] = grad_w[f] + a[n, :, r * sh : r * sh + kh, c * sw : c * sw + kw] * d
                    grad_a[n, :, r * th : r * th + kh, c * tw : c * tw + kw] += kernel[f] * d
    grad_x = np.ascontiguousarray(grad_a[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]])
    return grad_x, grad_w, grad_out.sum(axis=(0, 2, 3))


def conv2d_backward_grad_w_last_image(grad_out, x, w, stride=1, padding=0):
    grad_x, _, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    _, grad_w, _ = _conv_backward_parts(grad_out, x, w, stride, padding, images=[x.shape[0] - 1])
    return grad_x, grad_w, grad_b


def conv2d_backward_grad_w_mean(grad_out, x, w, stride=1, padding=0):
    grad_x, grad_w, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    return grad_x, grad_w / x.shape[0], grad_b


def conv2d_backward_grad_b_one_image(grad_out, x, w, stride=1, padding=0):
    grad_x, grad_w, _ = conv2d_backward_loops(grad_out, x, w, stride, padding)
    return grad_x, grad_w, grad_out[0].sum(axis=(1, 2))


def conv2d_backward_not_flipped(grad_out, x, w, stride=1, padding=0):
    return _conv_backward_parts(grad_out, x, w, stride, padding, flip=True)


def conv2d_backward_grad_w_rotated(grad_out, x, w, stride=1, padding=0):
    """grad_w rotated by 180 degrees, as if the forward pass had flipped the kernel."""
    grad_x, grad_w, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    return grad_x, np.ascontiguousarray(grad_w[:, :, ::-1, ::-1]), grad_b


def conv2d_backward_stride_ignored(grad_out, x, w, stride=1, padding=0):
    return _conv_backward_parts(grad_out, x, w, stride, padding, step=(1, 1))


def conv2d_backward_grad_w_stride_ignored(grad_out, x, w, stride=1, padding=0):
    """grad_w sums a[n + j, m + i] * delta[n, m], as if the stride were 1."""
    grad_x, _, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    (ph, pw) = _pair(padding)
    a = _pad(x, ph, pw)
    ho, wo = grad_out.shape[2:]
    grad_w = np.zeros_like(w)
    for j in range(w.shape[2]):
        for i in range(w.shape[3]):
            grad_w[:, :, j, i] = np.einsum("nfrc,nkrc->fk", grad_out, a[:, :, j : j + ho, i : i + wo])
    return grad_x, grad_w, grad_b


def conv2d_backward_grad_x_assigned(grad_out, x, w, stride=1, padding=0):
    """The notebook's loop over kernel offsets, with = where it says +=."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    _, _, ho, wo = grad_out.shape
    grad_x, grad_w, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    grad_a = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    for j in range(w.shape[2]):
        for i in range(w.shape[3]):
            part = np.einsum("nfrs,fc->ncrs", grad_out, w[:, :, j, i])
            grad_a[:, :, j : j + sh * ho : sh, i : i + sw * wo : sw] = part
    return grad_a[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]], grad_w, grad_b


def conv2d_backward_in_input_dtype(grad_out, x, w, stride=1, padding=0):
    """All three gradients in x's dtype (w and grad_out cast to it first), as `course.functional` gives
    them: right whenever the three share one dtype."""
    return conv2d_backward_loops(grad_out.astype(x.dtype), x, w.astype(x.dtype), stride, padding)


def conv2d_backward_grad_b_averaged(grad_out, x, w, stride=1, padding=0):
    """grad_b as the mean of delta over the batch and the positions."""
    grad_x, grad_w, _ = conv2d_backward_loops(grad_out, x, w, stride, padding)
    return grad_x, grad_w, grad_out.mean(axis=(0, 2, 3))


def conv2d_backward_padding_kept(grad_out, x, w, stride=1, padding=0):
    (ph, pw) = _pair(padding)
    grad_x, grad_w, grad_b = conv2d_backward_loops(grad_out, _pad(x, ph, pw), w, stride, 0)
    return grad_x, grad_w, grad_b


def conv2d_backward_slice_crop(grad_out, x, w, stride=1, padding=0):
    (ph, pw) = _pair(padding)
    grad_a, grad_w, grad_b = conv2d_backward_loops(grad_out, _pad(x, ph, pw), w, stride, 0)
    return np.ascontiguousarray(grad_a[:, :, ph:-ph, pw:-pw]), grad_w, grad_b


# pooling backward --------------------------------------------------------------------------------


def _max_backward(
    grad_out, x, kernel_size, stride=None, *, accumulate=True, last=False, shape_swapped=False, step=None
):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    (th, tw) = step or (sh, sw)
    grad = np.zeros_like(x)
    for n in range(x.shape[0]):
        for ch in range(x.shape[1]):
            for r in range(grad_out.shape[2]):
                for c in range(grad_out.shape[3]):
                    window = x[n, ch, r * sh : r * sh + kh, c * sw : c * sw + kw]
                    flat = kh * kw - 1 - np.argmax(window.ravel()[::-1]) if last else np.argmax(window)
                    j, i = np.unravel_index(flat, (kw, kh) if shape_swapped else (kh, kw))
                    where = (n, ch, min(r * th + j, x.shape[2] - 1), min(c * tw + i, x.shape[3] - 1))
                    grad[where] = grad[where] + grad_out[n, ch, r, c] if accumulate else grad_out[n, ch, r, c]
    return grad


def max_pool2d_backward_overwrite(grad_out, x, kernel_size, stride=None):
    return _max_backward(grad_out, x, kernel_size, stride, accumulate=False)


def max_pool2d_backward_last_tie(grad_out, x, kernel_size, stride=None):
    return _max_backward(grad_out, x, kernel_size, stride, last=True)


def max_pool2d_backward_unravel_swapped(grad_out, x, kernel_size, stride=None):
    return _max_backward(grad_out, x, kernel_size, stride, shape_swapped=True)


def max_pool2d_backward_stride_ignored(grad_out, x, kernel_size, stride=None):
    return _max_backward(grad_out, x, kernel_size, stride, step=(1, 1))


def max_pool2d_backward_whole_window(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    return avg_pool2d_backward_loops(grad_out, x, kernel_size, stride) * (kh * kw)


def max_pool2d_backward_grad_out_dtype(grad_out, x, kernel_size, stride=None):
    """Works in grad_out's dtype (x = x.astype(grad_out.dtype) first): right whenever they share one."""
    return _max_backward(grad_out, x.astype(grad_out.dtype), kernel_size, stride)


def max_pool2d_backward_argmax_wrong_axis(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    grad = np.zeros_like(x)
    for n in range(x.shape[0]):
        for ch in range(x.shape[1]):
            for r in range(grad_out.shape[2]):
                for c in range(grad_out.shape[3]):
                    window = x[n, ch, r * sh : r * sh + kh, c * sw : c * sw + kw]
                    j = min(window.max(axis=0).argmax(), kh - 1)  # reduces the wrong axis: a column index
                    i = min(window.max(axis=1).argmax(), kw - 1)
                    grad[n, ch, r * sh + j, c * sw + i] += grad_out[n, ch, r, c]
    return grad


def _max_backward_to_ties(grad_out, x, kernel_size, stride, split):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    grad = np.zeros_like(x)
    for r in range(grad_out.shape[2]):
        for c in range(grad_out.shape[3]):
            window = x[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            if split:
                mask = mask / mask.sum(axis=(2, 3), keepdims=True)
            share = mask * grad_out[:, :, r : r + 1, c : c + 1]
            grad[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw] += share
    return grad


def max_pool2d_backward_all_ties(grad_out, x, kernel_size, stride=None):
    """The mask x == max of the window: every tied maximum gets the whole gradient."""
    return _max_backward_to_ties(grad_out, x, kernel_size, stride, split=False)


def max_pool2d_backward_split_ties(grad_out, x, kernel_size, stride=None):
    """The mask x == max divided by its count: tied maxima share the gradient."""
    return _max_backward_to_ties(grad_out, x, kernel_size, stride, split=True)


def avg_pool2d_backward_overwrite(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    grad = np.zeros_like(x)
    for r in range(grad_out.shape[2]):
        for c in range(grad_out.shape[3]):
            share = grad_out[:, :, r : r + 1, c : c + 1] / (kh * kw)
            grad[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw] = share
    return grad


def avg_pool2d_backward_grad_out_dtype(grad_out, x, kernel_size, stride=None):
    """Works in grad_out's dtype (x = x.astype(grad_out.dtype) first): right whenever they share one."""
    return avg_pool2d_backward_loops(grad_out, x.astype(grad_out.dtype), kernel_size, stride)


def avg_pool2d_backward_kh_only(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    return avg_pool2d_backward_loops(grad_out, x, kernel_size, stride) * kw


def avg_pool2d_backward_undivided(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    return avg_pool2d_backward_loops(grad_out, x, kernel_size, stride) * (kh * kw)


def avg_pool2d_backward_stride_ignored(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    grad = np.zeros_like(x)
    for r in range(grad_out.shape[2]):
        for c in range(grad_out.shape[3]):
            grad[:, :, r : r + kh, c : c + kw] += grad_out[:, :, r : r + 1, c : c + 1] / (kh * kw)
    return grad


# what a pooling backward working in grad_out's dtype is told on the case of float32 x, float64 grad_out
GRAD_X_DTYPE_ONLY = "grad_x has dtype float64, expected float32 (the input's dtype); its values are right"


# (exercise id, implementation, words the feedback must contain or None) ---------------------------
BUGGY = [
    ("conv2d", conv2d_true_convolution, "true convolution"),
    ("conv2d", conv2d_slice_padding, "a slice like a[p:-p] is empty"),
    ("conv2d", conv2d_pad_one_side, "one side only"),
    ("conv2d", conv2d_edge_padding, "mode='edge'"),
    ("conv2d", conv2d_stride_ignored, "stride was ignored"),
    ("conv2d", conv2d_channels_overwritten, "only one input channel"),
    ("conv2d", conv2d_bias_forgotten, "bias is missing"),
    ("conv2d", conv2d_bias_per_channel, "once per input channel"),
    ("conv2d", conv2d_size_off_by_one, "one row or column too many"),
    ("conv2d", conv2d_pairs_swapped, "wrong way round"),
    ("conv2d", conv2d_always_float64, "dtype float64, expected float32"),
    (
        "conv2d",
        conv2d_kernel_dtype,
        "dtype float64, expected float32 (the input's dtype); its values are right",
    ),
    (
        "conv2d",
        conv2d_kernel_transposed,
        "H and W are swapped in the kernel: w[f, c, j, i] multiplies a[s, c, n*sh + j, m*sw + i]",
    ),
    ("max_pool2d", max_pool2d_stride_one, "stride=None was taken as 1"),
    ("max_pool2d", max_pool2d_stride_ignored, "replaced by kernel_size"),
    ("max_pool2d", max_pool2d_mean, "took the mean"),
    ("max_pool2d", max_pool2d_hw_swapped, "H and W are swapped"),
    ("max_pool2d", max_pool2d_window_short, None),
    ("avg_pool2d", avg_pool2d_square_count, "divided by KH * KH"),
    ("avg_pool2d", avg_pool2d_sum, "divided by nothing"),
    ("avg_pool2d", avg_pool2d_in_place, "modified its input"),
    ("avg_pool2d", avg_pool2d_kernel_as_stride, "replaced by kernel_size"),
    ("conv2d_backward", conv2d_backward_grad_w_last_image, "only the last image"),
    ("conv2d_backward", conv2d_backward_grad_w_mean, "averages over the batch"),
    ("conv2d_backward", conv2d_backward_grad_b_one_image, "grad_b must sum delta over the batch"),
    (
        "conv2d_backward",
        conv2d_backward_not_flipped,
        "flipped the wrong way: written as a scatter, dJ/da[n*sh + j, m*sw + i] += w[j, i] * delta[n, m]",
    ),
    ("conv2d_backward", conv2d_backward_grad_w_rotated, "grad_w is rotated by 180°"),
    (
        "conv2d_backward",
        conv2d_backward_stride_ignored,
        "grad_x ignores the stride: delta[n, m] flows back to a[n*sh + j, m*sw + i]",
    ),
    (
        "conv2d_backward",
        conv2d_backward_grad_w_stride_ignored,
        "grad_w ignores the stride: it sums a[n*sh + j, m*sw + i] * delta[n, m]",
    ),
    ("conv2d_backward", conv2d_backward_grad_x_assigned, "grad_x was overwritten (=)"),
    ("conv2d_backward", conv2d_backward_grad_b_averaged, "grad_b averages delta: it is the sum over s, n, m"),
    ("conv2d_backward", conv2d_backward_padding_kept, "grad_x has shape"),
    ("conv2d_backward", conv2d_backward_slice_crop, "grad_x has shape"),
    ("conv2d_backward", conv2d_backward_in_input_dtype, "grad_w has dtype float32, expected float64"),
    ("max_pool2d_backward", max_pool2d_backward_overwrite, "overwritten instead of accumulated"),
    ("max_pool2d_backward", max_pool2d_backward_last_tie, "last maximum"),
    ("max_pool2d_backward", max_pool2d_backward_unravel_swapped, None),
    (
        "max_pool2d_backward",
        max_pool2d_backward_stride_ignored,
        "stride was ignored in the backward pass: window (n, m) starts at row n*sh, column m*sw",
    ),
    ("max_pool2d_backward", max_pool2d_backward_whole_window, "every input of the window"),
    ("max_pool2d_backward", max_pool2d_backward_all_ties, "went to every tied maximum"),
    ("max_pool2d_backward", max_pool2d_backward_split_ties, "split among the tied maxima"),
    ("max_pool2d_backward", max_pool2d_backward_argmax_wrong_axis, None),
    ("max_pool2d_backward", max_pool2d_backward_grad_out_dtype, GRAD_X_DTYPE_ONLY),
    ("avg_pool2d_backward", avg_pool2d_backward_overwrite, "overwritten instead of accumulated"),
    ("avg_pool2d_backward", avg_pool2d_backward_kh_only, "divided by KH only"),
    ("avg_pool2d_backward", avg_pool2d_backward_undivided, "divided by nothing"),
    ("avg_pool2d_backward", avg_pool2d_backward_grad_out_dtype, GRAD_X_DTYPE_ONLY),
    (
        "avg_pool2d_backward",
        avg_pool2d_backward_stride_ignored,
        "stride was ignored in the backward pass: window (n, m) starts at row n*sh, column m*sw",
    ),
]
