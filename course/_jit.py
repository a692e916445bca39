"""The one place where Numba is configured. Kernels are plain Python functions compiled through `jit`.

Compilation is lazy (on first call) and cached on disk, so importing `course` compiles nothing.
"""

from __future__ import annotations

import numba


def jit(fn=None, *, parallel: bool = False):
    """Compile `fn` in nopython mode, cached on disk; `parallel=True` enables `numba.prange`."""

    def compile_(f):
        return numba.njit(f, cache=True, parallel=parallel, nogil=True, error_model="numpy")

    return compile_ if fn is None else compile_(fn)
