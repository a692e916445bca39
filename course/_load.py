"""Background load for the benchmarks: `busy_processes(n)` keeps n CPU-bound processes running beside
the measurement, as a browser, a notebook server or a video call would on a student's laptop; `settle()`
waits until the threads of a library timed just before stop spinning, so that they are not.

Each process spins in pure Python and ends by itself after `BUSY_SECONDS` even if the benchmark is
killed; the context manager stops them at its end. Imports nothing from the rest of the package.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

__all__ = ["BUSY_SECONDS", "SETTLE_SECONDS", "busy_processes", "settle"]

BUSY_SECONDS = 1800  # the longest a busy process lives, whatever happens to its parent
# Long enough for spinning threads to give up: after a conv2d forward and backward, PyTorch's OpenMP threads
# spin for about 9 ms of CPU (median of 20: 8.6 ms, CPU time of the process while its main thread slept
# 50 ms), the course's helper threads about 1 ms (`course._jit.spin`).
SETTLE_SECONDS = 0.02
_SPIN = f"import time\nend = time.monotonic() + {BUSY_SECONDS}\nwhile time.monotonic() < end:\n    pass\n"


@contextlib.contextmanager
def busy_processes(n: int) -> Iterator[list[subprocess.Popen]]:
    """Run n spinning processes (n >= 0) for the duration of the block, then stop them."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"busy_processes: n must be an int >= 0, got {n!r}")
    processes = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(n)]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


def settle() -> None:
    """Sleep SETTLE_SECONDS, while the threads of the library timed before this stop spinning. Two
    libraries that take turns in one process would otherwise start each turn beside the other's
    spinning threads, as nothing does when a program uses one library: LeNet 6->16's backward in
    float32 took 0.86 ms right after PyTorch's turn against 0.62 ms on its own (two threads, medians)."""
    time.sleep(SETTLE_SECONDS)
