"""Numba kernels: the fast twins of `course.naive`. They read only their arguments and trust them;
`course.functional` checks arguments before calling them. Layering: kernels import only `course._jit`.

`precompile()` compiles (or loads from Numba's disk cache) every kernel specialisation the course uses,
for float32 and float64, so that a fresh install or a grader image pays the compile time once, up front.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["precompile"]


def precompile(processes: int | None = None) -> None:
    """Compile, and cache on disk, every kernel specialisation that `course.functional` calls: the
    convolution's sweeps, direct loops and matrix products' columns (forward and backward), both
    poolings and ReLU (forward and backward), each in float32 and float64, and the wait of the threads
    that share them out (`course._jit.spin`). Arrays are tiny: the time is all compilation, or a few
    milliseconds per kernel when the cache is already warm.

    Numba compiles on one thread, so when the first kernel is not in the cache, `processes` processes
    (default: one per core) compile into the disk cache at the same time: each in turn claims the next
    unclaimed family of kernels in `_GROUPS`, longest first, and compiles it in both dtypes, so the
    processes finish within about one family's time of each other, whatever their speeds (`_compile`).
    This process then loads them all from the cache, and compiles itself any kernel a helper did not
    leave there (a helper that cannot start, or no writable cache, costs time, never a kernel).
    """
    from course._jit import load_numba_target
    from course.kernels import conv

    load_numba_target()
    _sweeps(np.float32)
    stats = getattr(conv.sweep_forward, "stats", None)  # None under NUMBA_DISABLE_JIT: nothing compiles
    if stats is None or not stats.cache_misses:  # a warm cache: loading the rest takes milliseconds
        processes = 1
    processes = max(1, min(len(_GROUPS), processes or os.cpu_count() or 1))
    if processes == 1:
        _compile(None)
    else:
        _compile_shared(processes)


def _compile_shared(processes: int) -> None:
    """Compile every group of `_GROUPS` in this process and `processes - 1` helper processes, which
    claim the groups in turn (`_compile`), then load every kernel here. Without a temporary directory
    for the claims, or when a helper cannot be started, fewer processes do the work."""
    package_root = str(Path(__file__).resolve().parents[2])  # where `import course` finds this copy
    path = [package_root, os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}  # no "" entry: not the cwd
    try:
        claims_directory = tempfile.TemporaryDirectory(prefix="course-precompile-")
    except OSError:  # nowhere to write the claims: this process compiles alone
        _compile(None)
        return
    with claims_directory as claims:
        helpers = []
        for _ in range(1, processes):
            try:
                helpers.append(
                    subprocess.Popen(
                        [sys.executable, "-c", f"from course.kernels import _compile; _compile({claims!r})"],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            except OSError:  # no process to spare (a limit on their number): fewer helpers
                break
        try:
            _compile(claims)
        finally:
            for helper in helpers:
                helper.wait()
    _compile(None)  # every kernel: the helpers' groups now load from the cache


def _compile(claims: str | None) -> None:
    """Call each group of kernels of `_GROUPS`, in order, in float32 then float64, unless another process
    has claimed it first: a group is claimed by creating the file named by its index in the directory
    `claims`, which fails for every process but one. `claims=None` calls every group.

    A group is claimed with both its dtypes so that no two processes compile one kernel at once: Numba's
    disk cache keeps one index per kernel, which a save reads, extends and writes back, and two processes
    saving its float32 and float64 specialisations at the same moment can leave it naming the other's
    file (every later call in that dtype then fails with "can't unbox array"). `course._jit` makes those
    saves take turns with a file lock where the system has one (not on Windows); the groups keep
    `precompile` safe without it.
    """
    from course._jit import load_numba_target

    load_numba_target()
    for index, kernels in enumerate(_GROUPS):
        if claims is not None:
            try:
                os.close(os.open(os.path.join(claims, str(index)), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
        for dtype in (np.float32, np.float64):
            kernels(dtype)


def _sweeps(dtype) -> None:
    from course.kernels import conv

    flat = np.ones((2, 50), dtype=dtype)  # 2 channels of 2 padded 5 x 5 images, (C, N*Hp*Wp)
    w = np.ones((3, 2, 3, 3), dtype=dtype)  # kernels (F, C, KH, KW)
    z = np.zeros((2, 3, 3, 3), dtype=dtype)  # (N, F, Ho, Wo)
    conv.sweep_forward(flat, w, np.zeros(3, dtype=dtype), 5, 5, 0, 0, 2, 3, z, 0, 3)


def _sweep_gradients(dtype) -> None:
    from course.kernels import conv

    flat = np.ones((2, 50), dtype=dtype)
    delta = np.zeros((2, 3, 3, 3), dtype=dtype)
    spread = np.zeros((3, 12 + 50), dtype=dtype)
    conv.spread_on_grid(delta, 5, 5, 12, spread, np.zeros(3, dtype=dtype), 0, 3)
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
    pool.max_pool2x2_backward_kernel(dtype)(y, a, np.zeros_like(a), 0, 4)


def _avg_pool(dtype) -> None:
    from course.kernels import pool

    a, y = np.ones((2, 2, 5, 5), dtype=dtype), np.zeros((2, 2, 2, 2), dtype=dtype)
    pool.avg_pool2d_forward(a, 2, 2, 2, 2, y, 0, 4)
    pool.avg_pool2d_backward(y, 2, 2, 2, 2, np.zeros_like(a), 0, 4)


def _relu(dtype) -> None:
    from course.kernels import activation

    x = np.ones(4, dtype=dtype)
    activation.relu_forward(x, np.zeros_like(x), 0, 4)
    activation.relu_backward(x, x, np.zeros_like(x), 0, 4)


def _spin(dtype) -> None:
    from course import _jit

    _jit.spin(np.ones(1, dtype=np.int64), 0)  # int64 counters whatever the dtype: compiled once


# Groups of kernels, longest first (compile time of both dtypes on one core of an AMD EPYC, empty cache):
# the processes that claim them in this order finish within about the last group's time of each other.
# No kernel is called by two groups, so no two processes ever compile the same kernel at once (see
# `_compile`).
_GROUPS = (
    _columns,  # 8.1 s
    _sweep_gradients,  # 4.3 s
    _direct,  # 3.7 s
    _max_pool2x2,  # 3.5 s
    _max_pool,  # 3.3 s
    _sweeps,  # 3.2 s
    _avg_pool,  # 2.6 s
    _relu,  # 0.4 s
    _spin,  # 0.1 s: the threads' waits (`course._jit.spin`)
)
