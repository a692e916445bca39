"""The one place where numpy's BLAS threads are configured: `single_threaded_blas()`.

The matrix products in this course are small, and a multi-threaded OpenBLAS competing with Numba's
threads for the same cores was measured 50-200x slower than one thread: 5-25 ms against 0.1 ms for
(64, 400) @ (400, 120) on 2 cores, right after a Numba parallel kernel. Changing the thread count costs
a little each time, so loops (training, gradient checks) set it once around the whole loop.
Imports nothing from the rest of the package.
"""

from __future__ import annotations

import contextlib

__all__ = ["single_threaded_blas"]

_controller = None


@contextlib.contextmanager
def single_threaded_blas():
    """Run numpy's BLAS on one thread inside the block; the previous setting comes back after it."""
    global _controller
    from threadpoolctl import ThreadpoolController

    if _controller is None:
        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield
