"""`course bench-grade`: time the grader on a class of identical completed submissions.

Builds SUBMISSIONS/<student>/ as copies of one completed submission (by default the course's solution
notebooks, solutions/*.ipynb), grades them with `course grade`'s own code, and reports the wall time,
the time per student, and whether every copy got the same, full score.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from course.grader.class_run import grade_class
from course.grader.sandbox.run import DEFAULT_LIMITS, Limits, describe, isolation
from course.grading import EXERCISES
from course.grading.result import points_text

__all__ = ["add_arguments", "bench", "run"]


def bench(
    submission: Path, students: int, workers: int, limits: Limits = DEFAULT_LIMITS, mode: str = "auto"
) -> dict:
    """Grade `students` copies of the notebooks in `submission`; returns the timings and scores."""
    notebooks = sorted(submission.glob("*.ipynb"))
    if not notebooks:
        raise ValueError(f"bench: no .ipynb files in {submission}")
    with tempfile.TemporaryDirectory(prefix="course-bench-") as scratch:
        root = Path(scratch)
        for index in range(students):
            folder = root / "submissions" / f"student{index:03d}"
            folder.mkdir(parents=True)
            for notebook in notebooks:
                shutil.copy(notebook, folder / notebook.name)
        start = time.perf_counter()
        grades = grade_class(root / "submissions", root / "out", workers, limits=limits, mode=mode)
        seconds = time.perf_counter() - start
    totals = sorted({g.total for g in grades})
    return {
        "students": students,
        "workers": workers,
        "notebooks": [n.name for n in notebooks],
        "seconds": seconds,
        "per_student": seconds / students,
        "totals": totals,
        "max_points": sum(x.points for x in EXERCISES.values()),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default = Path(__file__).resolve().parents[2] / "solutions"
    parser.add_argument("--submission", type=Path, default=default, help="a folder of completed notebooks")
    parser.add_argument("--students", type=int, default=100, help="copies of the submission to grade")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="students graded at once (one per core)"
    )
    parser.add_argument(
        "--sandbox", choices=("auto", "bwrap", "fallback"), default="auto", help="as for `course grade`"
    )


def run(args: argparse.Namespace) -> int:
    for option, value in (("--students", args.students), ("--workers", args.workers)):
        if value < 1:
            return _error(f"{option} must be at least 1, got {value}")
    expected = f"--submission {args.submission}: expected a folder of notebooks (*.ipynb)"
    if not args.submission.is_dir():
        return _error(f"{expected}, got {'a file' if args.submission.exists() else 'no such folder'}")
    if not any(args.submission.glob("*.ipynb")):
        return _error(f"{expected}, got none")
    mode = isolation(args.sandbox)
    result = bench(args.submission, args.students, args.workers, mode=mode)
    print(describe(mode))
    print(
        f"{result['students']} students x {len(result['notebooks'])} notebooks, {result['workers']} workers: "
        f"{result['seconds']:.1f} s ({result['per_student']:.2f} s per student); "
        f"totals {result['totals']} of {points_text(result['max_points'])}"
    )
    return 0 if len(result["totals"]) == 1 else 1


def _error(message: str) -> int:
    print(f"course bench-grade: {message}", file=sys.stderr)
    return 2
