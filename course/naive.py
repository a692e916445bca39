"""The specification: convolution and pooling written as loops that follow the lecture's formulas.

Slow on purpose and meant to be read. `course.functional` serves fast Numba kernels; the tests prove
that they agree with these functions over generated shapes. Arguments are assumed valid here (the
public functions in `course.functional` check them); indices are 0-based, so the lecture's

    z[n, m] = sum_{i=1..I} sum_{j=1..J} a[n+j-1, m+i-1] * w[j, i]

becomes z[r, c] = sum_j sum_i a[r*sh + j, c*sw + i] * w[j, i] once stride (sh, sw) is added.

Shapes: x (N, C, H, W), w (F, C, KH, KW), b (F,), output (N, F, Ho, Wo) with
Ho = (H + 2*ph - KH) // sh + 1 and Wo = (W + 2*pw - KW) // sw + 1.
"""

from __future__ import annotations

import numpy as np


def pad(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """x (N, C, H, W) with ph rows of zeros above and below and pw columns left and right."""
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d(x, w, b, stride, padding):
    """Cross-correlation of every image with every kernel, summed over input channels, plus bias."""
    (sh, sw), (ph, pw) = stride, padding
    a = pad(x, ph, pw)
    n_images, n_channels = x.shape[:2]
    n_kernels, _, kh, kw = w.shape
    ho = (a.shape[2] - kh) // sh + 1
    wo = (a.shape[3] - kw) // sw + 1
    z = np.zeros((n_images, n_kernels, ho, wo), dtype=x.dtype)
    for n in range(n_images):
        for f in range(n_kernels):
            for r in range(ho):
                for c in range(wo):
                    total = 0.0
                    for ch in range(n_channels):
                        for j in range(kh):
                            for i in range(kw):
                                total += a[n, ch, r * sh + j, c * sw + i] * w[f, ch, j, i]
                    z[n, f, r, c] = total + (b[f] if b is not None else 0.0)
    return z


def conv2d_backward(grad_out, x, w, stride, padding):
    """Gradients of J with respect to x, w and b, given delta = dJ/dz (grad_out).

    Each output z[n, f, r, c] received a[n, ch, r*sh + j, c*sw + i] * w[f, ch, j, i], so:
      dJ/dw[f, ch, j, i] = sum_n sum_r sum_c a[n, ch, r*sh + j, c*sw + i] * delta[n, f, r, c]
                           (the input correlated with delta: a convolution, as the lecture says);
      dJ/da[n, ch, r*sh + j, c*sw + i] += w[f, ch, j, i] * delta[n, f, r, c]
                           (delta spread back through the kernel: a full convolution with the flipped
                           kernel when the stride is 1), then the padding is cut away;
      dJ/db[f] = sum of delta over n, r, c.
    """
    (sh, sw), (ph, pw) = stride, padding
    a = pad(x, ph, pw)
    grad_a = np.zeros_like(a)
    grad_w = np.zeros_like(w)
    n_images, n_kernels, ho, wo = grad_out.shape
    _, n_channels, kh, kw = w.shape
    for n in range(n_images):
        for f in range(n_kernels):
            for r in range(ho):
                for c in range(wo):
                    delta = grad_out[n, f, r, c]
                    for ch in range(n_channels):
                        for j in range(kh):
                            for i in range(kw):
                                grad_w[f, ch, j, i] += a[n, ch, r * sh + j, c * sw + i] * delta
                                grad_a[n, ch, r * sh + j, c * sw + i] += w[f, ch, j, i] * delta
    grad_x = grad_a[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]].copy()
    grad_b = grad_out.sum(axis=(0, 2, 3))
    return grad_x, grad_w, grad_b


def max_pool2d(x, kernel_size, stride):
    """The maximum of each KH x KW window, windows stepping by (sh, sw)."""
    (kh, kw), (sh, sw) = kernel_size, stride
    n_images, n_channels, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    y = np.empty((n_images, n_channels, ho, wo), dtype=x.dtype)
    for n in range(n_images):
        for ch in range(n_channels):
            for r in range(ho):
                for c in range(wo):
                    y[n, ch, r, c] = x[n, ch, r * sh : r * sh + kh, c * sw : c * sw + kw].max()
    return y


def max_pool2d_backward(grad_out, x, kernel_size, stride):
    """Each window's gradient goes to the position of its maximum (the first one, in row-major
    order, on ties) and is added there, since overlapping windows can share a maximum."""
    (kh, kw), (sh, sw) = kernel_size, stride
    grad_x = np.zeros_like(x)
    n_images, n_channels, ho, wo = grad_out.shape
    for n in range(n_images):
        for ch in range(n_channels):
            for r in range(ho):
                for c in range(wo):
                    window = x[n, ch, r * sh : r * sh + kh, c * sw : c * sw + kw]
                    j, i = np.unravel_index(np.argmax(window), window.shape)
                    grad_x[n, ch, r * sh + j, c * sw + i] += grad_out[n, ch, r, c]
    return grad_x


def avg_pool2d(x, kernel_size, stride):
    """The mean of each KH x KW window, windows stepping by (sh, sw)."""
    (kh, kw), (sh, sw) = kernel_size, stride
    n_images, n_channels, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    y = np.empty((n_images, n_channels, ho, wo), dtype=x.dtype)
    for n in range(n_images):
        for ch in range(n_channels):
            for r in range(ho):
                for c in range(wo):
                    y[n, ch, r, c] = x[n, ch, r * sh : r * sh + kh, c * sw : c * sw + kw].mean()
    return y


def avg_pool2d_backward(grad_out, x, kernel_size, stride):
    """Each window's gradient is spread evenly over its KH * KW inputs, added where windows overlap."""
    (kh, kw), (sh, sw) = kernel_size, stride
    grad_x = np.zeros_like(x)
    n_images, n_channels, ho, wo = grad_out.shape
    share = 1.0 / (kh * kw)
    for n in range(n_images):
        for ch in range(n_channels):
            for r in range(ho):
                for c in range(wo):
                    grad_x[n, ch, r * sh : r * sh + kh, c * sw : c * sw + kw] += grad_out[n, ch, r, c] * share
    return grad_x
