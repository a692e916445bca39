"""Fast 2-D cross-correlation, forward and backward, on padded NCHW arrays.

Shapes: a (N, C, Hp, Wp) is the input x (N, C, H, W) already padded with zeros, w (F, C, KH, KW),
delta = dJ/dz (N, F, Ho, Wo) with Ho = (Hp - KH) // sh + 1 and Wo = (Wp - KW) // sw + 1.

Stride 1 with few taps per output (C * KH * KW < GEMM_DEPTH: one or a few input channels) uses the "flat
shift" view of the padded input. Each channel's images are laid end to end, row-major, in one array
(`_channel_major`): pixel (r, c) of image n sits at q = (n*Hp + r)*Wp + c, and the tap (j, i) of output
(n, r, c) reads q + j*Wp + i. An output computed on this Wp-wide grid is then, for every tap, one long
contiguous multiply-add of the whole channel shifted by j*Wp + i: the inner loop is unit-stride and
vectorises, and stays long even for 8 x 8 images. Grid points with c >= Wo or r >= Ho mix neighbouring
rows or images; they are thrown away (forward) or given a zero delta (backward). Grid points run over 0 ..
span - 1, span = (N - 1)*Hp*Wp + (Ho - 1)*Wp + Wo, in blocks of BLOCK so that every sweep stays in cache.

Layers with many taps per output (C * KH * KW >= GEMM_DEPTH, any stride) are matrix products instead
(`conv2d_forward_gemm`, `conv2d_backward_gemm`): im2col lays the taps of a few images out as the rows of
cols (C*KH*KW, n*Ho*Wo), so z = w (F, C*KH*KW) @ cols, grad_w = delta (F, n*Ho*Wo) @ cols.T and
grad_cols = w.T @ delta, added back into the input's places by col2im. BLAS keeps its partial sums in
registers, which the sweeps above cannot; with few taps the copy into cols costs more than that saves.

Other strides, with fewer taps, use the direct loops, which read like the formula. Tasks run in
parallel over the axis with enough independent work (images x kernels, images x channels, kernels x
channels); each task owns the output it writes, so no two threads ever add to the same place.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from course._jit import jit

BLOCK = 2048  # grid points per inner sweep: a block of outputs and the inputs it reads stay in L1/L2
# Taps per output (C * KH * KW) from which the matrix products win. One thread, float64, forward +
# backward, sweeps -> products: C*KH*KW = 150 (LeNet 6->16 k5) 7.5 -> 3.7 ms and 288 (32->64 k3)
# 274 -> 113 ms, but 25 (LeNet 1->6 k5) 3.0 -> 4.0 ms and 27 (3 -> 16, 224 x 224) 7.8 -> 15.4 ms.
GEMM_DEPTH = 100
# Elements of cols per matrix product (512 KB in float64, so it stays in L2): images go in chunks of
# about this. LeNet 6->16, float64 backward: 2.6 ms at 2**16, 3.5 ms at 2**17.
COLS_SIZE = 1 << 16


@jit(parallel=True)
def _im2col(a, kh, kw, sh, sw, ho, wo):
    """cols[(ch*KH + j)*KW + i, (n*Ho + r)*Wo + c] = a[n, ch, r*sh + j, c*sw + i].

    a (n, C, Hp, Wp) padded input. Returns cols (C*KH*KW, n*Ho*Wo): one row per tap, one column per output.
    One task per (channel, kernel row j): each input row it reads feeds the KW taps i in turn.
    """
    n_images, n_channels = a.shape[0], a.shape[1]
    cols = np.empty((n_channels * kh * kw, n_images * ho * wo), dtype=a.dtype)
    for task in prange(n_channels * kh):
        ch, j = task // kh, task % kh
        for n in range(n_images):
            for r in range(ho):
                source, start = a[n, ch, r * sh + j], (n * ho + r) * wo
                for i in range(kw):
                    row = cols[task * kw + i]
                    if sw == 1:  # a unit-stride copy, which LLVM vectorises: 2-4x faster
                        for c in range(wo):
                            row[start + c] = source[i + c]
                    else:
                        for c in range(wo):
                            row[start + c] = source[c * sw + i]
    return cols


@jit(parallel=True)
def _col2im_add(grad_a, grad_cols, kh, kw, sh, sw, ho, wo):
    """grad_a[n, ch, r*sh + j, c*sw + i] += grad_cols[(ch*KH + j)*KW + i, (n*Ho + r)*Wo + c], in place.

    The adjoint of `_im2col`: each tap's gradient goes back to the input pixel it read. grad_a (n, C, Hp, Wp),
    grad_cols (C*KH*KW, n*Ho*Wo); one task per channel, which owns grad_a[:, ch], and within it one image
    at a time so that its rows stay in L1 while all the taps add to them.
    """
    n_images, n_channels = grad_a.shape[0], grad_a.shape[1]
    for ch in prange(n_channels):
        for n in range(n_images):
            for j in range(kh):
                for r in range(ho):
                    target, start = grad_a[n, ch, r * sh + j], (n * ho + r) * wo
                    for i in range(kw):
                        tap = grad_cols[(ch * kh + j) * kw + i]
                        if sw == 1:  # unit stride, vectorised as in _im2col
                            for c in range(wo):
                                target[i + c] += tap[start + c]
                        else:
                            for c in range(wo):
                                target[c * sw + i] += tap[start + c]


def _chunks(n_images: int, taps: int, outputs: int):
    """Image ranges [n0, n1) whose cols (taps, (n1 - n0) * outputs) hold about COLS_SIZE elements."""
    step = max(1, COLS_SIZE // (taps * outputs))
    return [(n0, min(n_images, n0 + step)) for n0 in range(0, n_images, step)]


def conv2d_forward_gemm(a, w, b, sh, sw, ho, wo):
    """conv2d_forward as matrix products: z[n] = w (F, C*KH*KW) @ cols (C*KH*KW, Ho*Wo) + b, for a few
    images at a time. a (N, C, Hp, Wp), w (F, C, KH, KW), b (F,). Returns z (N, F, Ho, Wo)."""
    n_images, n_kernels, kh, kw = a.shape[0], w.shape[0], w.shape[2], w.shape[3]
    w2 = w.reshape(n_kernels, -1)
    z = np.empty((n_images, n_kernels, ho, wo), dtype=a.dtype)
    for n0, n1 in _chunks(n_images, w2.shape[1], ho * wo):
        product = w2 @ _im2col(a[n0:n1], kh, kw, sh, sw, ho, wo)  # (F, n*Ho*Wo)
        z[n0:n1] = product.reshape(n_kernels, n1 - n0, ho, wo).transpose(1, 0, 2, 3)
    z += b[:, None, None]
    return z


def conv2d_backward_gemm(delta, a, w, sh, sw):
    """conv2d_backward as matrix products, for a few images at a time, with d = delta (F, n*Ho*Wo):

    grad_w (F, C*KH*KW) = sum over the chunks of d @ cols.T   (the input correlated with delta);
    grad_a = col2im(w.T @ d)   (each output's delta spread back through the kernel to the pixels it read).
    delta (N, F, Ho, Wo), a (N, C, Hp, Wp), w (F, C, KH, KW). Returns (grad_a, grad_w) shaped like a and w.
    """
    n_images, n_kernels, ho, wo = delta.shape
    kh, kw = w.shape[2], w.shape[3]
    w2 = w.reshape(n_kernels, -1)
    grad_a = np.zeros(a.shape, dtype=a.dtype)
    grad_w = np.zeros(w2.shape, dtype=a.dtype)
    for n0, n1 in _chunks(n_images, w2.shape[1], ho * wo):
        cols = _im2col(a[n0:n1], kh, kw, sh, sw, ho, wo)
        d = delta[n0:n1].transpose(1, 0, 2, 3).reshape(n_kernels, -1)  # (F, n*Ho*Wo), a copy
        grad_w += d @ cols.T
        _col2im_add(grad_a[n0:n1], w2.T @ d, kh, kw, sh, sw, ho, wo)
    return grad_a, grad_w.reshape(w.shape)


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
                    tripled = kw - kw % 3
                    for i in range(0, tripled, 3):  # three taps per sweep: a third of acc's loads and stores
                        w0, w1, w2 = w[f, ch, j, i], w[f, ch, j, i + 1], w[f, ch, j, i + 2]
                        s0 = flat[ch, start + j * wp + i : start + j * wp + i + length]
                        s1 = flat[ch, start + j * wp + i + 1 : start + j * wp + i + 1 + length]
                        s2 = flat[ch, start + j * wp + i + 2 : start + j * wp + i + 2 + length]
                        for q in range(length):
                            acc[q] += s0[q] * w0 + s1[q] * w1 + s2[q] * w2
                    for i in range(tripled, kw):
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
                    tripled = kw - kw % 3
                    for i in range(0, tripled, 3):  # three taps per sweep share each load of d
                        s0 = flat[ch, start + j * wp + i : start + j * wp + i + length]
                        s1 = flat[ch, start + j * wp + i + 1 : start + j * wp + i + 1 + length]
                        s2 = flat[ch, start + j * wp + i + 2 : start + j * wp + i + 2 + length]
                        t0, t1, t2 = zero, zero, zero
                        for q in range(length):
                            t0 += s0[q] * d[q]
                            t1 += s1[q] * d[q]
                            t2 += s2[q] * d[q]
                        grad_w[f, ch, j, i] += t0
                        grad_w[f, ch, j, i + 1] += t1
                        grad_w[f, ch, j, i + 2] += t2
                    for i in range(tripled, kw):
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
