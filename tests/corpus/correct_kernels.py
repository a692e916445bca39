"""Correct implementations of the six kernel exercises, written the different ways students write them:
explicit loops, im2col / einsum, FFT, the lecture's dilated full convolution, accumulation in float32.
Every one must get full marks, hidden cases included. Written independently of course.functional."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pair(value):
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _pad(x, ph, pw):
    a = np.zeros((*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    a[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return a


def _out(size, k, s, p=0):
    return (size + 2 * p - k) // s + 1


# conv2d ------------------------------------------------------------------------------------------


def conv2d_loops(x, w, b=None, stride=1, padding=0):
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    a = _pad(x, ph, pw)
    n_images, f_out, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    ho, wo = _out(x.shape[2], kh, sh, ph), _out(x.shape[3], kw, sw, pw)
    z = np.zeros((n_images, f_out, ho, wo), dtype=x.dtype)
    for n in range(n_images):
        for f in range(f_out):
            for r in range(ho):
                for c in range(wo):
                    z[n, f, r, c] = np.sum(a[n, :, r * sh : r * sh + kh, c * sw : c * sw + kw] * w[f])
                    if b is not None:
                        z[n, f, r, c] += b[f]
    return z


def conv2d_im2col(x, w, b=None, stride=1, padding=0):
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    a = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    f_out, c_in, kh, kw = w.shape
    windows = sliding_window_view(a, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # N, C, Ho, Wo, KH, KW
    n, _, ho, wo = windows.shape[:4]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c_in * kh * kw)
    z = (cols @ w.reshape(f_out, -1).T).reshape(n, ho, wo, f_out).transpose(0, 3, 1, 2)
    if b is not None:
        z = z + b[None, :, None, None]
    return np.ascontiguousarray(z, dtype=x.dtype)


def conv2d_fft(x, w, b=None, stride=1, padding=0):
    """Correlation = convolution with the flipped kernel, done as a product of 2-D Fourier transforms."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    a = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = w.shape[2:]
    hp, wp = a.shape[2:]
    shape = (hp + kh - 1, wp + kw - 1)
    spectrum_a = np.fft.rfft2(a, shape)[:, None]  # N, 1, C, ...
    spectrum_w = np.fft.rfft2(w[:, :, ::-1, ::-1].astype(np.float64), shape)[None]  # 1, F, C, ...
    full = np.fft.irfft2((spectrum_a * spectrum_w).sum(axis=2), shape)
    z = full[:, :, kh - 1 : hp, kw - 1 : wp][:, :, ::sh, ::sw]
    if b is not None:
        z = z + b[None, :, None, None]
    return z.astype(x.dtype)


def conv2d_float32_accumulate(x, w, b=None, stride=1, padding=0):
    """Shifted sums, accumulated in the input's dtype (float32 stays float32 all the way)."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    a = _pad(x, ph, pw)
    _, c_in, kh, kw = w.shape
    ho, wo = _out(x.shape[2], kh, sh, ph), _out(x.shape[3], kw, sw, pw)
    z = np.zeros((x.shape[0], w.shape[0], ho, wo), dtype=x.dtype)
    for ch in range(c_in):
        for j in range(kh):
            for i in range(kw):
                patch = a[:, ch, j : j + (ho - 1) * sh + 1 : sh, i : i + (wo - 1) * sw + 1 : sw]
                z += patch[:, None] * w[None, :, ch, j, i, None, None]
    if b is not None:
        z += b[None, :, None, None]
    return z


# pooling -----------------------------------------------------------------------------------------


def max_pool2d_loops(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    ho, wo = _out(x.shape[2], kh, sh), _out(x.shape[3], kw, sw)
    y = np.empty((*x.shape[:2], ho, wo), dtype=x.dtype)
    for r in range(ho):
        for c in range(wo):
            y[:, :, r, c] = x[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw].max(axis=(2, 3))
    return y


def max_pool2d_windows(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw].max(axis=(4, 5))


def avg_pool2d_loops(x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    ho, wo = _out(x.shape[2], kh, sh), _out(x.shape[3], kw, sw)
    y = np.empty((*x.shape[:2], ho, wo), dtype=x.dtype)
    for r in range(ho):
        for c in range(wo):
            y[:, :, r, c] = x[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw].mean(axis=(2, 3))
    return y


def avg_pool2d_integral_image(x, kernel_size, stride=None):
    """Window sums from a summed-area table: S[r+kh, c+kw] - S[r, c+kw] - S[r+kh, c] + S[r, c]."""
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    table = np.zeros((*x.shape[:2], x.shape[2] + 1, x.shape[3] + 1))
    table[:, :, 1:, 1:] = x.astype(np.float64).cumsum(axis=2).cumsum(axis=3)
    ho, wo = _out(x.shape[2], kh, sh), _out(x.shape[3], kw, sw)
    r = np.arange(ho)[:, None] * sh
    c = np.arange(wo)[None, :] * sw
    sums = table[:, :, r + kh, c + kw] - table[:, :, r, c + kw] - table[:, :, r + kh, c] + table[:, :, r, c]
    return (sums / (kh * kw)).astype(x.dtype)


# conv2d_backward ---------------------------------------------------------------------------------


def conv2d_backward_loops(grad_out, x, w, stride=1, padding=0):
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    a = _pad(x, ph, pw)
    grad_a, grad_w = np.zeros_like(a), np.zeros_like(w)
    kh, kw = w.shape[2:]
    n_images, f_out, ho, wo = grad_out.shape
    for n in range(n_images):
        for f in range(f_out):
            for r in range(ho):
                for c in range(wo):
                    d = grad_out[n, f, r, c]
                    grad_w[f] += a[n, :, r * sh : r * sh + kh, c * sw : c * sw + kw] * d
                    grad_a[n, :, r * sh : r * sh + kh, c * sw : c * sw + kw] += w[f] * d
    grad_x = grad_a[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
    return np.ascontiguousarray(grad_x), grad_w, grad_out.sum(axis=(0, 2, 3))


def conv2d_backward_einsum(grad_out, x, w, stride=1, padding=0):
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    a = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = w.shape[2:]
    windows = sliding_window_view(a, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    ho, wo = grad_out.shape[2:]
    windows = windows[:, :, :ho, :wo]
    grad_w = np.einsum("ncrsji,nfrs->fcji", windows, grad_out)
    pieces = np.einsum("nfrs,fcji->ncrsji", grad_out, w)
    grad_a = np.zeros_like(a)
    for r in range(ho):
        for c in range(wo):
            grad_a[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw] += pieces[:, :, r, c]
    grad_x = grad_a[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]].copy()
    return grad_x, grad_w.astype(w.dtype), np.einsum("nfrs->f", grad_out)


def conv2d_backward_dilated(grad_out, x, w, stride=1, padding=0):
    """The lecture's way: grad_a is the full convolution of delta (dilated by the stride) with the kernel,
    i.e. the full correlation with the flipped kernel; grad_w correlates the input with the dilated delta."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    n, f_out, ho, wo = grad_out.shape
    kh, kw = w.shape[2:]
    hp, wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    dilated = np.zeros((n, f_out, hp - kh + 1, wp - kw + 1), dtype=grad_out.dtype)
    dilated[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw] = grad_out
    full = np.pad(dilated, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, KH, KW)
    grad_a = conv2d_im2col(full, np.ascontiguousarray(flipped))
    grad_x = grad_a[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
    a = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).astype(np.result_type(x, grad_out))
    grad_w = conv2d_im2col(a.transpose(1, 0, 2, 3), np.ascontiguousarray(dilated.transpose(1, 0, 2, 3)))
    grad_w = np.ascontiguousarray(grad_w.transpose(1, 0, 2, 3), dtype=w.dtype)
    return np.ascontiguousarray(grad_x, dtype=x.dtype), grad_w, grad_out.sum((0, 2, 3))


# pooling backward --------------------------------------------------------------------------------


def max_pool2d_backward_loops(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    grad = np.zeros_like(x)
    n_images, channels, ho, wo = grad_out.shape
    for n in range(n_images):
        for ch in range(channels):
            for r in range(ho):
                for c in range(wo):
                    window = x[n, ch, r * sh : r * sh + kh, c * sw : c * sw + kw]
                    j, i = np.unravel_index(np.argmax(window), window.shape)
                    grad[n, ch, r * sh + j, c * sw + i] += grad_out[n, ch, r, c]
    return grad


def max_pool2d_backward_add_at(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    n, c, ho, wo = grad_out.shape
    first = windows[:, :, :ho, :wo].reshape(n, c, ho, wo, kh * kw).argmax(axis=4)
    rows = np.arange(ho)[None, None, :, None] * sh + first // kw
    cols = np.arange(wo)[None, None, None, :] * sw + first % kw
    grad = np.zeros_like(x)
    nn, cc = np.indices((n, c))[:, :, :, None, None]
    np.add.at(grad, (np.broadcast_to(nn, rows.shape), np.broadcast_to(cc, rows.shape), rows, cols), grad_out)
    return grad


def avg_pool2d_backward_loops(grad_out, x, kernel_size, stride=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    grad = np.zeros_like(x)
    for r in range(grad_out.shape[2]):
        for c in range(grad_out.shape[3]):
            share = grad_out[:, :, r : r + 1, c : c + 1] / (kh * kw)
            grad[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw] += share
    return grad


def avg_pool2d_backward_shifts(grad_out, x, kernel_size, stride=None):
    """One strided slice per window offset (j, i): every input gets grad_out / (KH * KW) from each window."""
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    ho, wo = grad_out.shape[2:]
    grad = np.zeros_like(x)
    share = grad_out / (kh * kw)
    for j in range(kh):
        for i in range(kw):
            grad[:, :, j : j + (ho - 1) * sh + 1 : sh, i : i + (wo - 1) * sw + 1 : sw] += share
    return grad


CORRECT = {
    "conv2d": [conv2d_loops, conv2d_im2col, conv2d_fft, conv2d_float32_accumulate],
    "max_pool2d": [max_pool2d_loops, max_pool2d_windows],
    "avg_pool2d": [avg_pool2d_loops, avg_pool2d_integral_image],
    "conv2d_backward": [conv2d_backward_loops, conv2d_backward_einsum, conv2d_backward_dilated],
    "max_pool2d_backward": [max_pool2d_backward_loops, max_pool2d_backward_add_at],
    "avg_pool2d_backward": [avg_pool2d_backward_loops, avg_pool2d_backward_shifts],
}
