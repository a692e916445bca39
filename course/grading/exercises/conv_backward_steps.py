"""Exercises of 04_learning that stage backpropagation through a convolution before `conv2d_backward`:

1. `grad_kernel_one_channel(a, delta)`: dJ/dw for one channel at stride 1, the input correlated with
   delta: dJ/dw[j, i] = sum_{n, m} a[n + j, m + i] * delta[n, m];
2. `grad_input_one_channel(delta, w)`: dJ/da, the full correlation of delta with the kernel flipped by
   180 degrees: dJ/da[p, q] = sum_{j, i} w[j, i] * delta[p - j, q - i] (delta = 0 outside its range);
3. `conv2d_backward_unstrided(grad_out, x, w)`: both, with a batch and several channels, stride 1, no
   padding, and the bias gradient;
4. `grad_input_strided_one_channel(delta, w, input_shape, stride)`: the input gradient of one channel
   at a stride (sh, sw): each delta[n, m] adds delta[n, m] * w to the window a[n*sh : n*sh + KH,
   m*sw : m*sw + KW] it came from (rows and columns no window reached get 0).

Shapes: a (H, W), delta (Ho, Wo), kernel (KH, KW) with Ho = H - KH + 1 and Wo = W - KW + 1 (stride 1,
no padding); x (N, C, H, W), w (F, C, KH, KW), grad_out (N, F, Ho, Wo). The references are
`course.functional.conv2d_backward`; every visible list covers each class its hidden cases draw from
(square and non-square, kernels with one row or column, a 1 x 1 delta or kernel, float32 and float64,
the same shapes twice with new values), and a hint is given only when exactly one known mistake
reproduces the answer and that answer is wrong.
"""

from __future__ import annotations

import numpy as np

from course import functional
from course.grading import references
from course.grading.exercise import Case, Exercise
from course.grading.judging import GRADIENT_SIZE_HINTS, judge_array, judge_parts
from course.grading.kernel_cases import ConvSetup
from course.grading.misconceptions import conv2d_backward_variants

__all__ = [
    "GradKernelOneChannel",
    "GradInputOneChannel",
    "Conv2dBackwardUnstrided",
    "GradInputStridedOneChannel",
    "EXERCISES",
    "grad_kernel_one_channel",
    "grad_input_one_channel",
    "conv2d_backward_unstrided",
    "grad_input_strided_one_channel",
]

NOTEBOOK = "04_learning"
LECTURE_INPUT = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 2.0], [0.0, 1.0, 2.0]])  # 02's 3 x 3 example
LECTURE_DELTA = np.array([[1.0, -1.0], [0.5, 2.0]])
LECTURE_KERNEL = np.array([[1.0, 0.0], [-1.0, 2.0]])


def grad_kernel_one_channel(a: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """dJ/dw (KH, KW) of z = correlate(a, w) at stride 1 from a (H, W) and delta = dJ/dz (Ho, Wo),
    where KH = H - Ho + 1, KW = W - Wo + 1; in a's dtype."""
    kh, kw = a.shape[0] - delta.shape[0] + 1, a.shape[1] - delta.shape[1] + 1
    kernel = np.zeros((1, 1, kh, kw), dtype=a.dtype)
    return functional.conv2d_backward(delta[None, None], a[None, None], kernel)[1][0, 0]


def grad_input_one_channel(delta: np.ndarray, w: np.ndarray) -> np.ndarray:
    """dJ/da (Ho + KH - 1, Wo + KW - 1) of z = correlate(a, w) at stride 1 from delta = dJ/dz (Ho, Wo)
    and w (KH, KW); in delta's dtype."""
    shape = (1, 1, delta.shape[0] + w.shape[0] - 1, delta.shape[1] + w.shape[1] - 1)
    return functional.conv2d_backward(delta[None, None], np.zeros(shape, delta.dtype), w[None, None])[0][0, 0]


def conv2d_backward_unstrided(grad_out: np.ndarray, x: np.ndarray, w: np.ndarray):
    """(grad_x, grad_w, grad_b) of z = conv2d(x, w, b) at stride 1 without padding, in the dtypes of x, w
    and grad_out (`references.conv2d_backward`)."""
    return references.conv2d_backward(grad_out, x, w)


def grad_input_strided_one_channel(delta: np.ndarray, w: np.ndarray, input_shape, stride) -> np.ndarray:
    """dJ/da (H, W) = input_shape of z = correlate(a, w) at `stride` (an int or an (sh, sw) pair), no
    padding, from delta = dJ/dz (Ho, Wo) and w (KH, KW); in delta's dtype."""
    shape = (1, 1, *(int(v) for v in input_shape))
    return functional.conv2d_backward(delta[None, None], np.zeros(shape, delta.dtype), w[None, None], stride)[
        0
    ][0, 0]


def _scatter(delta, w, input_shape, stride, accumulate=True) -> np.ndarray:
    """Plain numpy scatter of delta through w at (sh, sw) = stride, in float64 (overwriting when
    `accumulate` is False, the classic bug)."""
    (sh, sw), (kh, kw) = stride, w.shape
    grad = np.zeros(input_shape)
    for (n, m), value in np.ndenumerate(np.asarray(delta, np.float64)):
        window = grad[n * sh : n * sh + kh, m * sw : m * sw + kw]
        if window.shape != w.shape:
            raise ValueError("a window falls outside the input")
        if accumulate:
            window += value * w
        else:
            window[...] = value * w
    return grad


def _correlate_valid(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Plain numpy correlation of 2-D maps in float64 (no flip, no padding)."""
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(a, np.float64), kernel.shape)
    return np.einsum("rsji,ji->rs", windows, np.asarray(kernel, np.float64))


def _random_pair(rng, hidden, name, a_shape, b_shape, dtype="float64", weight=1.0) -> Case:
    first = rng.standard_normal(a_shape).astype(dtype)
    second = rng.standard_normal(b_shape).astype(dtype)
    return Case(name, (first, second), weight=weight, hidden=hidden)


class GradKernelOneChannel(Exercise):
    """grad_kernel_one_channel(a, delta) -> dJ/dw (H - Ho + 1, W - Wo + 1), a's dtype."""

    id = "grad_kernel_one_channel"
    notebook = NOTEBOOK
    title = "the kernel gradient, one channel, stride 1"
    points = 1.0
    reference = staticmethod(grad_kernel_one_channel)

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for dtype in ("float64", "float32"):
                h, wd = (int(v) for v in rng.integers(2, 8, size=2))
                kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, wd + 1))
                shapes = ((h, wd), (h - kh + 1, wd - kw + 1))
                cases.append(
                    _random_pair(
                        rng, True, f"random {dtype} input {h} x {wd}, kernel {kh} x {kw}", *shapes, dtype
                    )
                )
            return cases
        return [
            Case("the lecture's 3 x 3 input, a 2 x 2 delta (kernel 2 x 2)", (LECTURE_INPUT, LECTURE_DELTA)),
            _random_pair(rng, False, "the same shapes, new values", (3, 3), (2, 2)),
            _random_pair(rng, False, "non-square: input 5 x 7, delta 3 x 4 (kernel 3 x 4)", (5, 7), (3, 4)),
            _random_pair(rng, False, "input 6 x 4, delta 4 x 4 (kernel 3 x 1: one column)", (6, 4), (4, 4)),
            _random_pair(rng, False, "delta 1 x 1 (the kernel covers the whole 3 x 4 input)", (3, 4), (1, 1)),
            _random_pair(
                rng, False, "float32: input 4 x 5, delta 2 x 2 (kernel 3 x 4)", (4, 5), (2, 2), "float32"
            ),
            # "of a's dtype": a delta of another dtype must not decide it
            Case(
                "a float32 input 4 x 5 with a float64 delta 2 x 3 (kernel 3 x 3): dJ/dw is float32, "
                "a's dtype",
                (rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((2, 3))),
            ),
        ]

    def judge(self, case, output):
        a, delta = case.args
        expected = self.reference(a, delta)
        variants = [
            (
                "your kernel gradient is flipped by 180°: dJ/dw[j, i] = sum a[n + j, m + i] * delta[n, m] "
                "correlates the input with delta, without flipping",
                lambda: expected[::-1, ::-1],
            ),
            (
                "you correlated delta with the flipped input: correlate a itself with delta",
                lambda: _correlate_valid(a[::-1, ::-1], delta),
            ),
        ]
        return judge_array(expected, output, "dJ/dw", variants)


class GradInputOneChannel(Exercise):
    """grad_input_one_channel(delta, w) -> dJ/da (Ho + KH - 1, Wo + KW - 1), delta's dtype."""

    id = "grad_input_one_channel"
    notebook = NOTEBOOK
    title = "the input gradient, one channel, stride 1"
    points = 1.0
    reference = staticmethod(grad_input_one_channel)

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for dtype in ("float64", "float32"):
                ho, wo, kh, kw = (int(v) for v in rng.integers(1, 5, size=4))
                name = f"random {dtype} delta {ho} x {wo}, kernel {kh} x {kw}"
                cases.append(_random_pair(rng, True, name, (ho, wo), (kh, kw), dtype))
            return cases
        return [
            Case(
                "the lecture's 2 x 2 kernel and a 2 x 2 delta (input 3 x 3)", (LECTURE_DELTA, LECTURE_KERNEL)
            ),
            _random_pair(rng, False, "the same shapes, new values", (2, 2), (2, 2)),
            _random_pair(rng, False, "non-square: delta 3 x 5, kernel 2 x 3 (input 4 x 7)", (3, 5), (2, 3)),
            _random_pair(rng, False, "delta 4 x 2, kernel 3 x 1 (one column; input 6 x 2)", (4, 2), (3, 1)),
            _random_pair(rng, False, "delta 1 x 1: the input gradient is the kernel scaled", (1, 1), (2, 3)),
            _random_pair(rng, False, "a 1 x 1 kernel: the input gradient is delta scaled", (3, 4), (1, 1)),
            _random_pair(
                rng, False, "float32: delta 3 x 3, kernel 2 x 2 (input 4 x 4)", (3, 3), (2, 2), "float32"
            ),
            # "of delta's dtype": a kernel of another dtype must not decide it
            Case(
                "a float32 delta 3 x 2 with a float64 kernel 2 x 3 (input 4 x 4): dJ/da is float32, "
                "delta's dtype",
                (rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((2, 3))),
            ),
        ]

    def judge(self, case, output):
        delta, w = case.args
        expected = self.reference(delta, w)
        kh, kw = w.shape
        padded = np.pad(np.asarray(delta, np.float64), ((kh - 1, kh - 1), (kw - 1, kw - 1)))
        variants = [
            (
                "the kernel is not flipped: in the full correlation, delta meets w rotated by 180°, "
                "w[::-1, ::-1] (read the forward pass: a[n + j, m + i] was multiplied by w[j, i] into "
                "z[n, m])",
                lambda: _correlate_valid(padded, w),
            ),
            (
                "only the order of the rows was reversed (w[::-1]): reverse the order of the columns too, "
                "w[::-1, ::-1] (the kernel rotated by 180°)",
                lambda: _correlate_valid(padded, w[::-1]),
            ),
            (
                "only the order of the columns was reversed (w[:, ::-1]): reverse the order of the rows too, "
                "w[::-1, ::-1] (the kernel rotated by 180°)",
                lambda: _correlate_valid(padded, w[:, ::-1]),
            ),
        ]
        fraction, message = judge_array(expected, output, "dJ/da", variants)
        valid = (delta.shape[0] - kh + 1, delta.shape[1] - kw + 1)
        if fraction < 1 and isinstance(output, np.ndarray) and output.shape == valid != expected.shape:
            message += (
                f"\ndJ/da has the input's size (Ho + KH - 1) x (Wo + KW - 1) = {expected.shape}: pad delta "
                "with KH - 1 rows and KW - 1 columns of zeros on every side first (a full correlation)"
            )
        return fraction, message


class Conv2dBackwardUnstrided(Exercise):
    """conv2d_backward_unstrided(grad_out, x, w) -> (grad_x, grad_w, grad_b), stride 1, no padding."""

    id = "conv2d_backward_unstrided"
    notebook = NOTEBOOK
    title = "backpropagation through a convolution: batch and channels, stride 1"
    points = 2.0
    reference = staticmethod(conv2d_backward_unstrided)
    names = ("grad_x", "grad_w", "grad_b")

    def cases(self, rng, hidden):
        if hidden:
            setups = []
            for dtype in ("float64", "float32"):
                n, c, f = (int(v) for v in rng.integers(1, 4, size=3))
                h, wd = (int(v) for v in rng.integers(3, 8, size=2))
                kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, wd + 1))
                label = (
                    f"random {dtype}: {n} images, {c} channels in, {f} kernels {kh} x {kw}, input {h} x {wd}"
                )
                setups.append(ConvSetup(label, n, c, h, wd, f, kh, kw, dtype=dtype))
        else:
            setups = [
                ConvSetup(
                    "one image, one channel, one 3 x 2 kernel (the two steps before)", 1, 1, 5, 6, 1, 3, 2
                ),
                ConvSetup("a batch of 3 images, 1 channel in, 2 kernels 2 x 2", 3, 1, 4, 5, 2, 2, 2),
                ConvSetup("2 images, 3 channels in, 2 kernels 3 x 2, input 6 x 5", 2, 3, 6, 5, 2, 3, 2),
                ConvSetup("the same shapes, new values", 2, 3, 6, 5, 2, 3, 2),
                ConvSetup("1 x 1 kernels: 2 images, 2 channels in, 3 kernels", 2, 2, 3, 4, 3, 1, 1),
                ConvSetup(
                    "float32: 2 images, 2 channels in, 3 kernels 2 x 3", 2, 2, 4, 5, 3, 2, 3, dtype="float32"
                ),
                MIXED_DTYPES,
            ]
        cases = []
        for setup in setups:
            x, w, _, grad_out = setup.arrays(rng)
            cases.append(Case(setup.label, (grad_out, x, w), hidden=hidden))
        return cases

    def judge(self, case, output):
        grad_out, x, w = case.args
        expected = self.reference(grad_out, x, w)
        found = conv2d_backward_variants(grad_out, x, w, (1, 1), (0, 0))
        return judge_parts(expected, output, self.names, found, size_hints=GRADIENT_SIZE_HINTS)


# "the dtypes of x, w and grad_out": w's dtype must not decide grad_x's
MIXED_DTYPES = ConvSetup(
    "float32 x with float64 w and grad_out: grad_x is float32 (x's dtype), grad_w and grad_b float64",
    *(2, 2, 5, 4, 3, 2, 2),
    dtype="float32",
    others_dtype="float64",
)


class GradInputStridedOneChannel(Exercise):
    """grad_input_strided_one_channel(delta, w, input_shape, stride) -> dJ/da of shape input_shape."""

    id = "grad_input_strided_one_channel"
    notebook = NOTEBOOK
    title = "the input gradient, one channel, with a stride"
    points = 1.0
    reference = staticmethod(grad_input_strided_one_channel)

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for dtype in ("float64", "float32"):
                kh, kw, sh, sw = (int(v) for v in rng.integers(1, 4, size=4))
                ho, wo = (int(v) for v in rng.integers(1, 5, size=2))
                extra_h, extra_w = int(rng.integers(0, sh)), int(rng.integers(0, sw))
                shape = ((ho - 1) * sh + kh + extra_h, (wo - 1) * sw + kw + extra_w)
                name = f"random {dtype}: delta {ho} x {wo}, kernel {kh} x {kw}, stride ({sh}, {sw}), {shape}"
                delta, w = (rng.standard_normal(s).astype(dtype) for s in ((ho, wo), (kh, kw)))
                cases.append(Case(name, (delta, w, shape, (sh, sw)), hidden=True))
            return cases
        setups = [
            (
                "stride 2, 3 x 3 kernel: overlapping windows (input 7 x 7)",
                (3, 3),
                (3, 3),
                (7, 7),
                2,
                "float64",
            ),
            ("the same shapes, new values", (3, 3), (3, 3), (7, 7), 2, "float64"),
            (
                "stride 2, 2 x 2 kernel: windows side by side (input 6 x 4)",
                (3, 2),
                (2, 2),
                (6, 4),
                2,
                "float64",
            ),
            (
                "stride (2, 1), 3 x 2 kernel, a leftover row (input 8 x 5)",
                (3, 4),
                (3, 2),
                (8, 5),
                (2, 1),
                "float64",
            ),
            (
                "stride (1, 3), 2 x 3 kernel, leftover columns (input 4 x 11)",
                (3, 3),
                (2, 3),
                (4, 11),
                (1, 3),
                "float64",
            ),
            ("stride 1: the unstrided case again (input 4 x 5)", (2, 3), (3, 3), (4, 5), 1, "float64"),
            (
                "float32, stride 3, 2 x 2 kernel, leftovers (input 7 x 8)",
                (2, 3),
                (2, 2),
                (7, 8),
                3,
                "float32",
            ),
        ]
        cases = []
        for name, delta_shape, kernel_shape, input_shape, stride, dtype in setups:
            delta, w = (rng.standard_normal(s).astype(dtype) for s in (delta_shape, kernel_shape))
            cases.append(Case(name, (delta, w, input_shape, stride)))
        # "of delta's dtype": a kernel of another dtype must not decide it
        delta, w = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((3, 2))
        cases.append(
            Case(
                "a float32 delta 3 x 2 with a float64 3 x 2 kernel, stride 2 (input 8 x 5): dJ/da is "
                "float32, delta's dtype",
                (delta, w, (8, 5), 2),
            )
        )
        return cases

    def judge(self, case, output):
        delta, w, input_shape, stride = case.args
        pair = (stride, stride) if isinstance(stride, int) else tuple(stride)
        expected = self.reference(*case.args)
        w64 = np.asarray(w, np.float64)
        reached = tuple((d - 1) * step + k for d, step, k in zip(delta.shape, pair, w.shape, strict=True))
        variants = [
            (
                "the stride is ignored: delta[n, m] goes back to the window whose corner is "
                "(n * sh, m * sw), not (n, m)",
                lambda: _scatter(delta, w64, input_shape, (1, 1)),
            ),
            (
                "windows that overlap overwrite each other: add each window's share with +=, "
                "an input in two windows gets both",
                lambda: _scatter(delta, w64, input_shape, pair, accumulate=False),
            ),
            (
                "the kernel is flipped: as a scatter, delta[n, m] adds delta[n, m] * w (not the flipped w) "
                "to its window",
                lambda: _scatter(delta, w64[::-1, ::-1], input_shape, pair),
            ),
            (
                f"dJ/da stops where the last window ends, {reached}; it has the shape input_shape, "
                f"{tuple(input_shape)}: rows and columns that no window reached get 0",
                lambda: _scatter(delta, w64, reached, pair),
            ),
        ]
        return judge_array(expected, output, "dJ/da", variants)


EXERCISES = [
    GradKernelOneChannel(),
    GradInputOneChannel(),
    Conv2dBackwardUnstrided(),
    GradInputStridedOneChannel(),
]
