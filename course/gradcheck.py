"""Finite-difference gradient checking: is an analytic gradient the true derivative of a scalar function?

The numeric derivative of a scalar f with respect to one entry x_i is the central difference

    dJ/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),

whose error is O(eps^2) plus the rounding of f divided by eps; in float64 with eps = 1e-6 both are far
below the tolerances used here, so every check runs in float64. An analytic entry `a` and numeric `n`
agree when their relative error with a floor,

    rel_error = |a - n| / max(|a|, |n|, atol / rtol),

is at most rtol: large gradients are compared relatively, gradients near zero absolutely (|a - n| <= atol).
Inputs with at most `max_entries` entries are checked at every entry, larger ones at a seeded random
sample of that many. Tests, notebooks and the grader all use `gradcheck`; its result prints a report that
names the worst entry. Layering: imports numpy, `course._args` and `course._blas` only.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from course import _args
from course._blas import single_threaded_blas

__all__ = ["GradcheckResult", "gradcheck", "numerical_gradient"]


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, *, eps: float = 1e-6, indices=None
) -> np.ndarray:
    """Central differences of the scalar function f at a float64 copy of x.

    f is called with arrays of x's shape (float64). Returns a float64 array of x's shape holding
    (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) at every entry, or, when `indices` (flat indices into x)
    is given, only there, with NaN elsewhere. x itself is never modified.
    """
    point = _float64_copy("numerical_gradient", "x", x)
    eps = _positive("numerical_gradient", "eps", eps)
    if indices is None:
        flat_indices = np.arange(point.size)
    else:
        flat_indices = np.asarray(indices).ravel()
        if flat_indices.size and (
            not np.issubdtype(flat_indices.dtype, np.integer)
            or flat_indices.min() < 0
            or flat_indices.max() >= point.size
        ):
            raise ValueError(
                f"numerical_gradient: indices must be flat integer indices in [0, {point.size}), "
                f"got {indices!r}"
            )
    grad = np.full(point.shape, np.nan)
    flat_point, flat_grad = point.reshape(-1), grad.reshape(-1)
    with single_threaded_blas():  # f is called many times: one BLAS thread avoids fighting Numba's
        for i in flat_indices:
            original = flat_point[i]
            flat_point[i] = original + eps
            f_plus = _scalar(f(point))
            flat_point[i] = original - eps
            f_minus = _scalar(f(point))
            flat_point[i] = original
            flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


@dataclass(frozen=True)
class GradcheckResult:
    """What `gradcheck` found: pass/fail, the worst entry over all inputs, and one line per input.

    `name` and `index` locate the worst entry (the input's name and its index tuple), `analytic` and
    `numeric` are the two values there and `rel_error` their relative error with a floor; `checked`
    counts the entries compared over all inputs. `per_input` maps each input's name to
    (worst rel_error, entries checked, entries in the input). `hint` is a guess at the bug, or "".
    """

    passed: bool
    name: str
    index: tuple[int, ...]
    analytic: float
    numeric: float
    rel_error: float
    checked: int
    rtol: float
    atol: float
    per_input: dict[str, tuple[float, int, int]]
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [
            f"gradcheck {verdict}: worst relative error {self.rel_error:.3g} (tolerance rtol={self.rtol:g}, "
            f"atol={self.atol:g}) at {self.name}{list(self.index)}",
            f"  analytic {self.analytic:.10g}, numeric {self.numeric:.10g}",
        ]
        for name, (error, checked, size) in self.per_input.items():
            sample = "every entry" if checked == size else f"{checked} random entries of {size}"
            mark = "ok  " if error <= self.rtol else "FAIL"
            lines.append(f"  {mark} {name}: worst relative error {error:.3g} over {sample}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#cf222e"
        verdict = "passed" if self.passed else "failed"
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{error:.3g}</td><td>{checked} of {size}</td></tr>"
            for name, (error, checked, size) in self.per_input.items()
        )
        hint = f"<div><i>hint:</i> {html.escape(self.hint)}</div>" if self.hint else ""
        return (
            f"<div><b style='color:{colour}'>gradcheck {verdict}</b> &mdash; worst relative error "
            f"{self.rel_error:.3g} (rtol={self.rtol:g}, atol={self.atol:g}) at "
            f"<code>{html.escape(self.name)}{list(self.index)}</code>: analytic {self.analytic:.10g}, "
            f"numeric {self.numeric:.10g}{hint}"
            f"<table><tr><th>input</th><th>worst relative error</th><th>entries checked</th></tr>{rows}"
            f"</table></div>"
        )


def gradcheck(
    f: Callable[..., float],
    inputs: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    *,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_entries: int = 2000,
    seed: int = 0,
) -> GradcheckResult:
    """Compare analytic gradients of the scalar f(**inputs) with central differences.

    For each name in `analytic`, analytic[name] (the claimed dJ/d inputs[name], same shape) is compared
    with the numeric gradient with respect to inputs[name], the other inputs held fixed. All inputs are
    passed to f as float64 copies, by their names (strings) as keywords. An input with at most
    `max_entries` entries is checked at every entry; a larger one at `max_entries` entries drawn without
    replacement by `np.random.default_rng(seed)`, seed an int >= 0. Passes when every compared entry has
    |a - n| / max(|a|, |n|, atol / rtol) <= rtol. Returns a `GradcheckResult` (true when passed).
    """
    if not isinstance(inputs, dict) or not isinstance(analytic, dict):
        raise TypeError(
            "gradcheck: inputs and analytic must be dicts of name -> array, "
            f"got {type(inputs).__name__} and {type(analytic).__name__}"
        )
    if not analytic:
        raise ValueError("gradcheck: analytic is empty; give at least one gradient to check")
    for name in inputs:
        if not isinstance(name, str):
            raise TypeError(
                "gradcheck: the names in inputs must be strings (f is called with them as keywords), "
                f"got {name!r}"
            )
    missing = sorted(set(analytic) - set(inputs))
    if missing:
        raise ValueError(
            f"gradcheck: analytic has gradients for {missing}, which are not in inputs {list(inputs)}"
        )
    eps = _positive("gradcheck", "eps", eps)
    rtol = _positive("gradcheck", "rtol", rtol)
    atol = _positive("gradcheck", "atol", atol)
    max_entries = _args.positive_int("gradcheck", "max_entries", max_entries)
    if not _args.is_int(seed):
        raise TypeError(f"gradcheck: seed must be an int >= 0, got {seed!r}")
    if seed < 0:
        raise ValueError(f"gradcheck: seed must be an int >= 0, got {seed!r}")
    point = {name: _float64_copy("gradcheck", f"inputs[{name!r}]", value) for name, value in inputs.items()}
    rng = np.random.default_rng(seed)
    floor = atol / rtol
    worst = None  # (rel_error, name, index, analytic, numeric)
    per_input, hints, checked = {}, [], 0
    for name, claimed in analytic.items():
        claimed = _float64_copy("gradcheck", f"analytic[{name!r}]", claimed)
        if claimed.shape != point[name].shape:
            raise ValueError(
                f"gradcheck: analytic[{name!r}] must have the shape of inputs[{name!r}] "
                f"{point[name].shape}, got {claimed.shape}"
            )
        size = claimed.size
        flat = np.arange(size) if size <= max_entries else rng.choice(size, max_entries, replace=False)

        def f_of_one(value, name=name):
            return f(**{**point, name: value})

        numeric = numerical_gradient(f_of_one, point[name], eps=eps, indices=flat).reshape(-1)[flat]
        given = claimed.reshape(-1)[flat]
        with np.errstate(invalid="ignore"):
            errors = np.abs(given - numeric) / np.maximum(np.maximum(np.abs(given), np.abs(numeric)), floor)
        errors = np.where(np.isnan(errors), np.inf, errors)  # NaN or inf in a gradient always fails
        k = int(np.argmax(errors)) if size else 0
        error = float(errors[k]) if size else 0.0
        per_input[name] = (error, int(flat.size), int(size))
        checked += int(flat.size)
        if size and (worst is None or error > worst[0]):
            index = tuple(int(i) for i in np.unravel_index(int(flat[k]), claimed.shape))
            worst = (error, name, index, float(given[k]), float(numeric[k]))
        if error > rtol:
            hints.append(_hint(name, given, numeric, errors > rtol, floor))
    if worst is None:
        worst = (0.0, next(iter(analytic)), (), 0.0, 0.0)
    error, name, index, a, n = worst
    return GradcheckResult(
        passed=bool(error <= rtol),
        name=name,
        index=index,
        analytic=a,
        numeric=n,
        rel_error=error,
        checked=checked,
        rtol=rtol,
        atol=atol,
        per_input=per_input,
        hint=" ".join(h for h in hints if h),
    )


def _hint(name: str, given: np.ndarray, numeric: np.ndarray, wrong: np.ndarray, floor: float) -> str:
    """A guess at a common bug from the pattern of the errors: a constant factor, zeros, or a few entries."""
    big = np.abs(numeric) > floor
    if np.all(given == 0) and np.any(big):
        return f"the gradient of {name} is all zeros: is it computed (or accumulated) at all?"
    if np.count_nonzero(big) >= 2 and np.all(np.isfinite(given)):
        ratios = given[big] / numeric[big]
        ratio = float(np.median(ratios))
        if abs(ratio - 1) > 1e-3 and np.allclose(ratios, ratio, rtol=1e-4):
            return (
                f"the gradient of {name} is {ratio:.6g} times the numeric one everywhere: a factor or sign?"
            )
    if 0 < np.count_nonzero(wrong) <= max(1, wrong.size // 100):
        count = np.count_nonzero(wrong)
        return f"only {count} of {wrong.size} checked entries of {name} are wrong: an edge case?"
    return ""


def _positive(op: str, name: str, value) -> float:
    """`value` as a positive finite float, or an error naming it (`_args.finite_number`)."""
    return _args.finite_number(op, name, value, "a positive number", lambda v: v > 0)


def _float64_copy(op: str, name: str, value) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array, got {type(value).__name__}")
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise TypeError(f"{op}: {name} must hold real numbers, got dtype {value.dtype}")
    return np.array(value, dtype=np.float64, copy=True)


def _scalar(value) -> float:
    """f's value J as a float: a real number (a Python or numpy int or float), or an array holding one.
    Anything else is a TypeError that says what f returned (None is most often a missing `return`)."""
    if value is None:
        raise TypeError("numerical_gradient: f must return a real number (J), got None (does f return J?)")
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":  # a string was read as the number it spells; a bool or complex
        what = type(value).__name__ if array.ndim == 0 else f"an array of {array.dtype}"
        raise TypeError(f"numerical_gradient: f must return a real number (J), got {what}")
    if array.size != 1:
        raise TypeError(f"numerical_gradient: f must return a scalar, got an array of shape {array.shape}")
    return float(array.reshape(()))
