"""The exercises, one module per notebook, in the order the course meets them; each notebook's short
questions (course.grading.questions) follow its code exercises."""

from __future__ import annotations

from course.grading import questions
from course.grading.exercises import (
    applications,
    components,
    conv_backward_steps,
    conv_steps,
    learning,
    motivation,
    structure,
)

_CODE = [
    *motivation.EXERCISES,
    *conv_steps.EXERCISES,
    *components.EXERCISES,
    *structure.EXERCISES,
    *learning.EXERCISES,
    *conv_backward_steps.EXERCISES,
    *applications.EXERCISES,
]
_NOTEBOOKS = list(dict.fromkeys(exercise.notebook for exercise in _CODE + questions.ALL))
ALL = sorted(_CODE + questions.ALL, key=lambda exercise: _NOTEBOOKS.index(exercise.notebook))
