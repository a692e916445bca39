"""Train the same LeNet on the shipped digits with `course` and with PyTorch, each in its own process,
and print the training time and test accuracy of both, and their ratio.

Both start from the same initial weights, see the batches in the same order, and use the same
hyperparameters: SGD with momentum 0.9 on the cross-entropy, the learning rate divided by 5 for the
last epochs (by default 3 epochs at 0.05, then 1 at 0.01, batches of 32). Import time, data loading
and a warm-up step (Numba compilation, PyTorch's first-call setup) are excluded from the time, and so
is evaluation. Both use `--threads` threads (Numba's and PyTorch's), by default one per core.

Each framework trains `--repeat` times, each time in a fresh process, the two taking turns, run i with
seed `--seed` + i (initial weights and batch order). The best time of each is reported (as `course
bench` reports the best of its runs): on a shared machine one run of either can be several times slower
than the next. Accuracy is compared seed by seed and on the mean over the seeds: the two frameworks
sum in different orders, and four epochs carry that rounding into different weights, which moves one
seed's test accuracy by up to about a point either way.

Fresh processes on a shared machine can each meet a slow stretch of it, so the two frameworks then also
train side by side in one process (`steps_in_turns`), from seed `--seed`'s weights over the same batches,
taking turns every `--turn` steps; the medians of their step times are compared, which a slow stretch
shifts for both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

__all__ = ["add_arguments", "run", "train_course", "train_torch"]

FRAMEWORKS = ("course", "torch")
WORKERS = (*FRAMEWORKS, "turns")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=4, help="passes over the 4,000 training digits")
    parser.add_argument("--batch-size", type=int, default=32, help="digits per step")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (momentum 0.9)")
    parser.add_argument("--decay-after", type=int, default=3, help="epochs before the rate is divided by 5")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="initial weights and batch order of run 0; run i uses seed + i",
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads for both (default: one per core)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="training runs per framework, one per seed, taking turns (best time, mean accuracy reported)",
    )
    parser.add_argument(
        "--turn",
        type=int,
        default=50,
        help="steps each framework takes in turn when both train in one process (0 skips that comparison)",
    )
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    settings = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "decay_after": args.decay_after,
        "seed": args.seed,
        "threads": args.threads,
    }
    if args.worker == "turns":
        print(json.dumps(steps_in_turns(**settings, turn=args.turn)))
        return 0
    if args.worker:
        train = train_course if args.worker == "course" else train_torch
        print(json.dumps(train(**settings)))
        return 0
    if args.repeat < 1:
        raise SystemExit(f"bench-train: --repeat must be at least 1, got {args.repeat}")
    if args.turn < 0:
        raise SystemExit(
            f"bench-train: --turn must be 0 (no comparison in one process) or more, got {args.turn}"
        )
    seeds = range(args.seed, args.seed + args.repeat)
    runs = {name: [] for name in FRAMEWORKS}
    for seed in seeds:
        for name in FRAMEWORKS:
            runs[name].append(_in_subprocess(name, {**settings, "seed": seed}))
    best = {name: min(run["seconds"] for run in done) for name, done in runs.items()}
    accuracy = {name: 100 * np.array([run["accuracy"] for run in done]) for name, done in runs.items()}
    print(
        f"LeNet on 4,000 digits, {args.epochs} epochs, batch {args.batch_size}, "
        f"SGD lr {args.lr} (/5 after epoch {args.decay_after}) momentum 0.9, "
        f"{args.threads} thread(s) on {os.cpu_count()} cores, one run per seed ({_span(seeds)}) and "
        "framework, taking turns"
    )
    print(f"{'':8} {'best time (s)':>14} {'mean accuracy':>14}   all times (s); accuracies (%)")
    for name in FRAMEWORKS:
        times = ", ".join(f"{run['seconds']:.2f}" for run in runs[name])
        accuracies = ", ".join(f"{value:.1f}" for value in accuracy[name])
        print(f"{name:8} {best[name]:14.2f} {accuracy[name].mean():13.1f}%   {times}; {accuracies}")
    gaps = accuracy["torch"] - accuracy["course"]
    per_seed = ", ".join(f"{gap:+.1f}" for gap in gaps)
    print(
        f"course / torch time: {best['course'] / best['torch']:.2f}x (best of each); "
        f"accuracy gap (torch - course): {gaps.mean():+.1f} points on the mean, {per_seed} by seed"
    )
    if args.turn:
        steps = _in_subprocess("turns", {**settings, "turn": args.turn})
        print(
            f"in one process, taking turns every {args.turn} steps over the same {steps['steps']} batches "
            f"(seed {args.seed}): median step course {steps['course']:.3f} ms, "
            f"torch {steps['torch']:.3f} ms: {steps['course'] / steps['torch']:.2f}x"
        )
    return 0


def _span(seeds: range) -> str:
    """'seed 4' for one seed, 'seeds 0-2' for several."""
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"


def train_course(epochs: int, batch_size: int, lr: float, decay_after: int, seed: int, threads: int) -> dict:
    """Train `course.nn.lenet()` with at most `threads` Numba threads (the kernels use one thread for
    small problems anyway, see `course._jit`); returns {"seconds", "accuracy"}."""
    from course import _jit, nn, optim
    from course.data import load_mnist
    from course.training import evaluate, fit

    _jit.set_num_threads(min(threads, _jit.max_threads()))

    (x, y), (x_test, y_test) = load_mnist()
    model = nn.lenet(rng=np.random.default_rng(seed))
    loss_fn = nn.CrossEntropyLoss()
    warm = nn.lenet(rng=np.random.default_rng(seed))  # compiles the kernels, untimed
    warm_opt = optim.SGD(warm.parameters(), lr=lr)
    fit(warm, loss_fn, warm_opt, x[:8], y[:8], 1, 4, progress=False)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rng = _order_rng(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        opt.lr = _rate(epoch, lr, decay_after)
        fit(model, loss_fn, opt, x, y, 1, batch_size, rng=rng, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "accuracy": evaluate(model, loss_fn, x_test, y_test)[1]}


def train_torch(epochs: int, batch_size: int, lr: float, decay_after: int, seed: int, threads: int) -> dict:
    """Train the same LeNet in PyTorch from the same initial weights; returns {"seconds", "accuracy"}."""
    import torch

    from course.data import load_mnist

    torch.set_num_threads(threads)
    (x, y), (x_test, y_test) = load_mnist()
    model = _torch_twin(seed)
    x_all, y_all = torch.from_numpy(x), torch.from_numpy(y)
    torch.nn.functional.cross_entropy(model(x_all[:4]), y_all[:4]).backward()  # warm-up
    model.zero_grad()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rng = _order_rng(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = _rate(epoch, lr, decay_after)
        order = rng.permutation(len(x))
        for first in range(0, len(x), batch_size):
            _torch_step(model, opt, x_all, y_all, order[first : first + batch_size])
    seconds = time.perf_counter() - start
    with torch.no_grad():
        predicted = model(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    return {"seconds": seconds, "accuracy": float(np.mean(predicted == y_test))}


def steps_in_turns(
    epochs: int, batch_size: int, lr: float, decay_after: int, seed: int, threads: int, turn: int
) -> dict:
    """Train `course.nn.lenet()` and its PyTorch twin in this one process, from seed's initial weights
    over the same batches in the same order as `train_course` and `train_torch`, `turn` steps of one then
    `turn` of the other. A step is forward, loss, backward, update and zeroed gradients; a throwaway
    model of each takes one untimed step first (compiling). Returns the median step times in ms
    {"course": ..., "torch": ...} and the "steps" each took."""
    import torch

    from course import _jit, nn, optim
    from course._blas import single_threaded_blas
    from course.data import load_mnist

    _jit.set_num_threads(min(threads, _jit.max_threads()))
    torch.set_num_threads(threads)
    (x, y), _ = load_mnist()
    x_all, y_all = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()

    def course_trainer(model):
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

        def step(idx: np.ndarray, rate: float) -> None:
            opt.lr = rate
            loss_fn(model(x[idx]), y[idx])
            model.backward_parameters(loss_fn.backward())
            opt.step()
            opt.zero_grad()

        return step

    def torch_trainer(model):
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

        def step(idx: np.ndarray, rate: float) -> None:
            for group in opt.param_groups:
                group["lr"] = rate
            _torch_step(model, opt, x_all, y_all, idx)

        return step

    rng = _order_rng(seed)
    batches = []  # (rate, indices) of every step, in order
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        rate = _rate(epoch, lr, decay_after)
        batches += [(rate, order[first : first + batch_size]) for first in range(0, len(x), batch_size)]
    steps = {
        "course": course_trainer(nn.lenet(rng=np.random.default_rng(seed))),
        "torch": torch_trainer(_torch_twin(seed)),
    }
    times = {name: [] for name in steps}
    with single_threaded_blas():  # as `fit`, around the whole loop
        course_trainer(nn.lenet(rng=np.random.default_rng(seed)))(batches[0][1], lr)  # warm-ups
        torch_trainer(_torch_twin(seed))(batches[0][1], lr)
        for first in range(0, len(batches), turn):
            for name, step in steps.items():
                for rate, idx in batches[first : first + turn]:
                    start = time.perf_counter()
                    step(idx, rate)
                    times[name].append(time.perf_counter() - start)
    medians = {name: 1000 * float(np.median(spent)) for name, spent in times.items()}
    return medians | {"steps": len(batches)}


def _torch_twin(seed: int):
    """`torch_lenet()` with the initial weights of `course.nn.lenet(rng=np.random.default_rng(seed))`."""
    import torch

    from course import nn

    model = torch_lenet()
    initial = nn.lenet(rng=np.random.default_rng(seed)).state_dict()
    model.load_state_dict({name: torch.from_numpy(value) for name, value in initial.items()})
    return model


def _torch_step(model, opt, x_all, y_all, idx: np.ndarray) -> None:
    """One PyTorch training step on the digits x_all[idx]: forward, cross-entropy, backward, update,
    zeroed gradients."""
    import torch

    index = torch.from_numpy(idx)
    torch.nn.functional.cross_entropy(model(x_all[index]), y_all[index]).backward()
    opt.step()
    opt.zero_grad()


def _rate(epoch: int, lr: float, decay_after: int) -> float:
    """The learning rate of `epoch`: lr, divided by 5 from epoch `decay_after` on."""
    return lr if epoch < decay_after else lr / 5


def torch_lenet():
    """`course.nn.lenet()`'s twin in PyTorch: the same layers, so the same state_dict names."""
    from torch import nn as tnn

    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(400, 120),
        tnn.ReLU(),
        tnn.Linear(120, 84),
        tnn.ReLU(),
        tnn.Linear(84, 10),
    )


def _order_rng(seed: int) -> np.random.Generator:
    """The generator of the batch order, the same for both frameworks (as `fit` draws it)."""
    return np.random.default_rng(seed + 1)


def _in_subprocess(framework: str, settings: dict) -> dict:
    command = [sys.executable, "-m", "course.bench_train", "--worker", framework]
    for key, value in settings.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench-train: the {framework} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # the worker processes start here, without the rest of the CLI
    parser = argparse.ArgumentParser(prog="python -m course.bench_train", description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
