"""Short auto-checked questions (numbers, choices, predictions), one module per notebook, registered
beside the code exercises and answered, checked and graded the same way (see `question`).

Layering: imports course.grading.exercise only; the registry imports this package.
"""

from __future__ import annotations

from course.grading.questions import applications, components, learning, motivation, structure
from course.grading.questions.question import ChoiceQuestion, NumberQuestion, Question

__all__ = ["ALL", "ChoiceQuestion", "NumberQuestion", "Question"]

ALL: list[Question] = [
    *motivation.QUESTIONS,
    *components.QUESTIONS,
    *structure.QUESTIONS,
    *learning.QUESTIONS,
    *applications.QUESTIONS,
]
