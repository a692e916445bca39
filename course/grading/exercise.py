"""What an exercise is, and how one case of it is run against a student's function.

An exercise draws its cases from a seeded generator (`cases`), and judges a plain output (`judge`).
Running the student's function is kept apart from judging it, so the grader can run the function in a
sandboxed process and judge what comes back in its own: `run_case` is the only place that calls
student code, and `plain` is the only form in which its output reaches `judge`.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course.grading.result import CaseResult


@dataclass(frozen=True)
class Case:
    """One call of the student's function: fn(*args, **kwargs).

    args and kwargs hold plain data only (numpy arrays, numbers, strings, None, tuples, lists, dicts),
    or functions defined in a `course` module, so a case can be sent to a sandboxed process.
    `weight` is the case's share of the exercise's points; hidden cases are drawn at grading time.
    """

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    weight: float = 1.0
    hidden: bool = False


@dataclass(frozen=True)
class Outcome:
    """What running one case produced: the plain output, or the error the function raised, and the
    names of the arguments it modified in place."""

    output: Any = None
    error: str | None = None
    not_attempted: bool = False
    modified: tuple[str, ...] = ()


class Exercise:
    """Base class of every exercise in the registry.

    Subclasses set `id` (the one name used by the notebook heading, the stub, the check and the
    gradebook column), `notebook`, `title`, `points`, and implement `cases` and `judge`.
    """

    id: str
    notebook: str
    title: str
    points: float = 1.0
    reference: Callable  # a trusted function with the exercise's signature (a staticmethod)

    def cases(self, rng: np.random.Generator, hidden: bool) -> list[Case]:
        """The cases to run: visible ones always the same, hidden ones drawn from `rng`."""
        raise NotImplementedError

    def judge(self, case: Case, output: Any) -> tuple[float, str]:
        """Score a plain output in [0, 1] with a message ("" when fully right). Runs on the trusted
        side: it may compute references, but must not call student code."""
        raise NotImplementedError

    def error_hint(self, case: Case) -> str:
        """A hint added when the function raised on `case` (e.g. what is special about it); "" if none."""
        return ""

    def score_case(self, case: Case, outcome: Outcome) -> CaseResult:
        """Turn an outcome into a CaseResult worth up to `case.weight`."""
        if outcome.error is not None:
            fraction, message = 0.0, f"your function raised {outcome.error}"
            hint = self.error_hint(case)
            message += f"\n{hint}" if hint else ""
        else:
            fraction, message = self.judge(case, outcome.output)
        if outcome.modified and fraction > 0:
            fraction = 0.0
            message = (
                f"your function modified its input {', '.join(outcome.modified)} in place; "
                "work on a copy instead.\n" + message
            ).strip()
        fraction = min(max(float(fraction), 0.0), 1.0)
        return CaseResult(case.name, fraction * case.weight, case.weight, message, case.hidden)


def run_case(fn: Callable, case: Case) -> Outcome:
    """Call fn on fresh copies of the case's arguments; catch what it raises; report modified inputs."""
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    try:
        output = fn(*args, **kwargs)
    except NotImplementedError:
        return Outcome(not_attempted=True)
    except Exception as error:  # noqa: BLE001 - any failure of student code is a verdict, not a crash
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f" (line {frame.lineno}: {frame.line})" if frame.line else ""
        return Outcome(error=f"{type(error).__name__}: {error}{where}")
    modified = tuple(
        name for name, before, after in _named_arrays(case, args, kwargs) if not _same_array(before, after)
    )
    try:
        return Outcome(output=plain(output), modified=modified)
    except TypeError as error:
        return Outcome(error=f"an unusable return value: {error}")


def plain(value: Any, depth: int = 0) -> Any:
    """A copy of `value` made only of plain data: base-class numpy arrays (never a subclass, which
    could lie about equality), Python numbers, strings, None, and tuples/lists/dicts of those."""
    if depth > 8:
        raise TypeError("the value is nested too deeply")
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"an array of dtype {value.dtype}; expected numbers")
        return np.array(np.asarray(value), dtype=value.dtype, copy=True, subok=False)
    if isinstance(value, tuple):
        return tuple(plain(v, depth + 1) for v in value)
    if isinstance(value, list):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    raise TypeError(f"a {type(value).__name__}; expected numbers, arrays, or tuples of them")


def _named_arrays(case: Case, args: tuple, kwargs: dict):
    for index, (before, after) in enumerate(zip(case.args, args, strict=True)):
        if isinstance(before, np.ndarray):
            yield f"argument {index + 1}", before, after
    for key, before in case.kwargs.items():
        if isinstance(before, np.ndarray):
            yield key, before, kwargs[key]


def _same_array(before: np.ndarray, after: Any) -> bool:
    return (
        isinstance(after, np.ndarray)
        and after.shape == before.shape
        and np.array_equal(np.asarray(after), before, equal_nan=True)
    )
