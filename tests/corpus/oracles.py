"""Independent oracles: the right answer of every exercise, computed without course.grading.references or
course.functional (PyTorch where it has the operation, plain Python or numpy written another way
elsewhere), and `is_right`, which says whether one output is right for one call by the contract.

The corpus tests use them to prove, apart from the checks, that each wrong answer is wrong and each
correct alternative is right, on the very calls the check makes (both calls of every case, in order).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as tf


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, (int, np.integer)) else (int(value[0]), int(value[1]))


def _t(array) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float64).copy())


def _pool_args(x, kernel_size, stride=None):
    kernel = _pair(kernel_size)
    return _t(x), kernel, kernel if stride is None else _pair(stride)


def conv2d(x, w, b=None, stride=1, padding=0):
    z = tf.conv2d(_t(x), _t(w), None if b is None else _t(b), _pair(stride), _pair(padding))
    return z.numpy().astype(x.dtype)


def max_pool2d(x, kernel_size, stride=None):
    return tf.max_pool2d(*_pool_args(x, kernel_size, stride)).numpy().astype(x.dtype)


def avg_pool2d(x, kernel_size, stride=None):
    return tf.avg_pool2d(*_pool_args(x, kernel_size, stride)).numpy().astype(x.dtype)


def conv2d_backward(grad_out, x, w, stride=1, padding=0):
    tx, tw = _t(x).requires_grad_(), _t(w).requires_grad_()
    tb = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    z = tf.conv2d(tx, tw, tb, _pair(stride), _pair(padding))
    z.backward(_t(grad_out))
    # the statement: grad_x in x's dtype, grad_w in w's, grad_b in grad_out's
    return tuple(t.grad.numpy().astype(v.dtype) for t, v in zip((tx, tw, tb), (x, w, grad_out), strict=True))


def zero_pad(x, padding):
    ph, pw = _pair(padding)
    return tf.pad(_t(x), (pw, pw, ph, ph)).numpy().astype(x.dtype)


def conv2d_channels(a, w):
    return tf.conv2d(_t(a)[None], _t(w)).numpy()[0].astype(a.dtype)


def conv2d_batch(x, w, b=None):
    return tf.conv2d(_t(x), _t(w), None if b is None else _t(b)).numpy().astype(x.dtype)


def conv2d_stride(x, w, stride):
    return tf.conv2d(_t(x), _t(w), stride=_pair(stride)).numpy().astype(x.dtype)


def _pool_backward(pool, grad_out, x, kernel_size, stride=None):
    tx, kernel, step = _pool_args(x, kernel_size, stride)
    tx.requires_grad_()
    pool(tx, kernel, step).backward(_t(grad_out))
    return tx.grad.numpy().astype(x.dtype)


def max_pool2d_backward(grad_out, x, kernel_size, stride=None):
    return _pool_backward(tf.max_pool2d, grad_out, x, kernel_size, stride)


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None):
    return _pool_backward(tf.avg_pool2d, grad_out, x, kernel_size, stride)


def conv2d_single(a, w):
    return tf.conv2d(_t(a)[None, None], _t(w)[None, None]).numpy()[0, 0].astype(a.dtype)


def conv_output_size(size, kernel_size, stride=1, padding=0):
    """The length PyTorch's conv1d actually produces."""
    out = tf.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, kernel_size), stride=stride, padding=padding)
    return int(out.shape[-1])


def fc_param_count(height, width, channels, hidden_units):
    return torch.nn.Linear(height * width * channels, hidden_units, device="meta").weight.numel()


def conv_param_count(kernel_h, kernel_w, in_channels, out_channels):
    layer = torch.nn.Conv2d(in_channels, out_channels, (kernel_h, kernel_w), bias=False, device="meta")
    return layer.weight.numel()


def receptive_field(layers):
    """From the output back: r_in = (r_out - 1) * s + k, layer by layer."""
    side = 1
    for kernel_size, stride in reversed(layers):
        side = (side - 1) * stride + kernel_size
    return side


def separable(kernel) -> bool:
    """Rank <= 1, by the 2x2 minors (every one vanishes next to the kernel's scale squared)."""
    k = np.asarray(kernel, np.float64)
    scale = np.abs(k).max() ** 2
    for (i, l), (j, m) in itertools.product(
        itertools.combinations(range(k.shape[0]), 2), itertools.combinations(range(k.shape[1]), 2)
    ):
        if abs(k[i, j] * k[l, m] - k[i, m] * k[l, j]) > 1e-12 * scale:
            return False
    return True


def trace_shapes(layers, input_shape):
    """Run a zero input through real PyTorch layers; count their parameters."""
    x = torch.zeros(1, *input_shape)
    out = []
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            module = torch.nn.Conv2d(x.shape[1], layer[1], layer[2], layer[3], layer[4])
        elif kind == "maxpool":
            module = torch.nn.MaxPool2d(layer[1], layer[2])
        elif kind == "avgpool":
            module = torch.nn.AvgPool2d(layer[1], layer[2])
        elif kind == "flatten":
            module = torch.nn.Flatten()
        elif kind == "linear":
            module = torch.nn.Linear(x.shape[1], layer[1])
        else:
            module = torch.nn.ReLU()
        with torch.no_grad():
            x = module(x)
        out.append((tuple(x.shape[1:]), sum(p.numel() for p in module.parameters())))
    return out


def mse_cost(a, y):
    return 0.5 * float(tf.mse_loss(_t(a), _t(y), reduction="sum"))


def gradient_descent_step(w, grad_w, lr):
    weight = torch.nn.Parameter(_t(w))
    weight.grad = _t(grad_w)
    torch.optim.SGD([weight], lr=lr).step()
    return weight.detach().numpy().astype(w.dtype)


def dense_backward(a_prev, w, b, y):
    ta, tw, tb = (_t(v).requires_grad_() for v in (a_prev, w, b))
    a = torch.sigmoid(tw @ ta + tb)
    (0.5 * ((a - _t(y)) ** 2).sum()).backward()
    return tw.grad.numpy(), tb.grad.numpy(), ta.grad.numpy()


def numerical_gradient(f, x, eps=1e-6):
    """All central differences at once: row k of the identity is the step along entry k."""
    point = np.asarray(x, np.float64).reshape(-1)
    steps = np.eye(point.size) * eps
    values = [f((point + s).reshape(x.shape)) - f((point - s).reshape(x.shape)) for s in steps]
    return (np.array(values) / (2 * eps)).reshape(x.shape)


def iou(box_a, box_b):
    """Areas by interval overlap, written with sorted endpoints."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = (tuple(map(float, b)) for b in (box_a, box_b))

    def overlap(lo1, hi1, lo2, hi2):
        return max(0.0, sorted([hi1, hi2])[0] - sorted([lo1, lo2])[1])

    inter = overlap(ax0, ax1, bx0, bx1) * overlap(ay0, ay1, by0, by1)
    return inter / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter)


def non_max_suppression(boxes, scores, iou_threshold):
    """Visit best first (score down, then index up); keep a box unless a kept one overlaps it more
    than the threshold."""
    order = sorted(range(len(boxes)), key=lambda i: (-float(scores[i]), i))
    kept: list[int] = []
    for i in order:
        if all(iou(boxes[i], boxes[k]) <= iou_threshold for k in kept):
            kept.append(i)
    return kept


ORACLES: dict[str, Callable] = {
    name: globals()[name]
    for name in (
        "zero_pad",
        "conv2d_channels",
        "conv2d_batch",
        "conv2d_stride",
        "conv2d",
        "max_pool2d",
        "avg_pool2d",
        "conv2d_backward",
        "max_pool2d_backward",
        "avg_pool2d_backward",
        "conv2d_single",
        "conv_output_size",
        "fc_param_count",
        "conv_param_count",
        "receptive_field",
        "trace_shapes",
        "mse_cost",
        "gradient_descent_step",
        "dense_backward",
        "numerical_gradient",
        "iou",
        "non_max_suppression",
    )
}


def _close_array(expected: np.ndarray, got: Any, rtol: float) -> bool:
    return (
        isinstance(got, np.ndarray)
        and got.shape == expected.shape
        and got.dtype == expected.dtype
        and bool(np.all(np.isfinite(got)))
        and bool(np.allclose(got, expected, rtol=rtol, atol=rtol * max(np.abs(expected).max(initial=0), 1.0)))
    )


def is_right(exercise_id: str, args: tuple, kwargs: dict, got: Any) -> bool:
    """True when `got` is a right output of exercise_id for the call fn(*args, **kwargs), by the
    contract: the oracle's value (numbers exactly, arrays in the input's dtype within rounding), any
    factorisation for separable_factors, the exact kept list for non_max_suppression."""
    if exercise_id == "separable_factors":
        (kernel,) = args
        if not separable(kernel):
            return got is None
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return False
        column, row = (np.asarray(part, np.float64) for part in got)
        if column.shape != (kernel.shape[0],) or row.shape != (kernel.shape[1],):
            return False
        return bool(np.all(np.abs(np.outer(column, row) - kernel) <= 1e-8 * np.abs(kernel).max()))
    expected = ORACLES[exercise_id](*args, **kwargs)
    if exercise_id == "non_max_suppression":
        return isinstance(got, np.ndarray) and got.dtype.kind in "iu" and got.tolist() == expected
    if isinstance(expected, tuple) and isinstance(expected[0], np.ndarray):
        rtol = 1e-4 if expected[0].dtype == np.float32 else 1e-9
        return (
            isinstance(got, tuple)
            and len(got) == len(expected)
            and all(_close_array(e, g, rtol) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, np.ndarray):
        rtol = 1e-4 if expected.dtype == np.float32 else 1e-9
        return _close_array(expected, got, rtol)
    if isinstance(expected, list):  # trace_shapes
        return isinstance(got, list) and [(tuple(s), p) for s, p in got] == expected
    if isinstance(expected, int):
        return isinstance(got, (int, np.integer)) and not isinstance(got, bool) and int(got) == expected
    rtol = 1e-5 if any(getattr(a, "dtype", None) == np.float32 for a in args) else 1e-9
    return isinstance(got, (int, float, np.floating)) and abs(float(got) - expected) <= rtol * max(
        abs(expected), 1.0
    )
