"""The registry: every exercise of the course, by id. Notebooks, grader, release tool and tests all
derive their lists from here; nothing copies the list by hand."""

from __future__ import annotations

from course.grading.exercise import Exercise
from course.grading.exercises import ALL

EXERCISES: dict[str, Exercise] = {exercise.id: exercise for exercise in ALL}
_REPEATED = sorted({exercise.id for exercise in ALL if sum(other.id == exercise.id for other in ALL) > 1})
assert not _REPEATED, f"exercise ids must be unique; repeated: {_REPEATED}"


def get(exercise_id: str) -> Exercise:
    """The exercise with this id, or a KeyError listing the ids that exist."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise {exercise_id!r}; the exercises are: {', '.join(EXERCISES)}") from None


def for_notebook(notebook: str) -> list[Exercise]:
    """The exercises of one notebook (e.g. "02_components"), in registry order."""
    return [exercise for exercise in EXERCISES.values() if exercise.notebook == notebook]
