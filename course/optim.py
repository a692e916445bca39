"""Optimisers: update each parameter from its gradient, as PyTorch's `torch.optim` does.

    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    ...; model.backward(loss_fn.backward()); opt.step(); opt.zero_grad()

Plain gradient descent is the lecture's rule w <- w - alpha * dJ/dw. Updates happen in place on each
parameter's `.data`, in its own dtype. Layering: imports only `course.nn.module`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from course.nn.module import Parameter

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    """Holds the parameters to update; `zero_grad()` sets their gradients to zero."""

    def __init__(self, params: Iterable[Parameter], lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: params is empty; pass model.parameters()")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{type(self).__name__}: params[{i}] must be a Parameter, got {type(p).__name__}"
                )
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr!r}")
        self.lr = float(lr)

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
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        if weight_decay < 0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay!r}")
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
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
        if not (len(betas) == 2 and all(0 <= b < 1 for b in betas)):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas!r}")
        if not eps > 0 or weight_decay < 0:
            raise ValueError(f"Adam: eps must be > 0 and weight_decay >= 0, got {eps!r}, {weight_decay!r}")
        self.betas, self.eps, self.weight_decay = (float(betas[0]), float(betas[1])), float(eps), weight_decay
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
