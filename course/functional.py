"""Convolution and pooling, forward and backward: the course's public ops, in PyTorch's conventions.

Shapes (one glossary everywhere): N batch, C input channels, H, W height and width, F output channels
(kernels), KH, KW kernel size. Activations are NCHW, weights (F, C, KH, KW). For a kernel of size
KH x KW, stride (sh, sw) and zero padding (ph, pw) on each side, the output has

    Ho = (H + 2*ph - KH) // sh + 1,    Wo = (W + 2*pw - KW) // sw + 1.

Convolution is the lecture's cross-correlation (the kernel is not flipped), as in PyTorch:

    z[n, f, r, c] = b[f] + sum_{ch, j, i} a[n, ch, r*sh + j, c*sw + i] * w[f, ch, j, i]

where a is x padded with zeros. Every function checks its arguments and raises a `TypeError` or
`ValueError` that names the argument; outputs have the input's dtype (float32 or float64), never alias
an input, and inputs are never modified. `course.naive` holds the readable loops these functions are
tested against. Layering: functional imports `_args` and `kernels`, never the layers above it.
"""

from __future__ import annotations

import numpy as np

from course import _args
from course._jit import threads_for
from course.kernels import conv as _conv
from course.kernels import pool as _pool

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
]


def conv2d(x, w, b=None, stride=1, padding=0) -> np.ndarray:
    """Cross-correlate x (N, C, H, W) with kernels w (F, C, KH, KW), add bias b (F,) or None.

    stride and padding take an int or an (h, w) pair; padding adds zeros on both sides and must be
    smaller than the kernel. Returns z (N, F, Ho, Wo).
    """
    x, w, b, stride, padding = _args.conv_args("conv2d", x, w, b, stride, padding)
    shape = _args.conv_output_shape(x.shape, w.shape, stride, padding)
    bias = np.zeros(w.shape[0], dtype=x.dtype) if b is None else np.ascontiguousarray(b)
    a, w = _padded(x, padding), np.ascontiguousarray(w)
    forward = _conv.conv2d_forward_gemm if _uses_gemm(w) else _conv.conv2d_forward
    with threads_for(_conv_work(shape, w.shape)):
        return forward(a, w, bias, *stride, *shape[2:])


def conv2d_backward(grad_out, x, w, stride=1, padding=0):
    """Gradients of a scalar J through `conv2d(x, w, b, stride, padding)`, given grad_out = dJ/dz.

    Returns (grad_x, grad_w, grad_b) with the shapes of x (N, C, H, W), w (F, C, KH, KW) and b (F,):
      grad_w[f, ch, j, i] = sum_{n, r, c} a[n, ch, r*sh + j, c*sw + i] * grad_out[n, f, r, c]
          (the padded input correlated with delta: a convolution again);
      grad_x = delta spread back through the kernel (for stride 1, the full convolution of delta with
          the flipped kernel), with the padding cut away;
      grad_b[f] = sum_{n, r, c} grad_out[n, f, r, c].
    """
    x, w, _, stride, padding = _args.conv_args("conv2d_backward", x, w, None, stride, padding)
    expected = _args.conv_output_shape(x.shape, w.shape, stride, padding)
    delta = np.ascontiguousarray(_args.grad_out_array("conv2d_backward", grad_out, x, expected))
    a, w = _padded(x, padding), np.ascontiguousarray(w)
    backward = _conv.conv2d_backward_gemm if _uses_gemm(w) else _conv.conv2d_backward
    with threads_for(2 * _conv_work(expected, w.shape)):
        grad_a, grad_w = backward(delta, a, w, *stride)
    (ph, pw), (h, wd) = padding, x.shape[2:]
    grad_x = grad_a if ph == 0 and pw == 0 else np.ascontiguousarray(grad_a[:, :, ph : ph + h, pw : pw + wd])
    grad_b = delta.sum(axis=(0, 2, 3), dtype=np.float64).astype(x.dtype)
    return grad_x, grad_w, grad_b


def max_pool2d(x, kernel_size, stride=None) -> np.ndarray:
    """The maximum of each KH x KW window of x (N, C, H, W); stride defaults to kernel_size.

    Returns (N, C, Ho, Wo) with Ho = (H - KH) // sh + 1, Wo = (W - KW) // sw + 1.
    """
    x, kernel, stride = _args.pool_args("max_pool2d", x, kernel_size, stride)
    _, _, ho, wo = _args.pool_output_shape(x.shape, kernel, stride)
    with threads_for(_pool_work((*x.shape[:2], ho, wo), kernel)):
        return _pool.max_pool2d_forward(np.ascontiguousarray(x), *kernel, *stride, ho, wo)


def max_pool2d_backward(grad_out, x, kernel_size, stride=None) -> np.ndarray:
    """dJ/dx through `max_pool2d`: each window's gradient goes to its maximum (the first one on ties,
    as PyTorch) and is added there, so windows that overlap accumulate. Returns (N, C, H, W)."""
    x, kernel, stride = _args.pool_args("max_pool2d_backward", x, kernel_size, stride)
    expected = _args.pool_output_shape(x.shape, kernel, stride)
    delta = _args.grad_out_array("max_pool2d_backward", grad_out, x, expected)
    x, delta = np.ascontiguousarray(x), np.ascontiguousarray(delta)
    with threads_for(_pool_work(expected, kernel)):
        return _pool.max_pool2d_backward(delta, x, *kernel, *stride)


def avg_pool2d(x, kernel_size, stride=None) -> np.ndarray:
    """The mean of each KH x KW window of x (N, C, H, W); stride defaults to kernel_size.

    Returns (N, C, Ho, Wo) with Ho = (H - KH) // sh + 1, Wo = (W - KW) // sw + 1.
    """
    x, kernel, stride = _args.pool_args("avg_pool2d", x, kernel_size, stride)
    _, _, ho, wo = _args.pool_output_shape(x.shape, kernel, stride)
    with threads_for(_pool_work((*x.shape[:2], ho, wo), kernel)):
        return _pool.avg_pool2d_forward(np.ascontiguousarray(x), *kernel, *stride, ho, wo)


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None) -> np.ndarray:
    """dJ/dx through `avg_pool2d`: each window's gradient, divided by KH * KW, is added to each of its
    inputs. Returns (N, C, H, W)."""
    x, kernel, stride = _args.pool_args("avg_pool2d_backward", x, kernel_size, stride)
    expected = _args.pool_output_shape(x.shape, kernel, stride)
    delta = _args.grad_out_array("avg_pool2d_backward", grad_out, x, expected)
    x, delta = np.ascontiguousarray(x), np.ascontiguousarray(delta)
    with threads_for(_pool_work(expected, kernel)):
        return _pool.avg_pool2d_backward(delta, x, *kernel, *stride)


def _padded(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """x with zeros added on both sides, as a C-contiguous array for the kernels to read."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return np.ascontiguousarray(x)
    n, c, h, w = x.shape
    a = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    a[:, :, ph : ph + h, pw : pw + w] = x
    return a


def _uses_gemm(w: np.ndarray) -> bool:
    """Matrix products (im2col + BLAS) for kernels with at least GEMM_DEPTH taps, C * KH * KW."""
    return w.shape[1] * w.shape[2] * w.shape[3] >= _conv.GEMM_DEPTH


def _conv_work(out_shape, w_shape) -> int:
    """Multiply-adds of one convolution: N * F * Ho * Wo * C * KH * KW."""
    return int(np.prod(out_shape, dtype=np.int64)) * int(np.prod(w_shape[1:], dtype=np.int64))


def _pool_work(out_shape, kernel) -> int:
    """Inputs read by one pooling: N * C * Ho * Wo * KH * KW."""
    return int(np.prod(out_shape, dtype=np.int64)) * kernel[0] * kernel[1]
