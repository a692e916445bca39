"""Layers that only move numbers around: `Flatten` (N, C, H, W) -> (N, C*H*W), and `Dropout`."""

from __future__ import annotations

import math

import numpy as np

from course import _args
from course.nn.module import Module, check_grad, check_input

__all__ = ["Dropout", "Flatten"]


class Flatten(Module):
    """Join every axis after the batch axis: (N, C, H, W) -> (N, C*H*W), in C order as PyTorch.
    Backward reshapes the gradient back to the input's shape."""

    def __init__(self):
        self._in_shape, self._out = None, None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self!r}: input must be a numpy array (N, ...), got {type(x).__name__}")
        if x.ndim < 2:
            raise ValueError(
                f"{self!r}: expected input of shape (N, ...) with at least 2 axes, got {x.shape}"
            )
        out = x.reshape(x.shape[0], math.prod(x.shape[1:]))  # not -1, which numpy cannot infer for N = 0
        self._in_shape, self._out = x.shape, (out.shape, out.dtype)
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return check_grad(self, grad_out, self._out).reshape(self._in_shape)


class Dropout(Module):
    """In training mode, zero each entry with probability p and scale the rest by 1/(1-p), so the
    expected output is the input; in eval mode, the identity. The mask comes from `rng`."""

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None):
        self.p = _args.real_number("Dropout", "p", p, "a real number in [0, 1)")
        if not 0 <= self.p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.rng = _args.generator("Dropout", rng)
        self._scale, self._out = None, None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, None, "(any shape)", (None,) * getattr(x, "ndim", 0))
        self._out = (x.shape, x.dtype)
        if not self.training or self.p == 0:
            self._scale = np.ones((1,) * x.ndim, dtype=x.dtype)
            return x.copy()
        keep = self.rng.random(x.shape) >= self.p
        self._scale = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self._scale

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return check_grad(self, grad_out, self._out) * self._scale

    def extra_repr(self) -> str:
        return f"p={self.p}"
