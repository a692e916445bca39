"""The convolutional layer: `Conv2d`, a bank of F learned kernels over C input channels.

Layering: built on `course.functional.conv2d` and `conv2d_backward`.
"""

from __future__ import annotations

import numpy as np

from course import _args, functional
from course.nn.module import Module, Parameter, check_grad, check_input, fan_in_uniform, float_dtype

__all__ = ["Conv2d"]


class Conv2d(Module):
    """z = conv2d(x, weight, bias, stride, padding): x (N, C, H, W) -> z (N, F, Ho, Wo).

    weight (F, C, KH, KW) and bias (F,) start uniform on [-1/sqrt(C*KH*KW), +1/sqrt(C*KH*KW)] as in
    PyTorch, drawn from `rng`. Ho = (H + 2*ph - KH) // sh + 1, Wo = (W + 2*pw - KW) // sw + 1. Any
    padding >= 0 is accepted, as in PyTorch, even one as large as the kernel: outputs whose window
    holds only padding are the bias. torch's dilation, groups and string paddings ("same") are not
    supported, and the sixth positional argument is bias where torch's is dilation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        bias: bool = True,
        *,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ):
        self.in_channels = _args.positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = _args.positive_int("Conv2d", "out_channels", out_channels)
        bias = _args.flag("Conv2d", "bias", bias)
        rng = _args.generator("Conv2d", rng)
        self.kernel_size = _args.as_pair("Conv2d", "kernel_size", kernel_size, minimum=1)
        self.stride = _args.as_pair("Conv2d", "stride", stride, minimum=1)
        self.padding = _args.as_pair("Conv2d", "padding", padding, minimum=0)
        self.dtype = float_dtype("Conv2d", dtype)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(fan_in_uniform(rng, shape, fan_in, self.dtype))
        self.bias = Parameter(fan_in_uniform(rng, (self.out_channels,), fan_in, self.dtype)) if bias else None
        self._x, self._out = None, None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(
            self, x, self.dtype, f"(N, {self.in_channels}, H, W)", (None, self.in_channels, None, None)
        )
        b = None if self.bias is None else self.bias.data
        z = functional.conv2d(x, self.weight.data, b, self.stride, self.padding)
        self._x, self._out = x, (z.shape, z.dtype)
        return z

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dJ/dweight (the input correlated with delta) and dJ/dbias (delta summed) are added to the
        parameters' .grad; returns dJ/dx (delta spread back through the kernels)."""
        return self._backward(grad_out, input_grad=True)

    def backward_parameters(self, grad_out: np.ndarray) -> None:
        """dJ/dweight and dJ/dbias, as `backward`, without dJ/dx: about half the work."""
        self._backward(grad_out, input_grad=False)

    def _backward(self, grad_out: np.ndarray, input_grad: bool) -> np.ndarray | None:
        delta = check_grad(self, grad_out, self._out)
        grad_x, grad_w, grad_b = functional.conv2d_backward(
            delta, self._x, self.weight.data, self.stride, self.padding, input_grad=input_grad
        )
        self.weight.grad += grad_w
        if self.bias is not None:
            self.bias.grad += grad_b
        return grad_x

    def extra_repr(self) -> str:
        k, s, p = self.kernel_size, self.stride, self.padding
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={k[0] if k[0] == k[1] else k}"
        if s != (1, 1):
            text += f", stride={s[0] if s[0] == s[1] else s}"
        if p != (0, 0):
            text += f", padding={p[0] if p[0] == p[1] else p}"
        return text + ("" if self.bias is not None else ", bias=False")
