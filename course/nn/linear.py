"""The fully connected layer: `Linear`, every input unit connected to every output unit.

Layering: numpy and the argument checks of `course._args` (a matrix product needs no kernel of ours).
"""

from __future__ import annotations

import numpy as np

from course import _args
from course.nn.module import Module, Parameter, check_grad, check_input, fan_in_uniform, float_dtype

__all__ = ["Linear"]


class Linear(Module):
    """z = x @ weight.T + bias: x (N, in_features) -> z (N, out_features).

    weight (out_features, in_features) and bias (out_features,) start uniform on
    [-1/sqrt(in_features), +1/sqrt(in_features)] as in PyTorch, drawn from `rng`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ):
        self.in_features = _args.positive_int("Linear", "in_features", in_features)
        self.out_features = _args.positive_int("Linear", "out_features", out_features)
        bias = _args.flag("Linear", "bias", bias)
        rng = _args.generator("Linear", rng)
        self.dtype = float_dtype("Linear", dtype)
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(fan_in_uniform(rng, shape, self.in_features, self.dtype))
        self.bias = (
            Parameter(fan_in_uniform(rng, (self.out_features,), self.in_features, self.dtype))
            if bias
            else None
        )
        self._x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, self.dtype, f"(N, {self.in_features})", (None, self.in_features))
        z = x @ self.weight.data.T
        if self.bias is not None:
            z += self.bias.data
        self._x = x
        return z

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """With delta = dJ/dz (N, out): dJ/dweight += delta.T @ x (the lecture's delta_j * a_i summed over
        the batch), dJ/dbias += delta summed over the batch; returns dJ/dx = delta @ weight."""
        return self._parameter_grads(grad_out) @ self.weight.data

    def backward_parameters(self, grad_out: np.ndarray) -> None:
        """dJ/dweight and dJ/dbias, as `backward`, without dJ/dx."""
        self._parameter_grads(grad_out)

    def _parameter_grads(self, grad_out: np.ndarray) -> np.ndarray:
        """Checks grad_out, adds dJ/dweight and dJ/dbias to the parameters' .grad; returns delta."""
        out = None if self._x is None else ((self._x.shape[0], self.out_features), self.dtype)
        delta = check_grad(self, grad_out, out)
        self.weight.grad += delta.T @ self._x
        if self.bias is not None:
            self.bias.grad += delta.sum(axis=0)
        return delta

    def extra_repr(self) -> str:
        text = f"in_features={self.in_features}, out_features={self.out_features}"
        return text + ("" if self.bias is not None else ", bias=False")
