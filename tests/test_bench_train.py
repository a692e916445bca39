"""`course bench-train`: the frameworks take turns, each run in its own process, and the best time of
each is the one reported (with that run's accuracy)."""

from __future__ import annotations

import argparse

import pytest

from course import bench_train


def _args(**overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_train.add_arguments(parser)
    return parser.parse_args([f"--{k}={v}" for k, v in overrides.items()])


def test_runs_take_turns_and_the_best_time_of_each_framework_is_reported(monkeypatch, capsys):
    times = {"course": [5.0, 3.0, 4.0], "torch": [2.0, 9.0, 6.0]}
    accuracy = {("course", 3.0): 0.93, ("torch", 2.0): 0.95}
    order = []

    def fake_run(framework, settings):
        order.append(framework)
        seconds = times[framework][order.count(framework) - 1]
        return {"seconds": seconds, "accuracy": accuracy.get((framework, seconds), 0.10)}

    monkeypatch.setattr(bench_train, "_in_subprocess", fake_run)
    assert bench_train.run(_args(repeat=3)) == 0
    out = capsys.readouterr().out
    assert order == ["course", "torch"] * 3
    assert "best of 3 runs each" in out
    course_line = next(line for line in out.splitlines() if line.startswith("course "))
    torch_line = next(line for line in out.splitlines() if line.startswith("torch "))
    assert course_line.split()[1:3] == ["3.00", "93.0%"], course_line
    assert torch_line.split()[1:3] == ["2.00", "95.0%"], torch_line
    assert "course / torch time: 1.50x; accuracy gap: +2.0 points" in out


def test_repeat_must_be_positive():
    with pytest.raises(SystemExit, match="--repeat must be at least 1, got 0"):
        bench_train.run(_args(repeat=0))
