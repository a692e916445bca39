"""Numba kernels: the fast twins of `course.naive`. They read only their arguments and trust them;
`course.functional` checks arguments before calling them. Layering: kernels import only `course._jit`.

`precompile()` compiles (or loads from Numba's disk cache) every kernel specialisation the course uses,
for float32 and float64, so that a fresh install or a grader image pays the compile time once, up front.
"""

from __future__ import annotations

import numpy as np

__all__ = ["precompile"]


def precompile() -> None:
    """Compile, and cache on disk, every kernel specialisation that `course.functional` calls: the
    convolution's sweeps, direct loops and im2col/col2im (forward and backward) and both poolings
    (forward and backward), each in float32 and float64. Arrays are tiny: the time is all compilation,
    or a few milliseconds per kernel when the cache is already warm."""
    from course._jit import load_numba_target
    from course.kernels import conv, pool

    load_numba_target()
    for dtype in (np.float32, np.float64):
        a = np.ones((2, 2, 5, 5), dtype=dtype)  # padded input (N, C, Hp, Wp)
        w = np.ones((3, 2, 3, 3), dtype=dtype)  # kernels (F, C, KH, KW)
        b = np.zeros(3, dtype=dtype)
        flat = a.transpose(1, 0, 2, 3).reshape(2, -1).copy()
        grid = np.zeros((3, flat.shape[1]), dtype=dtype)
        conv.sweep_forward(flat, w, b, 5, 13, grid, 0, 3)
        out = np.zeros((2, 3, 3, 3), dtype=dtype)
        spread = np.zeros((3, 12 + flat.shape[1]), dtype=dtype)
        conv.spread_on_grid(out, 5, 5, 12, spread, 0, 3)
        conv.sweep_grad_w(flat, spread, 12, 3, 3, 5, 38, w.copy(), 0, 6)
        conv.bias_grad(out, np.zeros(3), 0, 3)
        z = np.ones((2, 3, 2, 2), dtype=dtype)  # stride 2
        conv.direct_forward(a, w, b, 2, 2, z, 0, 6)
        conv.direct_grad_a(z, w, 2, 2, np.zeros_like(a), 0, 4)
        conv.direct_grad_w(z, a, 2, 2, w.copy(), 0, 6)
        at = np.ascontiguousarray(a.transpose(1, 2, 3, 0))  # images last (C, Hp, Wp, N)
        cols = np.zeros((18, 8), dtype=dtype)
        conv.im2col(at, 3, 3, 2, 2, cols)
        conv.col2im_add(cols, 3, 3, 2, 2, np.zeros_like(at))
        y = np.zeros((2, 2, 2, 2), dtype=dtype)
        pool.max_pool2d_forward(a, 2, 2, 2, 2, y, 0, 4)
        pool.max_pool2d_backward(y, a, 2, 2, 2, 2, np.zeros_like(a), 0, 4)
        pool.max_pool2x2_forward(a, y, 0, 4)
        pool.max_pool2x2_backward(y, a, np.zeros_like(a), 0, 4)
        pool.avg_pool2d_forward(a, 2, 2, 2, 2, y, 0, 4)
        pool.avg_pool2d_backward(y, 2, 2, 2, 2, np.zeros_like(a), 0, 4)
