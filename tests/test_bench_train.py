"""`course bench-train`: the frameworks take turns, each run in its own process with a seed of its own;
the best time of each is reported, and the accuracies seed by seed and on their mean; then both train
in one process, taking turns, and their median steps are compared."""

from __future__ import annotations

import argparse

import pytest

from course import bench_train


def _args(**overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_train.add_arguments(parser)
    return parser.parse_args([f"--{k}={v}" for k, v in overrides.items()])


def test_runs_take_turns_one_seed_each_best_time_and_mean_accuracy_reported(monkeypatch, capsys):
    times = {"course": [5.0, 3.0, 4.0], "torch": [2.0, 9.0, 6.0]}
    accuracy = {"course": [0.93, 0.96, 0.96], "torch": [0.95, 0.95, 0.94]}
    calls = []

    def fake_run(framework, settings):
        calls.append((framework, settings["seed"]))
        turn = sum(1 for name, _ in calls if name == framework) - 1
        return {"seconds": times[framework][turn], "accuracy": accuracy[framework][turn]}

    monkeypatch.setattr(bench_train, "_in_subprocess", fake_run)
    assert bench_train.run(_args(repeat=3, seed=4, turn=0)) == 0
    out = capsys.readouterr().out
    assert calls == [("course", 4), ("torch", 4), ("course", 5), ("torch", 5), ("course", 6), ("torch", 6)]
    assert "in one process" not in out  # --turn 0: no run in one process
    assert "one run per seed (seeds 4-6)" in out
    course_line = next(line for line in out.splitlines() if line.startswith("course "))
    torch_line = next(line for line in out.splitlines() if line.startswith("torch "))
    # best time 3.00 (not the first or the last); mean accuracy (93 + 96 + 96) / 3 = 95.0
    assert course_line.split()[1:3] == ["3.00", "95.0%"], course_line
    assert course_line.endswith("5.00, 3.00, 4.00; 93.0, 96.0, 96.0"), course_line
    assert torch_line.split()[1:3] == ["2.00", "94.7%"], torch_line
    # gaps by seed: 95 - 93 = +2.0, 95 - 96 = -1.0, 94 - 96 = -2.0; their mean -1/3
    assert "course / torch time: 1.50x (best of each)" in out
    assert "accuracy gap (torch - course): -0.3 points on the mean, +2.0, -1.0, -2.0 by seed" in out


def test_one_run_names_its_seed(monkeypatch, capsys):
    monkeypatch.setattr(
        bench_train, "_in_subprocess", lambda framework, settings: {"seconds": 1.0, "accuracy": 0.5}
    )
    assert bench_train.run(_args(repeat=1, seed=7, turn=0)) == 0
    assert "one run per seed (seed 7)" in capsys.readouterr().out


def test_repeat_must_be_positive():
    with pytest.raises(SystemExit, match="--repeat must be at least 1, got 0"):
        bench_train.run(_args(repeat=0))


def test_then_both_train_in_one_process_from_the_first_seed_and_their_median_steps_are_compared(
    monkeypatch, capsys
):
    turns = []

    def fake_run(framework, settings):
        if framework == "turns":
            turns.append(settings)
            return {"course": 2.0, "torch": 2.5, "steps": 125}
        return {"seconds": 1.0, "accuracy": 0.5}

    monkeypatch.setattr(bench_train, "_in_subprocess", fake_run)
    assert bench_train.run(_args(repeat=3, seed=4, turn=20, epochs=1)) == 0
    out = capsys.readouterr().out.splitlines()
    assert [(s["seed"], s["turn"], s["epochs"]) for s in turns] == [(4, 20, 1)]  # once, after the runs
    assert out[-1] == (
        "in one process, taking turns every 20 steps over the same 125 batches (seed 4): "
        "median step course 2.000 ms, torch 2.500 ms: 0.80x"
    )


def test_turn_must_not_be_negative():
    with pytest.raises(SystemExit, match="--turn must be 0 .* or more, got -1"):
        bench_train.run(_args(turn=-1))


def test_steps_in_turns_times_every_batch_of_every_epoch_for_both():
    pytest.importorskip("torch")
    done = bench_train.steps_in_turns(
        epochs=2, batch_size=1000, lr=0.05, decay_after=1, seed=0, threads=1, turn=3
    )
    assert done["steps"] == 2 * 4  # 4,000 digits in batches of 1,000, twice
    assert 0 < done["course"] < 1000 and 0 < done["torch"] < 1000  # milliseconds per step
