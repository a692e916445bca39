"""`course bench`: time the naive, fast (Numba) and PyTorch CPU kernels side by side, in one run.

Each library runs in its own fresh process (so their thread pools never compete) on the same problems,
generated from one seed; a time is the best of `--repeat` runs after one warm-up call (which compiles,
or loads from the cache, the Numba kernels), forward and backward calls taking turns. Backward times
exclude the forward pass. The naive loops are far too slow for full batches: they are timed once on
one image (and, for the largest problems, on a few of the F kernels) and scaled linearly to the full
problem, which the output says.

Our backward / forward ratio is also measured in one process per dtype, as the medians of `--rounds`
rounds of one forward and one backward call: one fresh process's best of a few runs can meet a slow
moment of the machine for one direction only. When PyTorch is benchmarked, that process times it too on
the same problems, and fast/torch is given again from those medians: fresh processes a few seconds
apart can meet a slow stretch of the machine for one library only. The shapes, and on each shape the
two libraries, take turns every TURN rounds, each turn after WARM_UP seconds of untimed rounds.
Also measured: a fresh process with an empty Numba cache (cold: compiling) and with a warm one doing
`import course.functional` and one conv2d forward and backward, then `course.kernels.precompile()`
(every kernel the notebooks use), and how our conv2d fares right after an OpenBLAS matrix product.
`--load N` runs N CPU-bound processes beside all of it (`course._load.busy_processes`), as a browser or
a video call would; the load average is printed before and after. Layering: imports functional and
naive lazily, inside the worker processes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["SHAPES", "Shape", "add_arguments", "run"]


@dataclass(frozen=True)
class Shape:
    """A benchmark problem: x (N, C, H, W) and either F kernels of KH = KW = `kernel` with `padding`
    (stride 1), or, when `pool` is set, `kernel` x `kernel` max pooling with stride `kernel`."""

    name: str
    x: tuple[int, int, int, int]
    kernel: int
    filters: int = 0
    padding: int = 0
    pool: bool = False

    def describe(self) -> str:
        n, c, h, w = self.x
        if self.pool:
            return f"maxpool {self.kernel}x{self.kernel}, {n}x{c}x{h}x{w}"
        pad = f" pad {self.padding}" if self.padding else ""
        return f"conv N={n} {c}->{self.filters} {h}x{w} k{self.kernel}{pad}"


SHAPES = (
    Shape("lenet1", (64, 1, 28, 28), 5, filters=6),
    Shape("lenet2", (64, 6, 12, 12), 5, filters=16),
    Shape("cifar", (32, 32, 32, 32), 3, filters=64, padding=1),
    Shape("tiny", (256, 1, 8, 8), 3, filters=8, padding=1),
    Shape("photo", (1, 3, 224, 224), 3, filters=16, padding=1),
    Shape("pool", (64, 16, 24, 24), 2, pool=True),
)
CORE = 4  # the target is the geometric mean over the first four shapes
TURN = 5  # rounds of one shape and library before the next one's, when timed in one process
# Seconds of untimed rounds before each turn in one process. After a turn of the other library,
# its threads may still spin (PyTorch's OpenMP threads spin for about 9 ms of CPU after a conv2d forward
# and backward), and a core that was idle runs slowly for several milliseconds: LeNet 6->16's forward in
# float32 took 0.25 ms round after round, but 0.82, then 0.40-0.46 ms for the next five rounds, after 20 ms
# of sleep (two threads, medians of 60 such blocks).
WARM_UP = 0.02
NAIVE_BUDGET = 1_000_000  # inner-loop iterations per naive forward before kernels are subsampled


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dtype", choices=["float32", "float64", "both"], default="both", help="dtypes to time"
    )
    parser.add_argument("--repeat", type=int, default=10, help="runs per timing; the best is kept")
    parser.add_argument("--no-naive", action="store_true", help="skip the (slow) naive loops")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    parser.add_argument(
        "--threads", type=int, default=0, help="threads for ours and PyTorch alike (default: all cores)"
    )
    parser.add_argument(
        "--load", type=int, default=0, help="CPU-bound processes to run beside the benchmark (default 0)"
    )
    parser.add_argument("--no-startup", action="store_true", help="skip the cold and warm start-up timings")
    parser.add_argument(
        "--rounds",
        type=int,
        default=100,
        help="forward and backward rounds of the one-process timings: our backward / forward, and "
        "fast/torch (default 100)",
    )


def run(args: argparse.Namespace) -> int:
    from course._load import busy_processes

    for flag, value in (("--repeat", args.repeat), ("--rounds", args.rounds)):
        if value < 1:  # else the tables would say "best of 0 runs", "medians of -1 rounds"
            raise SystemExit(f"bench: {flag} must be at least 1, got {value}")
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    libraries = ["fast"]
    if not args.no_naive:
        libraries.insert(0, "naive")
    if not args.no_torch and importlib.util.find_spec("torch") is not None:
        libraries.append("torch")
    threads = f"{args.threads} thread(s)" if args.threads else "all cores"
    beside = f", {args.load} busy process(es) beside it" if args.load else ", nothing started beside it"
    print(
        f"course bench: best of {args.repeat} runs, {threads}{beside}; each library in its own process, "
        f"interleaved shape by shape; times in ms"
    )
    print(f"CPU: {_cpu_name()}, {os.cpu_count()} cores; load average before: {_loadavg()}")
    env = (
        {"NUMBA_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
    )
    with busy_processes(args.load):
        for dtype in dtypes:
            results: dict[str, list] = {lib: [] for lib in libraries}
            for k in range(len(SHAPES)):  # interleaved: every library measures a shape before the next one
                for lib in libraries:
                    worker = [
                        "--worker",
                        lib,
                        "--dtype",
                        dtype,
                        "--repeat",
                        str(args.repeat),
                        "--shape",
                        str(k),
                    ]
                    results[lib] += _spawn(worker, **env)
            _print_table(dtype, results)
            ratios = ["--worker", "ratios", "--dtype", dtype, "--rounds", str(args.rounds)]
            ratios += ["--with-torch"] if "torch" in libraries else []
            _print_ratios(dtype, args.rounds, _spawn(ratios, **env))
        print()
        if not args.no_startup:
            _print_startup()
            print()
        blas = ["--worker", "blas", "--repeat", str(max(args.repeat, 20))]
        print(_spawn(blas)["text"])
    print(f"load average after: {_loadavg()}")
    return 0


def _loadavg() -> str:
    """The 1, 5 and 15 minute load averages (Linux), or "n/a"."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def _cpu_name() -> str:
    """The CPU's model name as the system reports it (Linux), else the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def _spawn(worker_args: list[str], **env: str):
    """Run this module as a worker in a fresh interpreter (with `env` added to the environment) and
    return what it prints (JSON)."""
    done = subprocess.run(
        [sys.executable, "-m", "course.bench", *worker_args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench worker {worker_args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(dtype: str, results: dict) -> None:
    libs = list(results)
    header = f"{'':34}" + "".join(f"{lib + ' fwd':>12}{lib + ' bwd':>12}" for lib in libs)
    ratios = [("fast", "torch"), ("naive", "fast")]
    ratios = [(a, b) for a, b in ratios if a in results and b in results]
    header += "".join(f"{a + '/' + b:>14}" for a, b in ratios)
    print(f"\n{dtype}\n{header}")
    notes = []
    for k, shape in enumerate(SHAPES):
        line = f"{shape.describe():34}"
        for lib in libs:
            entry = results[lib][k]
            line += f"{entry['fwd'] * 1e3:12.2f}{entry['bwd'] * 1e3:12.2f}"
            if entry.get("note"):
                notes.append(f"  {lib}, {shape.describe()}: {entry['note']}")
        for a, b in ratios:
            line += f"{_total(results[a][k]) / _total(results[b][k]):14.2f}"
        print(line)
    if "torch" in results:
        core = [_total(results["fast"][k]) / _total(results["torch"][k]) for k in range(CORE)]
        print(_core_summary(core, [shape.describe() for shape in SHAPES]))
    conv = [k for k, shape in enumerate(SHAPES) if not shape.pool]
    backward = max(conv, key=lambda k: results["fast"][k]["bwd"] / results["fast"][k]["fwd"])
    entry = results["fast"][backward]
    print(
        f"fast backward / forward, largest over the convolutions: {entry['bwd'] / entry['fwd']:.2f} "
        f"({SHAPES[backward].describe()})"
    )
    print("\n".join(notes))


def _print_ratios(dtype: str, rounds: int, rows: list[dict]) -> None:
    """Our backward / forward per convolution, and where PyTorch was timed beside us, fast/torch."""
    torch = "torch_fwd" in rows[0]
    against = ", and fast/torch, the two libraries and" if torch else ", the"
    print(
        f"our backward / forward in one process{against} the shapes taking turns every {TURN} rounds, "
        f"{dtype}, medians of {rounds} rounds (times in ms):"
    )
    columns = ["fast fwd", "fast bwd", "bwd/fwd"]
    columns += ["torch fwd", "torch bwd", "fast/torch"] if torch else []
    print(f"  {'':32}" + "".join(f"{name:>12}" for name in columns))
    for row in rows:
        times = f"{row['fwd'] * 1e3:12.2f}{row['bwd'] * 1e3:12.2f}"
        line = f"  {row['shape']:32}{times}{row['bwd'] / row['fwd']:12.2f}"
        if torch:
            line += f"{row['torch_fwd'] * 1e3:12.2f}{row['torch_bwd'] * 1e3:12.2f}{_against(row):12.2f}"
        print(line)
    largest = max(rows, key=lambda row: row["bwd"] / row["fwd"])
    print(f"  largest: {largest['bwd'] / largest['fwd']:.2f} ({largest['shape']})")
    if torch:
        print("  " + _core_summary([_against(row) for row in rows[:CORE]], [row["shape"] for row in rows]))


def _core_summary(core: list[float], names: list[str]) -> str:
    """The line that judges the target: the geometric mean of fast/torch over the first CORE shapes
    (`core`, in order), and the worst of them, named from `names`."""
    geo = math.exp(sum(map(math.log, core)) / CORE)
    worst = max(range(CORE), key=lambda k: core[k])
    return (
        f"fast/torch (forward + backward), geometric mean over the first {CORE} shapes: {geo:.2f}; "
        f"worst {names[worst]} {core[worst]:.2f}"
    )


def _against(row: dict) -> float:
    """fast/torch of a ratio row: our forward + backward over PyTorch's."""
    return (row["fwd"] + row["bwd"]) / (row["torch_fwd"] + row["torch_bwd"])


def _total(entry: dict) -> float:
    return entry["fwd"] + entry["bwd"]


STARTUP = """
import time
start = time.perf_counter()
import numpy as np
import course.functional as F
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
w = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)
y = F.conv2d(x, w, padding=2)
F.conv2d_backward(np.ones_like(y), x, w, padding=2)
first, first_cpu = time.perf_counter() - start, time.process_time()
from course.kernels import precompile
precompile()
import os
times = os.times()
children = times.children_user + times.children_system  # precompile's helper processes
print(first, time.perf_counter() - start, first_cpu, time.process_time() + children)
"""


def _print_startup() -> None:
    """Fresh processes: with an empty Numba cache (a new directory: everything compiles), then twice
    with the cache that run filled (the second is reported). Numba compiles on one thread: the first
    call's CPU time is what its wall time would be on an idle core, whatever else the machine is doing;
    precompile shares its kernels among processes, and its CPU time counts theirs too."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="course-bench-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for _ in range(3):
            begin = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True, env=env
            )
            runs.append((*map(float, done.stdout.split()), time.perf_counter() - begin))
    for label, (first, everything, first_cpu, cpu, wall) in (("empty", runs[0]), ("warm", runs[2])):
        print(
            f"fresh process, {label} Numba cache: import course.functional + first conv2d forward and "
            f"backward (64x1x28x28, float32) {first:.2f} s (CPU {first_cpu:.2f} s), then every kernel "
            f"the notebooks use (precompile) {everything:.2f} s in all (CPU of all its processes "
            f"{cpu:.2f} s; {wall:.2f} s with the interpreter's start-up)"
        )


# --- worker side: runs in its own process -------------------------------------------------------------


def _times_in_turns(forward, backward, repeat: int, warm_up: float = 0.0) -> tuple[list[float], list[float]]:
    """The forward and backward times of `repeat` rounds, each round one forward call then one
    backward call, after warm-up rounds for `warm_up` seconds, one at least (which compiles or loads
    the Numba cache); `repeat=0` times a single round, for the naive loops. Taking turns, both
    directions see the same moments of a shared machine, whose speed can change by half from one second
    to the next: timed one after the other, the backward / forward ratio of one layer moved between 1.4
    and 2.6 from process to process."""
    if repeat:
        end = time.perf_counter() + warm_up
        forward(), backward()
        while time.perf_counter() < end:
            forward(), backward()
    forward_times, backward_times = [], []
    for _ in range(max(repeat, 1)):
        for fn, times in ((forward, forward_times), (backward, backward_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return forward_times, backward_times


def _best_in_turns(forward, backward, repeat: int) -> tuple[float, float]:
    """The best forward and backward times of `_times_in_turns`."""
    forward_times, backward_times = _times_in_turns(forward, backward, repeat)
    return min(forward_times), min(backward_times)


def _problem(shape: Shape, dtype, batch: int | None = None, filters: int | None = None):
    rng = np.random.default_rng(0)
    n, c, h, w = shape.x
    x = rng.standard_normal((batch or n, c, h, w)).astype(dtype)
    if shape.pool:
        return x, None, None
    f = filters or shape.filters
    return (
        x,
        rng.standard_normal((f, c, shape.kernel, shape.kernel)).astype(dtype),
        rng.standard_normal(f).astype(dtype),
    )


def _time_ours(module, shape: Shape, x, w, b, repeat: int, naive: bool):
    """Forward and backward times of course.functional or course.naive on one problem."""
    return _best_in_turns(*_calls(module, shape, x, w, b, naive), repeat)


def _calls(module, shape: Shape, x, w, b, naive: bool):
    """The forward and the backward call of course.functional or course.naive on one problem."""
    k, p = shape.kernel, shape.padding
    if shape.pool:
        size = (k, k) if naive else k
        forward = lambda: module.max_pool2d(x, size, size)  # noqa: E731
        grad = np.ones_like(forward())
        backward = lambda: module.max_pool2d_backward(grad, x, size, size)  # noqa: E731
    else:
        stride, padding = ((1, 1), (p, p)) if naive else (1, p)
        forward = lambda: module.conv2d(x, w, b, stride, padding)  # noqa: E731
        grad = np.ones_like(forward())
        backward = lambda: module.conv2d_backward(grad, x, w, stride, padding)  # noqa: E731
    return forward, backward


def _time_torch(shape: Shape, x, w, b, repeat: int):
    return _best_in_turns(*_torch_calls(shape, x, w, b), repeat)


def _torch_calls(shape: Shape, x, w, b):
    """The forward (without autograd) and the backward call of PyTorch on one problem."""
    import torch

    xt = torch.from_numpy(x).requires_grad_()
    if shape.pool:
        inputs = (xt,)
        op = lambda: torch.nn.functional.max_pool2d(xt, shape.kernel)  # noqa: E731
    else:
        wt, bt = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
        inputs = (xt, wt, bt)
        op = lambda: torch.nn.functional.conv2d(xt, wt, bt, 1, shape.padding)  # noqa: E731

    def forward():
        with torch.no_grad():
            op()

    y = op()
    grad = torch.ones_like(y)
    backward = lambda: torch.autograd.grad(y, inputs, grad, retain_graph=True)  # noqa: E731
    return forward, backward


def _worker_times(lib: str, dtype: str, repeat: int, shapes: tuple[Shape, ...]) -> list[dict]:
    entries = []
    for shape in shapes:
        if lib == "torch":
            fwd, bwd = _time_torch(shape, *_problem(shape, dtype), repeat)
            entries.append({"fwd": fwd, "bwd": bwd})
        elif lib == "fast":
            import course.functional as module

            fwd, bwd = _time_ours(module, shape, *_problem(shape, dtype), repeat, naive=False)
            entries.append({"fwd": fwd, "bwd": bwd})
        else:
            import course.naive as module

            n, c, h, w = shape.x
            per_kernel = h * w * c * shape.kernel**2
            filters = None if shape.pool else max(1, min(shape.filters, NAIVE_BUDGET // per_kernel))
            x, wt, b = _problem(shape, dtype, batch=1, filters=filters)
            fwd, bwd = _time_ours(module, shape, x, wt, b, 0, naive=True)
            scale = n * (1 if shape.pool else shape.filters / filters)
            note = "timed once on 1 image" + (
                "" if shape.pool else f" and {filters} of {shape.filters} kernels"
            )
            entries.append({"fwd": fwd * scale, "bwd": bwd * scale, "note": note + f", scaled x{scale:g}"})
    return entries


def _worker_ratios(dtype: str, rounds: int, torch: bool = False) -> list[dict]:
    """Median forward and backward times of course.functional on each convolution of SHAPES, `rounds`
    rounds in this one process, and with `torch` PyTorch's on the same problems ("torch_fwd",
    "torch_bwd"). All of them take turns every TURN rounds (`_medians_in_turns`): the shapes, and on
    each shape the two libraries. A slow stretch of the machine (tens of seconds on the README's KVM
    guest) then meets a share of every shape's rounds, which the medians leave out, instead of all the
    rounds of the one or two small shapes timed while it lasted."""
    import course.functional as module

    convolutions = [shape for shape in SHAPES if not shape.pool]
    pairs = {}  # (shape, library): its (forward, backward) calls
    for shape in convolutions:
        problem = _problem(shape, dtype)
        pairs[shape, "fast"] = _calls(module, shape, *problem, naive=False)
        if torch:
            pairs[shape, "torch"] = _torch_calls(shape, *problem)
    medians = _medians_in_turns(pairs, rounds)
    rows = []
    for shape in convolutions:
        row = {"shape": shape.describe(), **medians[shape, "fast"]}
        if torch:
            row |= {f"torch_{direction}": time for direction, time in medians[shape, "torch"].items()}
        rows.append(row)
    return rows


def _medians_in_turns(pairs: dict, rounds: int) -> dict:
    """{key: (forward, backward)} -> {key: {"fwd": median, "bwd": median}}: `rounds` rounds of each
    pair of calls (one library's on one shape) (`_times_in_turns`), in blocks of TURN rounds, the pairs
    taking turns block by block in the dict's order, each block after WARM_UP seconds of its own
    untimed rounds."""
    times = {key: ([], []) for key in pairs}
    for first in range(0, rounds, TURN):
        for key, calls in pairs.items():
            forward, backward = _times_in_turns(*calls, min(TURN, rounds - first), WARM_UP)
            times[key][0].extend(forward)
            times[key][1].extend(backward)
    return {
        key: {"fwd": float(np.median(forward)), "bwd": float(np.median(backward))}
        for key, (forward, backward) in times.items()
    }


def _worker_blas(repeat: int) -> dict:
    """Median time of our conv2d (LeNet's second layer: matrix products; on every thread whatever its
    size) alone, and right after a matrix product of the user's own with numpy's default BLAS threads
    (whose team may still be spinning): `course.functional` holds BLAS to one thread for its own
    products, so the two should match."""
    import course._jit
    import course.functional as F

    course._jit.PARALLEL_WORK = 0  # this worker measures the threaded path, whatever the size
    x, w, b = _problem(SHAPES[1], "float32")
    rng = np.random.default_rng(1)
    a, m = rng.standard_normal((64, 400)), rng.standard_normal((400, 120))
    F.conv2d(x, w, b)

    def median(after_matmul: bool) -> float:
        times = []
        for _ in range(repeat):
            if after_matmul:
                a @ m
            start = time.perf_counter()
            F.conv2d(x, w, b)
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    alone, after = median(False), median(True)
    text = (
        f"our conv2d ({SHAPES[1].describe()}, float32, all threads), median of {repeat}: alone "
        f"{alone * 1e3:.2f} ms; right after a (64, 400) @ (400, 120) product on numpy's default BLAS "
        f"threads {after * 1e3:.2f} ms"
    )
    return {"text": text}


def _worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.bench")
    parser.add_argument("--worker", choices=["naive", "fast", "torch", "blas", "ratios"], required=True)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeat", type=int, default=10, help="runs per best time; calls per median (blas)")
    parser.add_argument("--rounds", type=int, default=100, help="rounds per median (ratios)")
    parser.add_argument("--shape", type=int, help="index into SHAPES (default: every shape)")
    parser.add_argument("--with-torch", action="store_true", help="the ratios worker times PyTorch too")
    args = parser.parse_args(argv)
    if args.worker == "blas":
        out = _worker_blas(args.repeat)
    elif args.worker == "ratios":
        out = _worker_ratios(args.dtype, args.rounds, torch=args.with_torch)
    else:
        shapes = SHAPES if args.shape is None else (SHAPES[args.shape],)
        out = _worker_times(args.worker, args.dtype, args.repeat, shapes)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
