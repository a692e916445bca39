"""Judging array outputs: compare with the reference, then name the misconception that explains a
wrong answer, if one of the known-wrong variants reproduces it. Runs on the trusted side only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from course.grading.compare import TOLERANCE, compare_array, entrywise_error
from course.grading.misconceptions import Variant

__all__ = [
    "judge_array",
    "judge_parts",
    "matching_variant",
    "close",
    "matching_number",
    "OUTPUT_SIZE_HINT",
    "GRAD_X_SIZE_HINT",
    "GRAD_W_SIZE_HINT",
    "GRADIENT_SIZE_HINTS",
]

# what an array one row or column off is told, by the exercise whose size rule it states
OUTPUT_SIZE_HINT = (  # the output of a forward convolution or pooling
    "the output has one row or column too many or too few: along each axis the output size is "
    "(H + 2*ph - KH) // sh + 1, with that axis's padding and stride"
)
GRAD_X_SIZE_HINT = (  # the input gradient of a backward pass
    "grad_x has one row or column too many or too few: it has the shape of x, (N, C, H, W); rows and "
    "columns that no window reached (leftovers of the stride) get 0"
)
GRAD_W_SIZE_HINT = (  # the kernel gradient of a backward pass
    "grad_w has one row or column too many or too few: it has the shape of w, (F, C, KH, KW)"
)
GRADIENT_SIZE_HINTS = {"grad_x": GRAD_X_SIZE_HINT, "grad_w": GRAD_W_SIZE_HINT}  # for `judge_parts`


def close(got: Any, candidate: Any, dtype: np.dtype) -> bool:
    """True when got is a real array of candidate's shape, both finite, equal within the tolerance of
    `dtype`."""
    if not isinstance(got, np.ndarray) or got.shape != np.shape(candidate) or got.dtype.kind not in "biuf":
        return False
    candidate = np.asarray(candidate, np.float64)
    if not np.all(np.isfinite(candidate)) or not np.all(np.isfinite(got)):
        return False
    _, ok = entrywise_error(candidate, got, TOLERANCE.get(np.dtype(dtype), (1e-7, 1e-9)))
    return bool(np.all(ok))


def matching_variant(got: Any, variants: Iterable[Variant], expected: np.ndarray) -> str:
    """The message of the one known mistake that explains `got`, or "".

    A mistake explains got when its output on this case equals got, differs from the correct output
    (else the case cannot tell it apart from a right answer), and differs from the output of every
    other known mistake (else it could be either): a hint names the real mistake or stays silent.
    """
    dtype = expected.dtype
    visible = []
    for message, compute in variants:
        try:
            candidate = np.asarray(compute(), dtype=np.float64)
        except Exception:  # noqa: BLE001 - that mistake cannot even be made on this case
            continue
        if not close(candidate, expected, dtype):
            visible.append((message, candidate))
    matches = [(message, candidate) for message, candidate in visible if close(got, candidate, dtype)]
    if not matches or len({message for message, _ in matches}) > 1:
        return ""
    message, candidate = matches[0]
    alike = {
        other
        for other, output in visible
        if close(output, candidate, dtype) or close(candidate, output, dtype)
    }
    return message if alike == {message} else ""


def judge_array(
    expected: np.ndarray,
    got: Any,
    name: str = "output",
    variants: Iterable[Variant] = (),
    tolerance: tuple[float, float] | None = None,
    size_hint: str = "",
    dtype_rule: str = "the input's dtype",
) -> tuple[float, str]:
    """(1.0, "") when got matches expected (shape, dtype, finite, values); else (0.0, why).

    A wrong dtype gets its own message (saying whether the values are right) and no other hint; a
    wrong shape gets the mistake whose output has that very shape and values, or a hint about the
    shape; wrong values get the one known mistake that explains them (`matching_variant`).
    `tolerance` (rtol, atol) overrides the dtype's (see `compare_array`). `size_hint` is what a 4-D
    array one row or column off is told: the exercise's own size rule (`OUTPUT_SIZE_HINT` for a
    forward output, `GRAD_X_SIZE_HINT` for an input gradient...); without one, nothing. `dtype_rule`
    says what decides the expected dtype (see `compare_array`)."""
    fraction, message = compare_array(expected, got, name, tolerance, dtype_rule)
    if fraction == 1.0 or not isinstance(got, np.ndarray) or got.dtype.kind not in "biuf":
        return fraction, message
    if got.shape == expected.shape and got.dtype != expected.dtype:
        right = close(got, expected, expected.dtype)
        return 0.0, f"{message}; {'its values are right' if right else 'its values are wrong too'}"
    if got.shape == expected.shape and not np.all(np.isfinite(got)):
        return 0.0, message
    hint = matching_variant(got, variants, expected)
    if not hint and got.shape != expected.shape:
        hint = _shape_hint(expected.shape, got.shape, size_hint, name)
    return 0.0, f"{message}\n{hint}" if hint else message


def judge_parts(
    expected: tuple[np.ndarray, ...],
    got: Any,
    names: tuple[str, ...],
    variants: dict[str, list[Variant]] | None = None,
    tolerance: tuple[float, float] | None = None,
    size_hints: dict[str, str] | None = None,
) -> tuple[float, str]:
    """Judge a tuple of arrays part by part: each right part earns an equal share of the case.
    `size_hints` gives each part's `size_hint` (see `judge_array`)."""
    if not isinstance(got, (tuple, list)) or len(got) != len(expected):
        kind = f"a {type(got).__name__}" + (
            f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""
        )
        return 0.0, f"expected a tuple ({', '.join(names)}), got {kind}"
    variants, size_hints = variants or {}, size_hints or {}
    scores, messages = [], []
    for name, want, have in zip(names, expected, got, strict=True):
        score, message = judge_array(
            want, have, name, variants.get(name, ()), tolerance, size_hints.get(name, "")
        )
        scores.append(score)
        if message:
            messages.append(message)
    return sum(scores) / len(scores), "\n".join(messages)


def _shape_hint(expected: tuple[int, ...], got: tuple[int, ...], size_hint: str, name: str = "output") -> str:
    if len(got) != len(expected):
        return f"{name} should have shape {expected} ({len(expected)}-D), yours is {len(got)}-D"
    if got[:-2] == expected[:-2] and got[-2:] == expected[-2:][::-1]:
        return "the last two dimensions are swapped (a transposed result?)"
    if len(got) == 4 and got[:-2] == expected[:-2]:
        diff = tuple(g - e for g, e in zip(got[-2:], expected[-2:], strict=True))
        if set(diff) <= {-1, 0, 1}:
            return size_hint
    return ""


def matching_number(
    got: Any, expected: float, mistakes: Iterable[tuple[str, float]], rtol: float = 1e-9
) -> str:
    """For numeric answers, the rule of `matching_variant`: the message of the one mistake whose value
    equals got, differs from the expected value and from every other mistake's value; else ""."""
    if isinstance(got, bool) or not isinstance(got, (int, float)) or not np.isfinite(got):
        return ""

    def same(a: float, b: float) -> bool:
        return abs(a - b) <= rtol * max(abs(a), abs(b), 1.0)

    visible = [
        (message, float(value))
        for message, value in mistakes
        if np.isfinite(value) and not same(value, expected)
    ]
    matches = {message for message, value in visible if same(got, value)}
    if len(matches) != 1:
        return ""
    (message,) = matches
    value = next(v for m, v in visible if m == message and same(got, v))
    return message if all(m == message for m, v in visible if same(v, value)) else ""
