"""Fast 2-D cross-correlation, forward and backward, on padded NCHW arrays.

Shapes: a (N, C, Hp, Wp) is the input x (N, C, H, W) already padded with zeros, w (F, C, KH, KW),
delta = dJ/dz (N, F, Ho, Wo) with Ho = (Hp - KH) // sh + 1 and Wo = (Wp - KW) // sw + 1.

Every kernel here is serial and takes a range [t0, t1) of independent tasks, so that
`course._jit.parallel_for` can share the tasks among threads; each task writes only its own outputs.
Kernels index arrays element by element (no slice assignment), which keeps Numba's compile time to
well under a second each. The layout copies around them are numpy's (`course.functional`).

Stride 1 with few taps per output (C * KH * KW < GEMM_DEPTH: one or a few input channels) uses the "flat
shift" view of the padded input: each channel's images laid end to end, row-major, in one row of
flat (C, N*Hp*Wp). Pixel (r, c) of image n sits at q = (n*Hp + r)*Wp + c, and the tap (j, i) of output
(n, r, c) reads q + j*Wp + i. An output computed on this Wp-wide grid is then, for every tap, one long
contiguous multiply-add of the whole channel shifted by j*Wp + i: the inner loop is unit-stride and
vectorises, and stays long even for 8 x 8 images. Grid points with c >= Wo or r >= Ho mix neighbouring
rows or images; they are computed and thrown away (`sweep_forward` copies only the outputs out of its
buffer) or given a zero delta (backward). The sweeps run over about BLOCK grid points at a time, so that
every sweep stays in cache: the forward over whole images, or a few rows of a large one, the weights'
gradient over blocks of grid points 0 .. span - 1, span = (N - 1)*Hp*Wp + (Ho - 1)*Wp + Wo.

Layers with many taps per output (C * KH * KW >= GEMM_DEPTH, any stride) are matrix products instead:
`im2col` lays the taps of a few images, laid out image-last (C, Hp, Wp, n), out as the rows of cols
(C*KH*KW, Ho*Wo*n), so z = w (F, C*KH*KW) @ cols, grad_w.T = cols @ delta.T (delta (F, Ho*Wo*n)) and
grad_cols = w.T @ delta, added back into the input's places by `col2im_add`. BLAS keeps its partial sums in
registers, which the sweeps cannot; with few taps the copy into cols costs more than that saves.
`columns` (layout and im2col) and `images_first` (z back image-first, plus the bias) each do a
chunk's copies in one call: a thread that comes back from a kernel must take the GIL again, and when
the other thread holds it that took tens of microseconds on two cores (numpy's copies in between made
LeNet 6->16's forward about 10% slower on two threads). The backward's col2im and the layout back
stayed numpy's and `col2im_add`: a kernel for them gained 2-3%, for 0.6 s more compiling per dtype.

Other strides, with fewer taps, use the direct loops (`direct_*`), which read like the formula.
"""

from __future__ import annotations

import numpy as np

from course._jit import jit

__all__ = [
    "BLOCK",
    "COLS_BYTES",
    "GEMM_DEPTH",
    "SHORT_ROW",
    "SMALL_DEPTH",
    "SMALL_PRODUCT",
    "col2im_add",
    "columns",
    "direct_forward",
    "direct_grad_a",
    "direct_grad_w",
    "im2col",
    "images_first",
    "images_last",
    "spread_on_grid",
    "sweep_forward",
    "sweep_grad_w",
]

BLOCK = 2048  # grid points per inner sweep: a block of outputs and the inputs it reads stay in L1/L2
# Taps per output (C * KH * KW) from which the matrix products win. One thread, float64, forward +
# backward, sweeps -> products: C*KH*KW = 150 (LeNet 6->16 k5) 7.5 -> 3.7 ms and 288 (32->64 k3)
# 274 -> 113 ms, but 25 (LeNet 1->6 k5) 3.0 -> 4.0 ms and 27 (3 -> 16, 224 x 224) 7.8 -> 15.4 ms.
GEMM_DEPTH = 100
# Bytes of cols per matrix product, at most (one image at least): images go in chunks of about this, as
# many chunks as threads at least. Fewer chunks hand off fewer times. Two threads, forward / backward,
# medians taking turns in one process: LeNet 6->16 (64 images) in float32, 4 chunks of 16 images (1 MiB)
# 347 / 654 us and 358 / 638 us in two runs, 2 chunks of 32 (2 MiB) 274 / 533 and 285 / 548 us; 32->64 (32
# images of 32 x 32) in float32, chunks of 1 image 9.3 / 17.9 ms, of 2 images 8.6 / 17.2 ms. In float64,
# 2 MiB keeps the chunks of before (1 image of 32->64, 16 of LeNet 6->16); 4 MiB took 32->64 15.0 / 31.7
# and 15.8 / 32.8 ms against 15.2 / 31.4 and 14.8 / 31.5 ms. One thread gains 0-5% from 2 MiB in float32.
COLS_BYTES = 1 << 21
SHORT_ROW = 16  # grid points per row below which `spread_on_grid` zeroes an image's whole grid first
# Multiply-adds up to which OpenBLAS (0.3.31, AVX-512 kernels) runs a product with its small-matrix kernels,
# which for few rows and a shallow depth (rows * depth <= SMALL_DEPTH) are faster than its blocked ones:
# products with such operands go in blocks of columns of at most SMALL_PRODUCT multiply-adds. One thread,
# LeNet 6->16's (16, 150) @ (150, 1408), 22 images: 91 -> 69-73 us in float32 and 168 -> 132-135 us in
# float64; its backward's (150, 16) @ (16, 1408) 83 -> 76 us and 159 -> 145 us; (32, 144) @ (144, 1024),
# rows * depth 4,608, 128 -> 137 us (medians, taking turns).
SMALL_PRODUCT = 10**6
SMALL_DEPTH = 4096


@jit
def sweep_forward(flat, w, b, hp, wp, r0, c0, images_per_unit, rows_per_unit, out, t0, t1):
    """The sweep of flat by w on the Wp-wide grid, and the H x W window at (r0, c0) of each image's
    Hp x Wp grid written out:
    out[n, f, r, c] = g[f, (n*Hp + r0 + r)*Wp + c0 + c], where
    g[f, q] = b[f] + sum_{ch, j, i} flat[ch, q + j*Wp + i] * w[f, ch, j, i].

    flat (C, L), read up to (KH - 1)*Wp + KW - 1 points past the window's last grid point; w (F, C, KH,
    KW), b (F,), out (N, F, H, W). The forward's outputs take r0 = c0 = 0; the backward's dJ/dx cuts the
    padding away (r0, c0 = ph, pw). The caller cuts the windows into units: rows 0 .. H - 1 of
    `images_per_unit` images, or `rows_per_unit` rows of one image; task f * n_units + u is kernel f on
    unit u. A task sweeps the unit's grid points from its first window row's start to its last window
    row's end (the rows between two images' windows too, thrown away) into a buffer that stays in cache,
    then copies the window's rows out of it (no grid of every point written to memory and read back).

    The taps of a kernel row share passes over the buffer, five at a time, then three, then one: each
    pass loads and stores the outputs once for all its taps (five per pass instead of three: LeNet's
    5 x 5 layers 25-35% faster); the taps of a pass read one view of the channel at offsets 0..4. Inner
    loops run from 0 over views, so that LLVM sees non-negative indices and vectorises them (indexing
    from `start` instead measured 30x slower).
    """
    n_kernels, n_channels, kh, kw = w.shape
    n_images, _, h, wd = out.shape
    row_chunks = (h + rows_per_unit - 1) // rows_per_unit
    n_units = (n_images + images_per_unit - 1) // images_per_unit * row_chunks
    fives = kw - kw % 5
    threes = fives + (kw - fives) // 3 * 3
    buffer = np.empty(((images_per_unit - 1) * hp + rows_per_unit) * wp, dtype=flat.dtype)  # a unit's points
    for task in range(t0, t1):
        f, unit = task // n_units, task % n_units
        n0, r_first = unit // row_chunks * images_per_unit, unit % row_chunks * rows_per_unit
        n_end, r_end = min(n_images, n0 + images_per_unit), min(h, r_first + rows_per_unit)
        start = (n0 * hp + r0 + r_first) * wp  # the unit's first grid point
        length = ((n_end - 1 - n0) * hp + r_end - 1 - r_first) * wp + c0 + wd
        sums = buffer[:length]
        for q in range(length):
            sums[q] = b[f]
        for ch in range(n_channels):
            for j in range(kh):
                taps, line = w[f, ch, j], start + j * wp
                for i in range(0, fives, 5):
                    w0, w1, w2, w3, w4 = taps[i], taps[i + 1], taps[i + 2], taps[i + 3], taps[i + 4]
                    src = flat[ch, line + i : line + i + length + 4]
                    for q in range(length):
                        five = src[q] * w0 + src[q + 1] * w1 + src[q + 2] * w2 + src[q + 3] * w3
                        sums[q] += five + src[q + 4] * w4
                for i in range(fives, threes, 3):
                    w0, w1, w2 = taps[i], taps[i + 1], taps[i + 2]
                    src = flat[ch, line + i : line + i + length + 2]
                    for q in range(length):
                        sums[q] += src[q] * w0 + src[q + 1] * w1 + src[q + 2] * w2
                for i in range(threes, kw):
                    weight, source = taps[i], flat[ch, line + i : line + i + length]
                    for q in range(length):
                        sums[q] += source[q] * weight
        for n in range(n0, n_end):
            for r in range(r_first, r_end):
                first = ((n - n0) * hp + r - r_first) * wp + c0
                target, source = out[n, f, r], sums[first : first + wd]
                for c in range(wd):
                    target[c] = source[c]


@jit
def sweep_grad_w(flat, spread, offset, kh, kw, wp, span, grad_w, t0, t1):
    """grad_w[f, ch, j, i] = sum_{q < span} flat[ch, q + j*Wp + i] * spread[f, offset + q]; task f*C + ch.

    spread (F, L) holds delta on the same Wp-wide grid as flat, from `offset` on, and zeros wherever
    flat's grid point is not an output (c >= Wo or r >= Ho); grad_w (F, C, KH, KW).
    Blocks of BLOCK grid points stay in cache while all KH*KW taps read them; the taps of a kernel row
    share each load of delta, five at a time, then three, then one (as in `sweep_forward`).
    """
    n_channels = flat.shape[0]
    zero = flat.dtype.type(0)
    fives = kw - kw % 5
    threes = fives + (kw - fives) // 3 * 3
    for task in range(t0, t1):
        f, ch = task // n_channels, task % n_channels
        for j in range(kh):
            for i in range(kw):
                grad_w[f, ch, j, i] = zero
        for start in range(0, span, BLOCK):
            length = min(span - start, BLOCK)
            d = spread[f, offset + start : offset + start + length]
            for j in range(kh):
                sums, line = grad_w[f, ch, j], start + j * wp
                for i in range(0, fives, 5):
                    src = flat[ch, line + i : line + i + length + 4]
                    part0, part1, part2, part3, part4 = zero, zero, zero, zero, zero
                    for q in range(length):
                        part0 += src[q] * d[q]
                        part1 += src[q + 1] * d[q]
                        part2 += src[q + 2] * d[q]
                        part3 += src[q + 3] * d[q]
                        part4 += src[q + 4] * d[q]
                    sums[i] += part0
                    sums[i + 1] += part1
                    sums[i + 2] += part2
                    sums[i + 3] += part3
                    sums[i + 4] += part4
                for i in range(fives, threes, 3):
                    src = flat[ch, line + i : line + i + length + 2]
                    part0, part1, part2 = zero, zero, zero
                    for q in range(length):
                        part0 += src[q] * d[q]
                        part1 += src[q + 1] * d[q]
                        part2 += src[q + 2] * d[q]
                    sums[i] += part0
                    sums[i + 1] += part1
                    sums[i + 2] += part2
                for i in range(threes, kw):
                    source, total = flat[ch, line + i : line + i + length], zero
                    for q in range(length):
                        total += source[q] * d[q]
                    sums[i] += total


@jit
def spread_on_grid(delta, hp, wp, offset, spread, grad_b, t0, t1):
    """spread[f, offset + (n*Hp + r)*Wp + c] = delta[n, f, r, c] on the Hp x Wp grid of each image,
    zero at the grid points that are not outputs (r >= Ho or c >= Wo) and in the first `offset`
    places, and grad_b[f] = sum_{n, r, c} delta[n, f, r, c], summed in float64 on the way; task f.
    delta (N, F, Ho, Wo), spread (F, offset + N*Hp*Wp), grad_b (F,).

    A grid of rows shorter than SHORT_ROW points is zeroed whole, in one loop, before delta's rows are
    copied in: there, a loop per row for its last KW - 1 zeros costs more than the copy (one run,
    taking turns, 256 images of 8 kernels of 8 x 8: 222 -> 134 us float32, 142 -> 107 us float64).
    Longer rows are written row by row, each point once: zeroing LeNet 1->6's grids (32 x 32) first
    made that kernel faster alone but the whole float64 backward 5% slower, and zeroing first made 16
    kernels of 226 x 226 25-100% slower. The bias gradient costs little here, where delta is read
    anyway: numpy's sums over delta took 20% of that 8 x 8 layer's backward, float32, one thread.
    """
    n_images, _, ho, wo = delta.shape
    zero = spread.dtype.type(0)
    for f in range(t0, t1):
        line, total = spread[f], 0.0
        for q in range(offset):
            line[q] = zero
        for n in range(n_images):
            grid = line[offset + n * hp * wp : offset + (n + 1) * hp * wp]
            if wp < SHORT_ROW:
                for q in range(hp * wp):
                    grid[q] = zero
                for r in range(ho):
                    d, row = delta[n, f, r], grid[r * wp : r * wp + wo]
                    for c in range(wo):
                        row[c] = d[c]
                        total += d[c]
            else:
                for r in range(hp):
                    row = grid[r * wp : (r + 1) * wp]
                    if r < ho:
                        d = delta[n, f, r]
                        for c in range(wo):
                            row[c] = d[c]
                            total += d[c]
                        for c in range(wo, wp):
                            row[c] = zero
                    else:
                        for c in range(wp):
                            row[c] = zero
        grad_b[f] = total


@jit
def direct_forward(a, w, b, sh, sw, z, t0, t1):
    """z[n, f, r, c] = b[f] + sum_{ch, j, i} a[n, ch, r*sh + j, c*sw + i] * w[f, ch, j, i]; task n*F + f."""
    n_kernels, n_channels, kh, kw = w.shape
    ho, wo = z.shape[2], z.shape[3]
    for task in range(t0, t1):
        n, f = task // n_kernels, task % n_kernels
        out = z[n, f]
        for r in range(ho):
            for c in range(wo):
                out[r, c] = b[f]
        for ch in range(n_channels):
            for j in range(kh):
                for i in range(kw):
                    weight = w[f, ch, j, i]
                    for r in range(ho):
                        row = a[n, ch, r * sh + j]
                        for c in range(wo):
                            out[r, c] += row[c * sw + i] * weight


@jit
def direct_grad_a(delta, w, sh, sw, grad_a, t0, t1):
    """grad_a[n, ch, r*sh + j, c*sw + i] += w[f, ch, j, i] * delta[n, f, r, c]; task n*C + ch.

    grad_a (N, C, Hp, Wp) must start at zero.
    """
    n_kernels, n_channels, kh, kw = w.shape
    ho, wo = delta.shape[2], delta.shape[3]
    for task in range(t0, t1):
        n, ch = task // n_channels, task % n_channels
        out = grad_a[n, ch]
        for f in range(n_kernels):
            for j in range(kh):
                for i in range(kw):
                    weight = w[f, ch, j, i]
                    for r in range(ho):
                        d = delta[n, f, r]
                        row = out[r * sh + j]
                        for c in range(wo):
                            row[c * sw + i] += d[c] * weight


@jit
def direct_grad_w(delta, a, sh, sw, grad_w, t0, t1):
    """grad_w[f, ch, j, i] = sum_{n, r, c} a[n, ch, r*sh + j, c*sw + i] * delta[n, f, r, c]; task f*C + ch."""
    n_images, _, ho, wo = delta.shape
    n_kernels, n_channels, kh, kw = grad_w.shape
    zero = a.dtype.type(0)
    for task in range(t0, t1):
        f, ch = task // n_channels, task % n_channels
        for j in range(kh):
            for i in range(kw):
                total = zero
                for n in range(n_images):
                    for r in range(ho):
                        row, d = a[n, ch, r * sh + j], delta[n, f, r]
                        for c in range(wo):
                            total += row[c * sw + i] * d[c]
                grad_w[f, ch, j, i] = total


@jit
def im2col(at, kh, kw, sh, sw, cols):
    """cols[(ch*KH + j)*KW + i, (r*Wo + c)*n + m] = at[ch, r*sh + j, c*sw + i, m].

    at (C, Hp, Wp, n): n padded images with the image index last, cols (C*KH*KW, Ho*Wo*n): one row per
    tap, one column per output, the n images' outputs side by side; Ho = cols.shape[1] // (Wo * n) and
    Wo = (Wp - KW) // sw + 1. With the images last, a stride-1 tap copies Wo * n consecutive elements
    per output row, a loop long enough to vectorise even for 8 x 8 outputs (image-first columns copied
    runs of Wo, mostly in scalar remainder loops).
    """
    n_channels, hp, wp, n_images = at.shape
    wo = (wp - kw) // sw + 1
    ho = cols.shape[1] // (wo * n_images)
    run = wo * n_images if sw == 1 else n_images  # consecutive elements per copy
    source = at.reshape(at.size)
    for ch in range(n_channels):
        for j in range(kh):
            for i in range(kw):
                tap = cols[(ch * kh + j) * kw + i]
                for r in range(ho):
                    line = (ch * hp + r * sh + j) * wp
                    for c in range(0, wo, wo if sw == 1 else 1):
                        start = (line + c * sw + i) * n_images
                        piece = source[start : start + run]
                        target = tap[(r * wo + c) * n_images : (r * wo + c) * n_images + run]
                        for k in range(run):
                            target[k] = piece[k]


@jit
def col2im_add(grad_cols, kh, kw, sh, sw, grad_at):
    """grad_at[ch, r*sh + j, c*sw + i, m] += grad_cols[(ch*KH + j)*KW + i, (r*Wo + c)*n + m], in place.

    The adjoint of `im2col`: each tap's gradient goes back to the input pixel it read. grad_at (C, Hp,
    Wp, n) with the image index last, grad_cols (C*KH*KW, Ho*Wo*n); runs of Wo * n (stride 1) or n
    consecutive elements, as in `im2col`.
    """
    n_channels, hp, wp, n_images = grad_at.shape
    wo = (wp - kw) // sw + 1
    ho = grad_cols.shape[1] // (wo * n_images)
    run = wo * n_images if sw == 1 else n_images
    target = grad_at.reshape(grad_at.size)
    for ch in range(n_channels):
        for j in range(kh):
            for i in range(kw):
                tap = grad_cols[(ch * kh + j) * kw + i]
                for r in range(ho):
                    line = (ch * hp + r * sh + j) * wp
                    for c in range(0, wo, wo if sw == 1 else 1):
                        start = (line + c * sw + i) * n_images
                        piece = tap[(r * wo + c) * n_images : (r * wo + c) * n_images + run]
                        added = target[start : start + run]
                        for k in range(run):
                            added[k] += piece[k]


@jit
def images_last(x, n0, ph, pw, at):
    """at[ch, ph + r, pw + c, m] = x[n0 + m, ch, r, c], zero in the padding: the n images of x
    (N, C, H, W) from image n0 on, padded and laid out image-last in at (C, H + 2*ph, W + 2*pw, n), as
    `im2col` reads them (and delta (N, F, Ho, Wo), unpadded, for the backward's products). With padding,
    all of at is zeroed first in one flat loop; each row of an image is then copied into a view of at
    with a step of n, which LLVM vectorises when n = 1 (the chunks of large layers): 32 channels of
    32 x 32, padded by 1, float32, 83 -> 31 us against the element-wise loops (an explicit n = 1 branch
    took 40% less time again, but doubled this kernel's compile time)."""
    n_channels, hp, wp, n_images = at.shape
    h, w = hp - 2 * ph, wp - 2 * pw
    if ph or pw:
        flat, zero = at.reshape(at.size), at.dtype.type(0)
        for k in range(at.size):
            flat[k] = zero
    for m in range(n_images):  # each image's rows read in order
        for ch in range(n_channels):
            for r in range(h):
                row, target = x[n0 + m, ch, r], at[ch, ph + r, pw : pw + w, m]
                for c in range(w):
                    target[c] = row[c]


@jit
def columns(x, n0, ph, pw, kh, kw, sh, sw, at, cols):
    """`images_last` then `im2col`: the columns cols (C*KH*KW, Ho*Wo*n) of the n images of x from
    image n0 on, through the image-last layout at (C, Hp, Wp, n). One call, so that a thread crosses
    the GIL once for both (each crossing cost tens of microseconds when the other thread held it)."""
    images_last(x, n0, ph, pw, at)
    im2col(at, kh, kw, sh, sw, cols)


@jit
def images_first(zt, bias, n0, z):
    """z[n0 + m, f, r, c] = zt[f, (r*Wo + c)*n + m] + bias[f]: a chunk's products zt (F, Ho*Wo*n), laid
    out image-last, put back into z (N, F, Ho, Wo) from image n0 on, with the bias added on the way.
    Each image's plane reads a view of zt's row with a step of n, which LLVM vectorises when n = 1
    (64 kernels of 32 x 32, float32: 72 -> 23 us; 16 kernels of 8 x 8 in chunks of 16 images, 35 ->
    29 us; one run, taking turns with the element-wise loop)."""
    _, n_kernels, ho, wo = z.shape
    n_images = zt.shape[1] // (ho * wo)
    for m in range(n_images):
        for f in range(n_kernels):
            b, source, target = bias[f], zt[f, m::n_images], z[n0 + m, f].reshape(ho * wo)
            for q in range(ho * wo):
                target[q] = source[q] + b
