"""The one place where Numba and the kernels' threads are configured.

Kernels are plain Python functions compiled by `jit`: serial, in nopython mode, without the GIL, cached
on disk. Compilation is lazy (on first call), so importing `course` compiles nothing; the first
compilation in a process prints one line on stderr, so that a student knows why the first cell waits.
Floating-point sums may be reassociated and multiply-adds fused (`fastmath` "reassoc" and "contract",
nothing that changes NaN or infinity handling), which lets LLVM vectorise reductions: results differ
from `course.naive` by rounding only.

Kernels are serial on purpose. Numba's `parallel=True` compiled about twice as slowly (every kernel of
the course: 218 s against 109 s, same kernels, same load) and starts an OpenMP team whose barrier
stalls when another process holds a core. Instead a kernel takes a range of independent tasks [t0, t1)
and `parallel_for` hands the ranges out to Python threads (the kernels release the GIL): small
problems, below `PARALLEL_WORK` multiply-adds, run on the calling thread alone, and on bigger ones each
thread takes the next small range when it is free, so a thread that the system deschedules delays only
its own range.

The helper threads (one fewer than `max_threads()`, started on first use) wait on one queue of jobs. A
job is claimed, by a lock, either by the helper that takes it or by the caller once its own share is
done: a job that no helper has started by then runs on the caller, so a helper that the system does
not schedule is never waited for. Locks and a queue written in C keep a hand-off short: against
`concurrent.futures.ThreadPoolExecutor`, whose futures wait on Python-level conditions, a backward of
256 8 x 8 images of 1 -> 8 kernels (two hand-offs) went from 0.554 to 0.484 ms, float32, two threads
(medians, one run taking turns; 0.755 to 0.654 ms with two busy processes beside it).

A thread that waits for another (the caller for its helper's last range, a helper for the next job)
spins first, for up to SPIN_ROUNDS looks at a counter, each followed by `sched_yield` (the core goes to
any other thread that wants it), in a kernel that holds no GIL; only then does it sleep on its lock or
the queue. On this KVM guest a sleeping thread took 15-30 us to wake, once for the helper and once for
the caller at every `parallel_for`: four ranges of 51 us on two threads took 168 us, and 140 us with
both waits spinning; LeNet 6->16 at batch 64 forward 439 -> 393 us and backward 759 -> 711 us, LeNet
1->6's backward 453 -> 402 us, a LeNet training step (batch 32) 2.69 -> 2.55 ms, and 2.84 -> 2.63 ms
(one run) or 2.90 ms both ways (another) with two busy processes beside it (float32, two threads, medians
of runs taking turns in one process).
The layers gained beside two busy processes too (6->16's forward 417 -> 394 us, 1->6's backward 695 ->
648 us), but a spinning thread competes with other spinning threads: right after PyTorch's OpenMP
threads ran in the same process (they spin for about 9 ms after a call), 6->16's backward took 0.86 ms
against 0.68 ms without spinning (`course bench` warms each library up before its turn). The
counters are hints only: the locks and the queue still hand the jobs over, and order the memory.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator


class _Refuse(importlib.abc.MetaPathFinder):
    """Refuses to import the modules `names` while it is in sys.meta_path (a module already loaded is
    not looked up again, so it stays usable)."""

    def __init__(self, *names: str):
        self.names = names

    def find_spec(self, fullname, path, target=None):
        if fullname in self.names:
            raise ModuleNotFoundError(f"{fullname} is not loaded with the course's kernels", name=fullname)
        return None


@contextlib.contextmanager
def _refusing(*names: str) -> Iterator[None]:
    """Inside the block, importing any of `names` that is not loaded yet fails with ImportError."""
    finder = _Refuse(*names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


# Numba imports coverage.py, when installed (nbval requires it), only to report the lines it compiles to
# a coverage run already going: 0.1-0.18 s of a warm start of about 1 s. A run that measures coverage
# has imported coverage before this, and keeps that report.
with _refusing("coverage"):
    import numba
    import numpy as np
    from numba.core import event
    from numba.core.caching import IndexDataCacheFile
    from numba.core.registry import cpu_target

try:
    import fcntl
except ImportError:  # Windows: Numba's disk cache as Numba keeps it
    fcntl = None

__all__ = [
    "PARALLEL_WORK",
    "COMPILE_MESSAGE",
    "get_num_threads",
    "jit",
    "load_numba_target",
    "max_threads",
    "PAIR_WORK",
    "parallel_for",
    "run_pair",
    "set_num_threads",
    "single_threaded",
    "spin",
    "SPIN_ROUNDS",
    "threads_for",
]

_FASTMATH = {"reassoc", "contract"}
PARALLEL_WORK = 1 << 23  # multiply-adds (about 1 ms on one core) before a kernel uses more threads
# Multiply-adds from which `run_pair` runs two independent computations at once. A hand-off to a helper
# on this KVM guest's other core costs tens of microseconds: at 2**19 the sweep backward of 256 8 x 8
# images, 1 -> 8 kernels (2.4 million for its two halves), took 0.37-0.42 ms paired against 0.30-0.32
# ms on the calling thread alone (float32, three processes, medians of 1,000 taking turns), while
# LeNet 1->6 at batch 64 (11 million) still gains from the pair.
PAIR_WORK = 1 << 22
RANGES_PER_THREAD = 4  # tasks are handed out in about this many ranges per thread
SPIN_ROUNDS = 2000  # looks before a waiting thread sleeps: about 1 ms when no other thread wants the core
COMPILE_MESSAGE = (
    "course: compiling the course's kernels for this machine (once; about 1 s per kernel, kept on disk)..."
)

_max_threads = int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1)
_threads = _max_threads
_local = threading.local()  # .threads: a per-thread override, set by `single_threaded`
_target_loaded = False
_target_lock = threading.Lock()
_jobs: queue.SimpleQueue = queue.SimpleQueue()  # of _Job, for the helper threads
_queued = np.zeros(1, dtype=np.int64)  # jobs put on _jobs so far (a hint for the helpers' `spin`)
_helpers = 0  # helper threads started in this process
_helpers_lock = threading.Lock()


def jit(fn: Callable) -> Callable:
    """Compile `fn` lazily in nopython mode, serial, without the GIL, cached on disk; saving to the
    cache holds a lock (`_LockedCacheFile`)."""
    kernel = numba.njit(fn, cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
    cache_file = getattr(getattr(kernel, "_cache", None), "_cache_file", None)  # None without the JIT
    if fcntl is not None and type(cache_file) is IndexDataCacheFile:
        cache_file.__class__ = _LockedCacheFile
    return kernel


class _LockedCacheFile(IndexDataCacheFile):
    """Numba's disk cache of one kernel, whose saves take turns between processes.

    A save reads the kernel's index (one file for all its specialisations), adds its own entry with the
    first data file name the index does not use, and writes both back, without a lock: two processes
    saving two specialisations at the same moment (a student's two notebooks compiling one kernel in
    float32 and float64) can both take the same name, and the index can end up naming the other one's
    file, after which every call of the kernel in that dtype fails with "can't unbox array" until the
    cache is cleared (numba/numba#10128 is the same race). Here each save holds an exclusive `flock` on a
    file beside the index; where that file cannot be opened (a read-only cache), Numba saves as it would.
    """

    def save(self, key, data) -> None:
        try:
            lock = open(self._index_path + ".lock", "ab")  # noqa: SIM115 - closed below, which unlocks
        except OSError:
            super().save(key, data)
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            super().save(key, data)


def load_numba_target() -> None:
    """Load Numba's CPU target (its library of implementations) once per process, without scipy.linalg
    or cffi.

    The first kernel call in a process loads that library. One of its modules imports scipy.linalg when
    scipy is installed, only to decide whether np.correlate and np.convolve in nopython code may call
    BLAS: 0.3 s of a warm start of about 1 s, for functions the kernels never use; another builds a
    cffi parser (35 ms), for calling cffi functions from nopython code. While the library loads, both
    imports are refused (in this process, Numba then loops for those two functions and types no cffi
    function); the kernels, and scipy and cffi for everything else, are unaffected, and nothing is
    refused that is already loaded. `parallel_for` and `run_pair` call this before every kernel: once
    loaded, it returns at once.
    """
    global _target_loaded
    if _target_loaded:  # without the lock: set once, never unset
        return
    with _target_lock:
        if _target_loaded:
            return
        with _refusing("scipy.linalg", "cffi"):
            cpu_target.target_context.refresh()
        _target_loaded = True


def get_num_threads() -> int:
    """Threads the kernels may use in this thread: 1 inside `single_threaded`, else the setting."""
    return getattr(_local, "threads", None) or _threads


def max_threads() -> int:
    """The most threads the kernels may use: NUMBA_NUM_THREADS when set, else the cores."""
    return _max_threads


def set_num_threads(n: int) -> None:
    """Let the kernels use up to n threads (1 <= n <= the cores, or NUMBA_NUM_THREADS when set)."""
    global _threads
    if not isinstance(n, int) or not 1 <= n <= _max_threads:
        raise ValueError(f"set_num_threads: n must be an int from 1 to {_max_threads}, got {n!r}")
    _threads = n


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the kernels on the calling thread alone inside the block (in this thread only).

    For many calls on tiny arrays, such as the grading checks, where handing out work costs more than
    the work itself.
    """
    previous = getattr(_local, "threads", None)
    _local.threads = 1
    try:
        yield
    finally:
        _local.threads = previous


def threads_for(work: int) -> int:
    """Threads `parallel_for` uses for `work` multiply-adds: one below PARALLEL_WORK, else
    `get_num_threads()` (fewer when there are fewer tasks)."""
    return get_num_threads() if work >= PARALLEL_WORK else 1


def parallel_for(kernel: Callable, n_tasks: int, work: int, *args) -> None:
    """Call kernel(*args, t0, t1) on ranges [t0, t1) that cover the tasks 0 .. n_tasks - 1 once each.

    `work` (multiply-adds, or elements touched) decides the threads: one below PARALLEL_WORK, else
    `get_num_threads()`. The calling thread takes ranges too; every range is done when this returns.
    The kernel must write only the outputs of its own tasks.
    """
    load_numba_target()
    threads = min(threads_for(work), n_tasks)
    if threads <= 1:
        kernel(*args, 0, n_tasks)
        return
    step = max(1, -(-n_tasks // (threads * RANGES_PER_THREAD)))
    ranges = iter([(t0, min(n_tasks, t0 + step)) for t0 in range(0, n_tasks, step)])
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                bounds = next(ranges, None)
            if bounds is None:
                return
            kernel(*args, *bounds)

    jobs = [_hand_off(drain) for _ in range(threads - 1)]
    drain()
    for job in jobs:
        _finish(job)


def run_pair(first: Callable[[], None], second: Callable[[], None], work: int) -> None:
    """first() and second(), two computations that share no output, at once: first on a helper
    thread, second on the calling thread, when `work` (multiply-adds of both) is at least PAIR_WORK
    and more than one thread is allowed; else one after the other here. Returns when both are done.

    One hand-off for two big pieces, where `parallel_for` cuts one computation into ranges: below
    PARALLEL_WORK those ranges cost more in hand-offs than they save, while two whole halves of a
    backward pass (dJ/dw and dJ/dx) gain (LeNet 1->6, batch 32, float32: 0.71 -> 0.47 ms). A helper
    that has not started when second() is done is not waited for: first() then runs here.
    """
    load_numba_target()
    if work < PAIR_WORK or get_num_threads() < 2:
        first()
        second()
        return
    job = _hand_off(first)
    second()
    _finish(job)


class _Job:
    """task() to run once, by a helper thread or by the caller, whichever takes `claimed` first;
    `done` is released when a helper has run it, just after it sets finished[0] to 1 (for the caller's
    `spin`), and `error` is what it raised."""

    __slots__ = ("task", "claimed", "done", "finished", "error")

    def __init__(self, task: Callable[[], None]):
        self.task, self.error = task, None
        self.claimed, self.done = threading.Lock(), threading.Lock()
        self.done.acquire()
        self.finished = np.zeros(1, dtype=np.int64)


def _hand_off(task: Callable[[], None]) -> _Job:
    """Queue task() for the helper threads (started here on first use); `_finish` the job."""
    global _helpers
    if _helpers < _max_threads - 1:
        with _helpers_lock:
            while _helpers < _max_threads - 1:
                threading.Thread(target=_serve, name=f"course-kernels-{_helpers}", daemon=True).start()
                _helpers += 1
    job = _Job(task)
    _jobs.put(job)
    _queued[0] += 1
    return job


def _finish(job: _Job) -> None:
    """Return when the job has run: here, now, if no helper has claimed it yet; else once its helper
    is done, raising what the task raised."""
    if job.claimed.acquire(blocking=False):
        job.task()
        return
    spin(job.finished, 0)
    job.done.acquire()
    if job.error is not None:
        raise job.error


def _serve() -> None:
    """A helper thread: run each queued job that the caller has not taken back; between jobs, `spin`
    until the next is queued, and sleep on the queue only when none came."""
    while True:
        seen = _queued[0]
        if _jobs.empty():
            spin(_queued, seen)
        job = _jobs.get()
        if not job.claimed.acquire(blocking=False):
            continue  # the caller ran it
        try:
            job.task()
        except BaseException as error:  # handed to the caller, which raises it
            job.error = error
        job.finished[0] = 1
        job.done.release()


def spin(counter: np.ndarray, seen: int) -> None:
    """Return once counter[0] != seen, or after SPIN_ROUNDS looks (`_spin_until_changed`); at once
    where there is no `sched_yield` (Windows) or no compiler (NUMBA_DISABLE_JIT)."""
    if _SPINS:
        _spin_until_changed(counter, seen, SPIN_ROUNDS)


_SPINS = hasattr(os, "sched_yield") and not numba.config.DISABLE_JIT
_sched_yield = numba.types.ExternalFunction("sched_yield", numba.types.int32())  # from the C library


@jit
def _spin_until_changed(counter, seen, rounds):
    """True once counter[0] differs from `seen`, False after `rounds` looks at it, each followed by
    sched_yield (the core goes to any thread that wants it). Compiled without the GIL, so the thread
    waited for runs its Python code meanwhile; the call into the C library makes each look a fresh read
    of memory (the compiler cannot keep counter[0] in a register across it)."""
    for _ in range(rounds):
        if counter[0] != seen:
            return True
        _sched_yield()
    return False


def _after_fork_in_child() -> None:
    """A forked child has none of its parent's threads: start its own helpers, with an empty queue."""
    global _jobs, _helpers, _helpers_lock
    _jobs, _helpers, _helpers_lock = queue.SimpleQueue(), 0, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _CompileNotice(event.Listener):
    """Prints COMPILE_MESSAGE on stderr when the first of the course's kernels starts compiling."""

    announced = False

    def on_start(self, ev: event.Event) -> None:
        dispatcher = ev.data["dispatcher"]
        if not _CompileNotice.announced and dispatcher.py_func.__module__.startswith("course.kernels"):
            _CompileNotice.announced = True
            print(COMPILE_MESSAGE, file=sys.stderr, flush=True)

    def on_end(self, ev: event.Event) -> None:
        pass


event.register("numba:compile", _CompileNotice())
