"""Exercises of 02_components: the convolution formula, output sizes, conv2d, pooling, separable kernels."""

from __future__ import annotations

import math

import numpy as np

from course import functional
from course.grading import references
from course.grading.compare import compare_number, distinct
from course.grading.exercise import Case, Exercise, describe
from course.grading.judging import OUTPUT_SIZE_HINT, judge_array, matching_number
from course.grading.kernel_cases import (
    VISIBLE_CONV,
    VISIBLE_POOL,
    ConvSetup,
    hidden_conv,
    hidden_pool,
    pair,
    zero_padding_hint,
)
from course.grading.misconceptions import avg_pool2d_variants, conv2d_variants, max_pool2d_variants
from course.grading.numpy_ops import correlate


class Conv2dSingle(Exercise):
    """conv2d_single(a, w) -> z: one channel, valid, stride 1, z[n, m] = sum a[n+j, m+i] w[j, i]."""

    id = "conv2d_single"
    notebook = "02_components"
    title = "the convolution formula on one channel"
    points = 2.0
    reference = staticmethod(references.conv2d_single)

    def cases(self, rng, hidden):
        if hidden:
            shapes = [tuple(int(v) for v in rng.integers([3, 3, 1, 1], [9, 9, 4, 4])) for _ in range(3)]
            return [
                Case(
                    f"random {h}x{w} input, {kh}x{kw} kernel",
                    (rng.standard_normal((h, w)), rng.standard_normal((kh, kw))),
                    hidden=True,
                )
                for h, w, kh, kw in shapes
            ]
        small = np.arange(16.0).reshape(4, 4)
        return [
            Case(
                "a 4x4 input of 0..15 and the 2x2 kernel [[1, 0], [0, -1]]",
                (small, np.array([[1.0, 0.0], [0.0, -1.0]])),
            ),
            Case(
                "a 5x7 input and a non-square 3x2 kernel",
                (rng.standard_normal((5, 7)), rng.standard_normal((3, 2))),
            ),
            Case(
                "a 6x5 float32 input and a 1x3 kernel (the output is float32 too)",
                (
                    rng.standard_normal((6, 5)).astype(np.float32),
                    rng.standard_normal((1, 3)).astype(np.float32),
                ),
            ),
            Case(
                "a 3x3 kernel as large as the 3x3 input: one output",
                (rng.standard_normal((3, 3)), rng.standard_normal((3, 3))),
            ),
            # "in a's dtype": a kernel of another dtype must not decide it
            Case(
                "a 5x4 float32 input with a float64 3x2 kernel: z is float32, a's dtype",
                (rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((3, 2))),
            ),
        ]

    def judge(self, case, output):
        a, w = case.args
        variants = [
            (
                "your output equals a true convolution (kernel flipped): the lecture's formula "
                "z[n, m] = sum a[n+j, m+i] * w[j, i] does not flip the kernel",
                lambda: correlate(a[None, None], w[None, None, ::-1, ::-1])[0, 0],
            ),
            (
                "H and W are swapped in the kernel: w[j, i] multiplies a[n + j, m + i] (j along H)",
                lambda: correlate(a[None, None], w.T[None, None])[0, 0],
            ),
        ]
        return judge_array(self.reference(a, w), output, "z", variants)


class ConvOutputSize(Exercise):
    """conv_output_size(size, kernel_size, stride=1, padding=0) -> (size + 2p - k) // s + 1."""

    id = "conv_output_size"
    notebook = "02_components"
    title = "the output size of a convolution"
    points = 1.0
    reference = staticmethod(references.conv_output_size)

    def cases(self, rng, hidden):
        if hidden:
            draws = []
            for _ in range(4):
                k = int(rng.integers(1, 8))
                draws.append((int(rng.integers(k, 60)), k, int(rng.integers(1, 5)), int(rng.integers(0, k))))
            return [
                Case(f"size {s}, kernel {k}, stride {st}, padding {p}", (s, k, st, p), hidden=True)
                for s, k, st, p in draws
            ]
        return [
            Case("size 28, kernel 5, stride and padding left to their defaults", (28, 5)),
            Case("size 6, kernel 3, stride 1, padding 1 ('same' size)", (6, 3, 1, 1)),
            Case("size 10, kernel 5, stride 1, padding 2 ('same' size)", (10, 5, 1, 2)),
            Case("size 8, kernel 3, stride 2, padding 1 (stride does not divide evenly)", (8, 3, 2, 1)),
            Case("size 224, kernel 7, stride 2, padding 3", (224, 7, 2, 3)),
            Case("size 5, kernel 5: one output", (5, 5, 1, 0)),
            Case("size 10, kernel 1, stride 3 (larger than the kernel), padding 0", (10, 1, 3, 0)),
        ]

    def judge(self, case, output):
        size, k, s, p = (*case.args, 1, 0)[:4]
        expected = self.reference(size, k, s, p)
        if isinstance(output, float) and math.isfinite(output) and output == int(output):
            output = int(output)
        if isinstance(output, float) and math.isfinite(output):
            return 0.0, f"the output size should be an int, got {output!r}: use // (floor division)"
        fraction, message = compare_number(expected, output, "the output size")
        # where the + 1 inside the floor division is wrong, it equals the missing + 1, and ignoring the
        # padding equals it too when s = 2p: such answers get no hint, since either mistake could be theirs
        mistakes = [
            ("the + 1 is missing: the first position of the kernel counts too", (size + 2 * p - k) // s),
            (
                "the + 1 went inside the floor division: it comes after it, (size + 2p - k) // s + 1",
                (size + 2 * p - k + 1) // s,
            ),
            ("the padding was counted once: it adds p on both sides", (size + p - k) // s + 1),
            (
                "the padding was ignored: the kernel slides over the padded input, size + 2p long",
                (size - k) // s + 1,
            ),
            (
                "you rounded up: positions that do not fit a whole kernel do not count",
                -(-(size + 2 * p - k) // s) + 1,
            ),
            ("the stride was ignored: the kernel moves s positions at a time", size + 2 * p - k + 1),
        ]
        hint = matching_number(output, expected, mistakes) if fraction < 1 else ""
        return fraction, f"{message}\n{hint}" if hint else message


class Conv2d(Exercise):
    """conv2d(x, w, b=None, stride=1, padding=0) -> z (N, F, Ho, Wo)."""

    id = "conv2d"
    notebook = "02_components"
    title = "convolution with channels, batch, stride and padding"
    points = 4.0
    reference = staticmethod(functional.conv2d)

    def cases(self, rng, hidden):
        setups = hidden_conv(rng) if hidden else [*VISIBLE_CONV, MIXED_DTYPES]
        cases = []
        for setup in setups:
            x, w, b, _ = setup.arrays(rng)
            cases.append(Case(setup.label, (x, w, b, setup.stride, setup.padding), hidden=hidden))
        return cases

    def error_hint(self, case, error):
        return zero_padding_hint(case.args[4], error)

    def judge(self, case, output):
        x, w, b, stride, padding = case.args
        variants = conv2d_variants(x, w, b, pair(stride), pair(padding))
        return judge_array(self.reference(*case.args), output, "z", variants, size_hint=OUTPUT_SIZE_HINT)


# "keep x's dtype": a kernel of another dtype must not decide it
MIXED_DTYPES = ConvSetup(
    "float32 x with float64 w and b: z is float32, x's dtype",
    *(2, 2, 5, 6, 3, 3, 2),
    padding=(1, 0),
    dtype="float32",
    others_dtype="float64",
)


class _Pool(Exercise):
    """Shared cases of max_pool2d(x, kernel_size, stride=None) and avg_pool2d."""

    notebook = "02_components"
    points = 2.0

    def cases(self, rng, hidden):
        setups = hidden_pool(rng) if hidden else VISIBLE_POOL
        return [Case(setup.label, setup.call_args(setup.arrays(rng)[0]), hidden=hidden) for setup in setups]

    def judge(self, case, output):
        x, kernel, stride = (*case.args, None)[:3]
        kernel = pair(kernel)
        variants = self.variants(x, kernel, kernel if stride is None else pair(stride), stride is not None)
        return judge_array(self.reference(*case.args), output, "y", variants, size_hint=OUTPUT_SIZE_HINT)


class MaxPool2d(_Pool):
    """max_pool2d(x, kernel_size, stride=None) -> y (N, C, Ho, Wo)."""

    id = "max_pool2d"
    title = "max pooling"
    reference = staticmethod(functional.max_pool2d)
    variants = staticmethod(max_pool2d_variants)


class AvgPool2d(_Pool):
    """avg_pool2d(x, kernel_size, stride=None) -> y (N, C, Ho, Wo)."""

    id = "avg_pool2d"
    title = "average pooling"
    reference = staticmethod(functional.avg_pool2d)
    variants = staticmethod(avg_pool2d_variants)


class SeparableFactors(Exercise):
    """separable_factors(kernel) -> (column (KH,), row (KW,)) with outer(column, row) == kernel, or None."""

    id = "separable_factors"
    notebook = "02_components"
    title = "factorising a separable kernel"
    points = 2.0
    reference = staticmethod(references.separable_factors)
    fresh_output = False  # the statement does not ask for new arrays: a column of the kernel is fine

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for _ in range(4):
                kind = str(rng.choice(list(SEPARABLE_KINDS)))
                scale = float(rng.choice(SCALES))
                kh, kw = (int(k) for k in rng.integers(2, 6, size=2))
                kernel = SEPARABLE_KINDS[kind](rng, kh, kw) * scale
                cases.append(
                    Case(f"a random {kh}x{kw} kernel ({kind}, scale {scale:g})", (kernel,), hidden=True)
                )
            return cases
        sobel = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        edges = np.array([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]])
        tilted = np.outer([1.0, 2.0, -1.0], [3.0, 1.0, 2.0])
        return [
            Case("the Sobel kernel for vertical edges", (sobel,)),
            Case("the 3x3 blur kernel of ones", (np.ones((3, 3)),)),
            Case("the lecture's edge-detection kernel (not separable)", (edges,)),
            Case("a non-square 2x4 separable kernel", (np.outer([1.0, -3.0], [2.0, 0.5, -1.0, 4.0]),)),
            Case("a 3x2 kernel of rank 2", (np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]),)),
            Case(
                "a separable kernel whose first row and column are 0",
                (np.outer([0.0, 1.0, 2.0], [0.0, 2.0, -1.0]),),
            ),
            Case("a separable kernel scaled by 1e9", (tilted * 1e9,)),
            Case("a separable kernel scaled by 1e-10", (tilted * 1e-10,)),
            Case("the edge kernel scaled by 1e-10 (still not separable)", (edges * 1e-10,)),
            Case(
                "a kernel 1e-4 away from a separable one (not separable)",
                (tilted + 1e-4 * np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),),
            ),
        ]

    def repeat(self, case, rng):
        """The kernel with its rows and its columns shuffled, times a factor: same shape, same rank."""
        (kernel,) = case.args
        rows, columns = rng.permutation(kernel.shape[0]), rng.permutation(kernel.shape[1])
        return (kernel[rows][:, columns] * rng.uniform(0.5, 2.0),), {}

    def judge(self, case, output):
        (kernel,) = case.args
        separable = self.reference(kernel) is not None
        if not separable:
            if output is None:
                return 1.0, ""
            return (
                0.0,
                "this kernel is not separable (its rank is 2 or more, even if only slightly): no column "
                "and row give it as an outer product; return None",
            )
        if output is None:
            return (
                0.0,
                "this kernel is separable (every row is a multiple of one row): return its (column, row)",
            )
        if not isinstance(output, (tuple, list)) or len(output) != 2:
            return 0.0, f"expected a pair (column, row) or None, got {describe(output)}"
        try:
            column, row = (np.asarray(part, dtype=np.float64) for part in output)
        except (TypeError, ValueError):
            return 0.0, f"column and row should be arrays of numbers, got {describe(output)}"
        kh, kw = kernel.shape
        if column.shape != (kh,) or row.shape != (kw,):
            return (
                0.0,
                f"column should have shape ({kh},) and row ({kw},), got {column.shape} and {row.shape}",
            )
        product = np.outer(column, row)
        # relative to the kernel's own scale (kernels of 1e-10 and of 1e9 are judged alike), as the
        # statement says: within 1e-9 of its largest entry
        bound = 1e-9 * np.abs(kernel).max()
        if np.all(np.isfinite(product)) and np.all(np.abs(product - kernel) <= bound):
            return 1.0, ""
        gap = np.where(np.isfinite(product), np.abs(product - kernel), np.inf)
        worst = np.unravel_index(np.argmax(gap), kernel.shape)
        shown = distinct(kernel[worst], product[worst])
        return 0.0, (
            f"np.outer(column, row) differs from the kernel; the worst entry is at "
            f"{tuple(int(i) for i in worst)}: expected {shown[0]}, got {shown[1]}"
        )


def _rank_one(rng, kh, kw):
    return np.outer(rng.standard_normal(kh), rng.standard_normal(kw))


def _zero_corner(rng, kh, kw):
    kernel = _rank_one(rng, kh, kw)
    kernel[0, :] = 0.0
    return kernel


def _near_rank_one(rng, kh, kw):
    kernel = _rank_one(rng, kh, kw)
    kernel[int(rng.integers(kh)), int(rng.integers(kw))] += 1e-4 * np.abs(kernel).max()
    return kernel


def _rank_two(rng, kh, kw):
    return _rank_one(rng, kh, kw) + _rank_one(rng, kh, kw)


# the classes of kernel the cases draw from, visible and hidden, and the scales
SEPARABLE_KINDS = {
    "separable": _rank_one,
    "separable, first row 0": _zero_corner,
    "1e-4 away from separable": _near_rank_one,
    "rank 2": _rank_two,
}
SCALES = (1e-10, 1.0, 1e9)


EXERCISES = [Conv2dSingle(), ConvOutputSize(), Conv2d(), MaxPool2d(), AvgPool2d(), SeparableFactors()]
