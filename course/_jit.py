"""The one place where Numba is configured. Kernels are plain Python functions compiled through `jit`.

Compilation is lazy (on first call) and cached on disk, so importing `course` compiles nothing.
Floating-point sums may be reassociated and multiply-adds fused (`fastmath` "reassoc" and "contract",
nothing that changes NaN or infinity handling), which lets LLVM vectorise reductions: results differ
from `course.naive` by rounding only.
"""

from __future__ import annotations

import os

import numba

# Numba's OpenMP threads wait for work by spinning; on a busy 2-core machine a spinning thread takes the
# core its partner needs, and a 64 x 64 conv2d measured 37 ms with the default policy against 0.46 ms
# with threads that sleep (and 2.7 ms on one thread). libgomp reads this when Numba first loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_FASTMATH = {"reassoc", "contract"}


def jit(fn=None, *, parallel: bool = False):
    """Compile `fn` in nopython mode, cached on disk; `parallel=True` enables `numba.prange`."""

    def compile_(f):
        return numba.njit(
            f, cache=True, parallel=parallel, nogil=True, error_model="numpy", fastmath=_FASTMATH
        )

    return compile_ if fn is None else compile_(fn)
