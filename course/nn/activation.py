"""Element-wise activation functions f(z), each with its derivative f'(z) beside it:
`ReLU`, `Sigmoid`, `Tanh`. Any input shape; the output has the same shape and dtype.
"""

from __future__ import annotations

import numpy as np

from course import functional
from course.nn.module import Module, check_grad, check_input

__all__ = ["ReLU", "Sigmoid", "Tanh"]


class _Elementwise(Module):
    def __init__(self):
        self._saved, self._out = None, None

    def _check(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self!r}: input must be a numpy array, got {type(x).__name__}")
        check_input(self, x, None, "(any shape)", (None,) * x.ndim)
        self._out = (x.shape, x.dtype)
        return x

    def _grad(self, grad_out: np.ndarray) -> np.ndarray:
        return check_grad(self, grad_out, self._out)


class ReLU(_Elementwise):
    """a = max(z, 0); f'(z) = 0 where z <= 0, else 1, and a NaN passes its gradient on, as in PyTorch
    (`functional.relu` and `relu_backward`). Keeps z, not a copy, for the backward, as the other layers
    keep their inputs."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._saved = self._check(x)
        return functional.relu(x)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return functional.relu_backward(self._grad(grad_out), self._saved)


class Sigmoid(_Elementwise):
    """a = 1 / (1 + exp(-z)); f'(z) = a (1 - a), as torch.sigmoid and its gradient.

    Computed from e = exp(-|z|), which never overflows: a = 1 / (1 + e) for z >= 0 and e / (1 + e) for
    z < 0, both to a few units in the last place however far into the tails z goes. (The tidy
    (1 + tanh(z/2)) / 2 is not: it rounds to 0 from z = -20 in float32 and z = -38 in float64.)
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = self._check(x)
        e = np.exp(-np.abs(z))
        self._saved = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return self._saved.copy()

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        a = self._saved
        return self._grad(grad_out) * a * (1 - a)


class Tanh(_Elementwise):
    """a = tanh(z); f'(z) = 1 - a^2."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._saved = np.tanh(self._check(x))
        return self._saved.copy()

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        a = self._saved
        return self._grad(grad_out) * (1 - a * a)
