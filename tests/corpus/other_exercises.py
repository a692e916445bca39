"""Correct alternatives and plausible wrong answers for the exercises that are not kernels, written
independently of course.grading.references."""

from __future__ import annotations

import math

import numpy as np

# 01_motivation -----------------------------------------------------------------------------------


def fc_param_count_with_bias(height, width, channels, hidden_units):
    return height * width * channels * hidden_units + hidden_units


def fc_param_count_numpy(height, width, channels, hidden_units):
    return np.prod([height, width, channels, hidden_units], dtype=np.int64)


def conv_param_count_one_channel(kernel_h, kernel_w, in_channels, out_channels):
    return kernel_h * kernel_w * out_channels


def conv_param_count_with_bias(kernel_h, kernel_w, in_channels, out_channels):
    return (kernel_h * kernel_w * in_channels + 1) * out_channels


def conv_param_count_loop(kernel_h, kernel_w, in_channels, out_channels):
    return sum(kernel_h * kernel_w * in_channels for _ in range(out_channels))


def receptive_field_backwards(layers):
    """From the output back: one output pixel sees r = (r - 1) * s + k pixels of each layer's input."""
    side = 1
    for kernel_size, stride in reversed(layers):
        side = (side - 1) * stride + kernel_size
    return side


def receptive_field_no_stride(layers):
    return 1 + sum(k - 1 for k, _ in layers)


def receptive_field_sum(layers):
    return sum(k for k, _ in layers)


# 02_components -----------------------------------------------------------------------------------


def conv2d_single_loops(a, w):
    kh, kw = w.shape
    z = np.zeros((a.shape[0] - kh + 1, a.shape[1] - kw + 1), dtype=a.dtype)
    for n in range(z.shape[0]):
        for m in range(z.shape[1]):
            z[n, m] = np.sum(a[n : n + kh, m : m + kw] * w)
    return z


def conv2d_single_flipped(a, w):
    return conv2d_single_loops(a, w[::-1, ::-1])


def conv2d_single_same_size(a, w):
    kh, kw = w.shape
    padded = np.pad(a, ((0, kh - 1), (0, kw - 1)))
    return conv2d_single_loops(padded, w)


def conv_output_size_floor(size, kernel_size, stride=1, padding=0):
    return math.floor((size + 2 * padding - kernel_size) / stride) + 1


def conv_output_size_no_plus_one(size, kernel_size, stride=1, padding=0):
    return (size + 2 * padding - kernel_size) // stride


def conv_output_size_true_division(size, kernel_size, stride=1, padding=0):
    return (size + 2 * padding - kernel_size) / stride + 1


def separable_factors_pivot(kernel):
    """Take the row and column through the largest entry; separable iff their outer product rebuilds it,
    to within a tolerance relative to the kernel's scale."""
    j, i = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    column, row = kernel[:, i].copy(), kernel[j, :] / kernel[j, i]
    scale = np.abs(kernel).max()
    return (column, row) if np.all(np.abs(np.outer(column, row) - kernel) <= 1e-12 * scale) else None


def separable_factors_no_rank_check(kernel):
    u, s, vt = np.linalg.svd(kernel)
    return u[:, 0] * s[0], vt[0]


def separable_factors_swapped(kernel):
    factors = separable_factors_pivot(kernel)
    return None if factors is None else (factors[1], factors[0])


# 03_structure ------------------------------------------------------------------------------------


def trace_shapes_alt(layers, input_shape):
    c, h, w = input_shape
    flat = None
    out = []
    for layer in layers:
        name, params = layer[0], 0
        if name == "conv":
            _, f, k, s, p = layer
            params = (k * k * c + 1) * f
            c, h, w = f, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        elif name in ("maxpool", "avgpool"):
            _, k, s = layer
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif name == "flatten":
            flat = c * h * w
        elif name == "linear":
            params = (flat + 1) * layer[1]
            flat = layer[1]
        out.append(((flat,) if flat is not None else (c, h, w), params))
    return out


def trace_shapes_no_bias(layers, input_shape):
    return [
        (shape, params - (layer[1] if layer[0] in ("conv", "linear") else 0))
        for layer, (shape, params) in zip(layers, trace_shapes_alt(layers, input_shape), strict=True)
    ]


# 04_learning -------------------------------------------------------------------------------------


def mse_cost_loop(a, y):
    total = 0.0
    for a_j, y_j in zip(a.ravel(), y.ravel(), strict=True):
        total += (a_j - y_j) ** 2
    return total / 2


def mse_cost_mean(a, y):
    return float(np.mean((a - y) ** 2))


def mse_cost_half_mean(a, y):
    return 0.5 * float(np.mean((a - y) ** 2))


def mse_cost_no_half(a, y):
    return float(np.sum((a - y) ** 2))


def gradient_descent_step_copy(w, grad_w, lr):
    new = w.copy()
    new -= lr * grad_w
    return new


def gradient_descent_step_in_place(w, grad_w, lr):
    w -= lr * grad_w
    return w


def gradient_descent_step_uphill(w, grad_w, lr):
    return w + lr * grad_w


def dense_backward_alt(a_prev, w, b, y):
    z = w @ a_prev + b
    a = np.exp(-np.logaddexp(0.0, -z))
    delta = (a - y) * a * (1 - a)
    return delta[:, None] * a_prev[None, :], delta.copy(), delta @ w


@np.errstate(all="ignore")  # overflows and divisions by zero are part of this mistake: no warnings
def dense_backward_no_derivative(a_prev, w, b, y):
    a = 1 / (1 + np.exp(-(w @ a_prev + b)))
    delta = a - y
    return np.outer(delta, a_prev), delta, w.T @ delta


def dense_backward_transposed(a_prev, w, b, y):
    grad_w, grad_b, grad_a = dense_backward_alt(a_prev, w, b, y)
    return grad_w.T, grad_b, grad_a


def numerical_gradient_copies(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x, dtype=np.float64)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def numerical_gradient_forward(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=np.float64)
    base = f(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x, dtype=np.float64)
        step[index] = eps
        grad[index] = (f(x + step) - base) / eps
    return grad


def numerical_gradient_fixed_eps(f, x, eps=1e-6):
    return numerical_gradient_copies(f, x, 1e-5)


def numerical_gradient_not_restored(f, x, eps=1e-6):
    x = x.astype(np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        x[index] += eps
        above = f(x)
        x[index] -= 2 * eps
        grad[index] = (above - f(x)) / (2 * eps)  # x[index] is left at x - eps
    return grad


# 05_applications ---------------------------------------------------------------------------------


def iou_alt(box_a, box_b):
    x0, y0 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x1, y1 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    inter = (x1 - x0) * (y1 - y0)
    area_a = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1])
    union = area_a + (box_b[2] - box_b[0]) * (box_b[3] - box_b[1]) - inter
    return inter / union


def iou_no_clamp(box_a, box_b):
    w = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0])
    h = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1])
    inter = max(0.0, w * h)  # two negative sides make a positive area
    area = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1]) + (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])
    return inter / (area - inter)


def iou_pixels(box_a, box_b):
    w = max(0.0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]) + 1)
    h = max(0.0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]) + 1)
    area_a = (box_a[2] - box_a[0] + 1) * (box_a[3] - box_a[1] + 1)
    area_b = (box_b[2] - box_b[0] + 1) * (box_b[3] - box_b[1] + 1)
    return w * h / (area_a + area_b - w * h)


def non_max_suppression_matrix(boxes, scores, iou_threshold):
    order = np.lexsort((np.arange(len(scores)), -scores))  # best score first, then the lower index
    overlaps = np.array([[iou_alt(a, b) for b in boxes] for a in boxes])
    suppressed = np.zeros(len(boxes), dtype=bool)
    kept = []
    for index in order:
        if not suppressed[index]:
            kept.append(index)
            suppressed |= overlaps[index] > iou_threshold
    return np.array(kept, dtype=np.int64)


def non_max_suppression_all_higher(boxes, scores, iou_threshold):
    order = np.argsort(-scores, kind="stable")
    kept = [
        i for n, i in enumerate(order) if all(iou_alt(boxes[i], boxes[j]) <= iou_threshold for j in order[:n])
    ]
    return np.array(kept, dtype=np.int64)


def non_max_suppression_at_threshold(boxes, scores, iou_threshold):
    order = np.argsort(-scores, kind="stable")
    kept = []
    for i in order:
        if all(iou_alt(boxes[i], boxes[j]) < iou_threshold for j in kept):
            kept.append(i)
    return np.array(kept, dtype=np.int64)


def non_max_suppression_by_index(boxes, scores, iou_threshold):
    return np.sort(non_max_suppression_matrix(boxes, scores, iou_threshold))


CORRECT = {
    "fc_param_count": [fc_param_count_numpy],
    "conv_param_count": [conv_param_count_loop],
    "receptive_field": [receptive_field_backwards],
    "conv2d_single": [conv2d_single_loops],
    "conv_output_size": [conv_output_size_floor],
    "separable_factors": [separable_factors_pivot],
    "trace_shapes": [trace_shapes_alt],
    "mse_cost": [mse_cost_loop],
    "gradient_descent_step": [gradient_descent_step_copy],
    "dense_backward": [dense_backward_alt],
    "numerical_gradient": [numerical_gradient_copies],
    "iou": [iou_alt],
    "non_max_suppression": [non_max_suppression_matrix],
}

BUGGY = [
    ("fc_param_count", fc_param_count_with_bias, None),
    ("conv_param_count", conv_param_count_one_channel, "multiply by in_channels"),
    ("conv_param_count", conv_param_count_with_bias, "includes the biases"),
    ("receptive_field", receptive_field_no_stride, "strides were ignored"),
    ("receptive_field", receptive_field_sum, "do not simply add"),
    ("conv2d_single", conv2d_single_flipped, "true convolution"),
    ("conv2d_single", conv2d_single_same_size, "has shape"),
    ("conv_output_size", conv_output_size_no_plus_one, "the + 1 is missing"),
    ("conv_output_size", conv_output_size_true_division, "should be an int"),
    ("separable_factors", separable_factors_no_rank_check, "not separable"),
    ("separable_factors", separable_factors_swapped, "should have shape"),
    ("trace_shapes", trace_shapes_no_bias, "biases"),
    ("mse_cost", mse_cost_mean, "you took the mean of the squares and left out the 1/2"),
    ("mse_cost", mse_cost_half_mean, "you took half the mean of the squares"),
    ("mse_cost", mse_cost_no_half, "the 1/2 is missing"),
    ("gradient_descent_step", gradient_descent_step_in_place, "modified its input"),
    ("gradient_descent_step", gradient_descent_step_uphill, "uphill"),
    ("dense_backward", dense_backward_no_derivative, "derivative"),
    ("dense_backward", dense_backward_transposed, "grad_w has shape"),
    ("numerical_gradient", numerical_gradient_forward, "forward difference"),
    ("numerical_gradient", numerical_gradient_fixed_eps, None),
    ("numerical_gradient", numerical_gradient_not_restored, None),
    ("iou", iou_no_clamp, "boxes apart along one axis give a negative area"),
    ("iou", iou_pixels, "no + 1"),
    ("non_max_suppression", non_max_suppression_all_higher, "only kept boxes suppress"),
    ("non_max_suppression", non_max_suppression_at_threshold, "an IoU equal to the threshold suppressed"),
    ("non_max_suppression", non_max_suppression_by_index, "sorted by index"),
]
