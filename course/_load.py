"""Background load for the benchmarks: `busy_processes(n)` keeps n CPU-bound processes running beside
the measurement, as a browser, a notebook server or a video call would on a student's laptop.

Each process spins in pure Python and ends by itself after `BUSY_SECONDS` even if the benchmark is
killed; the context manager stops them at its end. Imports nothing from the rest of the package.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

__all__ = ["BUSY_SECONDS", "busy_processes"]

BUSY_SECONDS = 1800  # the longest a busy process lives, whatever happens to its parent
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
