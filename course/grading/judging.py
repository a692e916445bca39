"""Judging array outputs: compare with the reference, then name the misconception that explains a
wrong answer, if one of the known-wrong variants reproduces it. Runs on the trusted side only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from course.grading.compare import TOLERANCE, compare_array, entrywise_error
from course.grading.misconceptions import Variant

__all__ = ["judge_array", "judge_parts", "matching_variant", "close"]


def close(got: np.ndarray, candidate: np.ndarray, dtype: np.dtype) -> bool:
    """True when got has candidate's shape and equals it within the tolerance of `dtype`."""
    if not isinstance(got, np.ndarray) or got.shape != np.shape(candidate) or got.dtype.kind not in "biuf":
        return False
    candidate = np.asarray(candidate, np.float64)
    if not np.all(np.isfinite(candidate)) or not np.all(np.isfinite(got)):
        return False
    _, ok = entrywise_error(candidate, got, TOLERANCE.get(np.dtype(dtype), (1e-7, 1e-9)))
    return bool(np.all(ok))


def matching_variant(got: Any, variants: Iterable[Variant], dtype: np.dtype) -> str:
    """The message of the first variant whose output equals `got`, or ""."""
    for message, compute in variants:
        try:
            candidate = compute()
        except (ValueError, IndexError):  # that mistake cannot even be made on this case
            continue
        if close(got, candidate, dtype):
            return message
    return ""


def judge_array(
    expected: np.ndarray,
    got: Any,
    name: str = "output",
    variants: Iterable[Variant] = (),
    tolerance: tuple[float, float] | None = None,
) -> tuple[float, str]:
    """(1.0, "") when got matches expected (shape, dtype, finite, values); else (0.0, why), with the
    misconception a variant reproduces, or a hint about the output size when only the shape is off.
    `tolerance` (rtol, atol) overrides the dtype's (see `compare_array`)."""
    fraction, message = compare_array(expected, got, name, tolerance)
    if fraction == 1.0:
        return fraction, message
    hint = matching_variant(got, variants, expected.dtype)
    if not hint and isinstance(got, np.ndarray) and got.shape != expected.shape:
        hint = _shape_hint(expected.shape, got.shape)
    return 0.0, f"{message}\n{hint}" if hint else message


def judge_parts(
    expected: tuple[np.ndarray, ...],
    got: Any,
    names: tuple[str, ...],
    variants: dict[str, list[Variant]] | None = None,
    tolerance: tuple[float, float] | None = None,
) -> tuple[float, str]:
    """Judge a tuple of arrays part by part: each right part earns an equal share of the case."""
    if not isinstance(got, (tuple, list)) or len(got) != len(expected):
        kind = f"a {type(got).__name__}" + (
            f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""
        )
        return 0.0, f"expected a tuple ({', '.join(names)}), got {kind}"
    variants = variants or {}
    scores, messages = [], []
    for name, want, have in zip(names, expected, got, strict=True):
        score, message = judge_array(want, have, name, variants.get(name, ()), tolerance)
        scores.append(score)
        if message:
            messages.append(message)
    return sum(scores) / len(scores), "\n".join(messages)


def _shape_hint(expected: tuple[int, ...], got: tuple[int, ...]) -> str:
    if len(got) != len(expected):
        return f"the output should have shape {expected} ({len(expected)}-D), yours is {len(got)}-D"
    if got[:-2] == expected[:-2] and got[-2:] == expected[-2:][::-1]:
        return "the last two dimensions are swapped (a transposed result?)"
    if len(got) == 4 and got[:-2] == expected[:-2]:
        diff = tuple(g - e for g, e in zip(got[-2:], expected[-2:], strict=True))
        if set(diff) <= {-1, 0, 1}:
            return (
                "the output is off by one row or column: the output size is Ho = (H + 2*ph - KH) // sh + 1 "
                "(note the + 1, and the floor)"
            )
    return ""
