"""Exercises of 03_structure: tracing shapes and parameter counts through a CNN."""

from __future__ import annotations

import numpy as np

from course.grading import references
from course.grading.exercise import Case, Exercise


class TraceShapes(Exercise):
    """trace_shapes(layers, input_shape) -> [(output_shape, n_params), ...], one pair per layer."""

    id = "trace_shapes"
    notebook = "03_structure"
    title = "shapes and parameters through a CNN"
    points = 2.0
    reference = staticmethod(references.trace_shapes)

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for index in range(2):
                channels, height, width = int(rng.integers(1, 4)), *(int(v) for v in rng.integers(12, 33, 2))
                k1, k2 = int(rng.integers(2, 6)), int(rng.integers(2, 4))
                layers = [
                    ("conv", int(rng.integers(2, 9)), k1, int(rng.integers(1, 3)), int(rng.integers(0, k1))),
                    ("relu",),
                    ("maxpool" if index == 0 else "avgpool", k2, int(rng.integers(1, k2 + 1))),
                    ("conv", int(rng.integers(2, 9)), 3, 1, 1),
                    ("flatten",),
                    ("linear", int(rng.integers(2, 20))),
                ]
                cases.append(
                    Case(
                        f"a random CNN on ({channels}, {height}, {width}) inputs",
                        (layers, (channels, height, width)),
                        hidden=True,
                    )
                )
            return cases
        lenet = [
            ("conv", 6, 5, 1, 0),
            ("relu",),
            ("maxpool", 2, 2),
            ("conv", 16, 5, 1, 0),
            ("relu",),
            ("avgpool", 2, 2),
            ("flatten",),
            ("linear", 120),
            ("relu",),
            ("linear", 10),
        ]
        strided = [("conv", 8, 3, 2, 1), ("relu",), ("maxpool", 3, 2), ("flatten",), ("linear", 5)]
        return [
            Case("a LeNet-like CNN on 1x32x32 images", (lenet, (1, 32, 32))),
            Case("stride 2 and padding 1 on 3x15x15 images, overlapping pooling", (strided, (3, 15, 15))),
            Case("a single convolution on a non-square 2x9x6 input", ([("conv", 4, 3, 1, 1)], (2, 9, 6))),
            Case(
                "every kind of layer on a non-square 3x20x13 input",
                (
                    [
                        ("conv", 5, 3, 2, 2),
                        ("relu",),
                        ("maxpool", 2, 1),
                        ("avgpool", 3, 2),
                        ("conv", 4, 3, 1, 1),
                        ("flatten",),
                        ("linear", 7),
                    ],
                    (3, 20, 13),
                ),
            ),
        ]

    def judge(self, case, output):
        layers, input_shape = case.args
        expected = self.reference(layers, input_shape)
        if not isinstance(output, (list, tuple)) or len(output) != len(expected):
            length = f" of length {len(output)}" if isinstance(output, (list, tuple)) else ""
            return (
                0.0,
                f"expected a list of {len(expected)} (shape, n_params) pairs, "
                f"got a {type(output).__name__}{length}",
            )
        wrong = []
        for index, (layer, want, have) in enumerate(zip(layers, expected, output, strict=True)):
            if _normalise(have) != want:
                wrong.append(f"layer {index} {layer}: expected {want}, got {have}{_hint(layer, want, have)}")
        if not wrong:
            return 1.0, ""
        right = len(expected) - len(wrong)
        return right / len(
            expected
        ), f"{len(wrong)} of {len(expected)} layers are wrong; the first: {wrong[0]}"


def _normalise(entry):
    """(shape tuple, n_params) from what a student returned, or the entry unchanged if it is not that.
    A shape may be a tuple, a list or a 1-D array of numbers (x.shape of a numpy array is a tuple, but
    np.array(shape) or np.shape arithmetic gives arrays): all say the same shape."""
    if not isinstance(entry, (tuple, list)) or len(entry) != 2:
        return entry
    shape = entry[0]
    if isinstance(shape, np.ndarray) and shape.ndim == 1 and shape.dtype.kind in "iuf":
        shape = shape.tolist()
    return (tuple(shape), entry[1]) if isinstance(shape, (tuple, list)) else entry


def _hint(layer, want, have) -> str:
    have = _normalise(have)
    if not isinstance(have, tuple) or len(have) != 2 or have[0] != want[0]:
        return ""
    if layer[0] in ("conv", "linear") and have[1] == want[1] - (layer[1]):
        return " (the biases, one per output, are missing)"
    if layer[0] in ("maxpool", "avgpool", "relu", "flatten") and have[1] != 0:
        return " (this layer has no parameters)"
    return ""


EXERCISES = [TraceShapes()]
