"""Exercises of 02_components that build up to `conv2d` one idea at a time: zero padding, one image with
several channels and kernels, a batch with a bias, then stride (an int or an (h, w) pair).

Each is judged against `course.functional`. Visible cases cover every class the hidden ones draw from
(square and non-square inputs and kernels, one and several channels, float32 and float64, ints and
pairs, equal and unequal pair entries), and two visible cases share their shapes with new values, so a
function that caches work keyed on a shape fails visibly. A hint names a mistake only when the answer
equals that mistake's output, and that output differs from the right one and from every other known
mistake's on the case.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course import functional
from course.grading.exercise import Case, Exercise
from course.grading.judging import OUTPUT_SIZE_HINT, judge_array
from course.grading.kernel_cases import zero_padding_hint
from course.grading.misconceptions import BIAS_ON_LAST_AXIS, PADDING_MODES, padding_mode_message

__all__ = ["EXERCISES", "ZeroPad", "Conv2dChannels", "Conv2dBatch", "Conv2dStride"]


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, (int, np.integer)) else (int(value[0]), int(value[1]))


def _only_if(condition: bool, compute: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    """A mistake that can be made only when `condition` holds (else it is skipped)."""

    def output() -> np.ndarray:
        if not condition:
            raise ValueError("this mistake cannot be made on this case")
        return compute()

    return output


def _draw(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _dtype(rng: np.random.Generator):
    return np.float32 if rng.integers(2) else np.float64


class ZeroPad(Exercise):
    """zero_pad(x, padding) -> x (N, C, H, W) with ph zero rows above and below, pw zero columns left
    and right: (N, C, H + 2 ph, W + 2 pw), x's dtype."""

    id = "zero_pad"
    notebook = "02_components"
    title = "zero padding of a batch"
    points = 1.0

    @staticmethod
    def reference(x, padding):
        ph, pw = _pair(padding)
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))

    def cases(self, rng, hidden):
        if hidden:
            draws = []
            for _ in range(3):
                shape = tuple(int(v) for v in rng.integers(1, 6, size=4))
                ph, pw = (int(v) for v in rng.integers(0, 4, size=2))
                padding = ph if rng.integers(2) else (ph, pw)
                draws.append((shape, padding, _dtype(rng)))
            return [
                Case(
                    f"x {shape} {np.dtype(dt).name}, padding {padding}",
                    (_draw(rng, shape, dt), padding),
                    hidden=True,
                )
                for shape, padding, dt in draws
            ]
        return [
            Case("x (1, 1, 3, 4) of 1..12, padding 1", (np.arange(1.0, 13.0).reshape(1, 1, 3, 4), 1)),
            Case(
                "x (2, 3, 4, 5), padding (2, 1): rows and columns differ", (_draw(rng, (2, 3, 4, 5)), (2, 1))
            ),
            Case("x (2, 3, 4, 5) again, new values, padding (2, 1)", (_draw(rng, (2, 3, 4, 5)), (2, 1))),
            Case(
                "x (1, 2, 3, 3) float32, padding (0, 2): none along the rows",
                (_draw(rng, (1, 2, 3, 3), np.float32), (0, 2)),
            ),
            Case("x (3, 1, 2, 4), padding 0: a copy", (_draw(rng, (3, 1, 2, 4)), 0)),
        ]

    def judge(self, case, output):
        x, padding = case.args
        ph, pw = _pair(padding)
        mistakes = [
            (
                "the padding went on one side only: p rows above and p below, p columns left and right",
                lambda: np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw))),
            ),
            (
                "(ph, pw) are swapped: ph is for the rows (H), pw for the columns (W)",
                lambda: np.pad(x, ((0, 0), (0, 0), (pw, pw), (ph, ph))),
            ),
            (
                "the batch and channel axes were padded too: only H and W get zeros",
                lambda: np.pad(x, ((ph, ph), (ph, ph), (ph, ph), (pw, pw))),
            ),
            *(
                (
                    padding_mode_message(mode),
                    lambda mode=mode: np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode=mode),
                )
                for mode in PADDING_MODES
            ),
        ]
        return judge_array(self.reference(x, padding), output, "the padded x", mistakes)

    def error_hint(self, case, error):
        return zero_padding_hint(case.args[1], error)


class Conv2dChannels(Exercise):
    """conv2d_channels(a, w) -> z (F, Ho, Wo) for one image a (C, H, W) and kernels w (F, C, KH, KW):
    z[f, n, m] = sum_c sum_j sum_i a[c, n + j, m + i] w[f, c, j, i]; stride 1, no padding, a's dtype."""

    id = "conv2d_channels"
    notebook = "02_components"
    title = "one image, several channels and kernels"
    points = 1.0

    @staticmethod
    def reference(a, w):
        return functional.conv2d(a[None], w)[0]

    def cases(self, rng, hidden):
        if hidden:
            draws = []
            for _ in range(3):
                c, f, kh, kw = (int(v) for v in rng.integers(1, 4, size=4))
                h, w = int(rng.integers(kh, 8)), int(rng.integers(kw, 8))
                draws.append(((c, h, w), (f, c, kh, kw), _dtype(rng)))
            return [
                Case(
                    f"a {sa}, w {sw} {np.dtype(dt).name}",
                    (_draw(rng, sa, dt), _draw(rng, sw, dt)),
                    hidden=True,
                )
                for sa, sw, dt in draws
            ]
        small = np.arange(18.0).reshape(2, 3, 3)
        kernel = np.array([[[[1.0, 0.0], [0.0, 1.0]], [[0.0, -1.0], [2.0, 0.0]]]])
        return [
            Case("a (2, 3, 3) of 0..17, one 2-channel kernel (1, 2, 2, 2)", (small, kernel)),
            Case(
                "a (3, 5, 6), two kernels (2, 3, 3, 2): non-square",
                (_draw(rng, (3, 5, 6)), _draw(rng, (2, 3, 3, 2))),
            ),
            Case(
                "a (3, 5, 6) again, new values, kernels (2, 3, 3, 2)",
                (_draw(rng, (3, 5, 6)), _draw(rng, (2, 3, 3, 2))),
            ),
            Case(
                "a (1, 4, 4), three kernels (3, 1, 3, 3): one channel",
                (_draw(rng, (1, 4, 4)), _draw(rng, (3, 1, 3, 3))),
            ),
            Case(
                "a (2, 6, 4) float32, kernels (4, 2, 1, 3)",
                (_draw(rng, (2, 6, 4), np.float32), _draw(rng, (4, 2, 1, 3), np.float32)),
            ),
            # "in a's dtype": kernels of another dtype must not decide it
            Case(
                "a (2, 5, 4) float32 with float64 kernels (3, 2, 2, 3): z is float32, a's dtype",
                (_draw(rng, (2, 5, 4), np.float32), _draw(rng, (3, 2, 2, 3))),
            ),
        ]

    def judge(self, case, output):
        a, w = case.args
        mistakes = [
            (
                "only channel 0 was used: each kernel has one slice per input channel, and the slices' "
                "results are summed",
                _only_if(a.shape[0] > 1, lambda: functional.conv2d(a[None, :1], w[:, :1])[0]),
            ),
            (
                "the kernel was flipped (a true convolution); the lecture's formula does not flip it",
                lambda: functional.conv2d(a[None], np.ascontiguousarray(w[:, :, ::-1, ::-1]))[0],
            ),
            (
                "H and W are swapped in the kernel: w[f, c, j, i] multiplies a[c, n + j, m + i] (j along H)",
                lambda: functional.conv2d(a[None], np.ascontiguousarray(w.transpose(0, 1, 3, 2)))[0],
            ),
            (
                "the channels were averaged, not summed",
                lambda: functional.conv2d(a[None], w)[0] / a.dtype.type(a.shape[0]),
            ),
        ]
        return judge_array(self.reference(a, w), output, "z", mistakes)


class Conv2dBatch(Exercise):
    """conv2d_batch(x, w, b) -> z (N, F, Ho, Wo) for x (N, C, H, W), w (F, C, KH, KW), b (F,) or None:
    every image through the same kernels, plus b[f] on output channel f; stride 1, no padding."""

    id = "conv2d_batch"
    notebook = "02_components"
    title = "a batch of images, with a bias"
    points = 1.0

    @staticmethod
    def reference(x, w, b=None):
        return functional.conv2d(x, w, b)

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for _ in range(3):
                n, c, f, kh, kw = (int(v) for v in rng.integers(1, 4, size=5))
                h, wd, dt = int(rng.integers(kh, 7)), int(rng.integers(kw, 7)), _dtype(rng)
                b = _draw(rng, (f,), dt) if rng.integers(2) else None
                args = (_draw(rng, (n, c, h, wd), dt), _draw(rng, (f, c, kh, kw), dt), b)
                cases.append(
                    Case(
                        f"x {(n, c, h, wd)}, w {(f, c, kh, kw)}, b {'given' if b is not None else 'None'}",
                        args,
                        hidden=True,
                    )
                )
            return cases
        return [
            Case(
                "x (3, 2, 5, 4), w (2, 2, 3, 3), b (2,)",
                (_draw(rng, (3, 2, 5, 4)), _draw(rng, (2, 2, 3, 3)), _draw(rng, (2,))),
            ),
            Case(
                "x (3, 2, 5, 4) again, new values, w and b",
                (_draw(rng, (3, 2, 5, 4)), _draw(rng, (2, 2, 3, 3)), _draw(rng, (2,))),
            ),
            Case(
                "x (1, 3, 4, 6), w (4, 3, 2, 3), b None",
                (_draw(rng, (1, 3, 4, 6)), _draw(rng, (4, 3, 2, 3)), None),
            ),
            Case(
                "x (2, 1, 6, 5) float32, w (3, 1, 3, 1), b (3,)",
                (
                    _draw(rng, (2, 1, 6, 5), np.float32),
                    _draw(rng, (3, 1, 3, 1), np.float32),
                    _draw(rng, (3,), np.float32),
                ),
            ),
            # "in x's dtype": a kernel and a bias of another dtype must not decide it
            Case(
                "x (2, 2, 5, 6) float32 with float64 w (3, 2, 2, 3) and b (3,): z is float32, x's dtype",
                (_draw(rng, (2, 2, 5, 6), np.float32), _draw(rng, (3, 2, 2, 3)), _draw(rng, (3,))),
            ),
        ]

    def judge(self, case, output):
        x, w, b = (*case.args, None)[:3]
        mistakes = [
            (
                "the bias is missing: add b[f] to every output of channel f",
                _only_if(b is not None, lambda: functional.conv2d(x, w)),
            ),
            (
                BIAS_ON_LAST_AXIS,
                _only_if(b is not None and b.shape[0] > 1, lambda: functional.conv2d(x, w) + b),
            ),
            (
                "every image got the result of the first image: loop over the batch (axis 0)",
                _only_if(
                    x.shape[0] > 1, lambda: np.repeat(functional.conv2d(x[:1], w, b), x.shape[0], axis=0)
                ),
            ),
        ]
        return judge_array(self.reference(x, w, b), output, "z", mistakes, size_hint=OUTPUT_SIZE_HINT)


class Conv2dStride(Exercise):
    """conv2d_stride(x, w, stride) -> z (N, F, Ho, Wo), Ho = (H - KH) // sh + 1, Wo = (W - KW) // sw + 1:
    z[s, f, n, m] = sum_c sum_j sum_i x[s, c, n sh + j, m sw + i] w[f, c, j, i]; stride an int or
    (sh, sw); no padding, no bias."""

    id = "conv2d_stride"
    notebook = "02_components"
    title = "stride, as an int or an (h, w) pair"
    points = 1.0

    @staticmethod
    def reference(x, w, stride):
        return functional.conv2d(x, w, stride=stride)

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for _ in range(3):
                n, c, f = (int(v) for v in rng.integers(1, 3, size=3))
                kh, kw, sh, sw = (int(v) for v in rng.integers(1, 4, size=4))
                h, wd, dt = int(rng.integers(kh, 9)), int(rng.integers(kw, 9)), _dtype(rng)
                stride = sh if rng.integers(2) else (sh, sw)
                args = (_draw(rng, (n, c, h, wd), dt), _draw(rng, (f, c, kh, kw), dt), stride)
                cases.append(
                    Case(f"x {(n, c, h, wd)}, w {(f, c, kh, kw)}, stride {stride}", args, hidden=True)
                )
            return cases
        return [
            Case(
                "x (1, 1, 5, 5) of 0..24, a 3 x 3 kernel of ones, stride 2",
                (np.arange(25.0).reshape(1, 1, 5, 5), np.ones((1, 1, 3, 3)), 2),
            ),
            Case(
                "x (2, 2, 8, 7), w (3, 2, 3, 2), stride (2, 3): a pair, uneven fit",
                (_draw(rng, (2, 2, 8, 7)), _draw(rng, (3, 2, 3, 2)), (2, 3)),
            ),
            Case(
                "x (2, 2, 8, 7) again, new values, stride (2, 3)",
                (_draw(rng, (2, 2, 8, 7)), _draw(rng, (3, 2, 3, 2)), (2, 3)),
            ),
            Case(
                "x (1, 3, 6, 9), w (2, 3, 2, 2), stride (1, 2)",
                (_draw(rng, (1, 3, 6, 9)), _draw(rng, (2, 3, 2, 2)), (1, 2)),
            ),
            Case(
                "x (2, 1, 7, 6) float32, w (1, 1, 3, 3), stride 1",
                (_draw(rng, (2, 1, 7, 6), np.float32), _draw(rng, (1, 1, 3, 3), np.float32), 1),
            ),
            # "in x's dtype": a kernel of another dtype must not decide it
            Case(
                "x (1, 2, 7, 8) float32 with float64 w (2, 2, 3, 2), stride (2, 3): z is float32, x's dtype",
                (_draw(rng, (1, 2, 7, 8), np.float32), _draw(rng, (2, 2, 3, 2)), (2, 3)),
            ),
        ]

    def judge(self, case, output):
        x, w, stride = case.args
        sh, sw = _pair(stride)
        mistakes = [
            (
                "(sh, sw) are swapped: sh steps along the rows (H), sw along the columns (W)",
                lambda: functional.conv2d(x, w, stride=(sw, sh)),
            ),
            (
                "the stride was ignored: the kernel moves sh rows and sw columns at a time",
                lambda: functional.conv2d(x, w),
            ),
            (
                "only the first entry of the stride pair was used, for both directions: stride (sh, sw) "
                "steps sh rows and sw columns",
                _only_if(sh != sw, lambda: functional.conv2d(x, w, stride=sh)),
            ),
        ]
        return judge_array(self.reference(x, w, stride), output, "z", mistakes, size_hint=OUTPUT_SIZE_HINT)


EXERCISES = [ZeroPad(), Conv2dChannels(), Conv2dBatch(), Conv2dStride()]
