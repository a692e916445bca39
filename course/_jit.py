"""The one place where Numba is configured. Kernels are plain Python functions compiled through `jit`.

Compilation is lazy (on first call) and cached on disk, so importing `course` compiles nothing.
Floating-point sums may be reassociated and multiply-adds fused (`fastmath` "reassoc" and "contract",
nothing that changes NaN or infinity handling), which lets LLVM vectorise reductions: results differ
from `course.naive` by rounding only.

Parallel kernels start a team of threads and wait for all of them at the end. For small problems that
costs more than it saves, and on a busy machine (more runnable threads than cores) one descheduled
worker stalls the whole team: on 2 shared cores, LeNet-sized convolutions took a median of 12-70 ms
on two threads against 0.6-3.5 ms on one. `threads_for` therefore runs problems below
`PARALLEL_WORK` multiply-adds on one thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

# Numba's OpenMP threads wait for work by spinning; on a busy 2-core machine a spinning thread takes the
# core its partner needs, and a 64 x 64 conv2d measured 37 ms with the default policy against 0.46 ms
# with threads that sleep (and 2.7 ms on one thread). libgomp reads this when Numba first loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402 - after the OpenMP setting above

__all__ = ["PARALLEL_WORK", "jit", "single_threaded", "threads_for"]

_FASTMATH = {"reassoc", "contract"}
PARALLEL_WORK = 1 << 26  # multiply-adds (about 15 ms on one core) before a kernel runs in parallel


def jit(fn=None, *, parallel: bool = False):
    """Compile `fn` in nopython mode, cached on disk; `parallel=True` enables `numba.prange`."""

    def compile_(f):
        return numba.njit(
            f, cache=True, parallel=parallel, nogil=True, error_model="numpy", fastmath=_FASTMATH
        )

    return compile_ if fn is None else compile_(fn)


@contextlib.contextmanager
def threads_for(work: int) -> Iterator[None]:
    """Run the parallel kernels called inside on every Numba thread when `work` (multiply-adds, or
    elements touched) is at least PARALLEL_WORK, otherwise on the calling thread alone."""
    if work >= PARALLEL_WORK:
        yield
        return
    with single_threaded():
        yield


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run parallel kernels on one thread inside the block (in this thread only), then restore.

    For many calls on tiny arrays, such as the grading checks: there, starting and joining threads
    costs more than the work, and far more when other processes keep the cores busy.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
