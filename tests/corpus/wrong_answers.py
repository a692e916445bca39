"""More plausible wrong answers, for every exercise, in the classes that used to pass: state kept
between calls (a cache keyed on the shape, a buffer not re-zeroed, a returned buffer reused), geometry
that is always square or unpadded where it matters, scale and edge values, ties, and answers that fit
one case. Each entry: (exercise id, function, words its feedback must contain, or None where no hint
is designed). `tests/test_check_corpus.py` proves each one wrong with an independent oracle on the
calls the check makes, then proves the check fails it on the visible cases.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import conv_steps
from .correct_kernels import (
    _pair,
    avg_pool2d_backward_loops,
    avg_pool2d_loops,
    conv2d_backward_loops,
    conv2d_im2col,
    max_pool2d_backward_loops,
    max_pool2d_loops,
)
from .other_exercises import conv2d_single_loops

_CACHE: dict = {}  # what the stateful answers below keep between calls (each under its own key)


# conv2d ------------------------------------------------------------------------------------------


def conv2d_im2col_cached_on_shape(x, w, b=None, stride=1, padding=0):
    """Keeps the im2col matrix of the first x of each shape: right once, stale afterwards."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    key = ("conv2d cols", x.shape, w.shape, sh, sw, ph, pw)
    if key not in _CACHE:
        a = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        _CACHE[key] = sliding_window_view(a, w.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw].copy()
    windows = _CACHE[key]
    z = np.einsum("ncrsji,fcji->nfrs", windows, w)
    if b is not None:
        z = z + b[None, :, None, None]
    return z.astype(x.dtype)


def conv2d_returns_its_buffer(x, w, b=None, stride=1, padding=0):
    """Writes every result into one output buffer per shape and returns that buffer."""
    z = conv2d_im2col(x, w, b, stride, padding)
    buffer = _CACHE.setdefault(("conv2d out", z.shape, z.dtype), np.empty_like(z))
    buffer[...] = z
    return buffer


def conv2d_stride_one_fast_path(x, w, b=None, stride=1, padding=0):
    """A 'fast path' for stride 1 that forgets the padding."""
    if _pair(stride) == (1, 1):
        return conv2d_im2col(x, w, b, 1, 0)
    return conv2d_im2col(x, w, b, stride, padding)


def conv2d_first_of_each_pair(x, w, b=None, stride=1, padding=0):
    """Takes the first number of a (h, w) pair for both axes."""
    stride = stride if isinstance(stride, int) else stride[0]
    padding = padding if isinstance(padding, int) else padding[0]
    return conv2d_im2col(x, w, b, stride, padding)


def conv2d_rows_by_kernel(x, w, b=None, stride=1, padding=0):
    """Skips rows by the kernel height when the stride is larger (windows never pass stride rows)."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    return conv2d_im2col(x, w, b, (min(sh, w.shape[2]), sw), (ph, pw))


# pooling -----------------------------------------------------------------------------------------


def max_pool2d_square_window(x, kernel_size, stride=None):
    """Uses kernel_size[0] along both axes."""
    k = _pair(kernel_size)[0]
    s = k if stride is None else _pair(stride)
    return max_pool2d_loops(x, k, s)


def max_pool2d_returns_its_buffer(x, kernel_size, stride=None):
    y = max_pool2d_loops(x, kernel_size, stride)
    buffer = _CACHE.setdefault(("max_pool2d out", y.shape, y.dtype), np.empty_like(y))
    buffer[...] = y
    return buffer


def max_pool2d_float32_buffer(x, kernel_size, stride=None):
    """Fills a float32 buffer, then (told the dtype must be x's) converts it with .astype(x.dtype):
    float64 inputs come back rounded to float32's 7 digits."""
    y = max_pool2d_loops(x, kernel_size, stride)
    out = np.zeros(y.shape, dtype=np.float32)
    out[...] = y
    return out.astype(x.dtype)


def max_pool2d_size_from_kernel(x, kernel_size, stride=None):
    """Counts outputs as H // KH, as if the stride were always the kernel size."""
    (kh, kw) = _pair(kernel_size)
    y = max_pool2d_loops(x, kernel_size, stride)
    return np.ascontiguousarray(y[:, :, : x.shape[2] // kh, : x.shape[3] // kw])


def avg_pool2d_windows_cached_on_shape(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    key = ("avg windows", x.shape, kh, kw, sh, sw)
    if key not in _CACHE:
        _CACHE[key] = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw].copy()
    return _CACHE[key].mean(axis=(4, 5)).astype(x.dtype)


def avg_pool2d_float64_output(x, kernel_size, stride=None):
    return avg_pool2d_loops(x, kernel_size, stride).astype(np.float64)


def avg_pool2d_stride_as_kernel(x, kernel_size, stride=None):
    return avg_pool2d_loops(x, kernel_size, None)


# conv2d_backward ---------------------------------------------------------------------------------


def conv2d_backward_grad_w_not_rezeroed(grad_out, x, w, stride=1, padding=0):
    """Accumulates grad_w into a buffer kept per shape and never zeroed."""
    grad_x, grad_w, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    buffer = _CACHE.setdefault(("grad_w", w.shape, w.dtype), np.zeros_like(w))
    buffer += grad_w
    return grad_x, buffer.copy(), grad_b


def conv2d_backward_stride_one_fast_path(grad_out, x, w, stride=1, padding=0):
    """For stride 1, crops grad_x by the kernel's size instead of the padding."""
    grad_x, grad_w, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    if _pair(stride) == (1, 1) and max(_pair(padding)) > 0:
        (ph, pw) = _pair(padding)
        padded = np.pad(grad_x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        grad_x = np.ascontiguousarray(padded[:, :, : x.shape[2], : x.shape[3]])
    return grad_x, grad_w, grad_b


def conv2d_backward_grad_x_sized_by_windows(grad_out, x, w, stride=1, padding=0):
    """Sizes grad_x as far as the windows reach, (Ho - 1) * sh + KH - 2 ph: drops the leftover rows."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    grad_x, grad_w, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    rows = (grad_out.shape[2] - 1) * sh + w.shape[2] - 2 * ph
    cols = (grad_out.shape[3] - 1) * sw + w.shape[3] - 2 * pw
    return np.ascontiguousarray(grad_x[:, :, :rows, :cols]), grad_w, grad_b


def conv2d_backward_float64_grad_x(grad_out, x, w, stride=1, padding=0):
    grad_x, grad_w, grad_b = conv2d_backward_loops(grad_out, x, w, stride, padding)
    return grad_x.astype(np.float64), grad_w, grad_b


# max_pool2d_backward -----------------------------------------------------------------------------


def max_pool2d_backward_slice_overwrite(grad_out, x, kernel_size, stride=None):
    """Writes each window's mask times its gradient over the window: overlaps are overwritten."""
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    grad = np.zeros_like(x)
    for r in range(grad_out.shape[2]):
        for c in range(grad_out.shape[3]):
            window = x[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw].reshape(*x.shape[:2], -1)
            first = np.argmax(window, axis=2)
            mask = np.zeros_like(window)
            np.put_along_axis(mask, first[:, :, None], 1.0, axis=2)
            region = mask.reshape(*x.shape[:2], kh, kw) * grad_out[:, :, r : r + 1, c : c + 1]
            grad[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw] = region
    return grad


def max_pool2d_backward_mask_cached_on_shape(grad_out, x, kernel_size, stride=None):
    """Keeps where the maxima of the first x of each shape were."""
    key = ("max mask", x.shape, str(kernel_size), str(stride))
    if key not in _CACHE:
        ones = np.ones(grad_out.shape, dtype=x.dtype)
        _CACHE[key] = max_pool2d_backward_loops(ones, x, kernel_size, stride) > 0
    mask = _CACHE[key]
    grad = max_pool2d_backward_loops(grad_out, x, kernel_size, stride)
    return np.where(mask, grad, 0).astype(x.dtype)


def max_pool2d_backward_returns_its_buffer(grad_out, x, kernel_size, stride=None):
    grad = max_pool2d_backward_loops(grad_out, x, kernel_size, stride)
    buffer = _CACHE.setdefault(("max grad out", grad.shape, grad.dtype), np.empty_like(grad))
    buffer[...] = grad
    return buffer


def max_pool2d_backward_sized_by_windows(grad_out, x, kernel_size, stride=None):
    """Sizes grad_x as far as the windows reach, (Ho - 1) * sh + KH: drops the rows no window reached."""
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    grad = max_pool2d_backward_loops(grad_out, x, kernel_size, stride)
    rows, cols = (grad_out.shape[2] - 1) * sh + kh, (grad_out.shape[3] - 1) * sw + kw
    return np.ascontiguousarray(grad[:, :, :rows, :cols])


# avg_pool2d_backward -----------------------------------------------------------------------------


def avg_pool2d_backward_not_rezeroed(grad_out, x, kernel_size, stride=None):
    buffer = _CACHE.setdefault(
        ("avg grad", x.shape, x.dtype, str(kernel_size), str(stride)), np.zeros_like(x)
    )
    buffer += avg_pool2d_backward_loops(grad_out, x, kernel_size, stride)
    return buffer.copy()


def avg_pool2d_backward_square_count(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    return avg_pool2d_backward_loops(grad_out, x, kernel_size, stride) * (kh * kw) / (kh * kh)


def avg_pool2d_backward_float64(grad_out, x, kernel_size, stride=None):
    return avg_pool2d_backward_loops(grad_out, x, kernel_size, stride).astype(np.float64)


# conv2d_single -----------------------------------------------------------------------------------


def conv2d_single_into_float64_zeros(a, w):
    kh, kw = w.shape
    z = np.zeros((a.shape[0] - kh + 1, a.shape[1] - kw + 1))
    for n in range(z.shape[0]):
        for m in range(z.shape[1]):
            z[n, m] = np.sum(a[n : n + kh, m : m + kw] * w)
    return z


def conv2d_single_kernel_dtype(a, w):
    """Works in the kernel's dtype (a converted to w's first): right whenever a and w share a dtype."""
    return conv2d_single_loops(a.astype(w.dtype), w)


def conv2d_single_range_short(a, w):
    kh, kw = w.shape
    z = np.zeros((a.shape[0] - kh, a.shape[1] - kw), dtype=a.dtype)
    for n in range(z.shape[0]):
        for m in range(z.shape[1]):
            z[n, m] = np.sum(a[n : n + kh, m : m + kw] * w)
    return z


def conv2d_single_returns_its_buffer(a, w):
    kh, kw = w.shape
    shape = (a.shape[0] - kh + 1, a.shape[1] - kw + 1)
    z = _CACHE.setdefault(("single out", shape, a.dtype), np.zeros(shape, dtype=a.dtype))
    for n in range(shape[0]):
        for m in range(shape[1]):
            z[n, m] = np.sum(a[n : n + kh, m : m + kw] * w)
    return z


# conv_output_size ---------------------------------------------------------------------------------


def conv_output_size_padding_once(size, kernel_size, stride=1, padding=0):
    return (size + padding - kernel_size) // stride + 1


def conv_output_size_rounded_up(size, kernel_size, stride=1, padding=0):
    return math.ceil((size + 2 * padding - kernel_size) / stride) + 1


def conv_output_size_stride_ignored(size, kernel_size, stride=1, padding=0):
    return size + 2 * padding - kernel_size + 1


def conv_output_size_padding_ignored(size, kernel_size, stride=1, padding=0):
    """Counts positions on the unpadded input; at stride 2, padding 1 it looks like a missing + 1."""
    return (size - kernel_size) // stride + 1


def conv_output_size_plus_one_inside(size, kernel_size, stride=1, padding=0):
    """The + 1 inside the floor division: wrong only at stride > 1, where it looks like no + 1 at all."""
    return (size + 2 * padding - kernel_size + 1) // stride


# 01_motivation -----------------------------------------------------------------------------------


def fc_param_count_hard_coded(height, width, channels, hidden_units):
    return 224 * 224 * 3 * 100


def fc_param_count_three_channels(height, width, channels, hidden_units):
    return height * width * 3 * hidden_units


def fc_param_count_channels_forgotten(height, width, channels, hidden_units):
    return height * width * hidden_units


def conv_param_count_square_kernel(kernel_h, kernel_w, in_channels, out_channels):
    return kernel_h * kernel_h * in_channels * out_channels


def conv_param_count_one_kernel(kernel_h, kernel_w, in_channels, out_channels):
    return kernel_h * kernel_w * in_channels


def receptive_field_jump_too_early(layers):
    side, jump = 1, 1
    for kernel_size, stride in layers:
        jump *= stride
        side += (kernel_size - 1) * jump
    return side


def receptive_field_own_stride(layers):
    return 1 + sum((k - 1) * s for k, s in layers)


def receptive_field_pops_the_callers_list(layers):
    """Works backwards by popping layers off the list it was given: right once, and the caller's list
    is empty afterwards (the notebook calls it twice on the same list)."""
    side = 1
    while layers:
        kernel_size, stride = layers.pop()
        side = (side - 1) * stride + kernel_size
    return side


# separable_factors -------------------------------------------------------------------------------


@np.errstate(all="ignore")  # overflows and divisions by zero are part of this mistake: no warnings
def separable_factors_top_left_pivot(kernel):
    column, row = kernel[:, 0].copy(), kernel[0, :] / kernel[0, 0]
    return (column, row) if np.allclose(np.outer(column, row), kernel) else None


def separable_factors_absolute_tolerance(kernel):
    """Pivot on the largest entry, then np.allclose with its default absolute tolerance 1e-8."""
    j, i = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    column, row = kernel[:, i].copy(), kernel[j, :] / kernel[j, i]
    return (column, row) if np.allclose(np.outer(column, row), kernel) else None


def separable_factors_loose_rank(kernel):
    if np.linalg.matrix_rank(kernel, tol=1e-3 * np.abs(kernel).max()) > 1:
        return None
    u, s, vt = np.linalg.svd(kernel)
    return u[:, 0] * s[0], vt[0]


def separable_factors_absolute_singular_value(kernel):
    u, s, vt = np.linalg.svd(kernel)
    if s[1] > 1e-6:
        return None
    return u[:, 0] * s[0], vt[0]


# trace_shapes ------------------------------------------------------------------------------------


def separable_factors_float32_svd(kernel):
    """The SVD of a float32 copy: the right rank test, factors good to float32's 7 digits only."""
    u, s, vt = np.linalg.svd(np.asarray(kernel, np.float32))
    if s[1] > 1e-6 * s[0]:
        return None
    return (u[:, 0] * s[0]).astype(np.float64), vt[0].astype(np.float64)


def _trace(layers, input_shape, square_pool=False, square_flatten=False):
    c, h, w = input_shape
    out = []
    for layer in layers:
        kind, params = layer[0], 0
        if kind == "conv":
            _, f, k, s, p = layer
            params = f * c * k * k + f
            c, h, w = f, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            shape = (c, h, w)
        elif kind in ("maxpool", "avgpool"):
            _, k, s = layer
            h = (h - k) // s + 1
            w = h if square_pool else (w - k) // s + 1
            shape = (c, h, w)
        elif kind == "flatten":
            shape = (c * h * (h if square_flatten else w),)
        elif kind == "linear":
            params = shape[0] * layer[1] + layer[1]
            shape = (layer[1],)
        else:
            shape = shape if out else (c, h, w)
        out.append((shape, params))
    return out


def trace_shapes_square_pooling(layers, input_shape):
    return _trace(layers, input_shape, square_pool=True)


def trace_shapes_square_flatten(layers, input_shape):
    return _trace(layers, input_shape, square_flatten=True)


def trace_shapes_conv_channels_forgotten(layers, input_shape):
    trace = _trace(layers, input_shape)
    channels = [input_shape[0]] + [shape[0] for shape, _ in trace]
    return [
        (shape, layer[1] * layer[2] ** 2 + layer[1] if layer[0] == "conv" else params)
        for layer, (shape, params), c in zip(layers, trace, channels, strict=False)
    ]


# 04_learning -------------------------------------------------------------------------------------


def mse_cost_absolute(a, y):
    return 0.5 * float(np.sum(np.abs(a - y)))


def mse_cost_per_column(a, y):
    return 0.5 * np.sum((a - y) ** 2, axis=0)


def gradient_descent_step_float64(w, grad_w, lr):
    return w.astype(np.float64) - lr * grad_w


def gradient_descent_step_promoted(w, grad_w, lr):
    """w - lr * grad_w as numpy promotes it: float64 for float32 w and a float64 grad_w."""
    return w - lr * grad_w


def gradient_descent_step_returns_its_buffer(w, grad_w, lr):
    buffer = _CACHE.setdefault(("step out", w.shape, w.dtype), np.empty_like(w))
    np.subtract(w, lr * grad_w, out=buffer, casting="unsafe")
    return buffer


def gradient_descent_step_float32_buffer(w, grad_w, lr):
    """The step in float32, converted back to w's dtype: float32's 7 digits for float64 weights."""
    return (w.astype(np.float32) - np.float32(lr) * grad_w.astype(np.float32)).astype(w.dtype)


def gradient_descent_step_no_lr(w, grad_w, lr):
    return w - grad_w


def dense_backward_naive_sigmoid(a_prev, w, b, y):
    z = w @ a_prev + b
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.exp(z) / (1 + np.exp(z))
    delta = (a - y) * a * (1 - a)
    return np.outer(delta, a_prev), delta, w.T @ delta


def dense_backward_grad_w_not_rezeroed(a_prev, w, b, y):
    a = 1 / (1 + np.exp(-np.clip(w @ a_prev + b, -500, 500)))
    delta = (a - y) * a * (1 - a)
    buffer = _CACHE.setdefault(("dense grad_w", w.shape), np.zeros_like(w))
    buffer += np.outer(delta, a_prev)
    return buffer.copy(), delta, w.T @ delta


def numerical_gradient_keeps_dtype(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def numerical_gradient_steps_in_own_dtype(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] = up[index] + eps
        down[index] = down[index] - eps
        grad[index] = (f(up) - f(down)) / (2 * eps)
    return grad


def numerical_gradient_default_eps(f, x, eps=1e-6):
    """Ignores the eps it is given."""
    x = x.astype(np.float64)
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        step = np.zeros(x.shape)
        step[index] = 1e-6
        grad[index] = (f(x + step) - f(x - step)) / 2e-6
    return grad


# 05_applications ---------------------------------------------------------------------------------


@np.errstate(all="ignore")  # overflows and divisions by zero are part of this mistake: no warnings
def iou_min_max_swapped(box_a, box_b):
    w = max(0.0, max(box_a[2], box_b[2]) - min(box_a[0], box_b[0]))
    h = max(0.0, max(box_a[3], box_b[3]) - min(box_a[1], box_b[1]))
    area = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1]) + (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])
    return w * h / (area - w * h)


def iou_unclamped(box_a, box_b):
    """Width times height with no clamping: negative for boxes apart along one axis."""
    w = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0])
    h = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1])
    area = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1]) + (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])
    return w * h / (area - w * h)


def iou_union_not_subtracted(box_a, box_b):
    w = max(0.0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]))
    h = max(0.0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]))
    area = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1]) + (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])
    return w * h / area


def iou_over_first_area(box_a, box_b):
    w = max(0.0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]))
    h = max(0.0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]))
    return w * h / ((box_a[2] - box_a[0]) * (box_a[3] - box_a[1]))


def iou_over_larger_area(box_a, box_b):
    """Divides by the larger of the two areas: told "area(a) alone" whenever box a was the larger."""
    w = max(0.0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]))
    h = max(0.0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]))
    areas = [(box[2] - box[0]) * (box[3] - box[1]) for box in (box_a, box_b)]
    return w * h / max(areas)


def iou_over_smaller_area(box_a, box_b):
    """Divides by the smaller of the two areas (the overlap coefficient)."""
    w = max(0.0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]))
    h = max(0.0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]))
    areas = [(box[2] - box[0]) * (box[3] - box[1]) for box in (box_a, box_b)]
    return w * h / min(areas)


def _iou(a, b, plus=0.0):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + plus)
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + plus)
    union = (a[2] - a[0] + plus) * (a[3] - a[1] + plus) + (b[2] - b[0] + plus) * (b[3] - b[1] + plus) - w * h
    return w * h / union


def non_max_suppression_ties_reversed(boxes, scores, iou_threshold):
    """Visits by np.argsort(scores)[::-1]: equal scores go by decreasing index."""
    kept = []
    for i in np.argsort(scores)[::-1]:
        if all(_iou(boxes[i], boxes[k]) <= iou_threshold for k in kept):
            kept.append(int(i))
    return np.array(kept, dtype=np.int64)


def non_max_suppression_default_argsort(boxes, scores, iou_threshold):
    """Visits by np.argsort(-scores), numpy's default (unstable) sort, as it behaves where numpy has no
    SIMD sort (many CPUs and builds): an insertion sort, stable, up to 16 values; beyond that, ties come
    in an order of the sort's making (modelled here, so that every machine sees the same order)."""
    if len(scores) <= 16:
        order = np.argsort(-scores, kind="stable")
    else:
        order = np.lexsort((np.arange(len(scores)) % 3, -scores))  # ties shuffled, not by index
    kept = []
    for i in order:
        if all(_iou(boxes[i], boxes[k]) <= iou_threshold for k in kept):
            kept.append(int(i))
    return np.array(kept, dtype=np.int64)


def non_max_suppression_pixels(boxes, scores, iou_threshold):
    kept = []
    for i in np.argsort(-scores, kind="stable"):
        if all(_iou(boxes[i], boxes[k], plus=1.0) <= iou_threshold for k in kept):
            kept.append(int(i))
    return np.array(kept, dtype=np.int64)


def non_max_suppression_float_indices(boxes, scores, iou_threshold):
    kept = []
    for i in np.argsort(-scores, kind="stable"):
        if all(_iou(boxes[i], boxes[k]) <= iou_threshold for k in kept):
            kept.append(int(i))
    return np.array(kept, dtype=np.float64)


WRONG = [
    ("conv2d", conv2d_im2col_cached_on_shape, "right on the first call, but wrong when called again"),
    ("conv2d", conv2d_returns_its_buffer, "changed when it was called again"),
    ("conv2d", conv2d_stride_one_fast_path, "the padding was ignored"),
    ("conv2d", conv2d_first_of_each_pair, None),
    ("conv2d", conv2d_rows_by_kernel, None),
    ("max_pool2d", max_pool2d_square_window, None),
    ("max_pool2d", max_pool2d_returns_its_buffer, "changed when it was called again"),
    ("max_pool2d", max_pool2d_size_from_kernel, None),
    ("max_pool2d", max_pool2d_float32_buffer, None),
    (
        "avg_pool2d",
        avg_pool2d_windows_cached_on_shape,
        "right on the first call, but wrong when called again",
    ),
    (
        "avg_pool2d",
        avg_pool2d_float64_output,
        "dtype float64, expected float32 (the input's dtype); its values are right",
    ),
    ("avg_pool2d", avg_pool2d_stride_as_kernel, "replaced by kernel_size"),
    (
        "conv2d_backward",
        conv2d_backward_grad_w_not_rezeroed,
        "right on the first call, but wrong when called again",
    ),
    ("conv2d_backward", conv2d_backward_stride_one_fast_path, None),
    ("conv2d_backward", conv2d_backward_float64_grad_x, "grad_x has dtype float64, expected float32"),
    (
        "conv2d_backward",
        conv2d_backward_grad_x_sized_by_windows,
        "grad_x has one row or column too many or too few: it has the shape of x",
    ),
    ("max_pool2d_backward", max_pool2d_backward_slice_overwrite, "overwritten instead of accumulated"),
    ("max_pool2d_backward", max_pool2d_backward_mask_cached_on_shape, "right on the first call"),
    ("max_pool2d_backward", max_pool2d_backward_returns_its_buffer, "changed when it was called again"),
    (
        "max_pool2d_backward",
        max_pool2d_backward_sized_by_windows,
        "grad_x has one row or column too many or too few: it has the shape of x",
    ),
    (
        "avg_pool2d_backward",
        avg_pool2d_backward_not_rezeroed,
        "right on the first call, but wrong when called again",
    ),
    ("avg_pool2d_backward", avg_pool2d_backward_square_count, "divided by KH * KH"),
    ("avg_pool2d_backward", avg_pool2d_backward_float64, "dtype float64, expected float32"),
    ("conv2d_single", conv2d_single_into_float64_zeros, "z has dtype float64, expected float32"),
    (
        "conv2d_single",
        conv2d_single_kernel_dtype,
        "z has dtype float64, expected float32 (the input's dtype); its values are right",
    ),
    ("conv2d_single", conv2d_single_range_short, "has shape"),
    ("conv2d_single", conv2d_single_returns_its_buffer, "changed when it was called again"),
    ("conv_output_size", conv_output_size_padding_once, "the padding was counted once"),
    ("conv_output_size", conv_output_size_rounded_up, "you rounded up"),
    ("conv_output_size", conv_output_size_stride_ignored, "the stride was ignored"),
    ("conv_output_size", conv_output_size_padding_ignored, "the padding was ignored"),
    ("conv_output_size", conv_output_size_plus_one_inside, None),
    ("fc_param_count", fc_param_count_hard_coded, None),
    ("fc_param_count", fc_param_count_three_channels, None),
    ("fc_param_count", fc_param_count_channels_forgotten, "multiply by channels too"),
    ("conv_param_count", conv_param_count_square_kernel, None),
    ("conv_param_count", conv_param_count_one_kernel, None),
    ("receptive_field", receptive_field_jump_too_early, None),
    ("receptive_field", receptive_field_own_stride, None),
    ("receptive_field", receptive_field_pops_the_callers_list, "modified its input `layers`"),
    ("separable_factors", separable_factors_top_left_pivot, None),
    ("separable_factors", separable_factors_absolute_tolerance, "not separable"),
    ("separable_factors", separable_factors_loose_rank, "not separable"),
    ("separable_factors", separable_factors_absolute_singular_value, None),
    ("separable_factors", separable_factors_float32_svd, None),
    ("trace_shapes", trace_shapes_square_pooling, None),
    ("trace_shapes", trace_shapes_square_flatten, None),
    ("trace_shapes", trace_shapes_conv_channels_forgotten, None),
    ("mse_cost", mse_cost_absolute, None),
    ("mse_cost", mse_cost_per_column, "where a number was expected"),
    ("gradient_descent_step", gradient_descent_step_float64, "dtype float64, expected float32"),
    (
        "gradient_descent_step",
        gradient_descent_step_promoted,
        "new w has dtype float64, expected float32 (the input's dtype); its values are right",
    ),
    ("gradient_descent_step", gradient_descent_step_returns_its_buffer, "changed when it was called again"),
    ("gradient_descent_step", gradient_descent_step_float32_buffer, None),
    ("gradient_descent_step", gradient_descent_step_no_lr, "the learning rate is missing"),
    ("dense_backward", dense_backward_naive_sigmoid, "non-finite"),
    (
        "dense_backward",
        dense_backward_grad_w_not_rezeroed,
        "right on the first call, but wrong when called again",
    ),
    ("numerical_gradient", numerical_gradient_keeps_dtype, "dtype"),
    ("numerical_gradient", numerical_gradient_steps_in_own_dtype, "stored in x's own dtype"),
    ("numerical_gradient", numerical_gradient_default_eps, None),
    ("iou", iou_min_max_swapped, "min and max are swapped"),
    ("iou", iou_unclamped, "boxes apart along one axis give a negative area"),
    ("iou", iou_union_not_subtracted, "was not subtracted"),
    ("iou", iou_over_first_area, "divided by the area of one box"),
    ("iou", iou_over_larger_area, "divided by the area of one box"),
    ("iou", iou_over_smaller_area, "divided by the area of one box"),
    ("non_max_suppression", non_max_suppression_ties_reversed, "on equal scores"),
    ("non_max_suppression", non_max_suppression_pixels, "no + 1"),
    ("non_max_suppression", non_max_suppression_default_argsort, None),
    ("non_max_suppression", non_max_suppression_float_indices, "where a 1-D integer array"),
]
WRONG += conv_steps.BUGGY  # the steps to conv2d, with their own module
