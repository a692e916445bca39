"""Checks for every exercise of the course: instant feedback in the notebooks, and the same verdicts
for the grader. Layering: grading imports functional, nn and gradcheck (the references), never the
notebooks; the sandboxed grader (`course.grading.grade`) runs on top of this registry.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course.grading.exercise import Case, Exercise, Outcome, run_case
from course.grading.registry import EXERCISES, for_notebook, get
from course.grading.result import CaseResult, CheckResult

__all__ = [
    "Case",
    "CaseResult",
    "CheckResult",
    "EXERCISES",
    "Exercise",
    "Outcome",
    "check",
    "for_notebook",
    "get",
    "summarize",
    "VISIBLE_SEED",
]

VISIBLE_SEED = 0  # the cases a student sees are always the same; hidden ones use the grader's seed


def check(exercise_id: str, fn: Callable, *, hidden_seed: int | None = None) -> CheckResult:
    """Run the checks of one exercise against `fn` and return the verdict.

    The visible cases always run; with `hidden_seed`, hidden cases drawn from that seed run too.
    A function that raises NotImplementedError on its first case is "not attempted".
    """
    exercise = get(exercise_id)
    outcomes = []
    for case in cases_for(exercise, hidden_seed):
        outcome = run_case(fn, case)
        if outcome.not_attempted and not outcomes:
            return not_attempted(exercise)
        outcomes.append((case, outcome))
    return summarize(exercise, outcomes)


def cases_for(exercise: Exercise, hidden_seed: int | None) -> list[Case]:
    """The visible cases, plus the hidden ones drawn from `hidden_seed` when it is given."""
    cases = exercise.cases(np.random.default_rng(VISIBLE_SEED), hidden=False)
    if hidden_seed is not None:
        cases += exercise.cases(np.random.default_rng([hidden_seed, VISIBLE_SEED + 1]), hidden=True)
    return cases


def summarize(exercise: Exercise, outcomes: list[tuple[Case, Outcome]]) -> CheckResult:
    """Score each (case, outcome) and combine them into the exercise's CheckResult."""
    if outcomes and all(outcome.not_attempted for _, outcome in outcomes):
        return not_attempted(exercise)
    results = [
        exercise.score_case(case, outcome)
        if not outcome.not_attempted
        else CaseResult(case.name, 0.0, case.weight, "raised NotImplementedError", case.hidden)
        for case, outcome in outcomes
    ]
    total = sum(r.max_score for r in results)
    earned = sum(r.score for r in results)
    score = round(exercise.points * earned / total, 4) if total else 0.0
    status = "passed" if earned >= total else "partial" if earned > 0 else "failed"
    return CheckResult(exercise.id, exercise.title, score, exercise.points, status, results)


def not_attempted(exercise: Exercise, message: str = "") -> CheckResult:
    """The verdict for an exercise whose function is still the stub (or missing)."""
    message = message or f"not attempted yet: complete `{exercise.id}` and run this cell again."
    return CheckResult(exercise.id, exercise.title, 0.0, exercise.points, "not attempted", [], message)
