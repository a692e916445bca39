"""Exercises of 01_motivation: parameter counts of a fully connected layer, receptive fields."""

from __future__ import annotations

from course.grading.compare import compare_number
from course.grading.exercise import Case, Exercise


class FcParamCount(Exercise):
    """fc_param_count(height, width, channels, hidden_units) -> weights of a dense first layer."""

    id = "fc_param_count"
    notebook = "01_motivation"
    title = "weights of a fully connected first layer"
    points = 1.0

    def cases(self, rng, hidden):
        if not hidden:
            return [Case("the lecture's 224x224x3 image, 100 hidden units", (224, 224, 3, 100))]
        return [
            Case(f"{h}x{w}x{c} image, {u} hidden units", (h, w, c, u), hidden=True)
            for h, w, c, u in rng.integers(1, 300, size=(3, 4)).tolist()
        ]

    def judge(self, case, output):
        height, width, channels, units = case.args
        return compare_number(height * width * channels * units, output, "the weight count")


EXERCISES = [FcParamCount()]
