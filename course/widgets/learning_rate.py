"""The learning rate on the cost valley (notebook 03): converge, zig-zag or diverge.

A linear unit with two weights fitted to examples X (K, 2), y (K,): J(w) = 1/2 * sum_k (X_k . w - y_k)^2,
dJ/dw = X^T (X w - y). The curvature of J along its steepest direction is lambda_max, the largest
eigenvalue of X^T X; along that direction each step multiplies the distance to the minimum by
(1 - alpha * lambda_max). So with alpha * lambda_max < 1 descent approaches monotonically, between 1 and
2 it overshoots and zig-zags across the valley while converging, at exactly 2 it swings across the valley
for ever, as far each time (the factor is -1), and above 2 it diverges.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from course.widgets.figure import InteractiveFigure, new_figure

__all__ = ["regime", "descent_path", "learning_rate_valley"]


def regime(lr: float, steepest: float) -> str:
    """ "converges", "zig-zags", "swings for ever" or "diverges": what gradient descent at learning rate
    lr does on a quadratic whose largest curvature is `steepest` (lambda_max). A ratio within 1e-9 of 2
    counts as 2 (the slider's 2.00 / lambda_max times lambda_max is 2 up to rounding)."""
    ratio = lr * steepest
    if ratio <= 1:
        return "converges"
    if math.isclose(ratio, 2, rel_tol=1e-9):
        return "swings for ever"
    return "zig-zags" if ratio < 2 else "diverges"


def descent_path(
    X: np.ndarray, y: np.ndarray, lr: float, start: np.ndarray, steps: int, step: Callable | None = None
) -> np.ndarray:
    """The weights (steps + 1, 2) visited by gradient descent from `start`; `step(w, grad_w, lr)` makes
    one step (default w - lr * grad_w)."""
    w = np.asarray(start, dtype=np.float64)
    path = [w]
    for _ in range(steps):
        grad = X.T @ (X @ w - y)
        w = step(w, grad, lr) if step is not None else w - lr * grad
        path.append(np.asarray(w, dtype=np.float64))
    return np.array(path)


def learning_rate_valley(
    X: np.ndarray, y: np.ndarray, step: Callable | None = None, start=(-2.0, 2.0), steps: int = 20
) -> InteractiveFigure:
    """A slider for alpha * lambda_max (0.05 to 2.2); the path of `steps` gradient steps on J's contours
    and the cost after each step. `step` is the gradient step to use (e.g. your gradient_descent_step)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"learning_rate_valley: expected X (K, 2) and y (K,), got {X.shape} and {y.shape}")
    start = np.asarray(start, dtype=np.float64)
    if start.shape != (2,):
        raise ValueError(f"learning_rate_valley: start must be two weights (w1, w2), got shape {start.shape}")
    steepest = float(np.linalg.eigvalsh(X.T @ X).max())
    w_best = np.linalg.lstsq(X, y, rcond=None)[0]
    w1, w2 = np.meshgrid(
        np.linspace(w_best[0] - 5.5, w_best[0] + 5.5, 200), np.linspace(w_best[1] - 4.5, w_best[1] + 4.5, 180)
    )
    grid = np.stack([w1.ravel(), w2.ravel()], axis=1)
    J_grid = 0.5 * np.sum((grid @ X.T - y) ** 2, axis=1).reshape(w1.shape)
    levels = np.geomspace(J_grid.min(), J_grid.max(), 16)
    J_best = 0.5 * np.sum((X @ w_best - y) ** 2)

    def learning_rate(lr_times_steepest: float) -> Figure:
        lr = lr_times_steepest / steepest
        path = descent_path(X, y, lr, start, steps, step)
        costs = 0.5 * np.sum((path @ X.T - y) ** 2, axis=1)
        fig = new_figure(12, 4.8)
        left, right = fig.subplots(1, 2)
        left.contourf(w1, w2, J_grid, levels=levels, cmap="Blues_r", norm="log")
        left.plot(path[:, 0], path[:, 1], "o-", color="tab:red", ms=4, lw=1.5)
        left.plot(*w_best, "*", color="gold", ms=14, mec="k")
        left.set_xlim(w1.min(), w1.max())
        left.set_ylim(w2.min(), w2.max())
        left.set_xlabel("w1")
        left.set_ylabel("w2")
        left.set_title(f"{steps} steps on the valley of J (star: the minimum)", fontsize=10)
        right.semilogy(costs, "o-", color="tab:red", ms=4)
        right.axhline(J_best, color="gold", lw=1.5, ls="--", label="the minimum of J")
        right.legend(loc="best")  # the costs rise to the upper right when descent diverges
        right.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # no step 2.5
        right.set_xlabel("step")
        right.set_ylabel("cost J (log scale)")
        right.set_title(f"cost after each step: {costs[-1]:.3g} after {steps}", fontsize=10)
        fig.suptitle(
            f"alpha = {lr_times_steepest:.2f} / lambda_max = {lr:.4f}: {regime(lr, steepest)} "
            f"(factor 1 - alpha*lambda_max = {1 - lr_times_steepest:+.2f} per step along the steepest "
            "direction)",
            fontsize=11,
        )
        return fig

    slider = widgets.FloatSlider(0.15, min=0.05, max=2.2, step=0.05, description="alpha x lambda_max")
    return InteractiveFigure(learning_rate, {"lr_times_steepest": slider})
