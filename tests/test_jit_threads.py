"""`course._jit.run_pair`: two computations that share no output run at once, on a helper thread and
the calling thread, when there is enough work and more than one thread is allowed; else in turn here."""

from __future__ import annotations

import threading
from unittest import mock

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
