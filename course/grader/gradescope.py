"""`course grade-gradescope`: grade one submission on Gradescope's autograder.

Gradescope unpacks a student's upload into /autograder/submission and reads /autograder/results/
results.json. This command grades that folder exactly as `course grade` grades one student (same
sandbox, same checks, same JSON) and writes the results there. `--make-autograder DIR` writes the
autograder's files (setup.sh, run_autograder and a copy of the course's source) into DIR; zip DIR's
contents and upload the zip as the assignment's autograder.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
from pathlib import Path

from course.grader.grade import grade_student
from course.grader.sandbox.run import DEFAULT_LIMITS, Limits, describe, isolation
from course.grading import load_points

__all__ = ["add_arguments", "make_autograder", "run"]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu, as root).
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv bubblewrap
python3 -m venv /opt/course-venv
/opt/course-venv/bin/pip install -q /autograder/source/course-src
chmod -R a+rX /opt/course-venv
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission.
set -uo pipefail
mkdir -p /autograder/results
/opt/course-venv/bin/course grade-gradescope --seed {seed} --timeout {timeout:g} \\
    --submission /autograder/submission --results /autograder/results/results.json
"""


def make_autograder(directory: Path, seed: int, timeout: float = DEFAULT_LIMITS.timeout) -> Path:
    """Write setup.sh, run_autograder and course-src/ (this package and its pyproject) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[2]
    source = directory / "course-src"
    shutil.rmtree(source, ignore_errors=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(root / "course", source / "course", ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
        path = directory / name
        path.write_text(text.format(seed=seed, timeout=timeout))
        path.chmod(0o755)
    return directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submission", type=Path, default=Path("/autograder/submission"))
    parser.add_argument("--results", type=Path, default=Path("/autograder/results/results.json"))
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden cases (the class's)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_LIMITS.timeout, help="seconds per exercise")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "fallback"), default="auto")
    parser.add_argument("--points", type=Path, default=None, help="JSON {exercise id: points} to reweight")
    parser.add_argument(
        "--make-autograder", type=Path, default=None, metavar="DIR", help="write the autograder files instead"
    )


def run(args: argparse.Namespace) -> int:
    if args.make_autograder is not None:
        seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
        make_autograder(args.make_autograder, seed, args.timeout)
        print(f"autograder files in {args.make_autograder} (seed {seed}): zip its contents for Gradescope")
        return 0
    if not args.submission.is_dir():
        print(f"course grade-gradescope: --submission {args.submission} is not a folder")
        return 2
    try:
        mode = isolation(args.sandbox)
    except RuntimeError as error:
        print(f"course grade-gradescope: {error}")
        return 2
    limits, hide = Limits(timeout=args.timeout), (str(args.results.parent.resolve()),)
    points = load_points(args.points) if args.points else None
    grade = grade_student(args.submission.resolve(), args.seed, limits, mode, hide, points=points)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(grade.to_gradescope(), indent=1))
    print(f"{describe(mode)}; score {grade.total:g}; results in {args.results}")
    return 0
