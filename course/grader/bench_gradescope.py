"""`course bench-gradescope`: time one Gradescope submission, cold and warm, in a simulated container.

Lays out an /autograder-shaped folder (`Harness`): the autograder of the chosen notebooks unpacked in
ROOT/source, ROOT/venv/bin/python standing for the venv setup.sh builds (this Python, this `course`),
then runs setup.sh's own cache step and ROOT/run_autograder with COURSE_AUTOGRADER_ROOT=ROOT. Timed:

    setup       the cache step (compiling the kernels into the image's cache, once per image)
    cold        the first submission in a fresh process, with the image's cache (what every Gradescope
                container does)
    warm        the same again (best of --repeat)
    no cache    the same with an empty Numba cache (every kernel compiled during the submission, as
                before the image carried a cache)

Each run is a fresh process, as a fresh container is; the machine's file cache stays warm, so `cold`
excludes reading the image from disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import course
from course.grader.autograder import CACHE_ENV, Assignment, make_autograder
from course.grading import EXERCISES
from course.grading.result import points_text

__all__ = ["CACHE_CPUS", "Harness", "add_arguments", "run"]

CACHE_CPUS = ("generic", "native")


@dataclass(frozen=True)
class Harness:
    """An /autograder-shaped folder at `root`, as Gradescope's image has it after unpacking the zip."""

    root: Path

    @classmethod
    def lay_out(
        cls, root: Path, assignment: Assignment, secret: bytes | None = None, cache_cpu: str = "generic"
    ) -> Harness:
        """Unpack the autograder of `assignment` into root/source, copy run_autograder beside it (as
        Gradescope does) and stand this Python in for root/venv/bin/python. With `cache_cpu` "native",
        the scripts' Numba settings for a generic CPU are left out, so the cache is compiled for this
        machine's CPU (to measure what the portable cache costs)."""
        if cache_cpu not in CACHE_CPUS:
            raise ValueError(f"cache_cpu must be one of {CACHE_CPUS}, got {cache_cpu!r}")
        make_autograder(root / "source", assignment, secret)
        if cache_cpu == "native":
            for name in ("setup.sh", "run_autograder"):
                script = root / "source" / name
                lines = script.read_text().splitlines(keepends=True)
                script.write_text("".join(line for line in lines if not _sets_the_cpu(line)))
        shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
        python = root / "venv" / "bin" / "python"
        python.parent.mkdir(parents=True, exist_ok=True)
        python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        python.chmod(0o755)
        return cls(root)

    def env(self, **extra: str) -> dict[str, str]:
        """This environment without Numba settings, with the harness root and this `course` importable."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
        code = str(Path(course.__file__).resolve().parents[1])
        return {**env, "COURSE_AUTOGRADER_ROOT": str(self.root), "PYTHONPATH": code, **extra}

    def cache_step(self) -> subprocess.CompletedProcess:
        """setup.sh's ROOT line and everything from its cache step on (the installs before it need apt
        and PyPI, which the stand-in venv replaces)."""
        setup = (self.root / "source" / "setup.sh").read_text()
        root_line = next(line for line in setup.splitlines() if line.startswith("ROOT="))
        script = "set -euo pipefail\n" + root_line + "\n" + setup[setup.index("# the cache step") :]
        return subprocess.run(["bash", "-c", script], env=self.env(), capture_output=True, text=True)

    def submit(
        self, notebooks: dict[str, Path | str], user: int = 7, **env: str
    ) -> tuple[int, dict | None, str]:
        """Run run_autograder on one submission (file name -> a path to copy or the notebook's text),
        from student `user`; returns the exit status, results.json (None if missing) and the log."""
        for name in ("submission", "results"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        (self.root / "submission").mkdir()
        for name, content in notebooks.items():
            target = self.root / "submission" / name
            if isinstance(content, Path):
                shutil.copy(content, target)
            else:
                target.write_text(content)
        metadata = {"id": 1000 + user, "users": [{"id": user, "email": f"s{user}@example.edu", "name": "S"}]}
        (self.root / "submission_metadata.json").write_text(json.dumps(metadata))
        command = ["bash", str(self.root / "run_autograder")]
        done = subprocess.run(command, env=self.env(**env), capture_output=True, text=True)
        path = self.root / "results" / "results.json"
        results = json.loads(path.read_text()) if path.exists() else None
        return done.returncode, results, done.stdout + done.stderr


def _sets_the_cpu(line: str) -> bool:
    return any(line.startswith(f"export {name}=") for name in CACHE_ENV)


def bench(submission: Path, notebooks: list[str], repeat: int = 3, cache_cpu: str = "generic") -> dict:
    """Time the cache step and one submission (the notebooks in `submission`) cold, warm and without
    the image's cache, compiled for `cache_cpu` ("generic": any x86-64, as shipped; "native": this
    CPU); returns seconds and the scores."""
    files = {p.name: p for p in sorted(submission.glob("*.ipynb"))}
    if not files:
        raise ValueError(f"bench-gradescope: no .ipynb files in --submission {submission}")
    assignment = Assignment.choose(notebooks, [])
    with tempfile.TemporaryDirectory(prefix="course-bench-gradescope-") as scratch:
        harness = Harness.lay_out(Path(scratch) / "autograder", assignment, cache_cpu=cache_cpu)
        start = time.perf_counter()
        done = harness.cache_step()
        setup = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"bench-gradescope: the cache step failed:\n{done.stderr}")

        def timed() -> tuple[float, float, float]:
            """Wall and CPU seconds (run_autograder and its children) of one submission; its score."""
            cpu, start = _children_cpu(), time.perf_counter()
            status, results, log = harness.submit(files)
            if status or results is None:
                raise RuntimeError(f"bench-gradescope: run_autograder failed:\n{log}")
            return time.perf_counter() - start, _children_cpu() - cpu, results["score"]

        cold = timed()
        warm = [timed() for _ in range(repeat)]
        uncached = []
        for _ in range(repeat):
            script = harness.root / "run_autograder"
            original = script.read_text()
            empty = tempfile.mkdtemp(dir=scratch)  # the same script, with an empty cache folder
            script.write_text(original.replace('"$ROOT/numba-cache"', f'"{empty}"'))
            uncached.append(timed())
            script.write_text(original)
    return {
        "assignment": assignment.label,
        "exercises": len(assignment.exercises),
        "possible": sum(EXERCISES[e].points for e in assignment.exercises),
        "score": cold[2],
        "setup": setup,
        "cold": cold[:2],
        "warm": [w[:2] for w in warm],
        "no_cache": [u[:2] for u in uncached],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default = Path(__file__).resolve().parents[2] / "solutions"
    parser.add_argument("--submission", type=Path, default=default, help="a folder of notebooks to submit")
    parser.add_argument(
        "--notebooks", nargs="+", default=["02_components"], metavar="NAME", help="the assignment's notebooks"
    )
    parser.add_argument("--repeat", type=int, default=3, help="warm and uncached runs (the best is kept)")
    parser.add_argument(
        "--cache-cpu",
        choices=CACHE_CPUS,
        default="generic",
        help="the CPU the image's cache is compiled for: any x86-64 (as the autograder ships it) or "
        "this machine's (to see what the portable cache costs)",
    )


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        print(f"course bench-gradescope: --repeat must be >= 1, got {args.repeat}", file=sys.stderr)
        return 2
    try:
        result = bench(args.submission, args.notebooks, args.repeat, args.cache_cpu)
    except (ValueError, RuntimeError) as error:
        print(f"course bench-gradescope: {error}", file=sys.stderr)
        return 1
    load = os.getloadavg()[0]
    print(
        f"one Gradescope submission of {result['assignment']} ({result['exercises']} exercises, score "
        f"{points_text(result['score'])}/{points_text(result['possible'])}); "
        f"cache for a {args.cache_cpu} CPU; "
        f"{os.cpu_count()} cores, load average {load:.1f}\n"
        f"  setup's cache step   {result['setup']:6.1f} s (once per image)"
    )
    rows = (
        ("cold, image's cache", [result["cold"]]),
        ("warm", result["warm"]),
        ("without a cache", result["no_cache"]),
    )
    for name, runs in rows:
        wall, cpu = min(runs)
        more = (
            f" (best of {len(runs)}; median {statistics.median(w for w, _ in runs):.1f} s)"
            if len(runs) > 1
            else ""
        )
        print(f"  {name:20} {wall:6.1f} s wall, {cpu:5.1f} s CPU{more}")
    return 0
