"""`course bench`'s timing: forward and backward take turns, and the best time of each is reported."""

from __future__ import annotations

import argparse

import pytest

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


def test_warm_up_rounds_last_the_time_asked_for_and_one_round_at_least(monkeypatch):
    clock, calls = Clock(), []
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    steps = iter([0.25] * 100)  # seconds per call, exact in binary
    forward, backward = timed(clock, calls, "f", steps), timed(clock, calls, "b", steps)
    assert bench._times_in_turns(forward, backward, 2, warm_up=1.2) == ([0.25] * 2, [0.25] * 2)
    assert "".join(calls) == "fb" * 3 + "fb" * 2  # warm-up rounds end at 0.5, 1.0 and 1.5 s
    calls.clear()
    bench._times_in_turns(forward, backward, 1, warm_up=0.0)
    assert "".join(calls) == "fb" + "fb"


def test_the_ratio_worker_gives_medians_of_rounds_taking_turns_for_every_convolution(monkeypatch):
    """`course bench`'s backward / forward in one process: the median of the rounds (not the best, not
    the mean), after a warm-up round, for each convolution of SHAPES and no pooling."""
    clock, calls = Clock(), []

    def fake_calls(module, shape, x, w, b, naive):
        assert not shape.pool and not naive
        forward = timed(clock, calls, "fwd", iter([50.0, 1.0, 9.0, 2.0]))  # the warm-up first
        backward = timed(clock, calls, "bwd", iter([50.0, 4.0, 3.0, 30.0]))
        return forward, backward

    monkeypatch.setattr(bench, "_calls", fake_calls)
    monkeypatch.setattr(bench, "_problem", lambda shape, dtype: (None, None, None))
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    rows = bench._worker_ratios("float32", 3)
    convolutions = [shape.describe() for shape in bench.SHAPES if not shape.pool]
    assert [row["shape"] for row in rows] == convolutions
    assert all((row["fwd"], row["bwd"]) == (2.0, 4.0) for row in rows)
    assert calls == ["fwd", "bwd"] * 4 * len(convolutions)


def test_the_ratio_worker_times_the_shapes_in_turns_so_a_slow_stretch_meets_every_shape(monkeypatch):
    """12 rounds in blocks of TURN = 5: every convolution's first block, then every one's second, then
    every one's last two rounds, each block after its own warm-up round; each shape's medians pool its
    three blocks (its first block's 5 rounds, 100 times slower, are left out)."""
    monkeypatch.setattr(bench, "TURN", 5)
    clock, calls = Clock(), []
    convolutions = [shape for shape in bench.SHAPES if not shape.pool]
    block_of = {shape.name: 0 for shape in convolutions}

    def fake_calls(module, shape, x, w, b, naive):
        def call(direction):
            def run():
                if clock.warming:
                    block_of[shape.name] += 1
                    clock.warming = False
                calls.append((shape.name, block_of[shape.name]))
                clock.now += (100.0 if block_of[shape.name] == 1 else 1.0) * (2 if direction == "b" else 1)

            return run

        return call("f"), call("b")

    real_times_in_turns = bench._times_in_turns

    def marked(forward, backward, repeat, warm_up=0.0):
        clock.warming = True  # the block's warm-up round comes first
        return real_times_in_turns(forward, backward, repeat, warm_up)

    monkeypatch.setattr(bench, "_calls", fake_calls)
    monkeypatch.setattr(bench, "_times_in_turns", marked)
    monkeypatch.setattr(bench, "_problem", lambda shape, dtype: (None, None, None))
    monkeypatch.setattr(bench, "WARM_UP", 0.0)
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    rows = bench._worker_ratios("float32", 12)
    blocks = []
    for call in calls:
        if not blocks or blocks[-1] != call:
            blocks.append(call)
    names = [shape.name for shape in convolutions]
    assert blocks == [(name, block) for block in (1, 2, 3) for name in names]
    assert all((row["fwd"], row["bwd"]) == (1.0, 2.0) for row in rows)  # 5 slow rounds of 12: left out


def test_the_ratio_table_names_the_largest_ratio(capsys):
    rows = [{"shape": "a", "fwd": 2.0, "bwd": 3.0}, {"shape": "b", "fwd": 1.0, "bwd": 2.5}]
    bench._print_ratios("float64", 7, rows)
    out = capsys.readouterr().out
    assert "float64, medians of 7 rounds" in out
    assert out.rstrip().endswith("largest: 2.50 (b)")


@pytest.mark.parametrize(("flag", "value"), [("--repeat", "0"), ("--rounds", "0"), ("--rounds", "-3")])
def test_a_count_below_one_is_refused_before_anything_runs(flag, value, monkeypatch):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    monkeypatch.setattr(bench, "_spawn", lambda *a, **k: pytest.fail("a worker was started"))
    with pytest.raises(SystemExit, match=rf"^bench: {flag} must be at least 1, got {value}$"):
        bench.run(parser.parse_args([flag, value]))


def test_two_libraries_in_one_process_take_turns_in_blocks_each_after_a_warm_up(monkeypatch):
    """7 rounds in blocks of TURN = 5: ours (warm-up + 5), theirs (warm-up + 5), ours (warm-up + 2),
    theirs (warm-up + 2); each library's medians over its own 7 timed rounds, warm-ups left out."""
    monkeypatch.setattr(bench, "TURN", 5)
    clock, calls = Clock(), []
    ours = [100.0, 1, 2, 3, 4, 5, 100.0, 6, 7]  # the warm-ups take 100
    theirs = [100.0, 10, 20, 30, 40, 50, 100.0, 60, 70]
    libraries = {
        "fast": (timed(clock, calls, "f", iter(ours)), timed(clock, calls, "F", iter(ours))),
        "torch": (timed(clock, calls, "t", iter(theirs)), timed(clock, calls, "T", iter(theirs))),
    }
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    medians = bench._medians_in_turns(libraries, 7)
    assert "".join(calls) == "fF" * 6 + "tT" * 6 + "fF" * 3 + "tT" * 3
    assert medians == {"fast": {"fwd": 4.0, "bwd": 4.0}, "torch": {"fwd": 40.0, "bwd": 40.0}}


def test_the_ratio_table_with_pytorch_gives_fast_over_torch_its_geometric_mean_and_worst(capsys):
    rows = [
        {"shape": f"s{k}", "fwd": 1.0, "bwd": 2.0, "torch_fwd": 1.0, "torch_bwd": total - 1.0}
        for k, total in enumerate([3.0, 1.5, 6.0, 12.0, 0.1])  # fast/torch 1, 2, 0.5, 0.25; the fifth: 30
    ]
    bench._print_ratios("float32", 9, rows)
    out = capsys.readouterr().out.splitlines()
    assert "and fast/torch, the two libraries and the shapes taking turns every 5 rounds" in out[0]
    header = ["fast", "fwd", "fast", "bwd", "bwd/fwd", "torch", "fwd", "torch", "bwd", "fast/torch"]
    assert out[1].split() == header
    assert out[3].split()[-1] == "2.00"  # s1's fast/torch
    # the first four: (1 * 2 * 0.5 * 0.25) ** (1/4) = 0.71; the fifth (30) is not one of them
    assert (
        out[-1]
        == "  fast/torch (forward + backward), geometric mean over the first 4 shapes: 0.71; worst s1 2.00"
    )


@pytest.mark.parametrize("no_torch", [False, True])
def test_the_ratio_worker_times_pytorch_beside_ours_when_pytorch_is_benchmarked(no_torch, monkeypatch):
    pytest.importorskip("torch")
    spawned = []

    def fake_spawn(worker_args, **env):
        spawned.append(worker_args)
        kind = worker_args[1]
        if kind == "ratios":
            row = {"shape": "s", "fwd": 1.0, "bwd": 2.0}
            return [row | ({} if no_torch else {"torch_fwd": 1.0, "torch_bwd": 1.0})] * 5
        if kind == "blas":
            return {"text": "blas"}
        return [{"fwd": 1.0, "bwd": 2.0}]

    monkeypatch.setattr(bench, "_spawn", fake_spawn)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    flags = ["--no-naive", "--no-startup", "--dtype", "float32"] + (["--no-torch"] if no_torch else [])
    assert bench.run(parser.parse_args(flags)) == 0
    ratios = [args for args in spawned if args[1] == "ratios"]
    assert len(ratios) == 1 and ("--with-torch" in ratios[0]) is not no_torch
    assert ratios[0][ratios[0].index("--rounds") + 1] == "100"  # `--rounds`' default, not `--repeat`'s 10


def test_the_ratios_worker_takes_its_rounds_from_rounds(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(bench, "_worker_ratios", lambda dtype, rounds, torch: asked.append(rounds) or [])
    assert bench._worker_main(["--worker", "ratios", "--rounds", "7", "--repeat", "3"]) == 0
    assert asked == [7]
    assert capsys.readouterr().out.strip() == "[]"
