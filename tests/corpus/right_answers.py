"""More correct answers, written the ways students get them right, including ways the checks must not
mistake for the wrong answers beside them: a cache that is right (keyed on the values), a fresh array
on every call, a stable sigmoid, float64 work on a float32 or integer x, a relative tolerance, ties by
a stable sort. Each must get full marks on the visible cases and on hidden ones.
"""

from __future__ import annotations

import math

import numpy as np

from . import conv_steps
from .correct_kernels import _pair, conv2d_im2col, max_pool2d_backward_loops

_SEEN: dict = {}  # a cache keyed on the arguments' bytes: right, since equal keys mean equal inputs


def conv2d_cached_on_values(x, w, b=None, stride=1, padding=0):
    key = (
        x.tobytes(),
        x.shape,
        x.dtype.str,
        w.tobytes(),
        None if b is None else b.tobytes(),
        str(stride),
        str(padding),
    )
    if key not in _SEEN:
        _SEEN[key] = conv2d_im2col(x, w, b, stride, padding)
    return _SEEN[key].copy()


def max_pool2d_backward_fresh_buffer(grad_out, x, kernel_size, stride=None):
    """Scatters into np.zeros_like(x) made anew on each call."""
    return max_pool2d_backward_loops(grad_out, x, kernel_size, stride).copy()


def conv2d_single_windows(a, w):
    windows = np.lib.stride_tricks.sliding_window_view(a, w.shape)
    return np.einsum("nmji,ji->nm", windows, w).astype(a.dtype)


def conv_output_size_loop(size, kernel_size, stride=1, padding=0):
    """Counts the positions where the kernel fits."""
    count, start = 0, 0
    while start + kernel_size <= size + 2 * padding:
        count, start = count + 1, start + stride
    return count


def fc_param_count_prod(height, width, channels, hidden_units):
    return math.prod((height, width, channels, hidden_units))


def conv_param_count_shape(kernel_h, kernel_w, in_channels, out_channels):
    return int(np.zeros((out_channels, in_channels, kernel_h, kernel_w)).size)


def receptive_field_forward(layers):
    side, jump = 1, 1
    for kernel_size, stride in layers:
        side += (kernel_size - 1) * jump
        jump *= stride
    return side


def separable_factors_minors(kernel):
    """Rank 1 when every 2x2 minor vanishes next to the scale squared; factors through the largest entry."""
    k = np.asarray(kernel, np.float64)
    scale = np.abs(k).max()
    minors = np.abs(np.einsum("ij,lm->iljm", k, k) - np.einsum("im,lj->iljm", k, k))
    if minors.max() > 1e-12 * scale**2:
        return None
    j, i = np.unravel_index(np.argmax(np.abs(k)), k.shape)
    return k[:, i] / k[j, i], k[j, :].copy()


def trace_shapes_by_formula(layers, input_shape):
    shape, out = tuple(input_shape), []
    for layer in layers:
        params = 0
        if layer[0] == "conv":
            f, k, s, p = layer[1:]
            params = f * (shape[0] * k * k + 1)
            shape = (f, (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1)
        elif layer[0] in ("maxpool", "avgpool"):
            k, s = layer[1:]
            shape = (shape[0], (shape[1] - k) // s + 1, (shape[2] - k) // s + 1)
        elif layer[0] == "flatten":
            shape = (math.prod(shape),)
        elif layer[0] == "linear":
            params = (shape[0] + 1) * layer[1]
            shape = (layer[1],)
        out.append((shape, params))
    return out


def trace_shapes_array_shapes(layers, input_shape):
    """The shapes as 1-D integer arrays, computed with numpy arithmetic: the same shapes."""
    return [(np.array(shape), params) for shape, params in trace_shapes_by_formula(layers, input_shape)]


def mse_cost_dot(a, y):
    d = (a - y).ravel().astype(np.float64)
    return 0.5 * float(d @ d)


def gradient_descent_step_subtract(w, grad_w, lr):
    return np.subtract(w, lr * grad_w, dtype=w.dtype)


def dense_backward_stable_sigmoid(a_prev, w, b, y):
    z = w @ a_prev + b
    a = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
    delta = (a - y) * a * (1 - a)
    return np.outer(delta, a_prev), delta, w.T @ delta


def numerical_gradient_in_place_restored(f, x, eps=1e-6):
    """Works on a float64 copy, bumping one entry at a time and putting it back."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        kept = x[index]
        x[index] = kept + eps
        above = f(x)
        x[index] = kept - eps
        below = f(x)
        x[index] = kept
        grad[index] = (above - below) / (2 * eps)
    return grad


def iou_clipped(box_a, box_b):
    a, b = np.asarray(box_a, float), np.asarray(box_b, float)
    low, high = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(high - low, 0, None)))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def non_max_suppression_stable(boxes, scores, iou_threshold):
    remaining = list(np.argsort(-scores, kind="stable"))
    kept = []
    while remaining:
        best, remaining = remaining[0], remaining[1:]
        kept.append(int(best))
        remaining = [i for i in remaining if iou_clipped(boxes[best], boxes[i]) <= iou_threshold]
    return np.array(kept, dtype=np.int64)


def max_pool2d_windows_fresh(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return windows.max(axis=(4, 5))


RIGHT = {
    "conv2d": [conv2d_cached_on_values],
    "max_pool2d": [max_pool2d_windows_fresh],
    "max_pool2d_backward": [max_pool2d_backward_fresh_buffer],
    "conv2d_single": [conv2d_single_windows],
    "conv_output_size": [conv_output_size_loop],
    "fc_param_count": [fc_param_count_prod],
    "conv_param_count": [conv_param_count_shape],
    "receptive_field": [receptive_field_forward],
    "separable_factors": [separable_factors_minors],
    "trace_shapes": [trace_shapes_by_formula, trace_shapes_array_shapes],
    "mse_cost": [mse_cost_dot],
    "gradient_descent_step": [gradient_descent_step_subtract],
    "dense_backward": [dense_backward_stable_sigmoid],
    "numerical_gradient": [numerical_gradient_in_place_restored],
    "iou": [iou_clipped],
    "non_max_suppression": [non_max_suppression_stable],
}
RIGHT.update(conv_steps.CORRECT)  # the steps to conv2d, with their own module
