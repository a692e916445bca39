"""Optimisers: update each parameter from its gradient, as PyTorch's `torch.optim` does.

    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    ...; model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()

Plain gradient descent is the lecture's rule w <- w - alpha * dJ/dw. Updates happen in place on each
parameter's `.data`, in its own dtype. Every hyperparameter is checked when the optimiser is built: a
TypeError for what is not a number, a ValueError naming the argument for a value outside its range
(NaN and infinity included). Layering: imports `course.nn.module` and `course._args`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from course import _args
from course.nn.module import Module, Parameter

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    """Holds the parameters to update, each listed once (torch warns of a parameter listed twice, which
    it would step twice; here it is an error); `zero_grad()` sets their gradients to zero."""

    def __init__(self, params: Iterable[Parameter], lr: float):
        name = type(self).__name__
        if isinstance(params, (Module, Parameter)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: params must be an iterable of Parameters; pass model.parameters(), "
                f"got {type(params).__name__}"
            )
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: params is empty; pass model.parameters()")
        first = {}  # id of each Parameter -> its first index in params
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: params[{i}] must be a Parameter, got {type(p).__name__}")
            if first.setdefault(id(p), i) != i:
                raise ValueError(
                    f"{name}: params[{i}] is params[{first[id(p)]}] again: a Parameter listed twice would "
                    "take two steps per step(); list each once (model.parameters() does)"
                )
        self.lr = _args.finite_number(name, "lr", lr, "a positive number", lambda v: v > 0)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad.fill(0)

    def step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define step()")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay, as `torch.optim.SGD`:

    g = grad + weight_decay * w
    v = g on the first step, then v = momentum * v + g     (only when momentum > 0)
    w = w - lr * v                                          (v = g without momentum)
    """

    def __init__(
        self, params: Iterable[Parameter], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ):
        super().__init__(params, lr)
        self.momentum = _args.finite_number(
            "SGD", "momentum", momentum, "a number in [0, 1)", lambda v: 0 <= v < 1
        )
        self.weight_decay = _args.finite_number(
            "SGD", "weight_decay", weight_decay, "a number >= 0", lambda v: v >= 0
        )
        self.velocity = [None] * len(self.params)

    def step(self) -> None:
        for k, p in enumerate(self.params):
            g = p.grad + p.data * p.data.dtype.type(self.weight_decay) if self.weight_decay else p.grad
            if self.momentum:
                if self.velocity[k] is None:
                    self.velocity[k] = g.copy()
                else:
                    self.velocity[k] *= self.momentum
                    self.velocity[k] += g
                g = self.velocity[k]
            p.data -= p.data.dtype.type(self.lr) * g


class Adam(Optimizer):
    """Adam, as `torch.optim.Adam` (weight decay added to the gradient, as there):

    g = grad + weight_decay * w;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
    w = w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)      at step t = 1, 2, ...
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
        self.betas = tuple(
            _args.finite_number("Adam", f"betas[{i}]", b, "a number in [0, 1)", lambda v: 0 <= v < 1)
            for i, b in enumerate(betas)
        )
        self.eps = _args.finite_number("Adam", "eps", eps, "a positive number", lambda v: v > 0)
        self.weight_decay = _args.finite_number(
            "Adam", "weight_decay", weight_decay, "a number >= 0", lambda v: v >= 0
        )
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        step_size = self.lr / (1 - b1**self.t)
        root_correction = np.sqrt(1 - b2**self.t)
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            g = p.grad + p.data * p.data.dtype.type(self.weight_decay) if self.weight_decay else p.grad
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p.data -= (step_size * m / (np.sqrt(v) / root_correction + self.eps)).astype(p.data.dtype)
