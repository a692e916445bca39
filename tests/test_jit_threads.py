"""`course._jit.run_pair`: two computations that share no output run at once, on a helper thread and
the calling thread, when there is enough work and more than one thread is allowed; else in turn here.
A job that no helper has started when the caller is done runs on the caller (`parallel_for` too), and a
forked child starts helpers of its own."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from unittest import mock

import numpy as np
import pytest

from course import _jit


def two_threads():
    return mock.patch.multiple(_jit, _threads=2, _max_threads=2)


def test_the_two_run_at_once_on_a_helper_and_the_calling_thread():
    started, where = threading.Event(), {}

    def first():
        where["first"] = threading.current_thread().name
        started.set()

    def second():
        where["second"] = threading.current_thread().name
        assert started.wait(timeout=10), "first() did not run while second() was running"

    with two_threads():
        _jit.run_pair(first, second, _jit.PAIR_WORK)
    assert where["second"] == threading.current_thread().name
    assert where["first"].startswith("course-kernels")


@pytest.mark.parametrize("case", ["single_threaded", "small"])
def test_in_turn_on_the_calling_thread_when_single_threaded_or_small(case):
    calls = []

    def record(name):
        return lambda: calls.append((name, threading.current_thread().name))

    with two_threads():
        if case == "single_threaded":
            with _jit.single_threaded():
                _jit.run_pair(record("first"), record("second"), _jit.PAIR_WORK)
        else:
            _jit.run_pair(record("first"), record("second"), _jit.PAIR_WORK - 1)
    here = threading.current_thread().name
    assert calls == [("first", here), ("second", here)]


def test_an_error_in_either_reaches_the_caller():
    def fails():
        raise ValueError("from first")

    with two_threads(), pytest.raises(ValueError, match="from first"):
        _jit.run_pair(fails, lambda: None, _jit.PAIR_WORK)


@contextlib.contextmanager
def helpers_busy():
    """Every helper thread started so far blocked on a job of its own until the block ends."""
    release, jobs = threading.Event(), []
    with two_threads():
        _jit.run_pair(lambda: None, lambda: None, _jit.PAIR_WORK)  # at least one helper started
        for _ in range(_jit._helpers):
            running = threading.Event()
            jobs.append(_jit._hand_off(lambda running=running: (running.set(), release.wait(10))))
            assert running.wait(timeout=10), "a helper did not take its blocking job"
        try:
            yield
        finally:
            release.set()
            for job in jobs:
                _jit._finish(job)


def test_a_pair_does_not_wait_for_a_helper_that_never_started():
    calls = []

    def first():
        calls.append(threading.current_thread().name)

    with helpers_busy():
        _jit.run_pair(first, lambda: None, _jit.PAIR_WORK)
        assert calls == [threading.current_thread().name]  # before any helper is free
    time.sleep(0.2)  # the helpers, free again, find the job taken back and leave it
    assert len(calls) == 1


def test_parallel_for_runs_every_range_here_when_no_helper_starts():
    done = []

    def kernel(t0, t1):
        done.extend((task, threading.current_thread().name) for task in range(t0, t1))

    with helpers_busy():
        _jit.parallel_for(kernel, 40, _jit.PARALLEL_WORK)
        here = threading.current_thread().name
        assert sorted(done) == [(task, here) for task in range(40)]


def test_a_forked_child_starts_helpers_of_its_own():
    read, write = os.pipe()
    with two_threads():
        _jit.run_pair(lambda: None, lambda: None, _jit.PAIR_WORK)  # the parent's helper is running
        pid = os.fork()
        if pid == 0:  # the child: report which thread ran first(), then leave at once
            try:
                started, where = threading.Event(), {}

                def first():
                    where["first"] = threading.current_thread().name
                    started.set()

                _jit.run_pair(first, lambda: started.wait(timeout=10), _jit.PAIR_WORK)
                os.write(write, where["first"].encode())
            finally:
                os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 60)
    report = os.read(read, 100).decode() if ready else "no answer in 60 s"
    os.close(read)
    os.waitpid(pid, 0)
    assert report.startswith("course-kernels"), report


spins = pytest.mark.skipif(not _jit._SPINS, reason="no sched_yield here, or NUMBA_DISABLE_JIT: no spinning")


@spins
def test_a_spin_sees_a_change_that_another_thread_makes_meanwhile():
    counter = np.zeros(1, dtype=np.int64)

    def change() -> None:  # Python code: it runs only while the spin holds no GIL
        time.sleep(0.02)
        counter[0] = 1

    changer = threading.Thread(target=change)
    changer.start()
    changed = _jit._spin_until_changed(counter, 0, 10**7)  # a few seconds of looks at most
    changer.join()
    assert changed, "the spin held the GIL, or kept counter[0] from its first look"


@spins
def test_a_spin_gives_up_after_its_rounds_and_returns_at_once_on_a_change_already_made():
    counter = np.zeros(1, dtype=np.int64)
    assert not _jit._spin_until_changed(counter, 0, 100)
    counter[0] = 3
    assert _jit._spin_until_changed(counter, 0, 1)
    assert not _jit._spin_until_changed(counter, 3, 1)


def test_a_job_handed_off_is_counted_and_marked_finished_by_its_helper():
    started = threading.Event()
    with two_threads():
        before = int(_jit._queued[0])
        job = _jit._hand_off(lambda: (started.set(), time.sleep(0.02)))
        assert _jit._queued[0] == before + 1
        assert started.wait(timeout=10), "no helper took the job"
        _jit._finish(job)  # the helper's: the caller waits for it
    assert job.finished[0] == 1
