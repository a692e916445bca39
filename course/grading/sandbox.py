"""Run the exercises of one notebook in a sandbox and bring back plain outcomes.

With bubblewrap (`bwrap`): a read-only view of the system and the Python installation only (no home,
no submissions, no gradebook), a tmpfs working directory, no network, its own process, IPC and UTS
namespaces, killed with the grader (--die-with-parent). Without it, the same process limits apply
but student code sees the filesystem as its user does ("process limits only"). Either way, when the
grader runs as root, student code runs as `nobody`. One exercise that crashes the whole sandbox
costs that exercise: the sandbox is started again for the exercises after it.
"""

from __future__ import annotations

import ast
import ctypes
import os
import pickle
import pwd
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from course.grading.exercise import Case, Outcome
from course.grading.wire import decode_frames, decode_outcome

__all__ = [
    "DEFAULT_LIMITS",
    "ExerciseRun",
    "FALLBACK_NOTE",
    "Limits",
    "become_subreaper",
    "isolation",
    "run_notebook",
    "run_submission",
]

FALLBACK_NOTE = "sandbox: bubblewrap unavailable, process limits only"
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc")
_in_flight: set[int] = set()
_lock = threading.Lock()
_subreaper = False


@dataclass(frozen=True)
class Limits:
    """Per-exercise limits: wall time (s), memory the student's code may add (bytes), extra processes,
    size of a file it may write, and bytes of results it may send back."""

    timeout: float = 30.0
    memory: int = 2 * 2**30
    processes: int = 16
    file_bytes: int = 16 * 2**20
    output_bytes: int = 64 * 2**20


DEFAULT_LIMITS = Limits()


@dataclass
class ExerciseRun:
    """What came back from one exercise: one Outcome per case (None when the run ended before it),
    how the run ended (`status`: "exited 0", "timeout", "signal SIGSEGV", ...), a fatal problem that
    stopped it before the cases, references it called, notes on its cells, and what it printed."""

    exercise: str
    status: str
    outcomes: list[Outcome | None]
    fatal: str = ""
    references: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    printed: str = ""
    seconds: float = 0.0


@cache
def _bwrap_works() -> bool:
    if not shutil.which("bwrap"):
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--die-with-parent", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def isolation(requested: str = "auto") -> str:
    """ "bwrap" or "fallback": what `requested` ("auto", "bwrap", "fallback") gives on this machine.
    The environment variable COURSE_SANDBOX=fallback forces the fallback."""
    if requested not in ("auto", "bwrap", "fallback"):
        raise ValueError(f"isolation must be 'auto', 'bwrap' or 'fallback', got {requested!r}")
    if requested == "fallback" or os.environ.get("COURSE_SANDBOX") == "fallback":
        return "fallback"
    if _bwrap_works():
        return "bwrap"
    if requested == "bwrap":
        raise RuntimeError("bubblewrap was requested but `bwrap` is missing or cannot create a sandbox")
    return "fallback"


def run_submission(
    notebooks: list[tuple[str | None, dict[str, str]]],
    exercises: dict[str, tuple[int, list[Case]]],
    limits: Limits = DEFAULT_LIMITS,
    mode: str = "auto",
    hide: tuple[str, ...] = (),
) -> dict[str, ExerciseRun]:
    """Run each exercise (id -> (index of its notebook, cases)) on the cells of its notebook, a
    (setup cell, {id: cell}) pair, each exercise in a process of its own, all in one sandbox.

    `hide` names directories (the gradebook, the submissions) that must not be visible to the sandbox.
    """
    mode = isolation(mode)
    runs: dict[str, ExerciseRun] = {}
    remaining = list(exercises)
    while remaining:
        job = _job(notebooks, {e: exercises[e] for e in remaining}, limits, _drop_to(mode))
        got, ended = _run_sandbox(job, limits, mode, hide)
        runs.update(got)
        remaining = [e for e in remaining if e not in got]
        if remaining:  # the sandbox itself died while this exercise ran: it takes the blame
            lost = remaining.pop(0)
            runs[lost] = ExerciseRun(lost, "sandbox ended", [None] * len(exercises[lost][1]), fatal=ended)
    return runs


def run_notebook(
    setup: str | None,
    cells: dict[str, str],
    cases: dict[str, list[Case]],
    limits: Limits = DEFAULT_LIMITS,
    mode: str = "auto",
    hide: tuple[str, ...] = (),
) -> dict[str, ExerciseRun]:
    """run_submission for the exercises (id -> cases) of a single notebook."""
    return run_submission([(setup, cells)], {e: (0, c) for e, c in cases.items()}, limits, mode, hide)


def _job(notebooks, exercises, limits: Limits, drop_to: int | None) -> dict:
    return {
        "notebooks": [{"setup": setup, "cells": cells} for setup, cells in notebooks],
        "exercises": [(e, index, cases) for e, (index, cases) in exercises.items()],
        "imports": sorted({name for setup, _ in notebooks for name in _imports(setup)}),
        "drop_to": drop_to,
        "timeout": limits.timeout,
        "memory": limits.memory,
        "processes": limits.processes,
        "file_bytes": limits.file_bytes,
        "output_bytes": limits.output_bytes,
    }


def _imports(setup: str | None) -> list[str]:
    """The modules a setup cell imports (the sandbox imports the allowed ones once, before forking)."""
    try:
        tree = ast.parse(setup or "")
    except (SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    "MPLBACKEND": "Agg",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


def _command(mode: str, hide: tuple[str, ...], code: str) -> list[str]:
    """The command running `code` with the course importable: in bubblewrap, or as a plain process."""
    root = str(Path(__file__).resolve().parents[2])
    boot = f"import sys; sys.path[:] = [{root!r}] + [p for p in sys.path if p not in ('', '.')]; {code}"
    command = [sys.executable, "-E", "-B", "-c", boot]
    return _bwrap_command(root, hide) + command if mode == "bwrap" else command


@cache
def _drop_to(mode: str) -> int | None:
    """The uid student code runs as: `nobody` when the grader is root and `nobody` can run the
    course's Python in this mode (a Python under /root cannot be), else None (the grader's own user)."""
    if os.geteuid() != 0:
        return None
    uid = _nobody()
    probe = f"import os, course.grading.runner; os.setgid({uid}); os.setuid({uid}); import fractions, json"
    try:
        done = subprocess.run(_command(mode, (), probe), env=_ENV, cwd="/", capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return uid if done.returncode == 0 else None


def describe(mode: str) -> str:
    """One line for the report: how student code was isolated."""
    user = "nobody" if _drop_to(mode) is not None else pwd.getpwuid(os.geteuid()).pw_name
    if mode == "bwrap":
        return f"sandbox: bubblewrap (read-only system, no network, own process namespace), user {user}"
    return f"{FALLBACK_NOTE}, user {user}"


def _run_sandbox(job: dict, limits: Limits, mode: str, hide: tuple[str, ...]) -> tuple[dict, str]:
    command = _command(mode, hide, "from course.grading.child import main; main()")
    deadline = 60 + len(job["exercises"]) * (limits.timeout + 5)
    with _lock:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/tmp" if mode == "bwrap" else None,
            env=_ENV,
            start_new_session=True,
        )
        _in_flight.add(process.pid)
    try:
        out, err = process.communicate(pickle.dumps(job), timeout=deadline)
        ended = f"the sandbox ended (exit code {process.returncode})"
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        out, err = process.communicate()
        ended = f"the sandbox ran out of time ({deadline:g} s)"
    finally:
        _kill_group(process.pid)
        with _lock:
            _in_flight.discard(process.pid)
            _kill_strays()
    runs = _decode(out, job)
    if not runs and err.strip():
        ended += ": " + err.decode(errors="replace").strip().splitlines()[-1][:300]
    return runs, ended


def _bwrap_command(root: str, hide: tuple[str, ...]) -> list[str]:
    links = [p for p in _SYSTEM if os.path.islink(p)]  # /lib -> usr/lib on merged-/usr systems
    sources = [p for p in _SYSTEM if os.path.isdir(p) and p not in links]
    sources += [sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent)]
    sources += [p for p in sys.path if p and os.path.isdir(p) and os.path.abspath(p) != root]
    sources += [os.path.join(root, "course")]
    sources = sorted({os.path.realpath(s) for s in sources})
    sources = [s for s in sources if not any(_inside(s, other) for other in sources if other != s)]
    parents = sorted({str(p) for s in sources for p in Path(s).parents if str(p) != "/"})
    options: list[str] = []
    for parent in parents:  # bwrap would create them 0700: a dropped-privilege runner could not enter
        if not any(_inside(parent, s) for s in sources):
            options += ["--perms", "0755", "--dir", parent]
    for source in sources:
        options += ["--ro-bind", source, source]
    for link in links:
        options += ["--symlink", os.readlink(link), link]
    for path in (os.path.realpath(h) for h in hide):
        if any(_inside(path, s) for s in sources):
            options += ["--tmpfs", path]
    return [
        "bwrap",
        *options,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--chdir",
        "/tmp",
    ]


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _decode(out: bytes, job: dict) -> dict[str, ExerciseRun]:
    runs = {}
    frames, _ = decode_frames(out)
    expected = {e: cases for e, _, cases in job["exercises"]}
    for header, arrays in frames:
        exercise = header.get("exercise")
        if exercise not in expected or exercise in runs or len(arrays) != 1:
            continue
        runs[exercise] = _exercise_run(exercise, header, arrays[0].tobytes(), len(expected[exercise]))
    return runs


def _exercise_run(exercise: str, header: dict, data: bytes, n_cases: int) -> ExerciseRun:
    run = ExerciseRun(exercise, str(header.get("status")), [None] * n_cases, seconds=header.get("seconds", 0))
    frames, problem = decode_frames(data)
    for inner, arrays in frames:
        if inner.get("kind") == "fatal" and not run.fatal:
            run.fatal = str(inner.get("message"))[:1000]
        elif inner.get("kind") == "done":
            run.references = [str(r)[:200] for r in _list(inner.get("references"))]
            run.notes = [str(n)[:500] for n in _list(inner.get("notes"))][:20]
            run.printed = str(inner.get("printed", ""))[:4000]
        elif isinstance(inner.get("case"), int) and 0 <= inner["case"] < n_cases:
            try:
                if run.outcomes[inner["case"]] is None:
                    run.outcomes[inner["case"]] = decode_outcome(inner, arrays)
            except ValueError as error:
                run.outcomes[inner["case"]] = Outcome(error=f"an unreadable result ({error})")
    if problem:
        run.notes.append(problem)
    return run


def _list(value) -> list:
    return value if isinstance(value, list) else []


@cache
def _nobody() -> int:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def become_subreaper() -> None:
    """Make this process the one that inherits orphans of the sandboxes it starts (Linux), so that a
    process that escaped a killed sandbox is found and killed (`_kill_strays`) rather than left behind.
    Only for a process whose children are all sandboxes: the grader, or a test."""
    global _subreaper
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        _subreaper = True
    except (OSError, AttributeError):
        pass


def _kill_strays() -> None:
    """Kill and reap this process's children that are not running sandboxes: orphans of sandboxes,
    re-parented here because it is a subreaper. The caller holds _lock."""
    if not _subreaper:
        return
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in _in_flight:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = f.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if parent == me:
            try:
                os.kill(int(entry), signal.SIGKILL)
                os.waitpid(int(entry), 0)
            except OSError:
                pass
