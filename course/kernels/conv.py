"""Fast 2-D cross-correlation, forward and backward, on padded NCHW arrays.

Shapes: a (N, C, Hp, Wp) is the input x (N, C, H, W) already padded with zeros, w (F, C, KH, KW),
delta = dJ/dz (N, F, Ho, Wo) with Ho = (Hp - KH) // sh + 1 and Wo = (Wp - KW) // sw + 1.

Stride 1, the common case, uses the "flat shift" view of the padded input. Each channel's images are laid
end to end, row-major, in one array (`_channel_major`): pixel (r, c) of image n sits at
q = (n*Hp + r)*Wp + c, and the tap (j, i) of output (n, r, c) reads q + j*Wp + i. An output computed on
this Wp-wide grid is then, for every tap, one long contiguous multiply-add of the whole channel shifted
by j*Wp + i: the inner loop is unit-stride and vectorises, and stays long even for 8 x 8 images. Grid
points with c >= Wo or r >= Ho mix neighbouring rows or images; they are thrown away (forward) or given
a zero delta (backward). Grid points run over 0 .. span - 1, span = (N - 1)*Hp*Wp + (Ho - 1)*Wp + Wo, in
blocks of BLOCK so that every sweep stays in cache.

Other strides use the direct loops, which read like the formula. Tasks run in parallel over the axis
with enough independent work (images x kernels, images x channels, kernels x channels); each task owns
the output it writes, so no two threads ever add to the same place.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from course._jit import jit

BLOCK = 2048  # grid points per inner sweep: a block of outputs and the inputs it reads stay in L1/L2


@jit(parallel=True)
def _channel_major(a):
    """a (N, C, Hp, Wp) copied to (C, N * Hp * Wp): each channel's images laid end to end."""
    n_images, n_channels, hp, wp = a.shape
    flat = np.empty((n_channels, n_images * hp * wp), dtype=a.dtype)
    for task in prange(n_channels * n_images):
        ch, n = task // n_images, task % n_images
        for r in range(hp):
            flat[ch, (n * hp + r) * wp : (n * hp + r + 1) * wp] = a[n, ch, r]
    return flat


@jit(parallel=True)
def conv2d_forward(a, w, b, sh, sw, ho, wo):
    """z[n, f, r, c] = b[f] + sum_{ch, j, i} a[n, ch, r*sh + j, c*sw + i] * w[f, ch, j, i].

    a (N, C, Hp, Wp) is the padded input, w (F, C, KH, KW), b (F,) may be all zeros.
    Returns z (N, F, Ho, Wo).
    """
    n_images, n_channels, hp, wp = a.shape
    n_kernels, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    z = np.empty((n_images, n_kernels, ho, wo), dtype=a.dtype)
    if sh == 1 and sw == 1:
        flat = _channel_major(a)
        span = (n_images - 1) * hp * wp + (ho - 1) * wp + wo
        n_blocks = (span + BLOCK - 1) // BLOCK
        for task in prange(n_kernels * n_blocks):
            f, start = task // n_blocks, (task % n_blocks) * BLOCK
            length = min(BLOCK, span - start)
            acc = np.full(length, b[f], dtype=a.dtype)
            for ch in range(n_channels):
                for j in range(kh):
                    for i in range(kw):
                        weight = w[f, ch, j, i]
                        shifted = flat[ch, start + j * wp + i : start + j * wp + i + length]
                        for q in range(length):
                            acc[q] += shifted[q] * weight
            for row in range(start // wp, (start + length - 1) // wp + 1):
                n, r = row // hp, row % hp
                first, last = max(0, start - row * wp), min(wo, start + length - row * wp)
                if r < ho and first < last:
                    z[n, f, r, first:last] = acc[row * wp + first - start : row * wp + last - start]
        return z
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
def conv2d_backward(delta, a, w, sh, sw):
    """Gradients through conv2d_forward, given delta = dJ/dz (N, F, Ho, Wo). Returns (grad_a, grad_w):

    grad_a[n, ch, r*sh + j, c*sw + i] += w[f, ch, j, i] * delta[n, f, r, c]   (N, C, Hp, Wp)
        (delta spread back through each kernel; for stride 1 the full correlation of delta with the
        flipped kernel), one task per (image, channel);
    grad_w[f, ch, j, i] = sum_{n, r, c} a[n, ch, r*sh + j, c*sw + i] * delta[n, f, r, c]   (F, C, KH, KW)
        (the padded input correlated with delta), one task per (kernel, channel).
    """
    n_images, n_kernels, ho, wo = delta.shape
    n_channels, hp, wp = a.shape[1], a.shape[2], a.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    grad_a = np.zeros((n_images, n_channels, hp, wp), dtype=a.dtype)
    grad_w = np.zeros((n_kernels, n_channels, kh, kw), dtype=a.dtype)
    if sh == 1 and sw == 1:
        plane = hp * wp
        span = (n_images - 1) * plane + (ho - 1) * wp + wo
        flat = _channel_major(a)
        spread = np.zeros((n_kernels, n_images * plane), dtype=a.dtype)
        for task in prange(n_kernels * n_images):
            f, n = task // n_images, task % n_images
            for r in range(ho):
                spread[f, n * plane + r * wp : n * plane + r * wp + wo] = delta[n, f, r]
        grad_flat = np.zeros((n_channels, n_images * plane), dtype=a.dtype)
        for ch in prange(n_channels):
            for start in range(0, span, BLOCK):
                length = min(BLOCK, span - start)
                for f in range(n_kernels):
                    d = spread[f, start : start + length]
                    for j in range(kh):
                        for i in range(kw):
                            weight = w[f, ch, j, i]
                            shifted = grad_flat[ch, start + j * wp + i : start + j * wp + i + length]
                            for q in range(length):
                                shifted[q] += d[q] * weight
        zero = a.dtype.type(0)
        for task in prange(n_kernels * n_channels):
            f, ch = task // n_channels, task % n_channels
            for start in range(0, span, BLOCK):
                length = min(BLOCK, span - start)
                d = spread[f, start : start + length]
                for j in range(kh):
                    for i in range(kw):
                        shifted = flat[ch, start + j * wp + i : start + j * wp + i + length]
                        total = zero
                        for q in range(length):
                            total += shifted[q] * d[q]
                        grad_w[f, ch, j, i] += total
        for task in prange(n_images * n_channels):
            n, ch = task // n_channels, task % n_channels
            for r in range(hp):
                grad_a[n, ch, r] = grad_flat[ch, n * plane + r * wp : n * plane + (r + 1) * wp]
        return grad_a, grad_w
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
    return grad_a, grad_w
