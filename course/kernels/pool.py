"""Fast max and average pooling, forward and backward, on NCHW arrays.

Serial kernels over a range [t0, t1) of tasks, one task per (image, channel) plane n * C + ch, shared
among threads by `course._jit.parallel_for`; outputs are allocated by the caller.
"""

from __future__ import annotations

from course._jit import jit

__all__ = ["avg_pool2d_backward", "avg_pool2d_forward", "max_pool2d_backward", "max_pool2d_forward"]


@jit
def max_pool2d_forward(x, kh, kw, sh, sw, y, t0, t1):
    """y[n, ch, r, c] = max of x[n, ch, r*sh : r*sh + kh, c*sw : c*sw + kw]; y (N, C, Ho, Wo)."""
    n_channels, ho, wo = y.shape[1], y.shape[2], y.shape[3]
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            for c in range(wo):
                best = x[n, ch, r * sh, c * sw]
                for j in range(kh):
                    for i in range(kw):
                        v = x[n, ch, r * sh + j, c * sw + i]
                        if v > best:
                            best = v
                y[n, ch, r, c] = best


@jit
def max_pool2d_backward(delta, x, kh, kw, sh, sw, grad_x, t0, t1):
    """Each window's delta is added at its first maximum (row-major), accumulating over overlaps.
    grad_x (N, C, H, W) must start at zero."""
    n_channels, ho, wo = delta.shape[1], delta.shape[2], delta.shape[3]
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            for c in range(wo):
                best_j, best_i = 0, 0
                best = x[n, ch, r * sh, c * sw]
                for j in range(kh):
                    for i in range(kw):
                        v = x[n, ch, r * sh + j, c * sw + i]
                        if v > best:
                            best, best_j, best_i = v, j, i
                grad_x[n, ch, r * sh + best_j, c * sw + best_i] += delta[n, ch, r, c]


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
