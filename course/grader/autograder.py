"""The Gradescope autograder of one assignment: the files Gradescope's harness runs, and what they set up.

Gradescope unpacks the uploaded zip into ROOT/source (ROOT is /autograder) and runs `setup.sh` once, as
root, to build an image. For every submission it starts a fresh container from that image, puts the
upload in ROOT/submission (and ROOT/submission_metadata.json beside it) and runs ROOT/run_autograder,
which must write ROOT/results/results.json. `make_autograder` writes into a folder:

    setup.sh          installs Python, bubblewrap, the pinned libraries (requirements.txt) and the course
                      into ROOT/venv, then runs `course grade-gradescope --prepare` (see `prepare`)
    run_autograder    `course grade-gradescope --root ROOT` with the image's Numba cache
    requirements.txt  the exact versions of this environment (`pins`), so a rebuild grades the same
    assignment.json   the Assignment: which exercises, visibility, how hidden cases are drawn (no secret)
    secret            the hidden cases' secret (`course.grader.secret`), readable by its owner only
    course-src/       this package

`prepare` moves the secret and the assignment into ROOT/.course (root only) and removes them from
ROOT/source, makes ROOT/source root-only, and compiles the kernels the checks use into ROOT/numba-cache
for a generic x86-64 CPU, so the cache holds on whatever machine grades and no submission compiles.
The scripts read the environment variable COURSE_AUTOGRADER_ROOT (default /autograder) so that a test
can lay out the same tree in a temporary folder; nothing else reads it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from course.grader.secret import MIN_SECRET_BYTES, new_secret, read_secret
from course.grading import EXERCISES, cases_for, check, for_notebook
from course.kernels import precompile

__all__ = [
    "Assignment",
    "CACHE_ENV",
    "HIDDEN_CASES",
    "pins",
    "VISIBILITIES",
    "load_private",
    "make_autograder",
    "prepare",
    "warm_cache",
]

VISIBILITIES = ("visible", "after_published", "after_due_date", "hidden")  # Gradescope's, most open first
HIDDEN_CASES = ("student", "submission", "class")  # what the hidden cases' seed is drawn for


def pins() -> dict[str, str]:
    """{package: version} for every package `course` needs at run time, direct or not, as installed in
    this environment: the one the instructor tested the course in. The image installs exactly these,
    so a rebuild mid-term grades the same."""
    found: dict[str, str] = {}
    todo = ["course"]
    while todo:
        for text in importlib.metadata.requires(todo.pop()) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue  # an optional extra, or another platform's
            name = canonicalize_name(requirement.name)
            if name not in found:
                found[name] = importlib.metadata.version(name)
                todo.append(name)
    return found


# Numba keys its cache on the CPU it compiled for: "generic" code loads on any x86-64 machine.
CACHE_ENV = {"NUMBA_CPU_NAME": "generic"}  # and no CPU features, Numba's default for "generic"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
ROOT="${{COURSE_AUTOGRADER_ROOT:-/autograder}}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv bubblewrap
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup.sh: the course is tested with Python 3.11; choose a base image with Python >= 3.11" >&2
    exit 1
fi
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install -q -r "$ROOT/source/requirements.txt"
"$ROOT/venv/bin/pip" install -q --no-deps "$ROOT/source/course-src"
chmod -R a+rX "$ROOT/venv"  # student code runs as an unprivileged uid, which must run this Python
# the cache step: hide the secret, compile the kernels into the image's Numba cache
{env}
"$ROOT/venv/bin/python" -m course.cli grade-gradescope --prepare --root "$ROOT"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission, in a fresh container made from the image setup.sh built.
set -uo pipefail
ROOT="${{COURSE_AUTOGRADER_ROOT:-/autograder}}"
{env}
mkdir -p "$ROOT/results"
exec "$ROOT/venv/bin/python" -m course.cli grade-gradescope --root "$ROOT"
"""


@dataclass(frozen=True)
class Assignment:
    """One Gradescope assignment: its exercises (ids, in registry order), `label` (what students read:
    "02_components"), Gradescope visibility of the visible cases' tests and of the hidden cases' tests,
    what the hidden cases' seed is drawn for (`hidden_cases`: each "student", each "submission", or the
    whole "class"), seconds per exercise, and points per exercise."""

    exercises: tuple[str, ...]
    label: str
    visibility: str = "visible"
    hidden_visibility: str = "after_due_date"
    hidden_cases: str = "student"
    timeout: float = 30.0
    points: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        unknown = [e for e in self.exercises if e not in EXERCISES]
        if unknown or not self.exercises:
            raise ValueError(
                f"Assignment: expected exercise ids among {', '.join(EXERCISES)}, got {list(self.exercises)}"
            )
        for name in ("visibility", "hidden_visibility"):
            value = getattr(self, name)
            if value not in VISIBILITIES:
                raise ValueError(f"Assignment: {name} must be one of {VISIBILITIES}, got {value!r}")
        if self.hidden_cases not in HIDDEN_CASES:
            got = self.hidden_cases
            raise ValueError(f"Assignment: hidden_cases must be one of {HIDDEN_CASES}, got {got!r}")

    @classmethod
    def choose(cls, notebooks: list[str], exercises: list[str], **options) -> Assignment:
        """The exercises of the named notebooks ("02_components") and/or the named exercise ids; all
        exercises of the course when both are empty. The label names their notebooks."""
        known = sorted({x.notebook for x in EXERCISES.values()})
        timeout = options.get("timeout")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"--timeout: expected seconds per exercise > 0, got {timeout:g}")
        for notebook in notebooks:
            if notebook not in known:
                raise ValueError(f"--notebooks: expected some of {', '.join(known)}, got {notebook!r}")
        for exercise in exercises:
            if exercise not in EXERCISES:
                raise ValueError(f"--exercises: expected ids among {', '.join(EXERCISES)}, got {exercise!r}")
        chosen = {x.id for n in notebooks for x in for_notebook(n)} | set(exercises)
        ids = tuple(e for e in EXERCISES if e in chosen or not chosen)
        named = sorted({EXERCISES[e].notebook for e in ids})
        label = " and ".join(named) if len(named) < 3 else f"{len(named)} notebooks"
        return cls(ids, label, **options)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Assignment:
        data = json.loads(text)
        data["exercises"] = tuple(data["exercises"])
        data["points"] = tuple((e, float(p)) for e, p in data.get("points", ()))
        return cls(**data)


def source_root() -> Path:
    """The folder holding this `course` package (a clone of the repository, for an editable install)."""
    return Path(__file__).resolve().parents[2]


def make_autograder(directory: Path, assignment: Assignment, secret: bytes | None = None) -> Path:
    """Write the autograder of `assignment` into `directory` (zip its contents for Gradescope); the
    hidden cases' `secret` (see `course.grader.secret`) defaults to a new one."""
    secret = new_secret() if secret is None else secret
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"make_autograder: the secret needs at least {MIN_SECRET_BYTES} bytes, got {len(secret)}"
        )
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--make-autograder {directory}: expected a folder, got a file")
    root = source_root()
    missing = [name for name in ("pyproject.toml", "README.md") if not (root / name).is_file()]
    if missing:
        raise ValueError(
            f"--make-autograder copies the course from a clone of its repository, installed with "
            f"`pip install -e .`: expected {', '.join(missing)} beside {root / 'course'}, got none "
            "(a regular `pip install` keeps only the package)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "course-src"
    shutil.rmtree(source, ignore_errors=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(root / "course", source / "course", ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    env = "\n".join(f'export {k}="{v}"' for k, v in CACHE_ENV.items())
    env += '\nexport NUMBA_CACHE_DIR="$ROOT/numba-cache"'
    for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
        path = directory / name
        path.write_text(text.format(env=env))
        path.chmod(0o755)
    (directory / "requirements.txt").write_text("".join(f"{k}=={v}\n" for k, v in sorted(pins().items())))
    (directory / "assignment.json").write_text(assignment.to_json())
    secret_file = directory / "secret"
    secret_file.touch(mode=0o600)
    secret_file.chmod(0o600)
    secret_file.write_bytes(secret)
    return directory


def prepare(root: Path) -> None:
    """setup.sh's last step, as root: move the secret and the assignment out of ROOT/source into the
    root-only ROOT/.course, make ROOT/source root-only, and warm the Numba cache (NUMBA_CACHE_DIR)."""
    private = root / ".course"
    private.mkdir(mode=0o700, exist_ok=True)
    private.chmod(0o700)
    source = root / "source"
    for name in ("secret", "assignment.json"):
        if (source / name).exists():
            os.replace(source / name, private / name)
        (private / name).chmod(0o400)
    for folder, _, files in os.walk(source):
        os.chmod(folder, 0o700)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o600)
    assignment, secret = load_private(root)
    warm_cache(assignment.exercises)
    cache = os.environ.get("NUMBA_CACHE_DIR")
    if cache:
        for folder, _, files in os.walk(cache):  # readable by the sandbox's unprivileged user
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)


def load_private(root: Path) -> tuple[Assignment, bytes]:
    """The assignment and the secret that `prepare` put in ROOT/.course."""
    private = root / ".course"
    assignment = Assignment.from_json((private / "assignment.json").read_text())
    return assignment, read_secret(private / "secret")


def warm_cache(exercises: tuple[str, ...]) -> None:
    """Compile into Numba's cache every kernel the course uses (`course.kernels.precompile`), then run
    the checks of `exercises` on each exercise's own reference, visible and hidden cases, so that
    whatever else the checks compile or load is in the cache too."""
    precompile()
    for exercise_id in exercises:
        exercise = EXERCISES[exercise_id]
        for seed in (1, 2):  # hidden cases of two seeds: every dtype and layout the cases use
            cases_for(exercise, seed)
            check(exercise_id, exercise.reference, hidden_seed=seed)
