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
    convolution (sweeps, direct loops and matrix products, forward and backward) and both poolings
    (forward and backward), each in float32 and float64. Arrays are tiny: the time is all compilation,
    or a few milliseconds per kernel when the cache is already warm."""
    from course.kernels import conv, pool

    for dtype in (np.float32, np.float64):
        a = np.ones((2, 2, 5, 5), dtype=dtype)  # padded input (N, C, Hp, Wp)
        w = np.ones((3, 2, 3, 3), dtype=dtype)  # kernels (F, C, KH, KW)
        b = np.zeros(3, dtype=dtype)
        for stride, size in ((1, 3), (2, 2)):  # stride 1: flat sweeps; other strides: direct loops
            z = conv.conv2d_forward(a, w, b, stride, stride, size, size)
            conv.conv2d_backward(z, a, w, stride, stride)
            z = conv.conv2d_forward_gemm(a, w, b, stride, stride, size, size)
            conv.conv2d_backward_gemm(z, a, w, stride, stride)
        y = pool.max_pool2d_forward(a, 2, 2, 2, 2, 2, 2)
        pool.max_pool2d_backward(y, a, 2, 2, 2, 2)
        y = pool.avg_pool2d_forward(a, 2, 2, 2, 2, 2, 2)
        pool.avg_pool2d_backward(y, a, 2, 2, 2, 2)
