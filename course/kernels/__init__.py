"""Numba kernels: the fast twins of `course.naive`. They read only their arguments and trust them;
`course.functional` checks arguments before calling them. Layering: kernels import only `course._jit`.

`precompile()` compiles (or loads from Numba's disk cache) every kernel specialisation the course uses,
for float32 and float64, so that a fresh install or a grader image pays the compile time once, up front.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

__all__ = ["precompile"]


def precompile(processes: int | None = None) -> None:
    """Compile, and cache on disk, every kernel specialisation that `course.functional` calls: the
    convolution's sweeps, direct loops and matrix products' columns (forward and backward) and both
    poolings (forward and backward), each in float32 and float64. Arrays are tiny: the time is all
    compilation, or a few milliseconds per kernel when the cache is already warm.

    Numba compiles on one thread, so when the first kernel is not in the cache, the kernels are shared
    among `processes` processes (default: one per core) that compile their shares into the disk cache
    at the same time; this process then loads them all from the cache, and compiles itself any kernel a
    helper did not leave there (a helper that cannot start, or no writable cache, costs time, never a
    kernel). Two cores, empty cache: 15.8 s on one process, 10.4-12.8 s on two.
    """
    from course._jit import load_numba_target
    from course.kernels import conv

    load_numba_target()
    _sweeps(np.float32)
    stats = getattr(conv.sweep_forward, "stats", None)  # None under NUMBA_DISABLE_JIT: nothing compiles
    if stats is None or not stats.cache_misses:  # a warm cache: loading the rest takes milliseconds
        processes = 1
    processes = max(1, min(len(_KERNELS), processes or os.cpu_count() or 1))
    package_root = str(Path(__file__).resolve().parents[2])  # where `import course` finds this copy
    path = [package_root, os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}  # no "" entry: not the cwd
    helpers = [
        subprocess.Popen(
            [sys.executable, "-c", f"from course.kernels import _compile; _compile({share}, {processes})"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for share in range(1, processes)
    ]
    try:
        _compile(0, processes)
    finally:
        for helper in helpers:
            helper.wait()
    if helpers:
        _compile(0, 1)  # every kernel: the helpers' shares now load from the cache


def _compile(share: int, shares: int) -> None:
    """Call, in float32 and float64, the kernels whose index in _KERNELS is `share` modulo `shares`."""
    from course._jit import load_numba_target

    load_numba_target()
    for dtype in (np.float32, np.float64):
        for index, kernel in enumerate(_KERNELS):
            if index % shares == share:
                kernel(dtype)


def _sweeps(dtype) -> None:
    from course.kernels import conv

    flat = np.ones((2, 50), dtype=dtype)  # 2 channels of 2 padded 5 x 5 images, (C, N*Hp*Wp)
    w = np.ones((3, 2, 3, 3), dtype=dtype)  # kernels (F, C, KH, KW)
    grid = np.zeros((3, 50), dtype=dtype)
    conv.sweep_forward(flat, w, np.zeros(3, dtype=dtype), 5, 13, grid, 0, 3)
    conv.grid_to_images(grid, 5, 5, 0, 0, np.zeros((2, 3, 3, 3), dtype=dtype), 0, 6)


def _sweep_gradients(dtype) -> None:
    from course.kernels import conv

    flat = np.ones((2, 50), dtype=dtype)
    delta = np.zeros((2, 3, 3, 3), dtype=dtype)
    spread = np.zeros((3, 12 + 50), dtype=dtype)
    conv.spread_on_grid(delta, 5, 5, 12, spread, 0, 3)
    conv.sweep_grad_w(flat, spread, 12, 3, 3, 5, 38, np.ones((3, 2, 3, 3), dtype=dtype), 0, 6)


def _direct(dtype) -> None:
    from course.kernels import conv

    a = np.ones((2, 2, 5, 5), dtype=dtype)  # padded input (N, C, Hp, Wp)
    w = np.ones((3, 2, 3, 3), dtype=dtype)
    z = np.ones((2, 3, 2, 2), dtype=dtype)  # stride 2
    conv.direct_forward(a, w, np.zeros(3, dtype=dtype), 2, 2, z, 0, 6)
    conv.direct_grad_a(z, w, 2, 2, np.zeros_like(a), 0, 4)
    conv.direct_grad_w(z, a, 2, 2, w.copy(), 0, 6)


def _columns(dtype) -> None:
    from course.kernels import conv

    x = np.ones((2, 2, 3, 3), dtype=dtype)  # (N, C, H, W), padded by 1 below: Hp = Wp = 5
    at, cols = np.zeros((2, 5, 5, 2), dtype=dtype), np.zeros((18, 8), dtype=dtype)  # stride 2: 2 x 2 outputs
    conv.columns(x, 0, 1, 1, 3, 3, 2, 2, at, cols)
    z = np.zeros((2, 3, 2, 2), dtype=dtype)
    conv.images_first(np.ones((3, 8), dtype=dtype), np.zeros(3, dtype=dtype), 0, z)
    conv.images_last(z, 0, 0, 0, np.zeros((3, 2, 2, 2), dtype=dtype))
    conv.col2im_add(cols, 3, 3, 2, 2, at)


def _max_pool(dtype) -> None:
    from course.kernels import pool

    a, y = np.ones((2, 2, 5, 5), dtype=dtype), np.zeros((2, 2, 2, 2), dtype=dtype)
    pool.max_pool2d_forward(a, 2, 2, 2, 2, y, 0, 4)
    pool.max_pool2d_backward(y, a, 2, 2, 2, 2, np.zeros_like(a), 0, 4)


def _max_pool2x2(dtype) -> None:
    from course.kernels import pool

    a, y = np.ones((2, 2, 5, 5), dtype=dtype), np.zeros((2, 2, 2, 2), dtype=dtype)
    pool.max_pool2x2_forward(a, y, 0, 4)
    pool.max_pool2x2_backward(pool.as_bits(y), a, pool.as_bits(np.zeros_like(a)), 0, 4)


def _avg_pool(dtype) -> None:
    from course.kernels import pool

    a, y = np.ones((2, 2, 5, 5), dtype=dtype), np.zeros((2, 2, 2, 2), dtype=dtype)
    pool.avg_pool2d_forward(a, 2, 2, 2, 2, y, 0, 4)
    pool.avg_pool2d_backward(y, 2, 2, 2, 2, np.zeros_like(a), 0, 4)


# Groups of kernels, each compiled whole by one process, listed so that shares taken in turn balance:
# about 1 s of compiling per kernel and dtype, more for the sweeps.
_KERNELS = (_sweeps, _sweep_gradients, _direct, _columns, _max_pool, _max_pool2x2, _avg_pool)
