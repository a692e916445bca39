"""Fast 2-D cross-correlation, forward and backward, on padded NCHW arrays."""

from __future__ import annotations

import numpy as np
from numba import prange

from course._jit import jit


@jit(parallel=True)
def conv2d_forward(a, w, b, sh, sw, ho, wo):
    """z[n, f, r, c] = b[f] + sum_{ch, j, i} a[n, ch, r*sh + j, c*sw + i] * w[f, ch, j, i].

    a (N, C, Hp, Wp) is the already padded input; b (F,) may be all zeros.
    """
    n_images, n_channels = a.shape[0], a.shape[1]
    n_kernels, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    z = np.empty((n_images, n_kernels, ho, wo), dtype=a.dtype)
    for task in prange(n_images * n_kernels):
        n, f = task // n_kernels, task % n_kernels
        out = z[n, f]
        out[:, :] = b[f]
        for ch in range(n_channels):
            for j in range(kh):
                for i in range(kw):
                    weight = w[f, ch, j, i]
                    for r in range(ho):
                        row = a[n, ch, r * sh + j]
                        for c in range(wo):
                            out[r, c] += row[c * sw + i] * weight
    return z


@jit(parallel=True)
def conv2d_grad_input(delta, w, sh, sw, hp, wp):
    """dJ/da[n, ch, r*sh + j, c*sw + i] += w[f, ch, j, i] * delta[n, f, r, c], on the padded grid."""
    n_images, n_kernels, ho, wo = delta.shape
    n_channels, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    grad_a = np.zeros((n_images, n_channels, hp, wp), dtype=delta.dtype)
    for task in prange(n_images * n_channels):
        n, ch = task // n_channels, task % n_channels
        out = grad_a[n, ch]
        for f in range(n_kernels):
            for j in range(kh):
                for i in range(kw):
                    weight = w[f, ch, j, i]
                    for r in range(ho):
                        d = delta[n, f, r]
                        for c in range(wo):
                            out[r * sh + j, c * sw + i] += d[c] * weight
    return grad_a


@jit(parallel=True)
def conv2d_grad_weight(delta, a, sh, sw, kh, kw):
    """dJ/dw[f, ch, j, i] = sum_{n, r, c} a[n, ch, r*sh + j, c*sw + i] * delta[n, f, r, c]."""
    n_images, n_kernels, ho, wo = delta.shape
    n_channels = a.shape[1]
    grad_w = np.zeros((n_kernels, n_channels, kh, kw), dtype=delta.dtype)
    for task in prange(n_kernels * n_channels):
        f, ch = task // n_channels, task % n_channels
        for j in range(kh):
            for i in range(kw):
                total = 0.0
                for n in range(n_images):
                    for r in range(ho):
                        row = a[n, ch, r * sh + j]
                        d = delta[n, f, r]
                        for c in range(wo):
                            total += row[c * sw + i] * d[c]
                grad_w[f, ch, j, i] = total
    return grad_w
