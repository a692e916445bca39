"""Pooling layers: `MaxPool2d` and `AvgPool2d`, downsampling each channel without parameters.

Layering: built on `course.functional`'s pooling ops.
"""

from __future__ import annotations

import numpy as np

from course import _args, functional
from course.nn.module import Module, check_grad, check_input

__all__ = ["AvgPool2d", "MaxPool2d"]


class _Pool2d(Module):
    """A pooling layer: kernel_size and stride (default kernel_size) as ints or (h, w) pairs. torch's
    padding, dilation and ceil_mode are not supported (output sizes round down, torch's default)."""

    _forward = _backward = None  # set by subclasses to the functional ops

    def __init__(self, kernel_size, stride=None):
        name = type(self).__name__
        self.kernel_size = _args.as_pair(name, "kernel_size", kernel_size, minimum=1)
        self.stride = self.kernel_size if stride is None else _args.as_pair(name, "stride", stride, minimum=1)
        self._x, self._out = None, None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, None, "(N, C, H, W)", (None, None, None, None))
        out = type(self)._forward(x, self.kernel_size, self.stride)
        self._x, self._out = x, (out.shape, out.dtype)
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        delta = check_grad(self, grad_out, self._out)
        return type(self)._backward(delta, self._x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        k, s = self.kernel_size, self.stride
        k_text = k[0] if k[0] == k[1] else k
        return f"kernel_size={k_text}" + ("" if s == k else f", stride={s[0] if s[0] == s[1] else s}")


class MaxPool2d(_Pool2d):
    """The maximum of each KH x KW window: x (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H - KH) // sh + 1.

    Backward sends each window's gradient to the position of its maximum (added up where windows overlap).
    stride defaults to kernel_size.
    """

    _forward = staticmethod(functional.max_pool2d)
    _backward = staticmethod(functional.max_pool2d_backward)


class AvgPool2d(_Pool2d):
    """The mean of each KH x KW window: x (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H - KH) // sh + 1.

    Backward spreads each window's gradient evenly, 1/(KH*KW) to each input. stride defaults to kernel_size.
    """

    _forward = staticmethod(functional.avg_pool2d)
    _backward = staticmethod(functional.avg_pool2d_backward)
