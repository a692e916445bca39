"""The exercises, one module per notebook, in the order the course meets them."""

from __future__ import annotations

from course.grading.exercises import (
    applications,
    components,
    conv_backward_steps,
    learning,
    motivation,
    structure,
)

ALL = [
    *motivation.EXERCISES,
    *components.EXERCISES,
    *structure.EXERCISES,
    *learning.EXERCISES,
    *conv_backward_steps.EXERCISES,
    *applications.EXERCISES,
]
