"""`course bench`'s timing: forward and backward take turns, and the best time of each is reported."""

from __future__ import annotations

from course import bench


class Clock:
    """A fake time.perf_counter that only moves when a timed call runs."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def timed(clock: Clock, calls: list, name: str, durations):
    """A call that records its name and moves the clock by the next of `durations` (an iterator)."""

    def call():
        calls.append(name)
        clock.now += next(durations)

    return call


def test_forward_and_backward_take_turns_and_the_best_of_each_is_kept(monkeypatch):
    clock, calls = Clock(), []
    forward = timed(clock, calls, "fwd", iter([9.0, 3.0, 2.0, 4.0]))  # the warm-up first
    backward = timed(clock, calls, "bwd", iter([9.0, 5.0, 7.0, 6.0]))
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    assert bench._best_in_turns(forward, backward, 3) == (2.0, 5.0)
    assert calls == ["fwd", "bwd"] * 4  # the warm-up round, then three rounds


def test_repeat_zero_times_one_round_without_warm_up(monkeypatch):
    clock, calls = Clock(), []
    forward, backward = timed(clock, calls, "fwd", iter([8.0])), timed(clock, calls, "bwd", iter([20.0]))
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    assert bench._best_in_turns(forward, backward, 0) == (8.0, 20.0)
    assert calls == ["fwd", "bwd"]
