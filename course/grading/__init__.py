"""Checks for every exercise of the course: instant feedback in the notebooks, and the same verdicts
for the grader. Layering: grading imports functional, nn and gradcheck (the references), never the
notebooks; the sandboxed grader (`course grade`, `course.grader`) runs on top of this registry.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from course._jit import single_threaded
from course.grading.exercise import Case, Exercise, Outcome, run_case
from course.grading.registry import EXERCISES, for_notebook, get
from course.grading.result import STATUSES, CaseResult, CheckResult

__all__ = [
    "Case",
    "CaseResult",
    "CheckResult",
    "EXERCISES",
    "EXPECT_VARIABLE",
    "Exercise",
    "Outcome",
    "check",
    "fallback",
    "for_notebook",
    "get",
    "load_points",
    "summarize",
    "VISIBLE_SEED",
]

VISIBLE_SEED = 0  # the cases a student sees are always the same; hidden ones use the grader's seed
# A test setting, for the course's own notebook runs (conftest.py sets it in each notebook's kernel): when
# it holds a status, every `check` whose verdict has another status raises. Only `check` reads it.
EXPECT_VARIABLE = "COURSE_EXPECT_CHECKS"


def check(
    exercise_id: str, fn: Callable, *, hidden_seed: int | None = None, points: float | None = None
) -> CheckResult:
    """Run the checks of one exercise against `fn` and return the verdict.

    The visible cases always run; with `hidden_seed`, hidden cases drawn from that seed run too.
    A function that raises NotImplementedError on its first case is "not attempted". The score is out
    of `points` when given (e.g. from `load_points`), otherwise out of the exercise's own `points`.

    When the environment variable COURSE_EXPECT_CHECKS holds a status ("passed" for the solution
    notebooks, "not attempted" for the released ones; set by the course's test run, never by a student),
    a verdict with any other status raises AssertionError naming the exercise: the notebook run fails.
    """
    _check_options(hidden_seed, points)
    expected = os.environ.get(EXPECT_VARIABLE, "")
    if expected and expected not in STATUSES:
        raise ValueError(f"{EXPECT_VARIABLE}={expected!r} is no status; use one of {STATUSES}")
    result = _verdict(get(exercise_id), fn, hidden_seed, points)
    if expected and result.status != expected:
        raise AssertionError(
            f"check({exercise_id!r}) reported {result.status!r} where this run expects {expected!r} "
            f"({EXPECT_VARIABLE}):\n{result}"
        )
    return result


def _check_options(hidden_seed: object, points: object) -> None:
    """TypeError or ValueError naming `hidden_seed` or `points` when it is not what `check` takes."""
    if hidden_seed is not None:
        message = f"check: hidden_seed must be an int >= 0 (or None), got {hidden_seed!r}"
        if isinstance(hidden_seed, bool) or not isinstance(hidden_seed, (int, np.integer)):
            raise TypeError(message)
        if hidden_seed < 0:
            raise ValueError(message)
    if points is not None:
        message = f"check: points must be a number >= 0 and finite, got {points!r}"
        if isinstance(points, bool) or not isinstance(points, (int, float, np.integer, np.floating)):
            raise TypeError(message)
        if not 0 <= points < math.inf:
            raise ValueError(message)


def _verdict(exercise: Exercise, fn: Callable, hidden_seed: int | None, points: float | None) -> CheckResult:
    outcomes = []
    with single_threaded():  # tiny arrays: Numba's thread start-up would cost more than the work
        for case in cases_for(exercise, hidden_seed):
            outcome = run_case(fn, case)
            if outcome.not_attempted and not outcomes:
                return not_attempted(exercise, points=points)
            outcomes.append((case, outcome))
        return summarize(exercise, outcomes, points=points)


def fallback(exercise_id: str, fn: Callable) -> Callable:
    """`fn` if it gets full marks on the visible cases of its exercise, else the trusted reference.

    Notebooks call this so later cells run before a student finishes an exercise; a one-line note says
    when the reference stands in.
    """
    exercise = get(exercise_id)
    result = check(exercise_id, fn)
    if result.status == "passed":
        return fn
    print(f"using the reference {exercise_id} until yours passes its check ({result.status})")
    return exercise.reference


def load_points(source: str | Path | Mapping[str, float]) -> dict[str, float]:
    """A points table {exercise id: points} from a mapping or a JSON file, checked against the registry.

    Exercises the table leaves out keep their own `points`. Pass `points=table.get(exercise_id)` to
    `check`.
    """
    table = dict(source) if isinstance(source, Mapping) else _read_points_file(Path(source))
    if not isinstance(table, dict):
        raise TypeError(
            f"load_points: expected a JSON object {{exercise id: points}}, got {type(table).__name__}"
        )
    for exercise_id, value in table.items():
        get(exercise_id)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise ValueError(
                f"load_points: points for {exercise_id!r} must be a number >= 0 and finite, got {value!r}"
            )
    return {exercise_id: float(value) for exercise_id, value in table.items()}


def _read_points_file(path: Path) -> object:
    """The parsed JSON of a points file; a ValueError naming the file when it cannot be read, is not
    UTF-8 text or is not JSON (not the bare parser or codec message)."""
    expected = 'expected a JSON object {exercise id: points}, e.g. {"conv2d": 5}'
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"load_points: {path}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ValueError(f"load_points: {path}: {expected}, got a file that is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        got = "an empty file" if not text.strip() else f"text that is not JSON ({error})"
        raise ValueError(f"load_points: {path}: {expected}, got {got}") from None


def cases_for(exercise: Exercise, hidden_seed: int | None) -> list[Case]:
    """The visible cases, plus the hidden ones drawn from `hidden_seed` when it is given; each with a
    second call of the same shapes and new values (`Exercise.repeat`) wherever it has arrays to vary."""
    cases = _with_second_calls(exercise, exercise.cases(np.random.default_rng(VISIBLE_SEED), hidden=False), 0)
    if hidden_seed is not None:
        hidden = exercise.cases(np.random.default_rng([hidden_seed, VISIBLE_SEED + 1]), hidden=True)
        cases += _with_second_calls(exercise, hidden, hidden_seed + 1)
    return cases


def _with_second_calls(exercise: Exercise, cases: list[Case], seed: int) -> list[Case]:
    rng = np.random.default_rng([seed, VISIBLE_SEED + 2])
    return [
        replace(
            case,
            again=exercise.repeat(case, rng) if case.again is None else case.again,
            fresh=exercise.fresh_output,
        )
        for case in cases
    ]


def summarize(
    exercise: Exercise, outcomes: list[tuple[Case, Outcome]], *, points: float | None = None
) -> CheckResult:
    """Score each (case, outcome) and combine them into the exercise's CheckResult, out of `points`
    (default: the exercise's own). Each case earns its share of the points in proportion to its weight."""
    points = exercise.points if points is None else points
    if outcomes and all(outcome.not_attempted for _, outcome in outcomes):
        return not_attempted(exercise, points=points)
    with single_threaded():  # the references run on tiny arrays: threads would only cost time
        results = [
            exercise.score_case(case, outcome)
            if not outcome.not_attempted
            else CaseResult(case.name, 0.0, case.weight, "raised NotImplementedError", case.hidden)
            for case, outcome in outcomes
        ]
    total = sum(r.max_score for r in results)
    earned = sum(r.score for r in results)
    score = round(points * earned / total, 4) if total else 0.0
    status = "passed" if earned >= total else "partial" if earned > 0 else "failed"
    return CheckResult(exercise.id, exercise.title, score, points, status, results)


def not_attempted(exercise: Exercise, message: str = "", *, points: float | None = None) -> CheckResult:
    """The verdict for an exercise whose function is still the stub (or missing)."""
    message = message or f"not attempted yet: complete `{exercise.id}` and run this cell again."
    points = exercise.points if points is None else points
    return CheckResult(exercise.id, exercise.title, 0.0, points, "not attempted", [], message)
