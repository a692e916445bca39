"""Convolution, pooling and ReLU, forward and backward: the course's public ops, in PyTorch's conventions.

Shapes (one glossary everywhere): N batch, C input channels, H, W height and width, F output channels
(kernels), KH, KW kernel size. Activations are NCHW, weights (F, C, KH, KW). For a kernel of size
KH x KW, stride (sh, sw) and zero padding (ph, pw) on each side, the output has

    Ho = (H + 2*ph - KH) // sh + 1,    Wo = (W + 2*pw - KW) // sw + 1.

Convolution is the lecture's cross-correlation (the kernel is not flipped), as in PyTorch:

    z[n, f, r, c] = b[f] + sum_{ch, j, i} a[n, ch, r*sh + j, c*sw + i] * w[f, ch, j, i]

where a is x padded with zeros. Every function checks its arguments and raises a `TypeError` or
`ValueError` that names the argument; outputs have the input's dtype (float32 or float64), never alias
an input, and inputs are never modified. `course.naive` holds the readable loops these functions are
tested against. Layering: functional imports `_args`, `_blas`, `_jit`, `_scratch` and `kernels`, never
the layers above it.

Which kernel runs: layers with many taps per output (C * KH * KW >= GEMM_DEPTH) are im2col matrix
products, in chunks of images shared among threads, with numpy's BLAS kept on one thread (a BLAS thread
team woken for these small products stalls whenever another process holds a core); stride-1 layers
with few taps are flat sweeps (see `course.kernels.conv`); other strides the direct loops. The backward
of a sweep layer reuses the forward sweep: dJ/da is delta, shifted by the kernel's reach, correlated
with the flipped kernels, channels and kernels swapped.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from course import _args
from course._blas import single_threaded_blas
from course._jit import parallel_for, run_pair, threads_for
from course._scratch import scratch
from course.kernels import activation as _activation
from course.kernels import conv as _conv
from course.kernels import pool as _pool

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "relu",
    "relu_backward",
]


def conv2d(x, w, b=None, stride=1, padding=0) -> np.ndarray:
    """Cross-correlate x (N, C, H, W) with kernels w (F, C, KH, KW), add bias b (F,) or None.

    stride and padding take an int or an (h, w) pair; padding adds that many zeros on both sides (any
    padding >= 0, as in PyTorch: outputs that see only zeros are the bias). Returns z (N, F, Ho, Wo);
    an empty batch (N = 0) gives an empty z, as in PyTorch.
    """
    x, w, b, stride, padding, shape = _args.conv_args("conv2d", x, w, b, stride, padding)
    if shape[0] == 0:  # an empty batch, as PyTorch takes it: the kernels are never called without images
        return np.empty(shape, dtype=x.dtype)
    bias = np.zeros(w.shape[0], dtype=x.dtype) if b is None else np.ascontiguousarray(b)
    w = np.ascontiguousarray(w)
    work = _conv_work(shape, w.shape)
    if _uses_gemm(w):
        return _forward_gemm(x, w, bias, stride, padding, shape, work)
    if stride == (1, 1):
        return _sweep(x, w, bias, padding, shape[2:], work)
    a = _padded(x, padding)
    z = np.empty(shape, dtype=x.dtype)
    parallel_for(_conv.direct_forward, shape[0] * shape[1], work, a, w, bias, *stride, z)
    return z


def conv2d_backward(grad_out, x, w, stride=1, padding=0, *, input_grad=True):
    """Gradients of a scalar J through `conv2d(x, w, b, stride, padding)`, given grad_out = dJ/dz.

    Returns (grad_x, grad_w, grad_b) with the shapes of x (N, C, H, W), w (F, C, KH, KW) and b (F,):
      grad_w[f, ch, j, i] = sum_{n, r, c} a[n, ch, r*sh + j, c*sw + i] * grad_out[n, f, r, c]
          (the padded input correlated with delta: a convolution again);
      grad_x = delta spread back through the kernel (for stride 1, the full convolution of delta with
          the flipped kernel), with the padding cut away;
      grad_b[f] = sum_{n, r, c} grad_out[n, f, r, c].
    With input_grad=False, grad_x is None and not computed, as PyTorch skips the gradient of an input
    that needs none (a network's first layer, whose input is the data): about half the work. An empty
    batch (N = 0) gives an empty grad_x and zero grad_w and grad_b, as in PyTorch.
    """
    x, w, _, stride, padding, expected = _args.conv_args("conv2d_backward", x, w, None, stride, padding)
    input_grad = _args.flag("conv2d_backward", "input_grad", input_grad)
    delta = np.ascontiguousarray(
        _args.grad_out_array("conv2d_backward", grad_out, x, expected, "(N, F, Ho, Wo)")
    )
    if expected[0] == 0:  # an empty batch: no input gradient, and nothing added to those of w and b
        grad_x = np.empty(x.shape, dtype=x.dtype) if input_grad else None
        return grad_x, np.zeros(w.shape, dtype=x.dtype), np.zeros(w.shape[0], dtype=x.dtype)
    w = np.ascontiguousarray(w)
    work = _conv_work(expected, w.shape)
    if _uses_gemm(w):
        return _backward_gemm(delta, x, w, stride, padding, work, input_grad)  # grad_b taken alongside
    if stride == (1, 1):
        return _backward_sweep(delta, x, w, padding, work, input_grad)  # grad_b taken alongside
    grad_x, grad_w = _backward_direct(delta, x, w, stride, padding, work, input_grad)
    return grad_x, grad_w, _bias_grad(delta)


def max_pool2d(x, kernel_size, stride=None) -> np.ndarray:
    """The maximum of each KH x KW window of x (N, C, H, W); stride defaults to kernel_size. A window
    with a NaN has the maximum NaN, as in numpy and PyTorch.

    Returns (N, C, Ho, Wo) with Ho = (H - KH) // sh + 1, Wo = (W - KW) // sw + 1.
    """
    x, kernel, stride = _args.pool_args("max_pool2d", x, kernel_size, stride)
    y = np.empty(_args.pool_output_shape(x.shape, kernel, stride), dtype=x.dtype)
    x, work = np.ascontiguousarray(x), _pool_work(y.shape, kernel)
    if kernel == stride == (2, 2):
        parallel_for(_pool.max_pool2x2_forward, _planes(x), work, x, y)
    else:
        parallel_for(_pool.max_pool2d_forward, _planes(x), work, x, *kernel, *stride, y)
    return y


def max_pool2d_backward(grad_out, x, kernel_size, stride=None) -> np.ndarray:
    """dJ/dx through `max_pool2d`: each window's gradient goes to its maximum (the first one on ties,
    as PyTorch; the first NaN in a window with NaNs, where PyTorch takes the last) and is added there,
    so windows that overlap accumulate. Returns (N, C, H, W)."""
    x, kernel, stride = _args.pool_args("max_pool2d_backward", x, kernel_size, stride)
    expected = _args.pool_output_shape(x.shape, kernel, stride)
    delta = _args.grad_out_array("max_pool2d_backward", grad_out, x, expected, "(N, C, Ho, Wo)")
    x, delta = np.ascontiguousarray(x), np.ascontiguousarray(delta)
    work = _pool_work(expected, kernel)
    if kernel == stride == (2, 2):
        grad_x = np.empty_like(x)  # every element written
        backward = _pool.max_pool2x2_backward_kernel(x.dtype)  # by dtype: the faster one here
        parallel_for(backward, _planes(x), work, delta, x, grad_x)
    else:
        grad_x = np.zeros_like(x)
        parallel_for(_pool.max_pool2d_backward, _planes(x), work, delta, x, *kernel, *stride, grad_x)
    return grad_x


def avg_pool2d(x, kernel_size, stride=None) -> np.ndarray:
    """The mean of each KH x KW window of x (N, C, H, W); stride defaults to kernel_size.

    Returns (N, C, Ho, Wo) with Ho = (H - KH) // sh + 1, Wo = (W - KW) // sw + 1.
    """
    x, kernel, stride = _args.pool_args("avg_pool2d", x, kernel_size, stride)
    y = np.empty(_args.pool_output_shape(x.shape, kernel, stride), dtype=x.dtype)
    x = np.ascontiguousarray(x)
    parallel_for(_pool.avg_pool2d_forward, _planes(x), _pool_work(y.shape, kernel), x, *kernel, *stride, y)
    return y


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None) -> np.ndarray:
    """dJ/dx through `avg_pool2d`: each window's gradient, divided by KH * KW, is added to each of its
    inputs. Returns (N, C, H, W)."""
    x, kernel, stride = _args.pool_args("avg_pool2d_backward", x, kernel_size, stride)
    expected = _args.pool_output_shape(x.shape, kernel, stride)
    delta = np.ascontiguousarray(
        _args.grad_out_array("avg_pool2d_backward", grad_out, x, expected, "(N, C, Ho, Wo)")
    )
    grad_x = np.zeros(x.shape, dtype=x.dtype)
    work = _pool_work(expected, kernel)
    parallel_for(_pool.avg_pool2d_backward, _planes(x), work, delta, *kernel, *stride, grad_x)
    return grad_x


def relu(x) -> np.ndarray:
    """max(x, 0) element by element, for x of any shape; a NaN stays NaN and -0.0 stays -0.0, as in
    torch.relu. Returns an array of x's shape and dtype."""
    x = _args.float_array("relu", "x", x, None, "(any shape)")
    y = np.empty(x.shape, dtype=x.dtype)
    flat = np.ascontiguousarray(x).reshape(-1)
    parallel_for(_activation.relu_forward, flat.size, flat.size, flat, y.reshape(-1))
    return y


def relu_backward(grad_out, x) -> np.ndarray:
    """dJ/dx through `relu(x)`, given grad_out = dJ/dy of x's shape: 0 where x <= 0, else grad_out
    (also where x is NaN, which relu passes on: as PyTorch). Returns an array of x's shape and dtype."""
    x = _args.float_array("relu_backward", "x", x, None, "(any shape)")
    delta = _args.grad_out_array("relu_backward", grad_out, x, x.shape, "(the shape of x)")
    flat, delta = np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(delta).reshape(-1)
    grad_x = np.empty(x.shape, dtype=x.dtype)
    parallel_for(_activation.relu_backward, flat.size, flat.size, delta, flat, grad_x.reshape(-1))
    return grad_x


def _sweep(x: np.ndarray, w: np.ndarray, bias: np.ndarray, padding, out_size, work: int) -> np.ndarray:
    """Stride-1 conv2d of x (N, C, H, W) by the flat sweeps. Returns (N, F, Ho, Wo)."""
    (n, c), (ho, wo), n_kernels = x.shape[:2], out_size, w.shape[0]
    flat = _channels_first(x, padding)
    hp, wp = flat.shape[2:]
    z = np.empty((n, n_kernels, ho, wo), dtype=x.dtype)
    _sweep_into(flat.reshape(c, -1), w, bias, hp, wp, 0, 0, z, work)
    return z


def _sweep_into(flat, w, bias, hp: int, wp: int, r0: int, c0: int, out: np.ndarray, work: int) -> None:
    """`sweep_forward` of flat (C, L) by w (F, C, KH, KW) on the Hp x Wp grid of each image, its H x W
    window at (r0, c0) written into out (N, F, H, W). The windows are cut into units whose grid points
    fill about BLOCK: whole images together when an image's grid holds at most BLOCK points, else a few
    rows of one image; one task per kernel and unit."""
    n, _, h, _ = out.shape
    images_per_unit = max(1, _conv.BLOCK // (hp * wp))
    rows_per_unit = h if images_per_unit > 1 else max(1, min(h, _conv.BLOCK // wp))
    n_units = -(-n // images_per_unit) * -(-h // rows_per_unit)
    tiling = (images_per_unit, rows_per_unit)
    parallel_for(_conv.sweep_forward, w.shape[0] * n_units, work, flat, w, bias, hp, wp, r0, c0, *tiling, out)


def _backward_sweep(delta: np.ndarray, x: np.ndarray, w: np.ndarray, padding, work: int, input_grad: bool):
    """Stride-1 gradients by the flat sweeps, on the forward's grid of Hp x Wp points per image.
    delta (N, F, Ho, Wo), x (N, C, H, W). Returns (grad_x, grad_w, grad_b), grad_x None unless input_grad.

    `flat` is the padded input a, channels first, as in the forward; `spread` holds delta on the same
    grid, (F, N*Hp*Wp), zero where c >= Wo or r >= Ho, after `offset` = (KH - 1)*Wp + KW - 1 zeros. Then
      grad_w[f, ch, j, i] = sum_q flat[ch, q + j*Wp + i] * spread[f, offset + q]
    (`sweep_grad_w`), and grad_a[n, ch, p, q] = sum_{f, j, i} delta[n, f, p - j, q - i] * w[f, ch, j, i]
    is the forward sweep of spread by the flipped kernels w[:, :, ::-1, ::-1] with channels and kernels
    swapped (C, F, KH, KW): the full convolution, of which the padding is cut away. A tap that reaches
    left of column 0 (q - i < 0) or above row 0 lands, on the flat grid, in the previous row's columns
    >= Wo or the previous image's rows >= Ho (Wp - Wo = KW - 1, Hp - Ho = KH - 1), which hold zeros.
    The two sweeps share no output and run at once (`run_pair`); `work` counts one of them. Before
    them the layout of spread sums grad_b on the way: numpy's own sums over delta, beside it, had cost
    the bench's 1->8 layer on 8 x 8 images 12% of its backward (0.313 -> 0.275 ms, float32, one
    thread). The layout runs as two halves of the kernels at once only when both sweeps follow: the
    weights' sweep alone runs on this thread, and reads the half of spread left in the other core's
    cache more slowly (LeNet 1->6 at batch 32, float32, two threads: 0.24 -> 0.19 ms laid out here
    alone; with both sweeps, the two halves and one differ by less than 5% either way; medians,
    taking turns).
    """
    (n, c, h, wd), (n_kernels, _, kh, kw), (ph, pw) = x.shape, w.shape, padding
    ho, wo = delta.shape[2:]
    hp, wp = h + 2 * ph, wd + 2 * pw
    offset = (kh - 1) * wp + kw - 1
    spread = scratch("spread", (n_kernels, offset + n * hp * wp), x.dtype)
    grad_b = np.empty(n_kernels, dtype=x.dtype)

    def lay_out(f0: int, f1: int) -> Callable[[], None]:
        return lambda: _conv.spread_on_grid(delta, hp, wp, offset, spread, grad_b, f0, f1)

    if input_grad:
        run_pair(lay_out(0, n_kernels // 2), lay_out(n_kernels // 2, n_kernels), 2 * work)
    else:
        lay_out(0, n_kernels)()
    flat = _channels_first(x, padding).reshape(c, -1)
    grad_w = np.empty_like(w)

    def weights() -> None:
        span = (n - 1) * hp * wp + (ho - 1) * wp + wo
        parallel_for(_conv.sweep_grad_w, n_kernels * c, work, flat, spread, offset, kh, kw, wp, span, grad_w)

    if not input_grad:
        weights()
        return None, grad_w, grad_b
    grad_x = np.empty(x.shape, dtype=x.dtype)
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))

    def inputs() -> None:
        _sweep_into(spread, flipped, np.zeros(c, dtype=x.dtype), hp, wp, ph, pw, grad_x, work)

    run_pair(weights, inputs, 2 * work)
    return grad_x, grad_w, grad_b


def _forward_gemm(x, w, bias, stride, padding, shape, work: int) -> np.ndarray:
    """conv2d as matrix products, a few images at a time (`_chunks`), the chunks shared among threads:
    for a chunk of n images, `columns` lays them out (padded, image-last) as im2col (C*KH*KW, Ho*Wo*n),
    z (F, Ho*Wo*n) = w (F, C*KH*KW) @ im2col, and `images_first` puts z back image-first, plus b. Each
    step is one call that releases the GIL. Returns z (N, F, Ho, Wo)."""
    n_kernels, (ho, wo) = w.shape[0], shape[2:]
    x, w2 = np.ascontiguousarray(x), w.reshape(n_kernels, -1)
    z = np.empty(shape, dtype=x.dtype)
    chunks = _chunks(x.shape[0], w2.shape[1], ho * wo, x.itemsize, work)

    def run(t0: int, t1: int) -> None:
        for n0, n1 in chunks[t0:t1]:
            _, cols = _chunk_columns(x, n0, n1, w.shape, stride, padding, ho * wo)
            zt = _product(w2, cols, scratch("z", (n_kernels, cols.shape[1]), x.dtype))
            _conv.images_first(zt, bias, n0, z)

    with single_threaded_blas():
        parallel_for(run, len(chunks), work)
    return z


def _backward_gemm(delta, x, w, stride, padding, work: int, input_grad: bool):
    """conv2d_backward as matrix products, a few images at a time laid out image-last as in
    `_forward_gemm`, with d = delta (F, Ho*Wo*n):

    [grad_w; grad_b] (C*KH*KW + 1, F) = sum over the chunks of [cols; 1] @ d.T   (the input correlated
        with delta, then transposed to (F, C, KH, KW); OpenBLAS takes this orientation in 0.11 ms where
        d @ cols.T takes 0.20 ms on LeNet's 6->16 layer, float32, 22 images, one thread). The row of
        ones under the columns sums delta over each chunk's outputs within the same product: backwards
        2-4% faster on two threads, 0-3% on one, than with numpy's sums over delta after the threads
        (LeNet 6->16 and 32->64, float32 and float64; medians, taking turns), and as accurate as grad_w
        (relative errors 1.4e-7 to 2e-7 in float32, 3.2e-7 to 4e-7 for grad_w);
    grad_x = col2im(w.T @ d)   (each output's delta spread back through the kernel to the pixels it
        read, `col2im_add`), with the padding cut away; only when input_grad. w.T is laid out once,
        C-contiguous: OpenBLAS took (288, 64) @ (64, 1,024) 2-6% faster from it than from the view.
    Each chunk's sums are kept apart and added in chunk order, so results do not depend on which
    thread ran which chunk. `work` counts the forward's multiply-adds, those of each product. Returns
    (grad_x or None, grad_w, grad_b) shaped like x, w and (F,).
    """
    _, n_kernels, ho, wo = delta.shape
    (kh, kw), (ph, pw), (h, wd) = w.shape[2:], padding, x.shape[2:]
    x, w2 = np.ascontiguousarray(x), w.reshape(n_kernels, -1)
    taps = w2.shape[1]
    w2t = np.ascontiguousarray(w2.T) if input_grad else None
    grad_x = np.empty_like(x) if input_grad else None
    work *= 2 if input_grad else 1  # the products the threads share
    chunks = _chunks(x.shape[0], taps, ho * wo, x.itemsize, work)
    sums = np.empty((len(chunks), taps + 1, n_kernels), dtype=x.dtype)  # each chunk's [grad_w; grad_b]

    def run(t0: int, t1: int) -> None:
        for k in range(t0, t1):
            n0, n1 = chunks[k]
            at, cols = _chunk_columns(x, n0, n1, w.shape, stride, padding, ho * wo, ones=True)
            if n1 == n0 + 1:  # one image is image-last already: 4.4 of 52 ms on 32->64, one thread
                d = delta[n0].reshape(n_kernels, -1)
            else:
                d = scratch("delta", (n_kernels, ho, wo, n1 - n0), x.dtype)
                _conv.images_last(delta, n0, 0, 0, d)
                d = d.reshape(n_kernels, -1)  # (F, Ho*Wo*n)
            np.matmul(cols, d.T, out=sums[k])
            if not input_grad:
                continue
            grad_cols = _product(w2t, d, cols[:taps])  # cols, read, lends its buffer, still in cache
            at.fill(0)  # the chunk's padded layout again, now for grad_at
            _conv.col2im_add(grad_cols, kh, kw, *stride, at)
            grad_x[n0:n1] = at[:, ph : ph + h, pw : pw + wd].transpose(3, 0, 1, 2)

    with single_threaded_blas():
        parallel_for(run, len(chunks), work)
    total = sums.sum(axis=0)
    return grad_x, total[:taps].T.reshape(w.shape), total[taps].copy()


def _backward_direct(delta, x, w, stride, padding, work: int, input_grad: bool):
    """conv2d_backward by the direct loops (`direct_grad_a` and `direct_grad_w`) on the padded input,
    the padding then cut away from dJ/da. Returns (grad_x or None, grad_w) shaped like x and w."""
    a = _padded(x, padding)
    grad_w = np.empty_like(w)
    parallel_for(_conv.direct_grad_w, w.shape[0] * w.shape[1], work, delta, a, *stride, grad_w)
    if not input_grad:
        return None, grad_w
    grad_a = np.zeros_like(a)
    parallel_for(_conv.direct_grad_a, a.shape[0] * a.shape[1], work, delta, w, *stride, grad_a)
    (ph, pw), (h, wd) = padding, x.shape[2:]
    return np.ascontiguousarray(grad_a[:, :, ph : ph + h, pw : pw + wd]), grad_w


def _bias_grad(delta: np.ndarray) -> np.ndarray:
    """grad_b[f] = sum_{n, r, c} delta[n, f, r, c], in delta's dtype: each image's planes summed in
    their own dtype (pairwise: numpy's contiguous sums), then the images in float64; 2-4x faster than
    one float64 sum over axes (0, 2, 3), which converts every element."""
    planes = delta.reshape(delta.shape[0], delta.shape[1], -1).sum(axis=2)
    return planes.sum(axis=0, dtype=np.float64).astype(delta.dtype)


def _chunk_columns(x, n0: int, n1: int, w_shape, stride, padding, outputs: int, *, ones: bool = False):
    """Images n0 .. n1 - 1 of x (N, C, H, W), C-contiguous, through `columns`: returns at (C, Hp, Wp, n),
    the n images padded and laid out image-last, and their im2col cols (C*KH*KW, outputs * n), both in
    the calling thread's scratch slots "images_last" and "cols"; `outputs` is Ho * Wo. With `ones`,
    cols has one more row, of ones, under the columns (C*KH*KW + 1, outputs * n)."""
    (_, c, kh, kw), (ph, pw) = w_shape, padding
    taps = c * kh * kw
    at = scratch("images_last", (c, x.shape[2] + 2 * ph, x.shape[3] + 2 * pw, n1 - n0), x.dtype)
    cols = scratch("cols", (taps + 1 if ones else taps, outputs * (n1 - n0)), x.dtype)
    _conv.columns(x, n0, ph, pw, kh, kw, *stride, at, cols[:taps])
    if ones:
        cols[taps] = 1
    return at, cols


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b, a (M, K), b (K, P), out (M, P); in blocks of columns of at most SMALL_PRODUCT
    multiply-adds when M * K <= SMALL_DEPTH, which OpenBLAS's small-matrix kernels take faster than one
    product (see `course.kernels.conv`). A block holds a multiple of 16 columns, so that every block of
    a 64-byte aligned scratch array starts on a 64-byte boundary too (`course._scratch`). Returns out."""
    rows, depth = a.shape
    if rows * depth > _conv.SMALL_DEPTH:
        return np.matmul(a, b, out=out)
    step = max(16, _conv.SMALL_PRODUCT // (rows * depth) // 16 * 16)
    for c0 in range(0, b.shape[1], step):
        np.matmul(a, b[:, c0 : c0 + step], out=out[:, c0 : c0 + step])
    return out


def _chunks(n_images: int, taps: int, outputs: int, itemsize: int, work: int) -> list[tuple[int, int]]:
    """Image ranges [n0, n1) of `step` images each (the last one may be shorter) whose cols (taps,
    step * outputs) of `itemsize`-byte elements hold at most COLS_BYTES (one image at least): as few as
    that allows, but as many as threads at least (`parallel_for` shares them out), and a multiple of
    the threads unless only ranges of one image are, so that no thread waits for the last one alone.
    Equal ranges: 32->64's 32 images in float32 took 4-5% longer in 18 ranges of 1 or 2 images than in
    16 of 2 (two threads, medians taking turns)."""
    per_image = taps * outputs * itemsize
    n_chunks = min(n_images, max(1, -(-n_images * per_image // _conv.COLS_BYTES)))
    threads = threads_for(work)
    n_chunks = min(n_images, -(-n_chunks // threads) * threads)
    step = -(-n_images // n_chunks)
    while step > 1 and -(-n_images // step) % threads:
        step -= 1
    return [(n0, min(n_images, n0 + step)) for n0 in range(0, n_images, step)]


def _channels_first(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """x (N, C, H, W) padded with zeros on both sides and laid out (C, N, Hp, Wp), C-contiguous, in
    the calling thread's scratch slot "channels_first" (or a view of x, which the kernels only read)."""
    (n, c, h, w), (ph, pw) = x.shape, padding
    if c == 1 and not (ph or pw) and x.flags.c_contiguous:
        return x.reshape(1, n, h, w)  # already in that order: a view
    flat = scratch("channels_first", (c, n, h + 2 * ph, w + 2 * pw), x.dtype)
    if ph or pw:
        flat.fill(0)
    flat[:, :, ph : ph + h, pw : pw + w] = x.transpose(1, 0, 2, 3)
    return flat


def _padded(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """x with zeros added on both sides, as a C-contiguous array for the kernels to read."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return np.ascontiguousarray(x)
    n, c, h, w = x.shape
    a = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    a[:, :, ph : ph + h, pw : pw + w] = x
    return a


def _uses_gemm(w: np.ndarray) -> bool:
    """Matrix products (im2col + BLAS) for kernels with at least GEMM_DEPTH taps, C * KH * KW."""
    return w.shape[1] * w.shape[2] * w.shape[3] >= _conv.GEMM_DEPTH


def _conv_work(out_shape, w_shape) -> int:
    """Multiply-adds of one convolution: N * F * Ho * Wo * C * KH * KW."""
    return math.prod(out_shape) * math.prod(w_shape[1:])


def _pool_work(out_shape, kernel) -> int:
    """Inputs read by one pooling: N * C * Ho * Wo * KH * KW."""
    return math.prod(out_shape) * kernel[0] * kernel[1]


def _planes(x: np.ndarray) -> int:
    """The pooling kernels' tasks: one per (image, channel) plane, N * C."""
    return x.shape[0] * x.shape[1]
