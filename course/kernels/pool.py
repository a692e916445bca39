"""Fast max and average pooling, forward and backward, on NCHW arrays.

Serial kernels over a range [t0, t1) of tasks, one task per (image, channel) plane n * C + ch, shared
among threads by `course._jit.parallel_for`; outputs are allocated by the caller.

Max pooling takes a window's first maximum in row-major order, and a NaN in a window is its maximum
(the first NaN), as numpy's max and argmax in `course.naive`. The common 2 x 2 windows with stride 2 have
kernels of their own (`max_pool2x2_*`) without a branch on the data, which on random data is
mispredicted half the time; with the window's size and step known when compiling, LLVM also vectorises
the forward. One thread, 64 x 16 x 24 x 24 float32: forward 1.3 -> 0.18 ms, backward 1.7 -> 0.96 ms,
then 0.68 ms with bit masks in the backward on AMD EPYC Zen 3; on Zen 4 the backward selects
between delta and 0 instead (`max_pool2x2_backward`), and float32 arrays go through a backward in two
passes, 0.95 -> 0.23 ms (`max_pool2x2_backward_scatter`; `max_pool2x2_backward_kernel` picks).
"""

from __future__ import annotations

import numpy as np

from course._jit import jit

__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "max_pool2x2_backward",
    "max_pool2x2_backward_kernel",
    "max_pool2x2_backward_scatter",
    "max_pool2x2_forward",
]


@jit
def max_pool2d_forward(x, kh, kw, sh, sw, y, t0, t1):
    """y[n, ch, r, c] = max of x[n, ch, r*sh : r*sh + kh, c*sw : c*sw + kw]; y (N, C, Ho, Wo)."""
    n_channels, ho, wo = y.shape[1], y.shape[2], y.shape[3]
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            for c in range(wo):
                best, seen_nan = x[n, ch, r * sh, c * sw], False
                for j in range(kh):
                    for i in range(kw):
                        v = x[n, ch, r * sh + j, c * sw + i]
                        seen_nan |= v != v
                        if v > best:
                            best = v
                y[n, ch, r, c] = best if not seen_nan else np.nan


@jit
def max_pool2d_backward(delta, x, kh, kw, sh, sw, grad_x, t0, t1):
    """Each window's delta is added at its first maximum (row-major), or its first NaN, accumulating
    over overlaps. grad_x (N, C, H, W) must start at zero."""
    n_channels, ho, wo = delta.shape[1], delta.shape[2], delta.shape[3]
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            for c in range(wo):
                best, best_j, best_i = x[n, ch, r * sh, c * sw], 0, 0
                nan_j = -1  # the row and column of the window's first NaN, if any
                nan_i = 0
                for j in range(kh):
                    for i in range(kw):
                        v = x[n, ch, r * sh + j, c * sw + i]
                        if v > best:
                            best, best_j, best_i = v, j, i
                        elif v != v and nan_j < 0:  # rare, so well predicted
                            nan_j, nan_i = j, i
                if nan_j >= 0:
                    best_j, best_i = nan_j, nan_i
                grad_x[n, ch, r * sh + best_j, c * sw + best_i] += delta[n, ch, r, c]


@jit
def max_pool2x2_forward(x, y, t0, t1):
    """`max_pool2d_forward` for 2 x 2 windows with stride 2: y[n, ch, r, c] = max of x[n, ch, 2r : 2r + 2,
    2c : 2c + 2]; rows and columns of x beyond 2 * Ho and 2 * Wo are not read."""
    n_channels, ho, wo = y.shape[1], y.shape[2], y.shape[3]
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            top, bottom, out = x[n, ch, 2 * r], x[n, ch, 2 * r + 1], y[n, ch, r]
            for c in range(wo):
                upper = _first_max(top[2 * c], top[2 * c + 1])
                lower = _first_max(bottom[2 * c], bottom[2 * c + 1])
                out[c] = _first_max(upper, lower)


@jit
def max_pool2x2_backward(delta, x, grad_x, t0, t1):
    """`max_pool2d_backward` for 2 x 2 windows with stride 2, which do not overlap: each window's delta
    goes to its first maximum, or its first NaN, and 0 to its other three places; rows and columns
    of grad_x beyond 2 * Ho and 2 * Wo get 0. Every element of grad_x is written, each as a select
    between delta and 0 (delta * flag would turn an infinite delta into NaN where the flag is 0, and
    a branch is mispredicted half the time on random data). The selects took 0.95 ms where delta's
    bits ANDed with masks of all ones or zeros took 1.23 ms (64 x 16 x 24 x 24, float32, one thread,
    AMD EPYC Zen 4)."""
    n_channels, ho, wo = delta.shape[1], delta.shape[2], delta.shape[3]
    height, width = grad_x.shape[2], grad_x.shape[3]
    zero = grad_x.dtype.type(0)
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        grad = grad_x[n, ch]
        for r in range(ho):
            top, bottom, d = x[n, ch, 2 * r], x[n, ch, 2 * r + 1], delta[n, ch, r]
            grad_top, grad_bottom = grad[2 * r], grad[2 * r + 1]
            for c in range(wo):
                v0, v1, v2, v3 = top[2 * c], top[2 * c + 1], bottom[2 * c], bottom[2 * c + 1]
                best = _first_max(_first_max(v0, v1), _first_max(v2, v3))
                # which of the four is the first equal to best (when best is NaN, the first NaN)
                hit0 = (v0 == best) | (v0 != v0)
                hit1 = ((v1 == best) | (v1 != v1)) & (not hit0)
                hit2 = ((v2 == best) | (v2 != v2)) & (not hit0) & (not hit1)
                hit3 = not (hit0 | hit1 | hit2)
                value = d[c]
                grad_top[2 * c] = value if hit0 else zero
                grad_top[2 * c + 1] = value if hit1 else zero
                grad_bottom[2 * c] = value if hit2 else zero
                grad_bottom[2 * c + 1] = value if hit3 else zero
            for c in range(2 * wo, width):
                grad_top[c] = zero
                grad_bottom[c] = zero
        for r in range(2 * ho, height):
            for c in range(width):
                grad[r, c] = zero


@jit
def max_pool2x2_backward_scatter(delta, x, grad_x, t0, t1):
    """`max_pool2x2_backward` in two passes over each plane, for float32. First, for each window, the
    place of its first maximum (or first NaN) in its pair of rows, as an offset r2 * W + 2c + c2 for
    (r2, c2) in {0, 1}^2, in a loop that writes nothing into grad_x, which LLVM vectorises; then the
    plane is zeroed and each window's delta stored at its place. One thread, AMD EPYC Zen 4, against
    `max_pool2x2_backward`: 32 x 6 x 28 x 28 (LeNet's first pooling, batch 32) 0.243 -> 0.071 ms,
    64 x 16 x 24 x 24 0.95 -> 0.23 ms, 256 x 16 x 12 x 12 1.00 -> 0.74 ms. In float64 the same code
    was faster on wide rows (8 x 16 x 48 x 48: 0.52 -> 0.19 ms) but slower on narrow ones (64 x 16 x
    24 x 24: 0.94 -> 1.38 ms), so float64 keeps `max_pool2x2_backward`."""
    n_channels, ho, wo = delta.shape[1], delta.shape[2], delta.shape[3]
    width = grad_x.shape[3]
    zero = grad_x.dtype.type(0)
    places = np.empty((ho, wo), np.int32)
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            top, bottom, place = x[n, ch, 2 * r], x[n, ch, 2 * r + 1], places[r]
            for c in range(wo):
                v0, v1, v2, v3 = top[2 * c], top[2 * c + 1], bottom[2 * c], bottom[2 * c + 1]
                right_above, right_below = _second_wins(v0, v1), _second_wins(v2, v3)
                below = _second_wins(v1 if right_above else v0, v3 if right_below else v2)
                column = 2 * c + (right_below if below else right_above)
                place[c] = (width + column) if below else column
        plane = grad_x[n, ch]
        plane[:] = zero
        flat = plane.reshape(-1)
        for r in range(ho):
            d, place, start = delta[n, ch, r], places[r], 2 * r * width
            for c in range(wo):
                flat[start + place[c]] = d[c]


def max_pool2x2_backward_kernel(dtype):
    """The faster of the two 2 x 2 max-pooling backwards for arrays of `dtype`:
    `max_pool2x2_backward_scatter` for float32, `max_pool2x2_backward` for float64."""
    return max_pool2x2_backward_scatter if np.dtype(dtype) == np.float32 else max_pool2x2_backward


@jit
def _second_wins(a, b):
    """True when `_first_max(a, b)` is b's place: b is larger, or b is a NaN and a is not."""
    return not ((a >= b) | (a != a))


@jit
def _first_max(a, b):
    """The larger of a and b, a on ties; a NaN wins, the first one if both are NaN."""
    return b if _second_wins(a, b) else a


@jit
def avg_pool2d_forward(x, kh, kw, sh, sw, y, t0, t1):
    """y[n, ch, r, c] = mean of x[n, ch, r*sh : r*sh + kh, c*sw : c*sw + kw]; y (N, C, Ho, Wo)."""
    n_channels, ho, wo = y.shape[1], y.shape[2], y.shape[3]
    scale = 1.0 / (kh * kw)
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            for c in range(wo):
                total = 0.0
                for j in range(kh):
                    for i in range(kw):
                        total += x[n, ch, r * sh + j, c * sw + i]
                y[n, ch, r, c] = total * scale


@jit
def avg_pool2d_backward(delta, kh, kw, sh, sw, grad_x, t0, t1):
    """Each window's delta / (kh * kw) is added to every input of the window; grad_x starts at zero."""
    n_channels, ho, wo = delta.shape[1], delta.shape[2], delta.shape[3]
    scale = 1.0 / (kh * kw)
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            for c in range(wo):
                share = delta[n, ch, r, c] * scale
                for j in range(kh):
                    for i in range(kw):
                        grad_x[n, ch, r * sh + j, c * sw + i] += share
