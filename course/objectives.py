"""Scalar objectives f(x) -> float to take numerical gradients of (the checks of `numerical_gradient`
hand them to a student's function).

They live in a plain `course` module so a case can be pickled by reference and sent to the grader's
sandbox, and they use numpy only: the sandbox makes the course's reference ops (course.functional,
course.grading, ...) uncallable by student code, and these run inside the student's function.
Parameters are bound with `functools.partial` (see `scalar_function`). Layering: imports numpy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["sine_mix", "quadratic_form", "conv_loss", "scalar_function"]


def sine_mix(x: np.ndarray, freq: np.ndarray, phase: np.ndarray) -> float:
    """sum_k sin(freq_k * x_k + phase_k) + (sum_k x_k)^2 / 2: curved, and coupled across entries."""
    return float(np.sum(np.sin(freq * x + phase)) + 0.5 * np.sum(x) ** 2)


def quadratic_form(x: np.ndarray, matrix: np.ndarray) -> float:
    """1/2 x^T A x over the flattened x (A square, not symmetric)."""
    flat = x.reshape(-1)
    return float(0.5 * flat @ matrix @ flat)


def conv_loss(x: np.ndarray, w: np.ndarray, target: np.ndarray) -> float:
    """J = 1/2 * sum((z - target)^2), z the valid cross-correlation of x (N, C, H, W), w (F, C, KH, KW)."""
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))  # (N, C, Ho, Wo, KH, KW)
    z = np.einsum("ncrsji,fcji->nfrs", windows, w)
    return float(0.5 * np.sum((z - target) ** 2))


def scalar_function(
    kind: str, shape: tuple[int, ...], rng: np.random.Generator
) -> Callable[[np.ndarray], float]:
    """A picklable scalar function of an x of `shape`, its parameters drawn from rng."""
    size = int(np.prod(shape))
    if kind == "sine_mix":
        return functools.partial(
            sine_mix, freq=rng.uniform(1.0, 4.0, shape), phase=rng.uniform(0, 6.3, shape)
        )
    if kind == "quadratic_form":
        return functools.partial(quadratic_form, matrix=rng.standard_normal((size, size)))
    if kind == "conv_loss":
        n, c, h, w = shape
        kernels = rng.standard_normal((2, c, 2, 2))
        return functools.partial(conv_loss, w=kernels, target=rng.standard_normal((n, 2, h - 1, w - 1)))
    raise ValueError(f"scalar_function: kind must be sine_mix, quadratic_form or conv_loss, got {kind!r}")
