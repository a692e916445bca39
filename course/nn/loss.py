"""Cost functions J(a, y): `MSELoss` (the lecture's cost) and `CrossEntropyLoss` (for classes).

Calling a loss returns J as a float and keeps what `backward()` needs; `backward()` returns dJ/da,
to feed into the network's `backward`.
"""

from __future__ import annotations

import numpy as np

from course import _args
from course.nn.module import Module

__all__ = ["CrossEntropyLoss", "MSELoss"]

_REDUCTIONS = ("mean", "sum")


def _reduction(name: str, reduction: str, hint: str = "") -> str:
    """`reduction` itself when it is "mean" or "sum"; a TypeError for what is not a string (`hint`
    says what it may have been meant as), a ValueError for another string."""
    if not isinstance(reduction, str):
        raise TypeError(f"{name}: reduction must be 'mean' or 'sum', got {reduction!r}{hint}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _scalar_grad(name: str, grad_out) -> float:
    """grad_out, dJ/dJ, as a float: J is one number, so its gradient is one number too (an array, even
    one of the output's shape, is refused rather than multiplied in entry by entry)."""
    return _args.real_number(f"{name}.backward", "grad_out", grad_out, "a number (dJ/dJ, 1.0 by default)")


class MSELoss(Module):
    """The lecture's cost J = 1/2 sum_j (a_j - y_j)^2 for one example, over the output units j.

    a and y have the same shape (N, ...), the first axis being the batch (N >= 1). Over a batch,
    reduction="mean" (the default) averages the examples' costs,

        J = 1/N sum_n 1/2 sum_j (a_nj - y_nj)^2,   dJ/da = (a - y) / N,

    so the step size does not depend on the batch size; reduction="sum" adds them,
    J = 1/2 sum_{n,j} (a_nj - y_nj)^2 and dJ/da = a - y, the lecture's formula over everything.
    (PyTorch's MSELoss has no 1/2 and its "mean" divides by every entry, not by N.)
    """

    def __init__(self, reduction: str = "mean"):
        self.reduction = _reduction("MSELoss", reduction)
        self._diff, self._scale = None, 1.0

    def forward(self, a: np.ndarray, y: np.ndarray) -> float:
        if not isinstance(a, np.ndarray) or not isinstance(y, np.ndarray):
            raise TypeError(
                f"MSELoss: a and y must be numpy arrays, got {type(a).__name__}, {type(y).__name__}"
            )
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"MSELoss: a must have dtype float32 or float64, got {a.dtype}")
        if y.dtype.kind not in "biuf":
            raise TypeError(f"MSELoss: y must hold real numbers, got {y.dtype}")
        if a.shape != y.shape or a.ndim < 1:
            raise ValueError(
                f"MSELoss: a and y must have the same shape (N, ...), got {a.shape} and {y.shape}"
            )
        if a.shape[0] == 0:
            raise ValueError(f"MSELoss: a must hold at least one example (N >= 1), got a.shape={a.shape}")
        self._diff = a - y.astype(a.dtype)
        self._scale = 1.0 / a.shape[0] if self.reduction == "mean" else 1.0
        return float(0.5 * np.sum(self._diff.astype(np.float64) ** 2) * self._scale)

    def backward(self, grad_out: float = 1.0) -> np.ndarray:
        """dJ/da = (a - y) / N for "mean", a - y for "sum", times grad_out (a number: J is one)."""
        grad_out = _scalar_grad("MSELoss", grad_out)
        if self._diff is None:
            raise RuntimeError("MSELoss: backward called before forward")
        return self._diff * self._diff.dtype.type(self._scale * grad_out)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(Module):
    """Softmax then negative log-likelihood of the true class, from logits z (N, K), N, K >= 1, and labels
    y (N,) (integers in [0, K)):

        J_n = -log softmax(z_n)[y_n] = logsumexp(z_n) - z_n[y_n],

    with logsumexp computed after subtracting each row's maximum, so large logits never overflow.
    reduction="mean" (the default, as PyTorch) averages J_n over the batch, "sum" adds them. torch's
    other arguments (class weights, its first, ignore_index, label_smoothing) are not supported.
    dJ/dz_n = softmax(z_n) - onehot(y_n), divided by N for "mean".
    """

    def __init__(self, reduction: str = "mean"):
        weights = " (class weights, torch's first argument, are not supported; give reduction by name)"
        self.reduction = _reduction("CrossEntropyLoss", reduction, weights)
        self._grad = None

    def forward(self, z: np.ndarray, y: np.ndarray) -> float:
        z = _args.float_array("CrossEntropyLoss", "logits", z, 2, "(N, K)")
        if 0 in z.shape:
            raise ValueError(
                f"CrossEntropyLoss: logits must hold at least one example and one class (N, K >= 1), "
                f"got logits.shape={z.shape}"
            )
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"CrossEntropyLoss: labels must be integers (class indices), got {y.dtype}")
        if y.shape != (z.shape[0],):
            raise ValueError(
                f"CrossEntropyLoss: labels must have shape (N,) = ({z.shape[0]},), got {y.shape}"
            )
        if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
            raise ValueError(
                f"CrossEntropyLoss: labels must be in [0, {z.shape[1]}), got {y.min()}..{y.max()}"
            )
        shifted = z - z.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        rows = np.arange(z.shape[0])
        losses = np.log(total[:, 0]) - shifted[rows, y]
        scale = 1.0 / z.shape[0] if self.reduction == "mean" else 1.0
        grad = exp / total
        grad[rows, y] -= 1
        self._grad = grad * z.dtype.type(scale)
        return float(losses.astype(np.float64).sum() * scale)

    def backward(self, grad_out: float = 1.0) -> np.ndarray:
        """dJ/dz = (softmax(z) - onehot(y)) / N for "mean", times grad_out (a number: J is one)."""
        grad_out = _scalar_grad("CrossEntropyLoss", grad_out)
        if self._grad is None:
            raise RuntimeError("CrossEntropyLoss: backward called before forward")
        return self._grad * self._grad.dtype.type(grad_out)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"
