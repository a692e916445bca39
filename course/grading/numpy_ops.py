"""Forward convolution and pooling in plain numpy (float64), independent of the Numba kernels.

Finite-difference checks call a forward hundreds of times on tiny arrays, where numpy is quicker than
launching parallel kernels, and an implementation apart from `course.functional` makes the check
independent of the reference. The misconception variants build their wrong answers from these too.
Shapes: x (N, C, H, W), w (F, C, KH, KW); pairs are (along H, along W). Layering: numpy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["pad", "windows", "correlate", "pool"]


def pad(x: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """x in float64 with zero rows above/below and zero columns left/right."""
    return np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))


def windows(a: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """(N, C, Ho, Wo, KH, KW) view of the KH x KW windows of a, stepping by (sh, sw)."""
    return sliding_window_view(a, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def correlate(x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0)) -> np.ndarray:
    """z[n, f, r, c] = b[f] + sum a[n, ch, r*sh + j, c*sw + i] w[f, ch, j, i], a = x padded by
    pads = (top, bottom, left, right); (N, F, Ho, Wo) in float64."""
    a = pad(x, *pads)
    z = np.einsum("ncrsji,fcji->nfrs", windows(a, w.shape[2], w.shape[3], *stride), np.asarray(w, np.float64))
    return z if b is None else z + np.asarray(b, np.float64)[None, :, None, None]


def pool(x, kernel: tuple[int, int], stride: tuple[int, int], reduce: Callable = np.max) -> np.ndarray:
    """`reduce` (np.max, np.mean, ...) of each window: (N, C, Ho, Wo) in float64."""
    return reduce(windows(np.asarray(x, np.float64), *kernel, *stride), axis=(4, 5))
