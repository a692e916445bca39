"""The exercises, one module per notebook, in the order the course meets them."""

from __future__ import annotations

from course.grading.exercises import motivation

ALL = [*motivation.EXERCISES]
