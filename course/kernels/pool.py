"""Fast max and average pooling, forward and backward, on NCHW arrays."""

from __future__ import annotations

import numpy as np
from numba import prange

from course._jit import jit


@jit(parallel=True)
def max_pool2d_forward(x, kh, kw, sh, sw, ho, wo):
    """y[n, ch, r, c] = max of x[n, ch, r*sh : r*sh + kh, c*sw : c*sw + kw]."""
    n_images, n_channels = x.shape[0], x.shape[1]
    y = np.empty((n_images, n_channels, ho, wo), dtype=x.dtype)
    for task in prange(n_images * n_channels):
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
    return y


@jit(parallel=True)
def max_pool2d_backward(delta, x, kh, kw, sh, sw):
    """Each window's delta is added at its first maximum (row-major), accumulating over overlaps."""
    n_images, n_channels, ho, wo = delta.shape
    grad_x = np.zeros_like(x)
    for task in prange(n_images * n_channels):
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
    return grad_x


@jit(parallel=True)
def avg_pool2d_forward(x, kh, kw, sh, sw, ho, wo):
    """y[n, ch, r, c] = mean of x[n, ch, r*sh : r*sh + kh, c*sw : c*sw + kw]."""
    n_images, n_channels = x.shape[0], x.shape[1]
    y = np.empty((n_images, n_channels, ho, wo), dtype=x.dtype)
    scale = 1.0 / (kh * kw)
    for task in prange(n_images * n_channels):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            for c in range(wo):
                total = 0.0
                for j in range(kh):
                    for i in range(kw):
                        total += x[n, ch, r * sh + j, c * sw + i]
                y[n, ch, r, c] = total * scale
    return y


@jit(parallel=True)
def avg_pool2d_backward(delta, x, kh, kw, sh, sw):
    """Each window's delta / (kh * kw) is added to every input of the window."""
    n_images, n_channels, ho, wo = delta.shape
    grad_x = np.zeros_like(x)
    scale = 1.0 / (kh * kw)
    for task in prange(n_images * n_channels):
        n, ch = task // n_channels, task % n_channels
        for r in range(ho):
            for c in range(wo):
                share = delta[n, ch, r, c] * scale
                for j in range(kh):
                    for i in range(kw):
                        grad_x[n, ch, r * sh + j, c * sw + i] += share
    return grad_x
