"""Comparing a student's plain output with the reference, with feedback a student can act on."""

from __future__ import annotations

from typing import Any

import numpy as np

from course.grading.exercise import describe

# float64 answers must be float64-accurate: float32's rounding (6e-8) is 600 times the float64 rtol, so
# an answer computed in float32 and converted back fails on every case, not on some
TOLERANCE = {np.dtype(np.float32): (1e-4, 1e-5), np.dtype(np.float64): (1e-10, 1e-12)}


def compare_array(
    expected: np.ndarray,
    got: Any,
    name: str = "output",
    tolerance: tuple[float, float] | None = None,
    dtype_rule: str = "the input's dtype",
) -> tuple[float, str]:
    """1.0 and "" when `got` is an array of expected's shape and dtype, finite, and close to it;
    otherwise 0.0 and a message naming the first problem (for values, the worst entry). A wrong dtype
    is told `dtype_rule`, what decides the expected one.

    Close means |got - expected| <= atol * max(max|expected|, 1) + rtol * |expected| entry by entry,
    with (rtol, atol) = `tolerance`, by default TOLERANCE[expected.dtype]."""
    if not isinstance(got, np.ndarray):
        return 0.0, (
            f"{name}: your function returned {describe(got)} where a numpy array of shape {expected.shape} "
            "was expected"
        )
    if got.shape != expected.shape:
        return 0.0, f"{name} has shape {got.shape}, expected {expected.shape}"
    if got.dtype != expected.dtype:
        return 0.0, f"{name} has dtype {got.dtype}, expected {expected.dtype} ({dtype_rule})"
    if not np.all(np.isfinite(got)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        return 0.0, f"{name} has a non-finite value {got[bad]} at index {bad}"
    error, ok = entrywise_error(expected, got, tolerance or TOLERANCE.get(expected.dtype, (1e-7, 1e-9)))
    if np.all(ok):
        return 1.0, ""
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(error), error.shape))
    wrong = int(np.count_nonzero(~ok))
    return 0.0, (
        f"{name} is wrong at {wrong} of {error.size} entries; the worst is at index {worst}: "
        f"expected {distinct(expected[worst], got[worst])[0]}, got {distinct(expected[worst], got[worst])[1]}"
    )


def entrywise_error(
    expected: np.ndarray, got: np.ndarray, tolerance: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """|got - expected| in float64, and where it is within tolerance (rtol, atol):
    |got - expected| <= atol * max(max|expected|, 1) + rtol * |expected|."""
    rtol, atol = tolerance
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
    error = np.abs(got.astype(np.float64) - expected)
    return error, error <= atol * scale + rtol * np.abs(expected)


def compare_number(expected: float, got: Any, name: str = "result", rtol: float = 1e-9) -> tuple[float, str]:
    """1.0 when `got` is a real number equal to `expected` within rtol, else 0.0 and why."""
    kind = "an integer" if isinstance(expected, (int, np.integer)) else "a number"
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return 0.0, f"{name}: your function returned {describe(got)} where {kind} was expected"
    if not np.isfinite(got):
        return 0.0, f"{name}: your function returned {got!r} where {kind} was expected"
    if abs(got - expected) <= rtol * max(abs(expected), 1.0):
        return 1.0, ""
    shown_expected, shown_got = distinct(expected, got)
    return 0.0, f"{name}: expected {shown_expected}, got {shown_got}"


def distinct(expected: float, got: float) -> tuple[str, str]:
    """The two numbers printed with the fewest significant digits (at least 6) that tell them apart."""
    for digits in range(6, 18):
        shown = f"{float(expected):.{digits}g}", f"{float(got):.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return repr(float(expected)), repr(float(got))
