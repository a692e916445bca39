"""Exercises of 01_motivation: parameter counts of dense and convolutional layers, receptive fields."""

from __future__ import annotations

from course.grading import references
from course.grading.compare import compare_number
from course.grading.exercise import Case, Exercise
from course.grading.judging import matching_number


class FcParamCount(Exercise):
    """fc_param_count(height, width, channels, hidden_units) -> weights of a dense first layer."""

    id = "fc_param_count"
    notebook = "01_motivation"
    title = "weights of a fully connected first layer"
    points = 1.0
    reference = staticmethod(references.fc_param_count)

    def cases(self, rng, hidden):
        if not hidden:
            return [
                Case("the lecture's 224x224x3 image, 100 hidden units", (224, 224, 3, 100)),
                Case("a non-square 28x20 gray image (1 channel), 64 hidden units", (28, 20, 1, 64)),
                Case("a 5x7 image with 4 channels, 3 hidden units", (5, 7, 4, 3)),
            ]
        return [
            Case(f"{h}x{w}x{c} image, {u} hidden units", (h, w, c, u), hidden=True)
            for h, w, c, u in rng.integers(1, 300, size=(3, 4)).tolist()
        ]

    def judge(self, case, output):
        height, width, channels, units = case.args
        expected = self.reference(*case.args)
        fraction, message = compare_number(expected, output, "the weight count")
        mistakes = [
            ("that includes the biases; count the weights only", expected + units),
            (
                "each pixel has `channels` values, each with its own weight: multiply by channels too",
                height * width * units,
            ),
        ]
        hint = matching_number(output, expected, mistakes) if fraction < 1 else ""
        return fraction, f"{message}\n{hint}" if hint else message


class ConvParamCount(Exercise):
    """conv_param_count(kernel_h, kernel_w, in_channels, out_channels) -> weights of a conv layer."""

    id = "conv_param_count"
    notebook = "01_motivation"
    title = "weights of a convolutional layer"
    points = 1.0
    reference = staticmethod(references.conv_param_count)

    def cases(self, rng, hidden):
        if not hidden:
            return [
                Case("a 3x3 kernel, 3 input channels, 100 kernels", (3, 3, 3, 100)),
                Case("a non-square 5x2 kernel, 4 input channels, 7 kernels", (5, 2, 4, 7)),
                Case("a 1x1 kernel, 16 input channels, 1 kernel", (1, 1, 16, 1)),
            ]
        return [
            Case(f"a {kh}x{kw} kernel, {c} input channels, {f} kernels", (kh, kw, c, f), hidden=True)
            for kh, kw, c, f in rng.integers(1, 12, size=(3, 4)).tolist()
        ]

    def judge(self, case, output):
        kh, kw, c, f = case.args
        fraction, message = compare_number(self.reference(*case.args), output, "the weight count")
        mistakes = [
            ("each kernel has one KH x KW slice per input channel: multiply by in_channels too", kh * kw * f),
            ("that includes the biases; count the weights only", kh * kw * c * f + f),
        ]
        hint = matching_number(output, kh * kw * c * f, mistakes) if fraction < 1 else ""
        return fraction, f"{message}\n{hint}" if hint else message


class ReceptiveField(Exercise):
    """receptive_field(layers) -> side of the input region one final output sees."""

    id = "receptive_field"
    notebook = "01_motivation"
    title = "the receptive field of a stack of layers"
    points = 2.0
    reference = staticmethod(references.receptive_field)

    def cases(self, rng, hidden):
        if not hidden:
            stacks = [
                [(3, 1)],
                [(3, 1), (3, 1)],
                [(3, 1), (2, 2), (3, 1)],
                [(5, 2), (3, 2), (3, 1)],
                [(1, 2), (3, 1), (2, 3), (1, 1)],
                [],
            ]
            names = [
                "one 3x3 layer",
                "two 3x3 layers",
                "conv 3, pool 2 (stride 2), conv 3",
                "strides that multiply: (5, 2), (3, 2), (3, 1)",
                "kernels of 1 and strides larger than kernels: (1, 2), (3, 1), (2, 3), (1, 1)",
                "no layers at all: one pixel",
            ]
            return [Case(name, (stack,)) for name, stack in zip(names, stacks, strict=True)]
        cases = []
        for _ in range(3):
            depth = int(rng.integers(2, 6))
            stack = [
                (int(k), int(s))
                for k, s in zip(rng.integers(1, 6, depth), rng.integers(1, 4, depth), strict=True)
            ]
            cases.append(Case(f"the stack {stack}", (stack,), hidden=True))
        return cases

    def judge(self, case, output):
        (layers,) = case.args
        fraction, message = compare_number(self.reference(layers), output, "the receptive field")
        mistakes = [
            (
                "the strides were ignored: after a layer of stride s, one step of its output covers s "
                "input pixels, so later kernels widen the field by (k - 1) times the product of earlier "
                "strides",
                1 + sum(k - 1 for k, _ in layers),
            ),
            (
                "kernel sizes do not simply add: two 3x3 layers see 5x5, not 6x6 (each adds k - 1)",
                sum(k for k, _ in layers),
            ),
        ]
        hint = matching_number(output, self.reference(layers), mistakes) if fraction < 1 else ""
        return fraction, f"{message}\n{hint}" if hint else message


EXERCISES = [FcParamCount(), ConvParamCount(), ReceptiveField()]
