"""The one place where numpy's BLAS threads are configured: `single_threaded_blas()`.

The matrix products in this course are small. OpenBLAS wakes a team of threads for them, and a team
waits for its slowest member: with other processes on the cores, or right after our own kernel
threads, a (64, 400) @ (400, 120) product took 5-25 ms instead of 0.1 ms on 2 cores, and the shipped
segmenter fell from 400-600 to 16-25 frames per second. `course.functional` therefore runs its own
products with BLAS on one thread (and shares whole products among its own threads instead), and the
training loops set it once around the whole loop. The limit is scoped: the previous thread counts come
back when the block ends, so the user's own numpy code is not affected. Imports nothing from the rest of
the package.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["single_threaded_blas"]

_blas_libraries: list | None = None  # threadpoolctl's controllers of the BLAS libraries numpy loaded


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run numpy's BLAS on one thread inside the block; the previous setting comes back after it.

    Costs two calls into each BLAS library (microseconds), so it may wrap a single product.
    """
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController

        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    previous = [library.num_threads for library in _blas_libraries]
    for library, threads in zip(_blas_libraries, previous, strict=True):
        if threads != 1:
            library.set_num_threads(1)
    try:
        yield
    finally:
        for library, threads in zip(_blas_libraries, previous, strict=True):
            if threads != 1:
                library.set_num_threads(threads)
