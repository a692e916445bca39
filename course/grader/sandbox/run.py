"""Run the exercises of one student in a sandbox and bring back plain outcomes.

`run_submission` sends one job (the student's notebooks, the exercises and their cases) to a sandbox
(`session`, started as `launch` says) and turns the frames that come back into one ExerciseRun per
exercise. One exercise that takes the whole sandbox down costs that exercise
only: the sandbox is started again for the exercises after it.
"""

from __future__ import annotations

import ast
import functools
import threading
from dataclasses import dataclass, field

from course.grader.sandbox.launch import FALLBACK_NOTE, bwrap_works, describe, drop_to, isolation, student_uid
from course.grader.sandbox.session import Sandbox, become_subreaper, become_undumpable
from course.grader.sandbox.wire import MAX_FRAME_BYTES, decode_frames, decode_outcome
from course.grading.exercise import Case, Outcome

__all__ = [
    "DEFAULT_LIMITS",
    "ExerciseRun",
    "FALLBACK_NOTE",
    "Limits",
    "SandboxPool",
    "become_subreaper",
    "become_undumpable",
    "bwrap_works",
    "describe",
    "drop_to",
    "isolation",
    "run_notebook",
    "run_submission",
    "student_uid",
]


@dataclass(frozen=True)
class Limits:
    """Per-exercise limits: wall time (s), memory the student's code may add (bytes), extra processes,
    size of a file it may write, and bytes of results it may send back."""

    timeout: float = 30.0
    memory: int = 2 * 2**30
    processes: int = 16
    file_bytes: int = 16 * 2**20
    output_bytes: int = MAX_FRAME_BYTES


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


class SandboxPool:
    """One reusable Sandbox per thread (a grading worker), each with its own student uid, all ended
    by close() or on leaving a `with` block. The first `warm` sandboxes start at once, so that their
    start (about a second of imports) overlaps what the caller does before its first job."""

    def __init__(self, mode: str = "auto", hide: tuple[str, ...] = (), warm: int = 0):
        self.mode, self.hide = isolation(mode), hide
        self._local = threading.local()
        self._all: list[Sandbox] = []
        self._lock = threading.Lock()
        self._waiting = [self._new() for _ in range(warm)]
        for sandbox in self._waiting:
            sandbox.start()

    def get(self) -> Sandbox:
        """The calling thread's sandbox."""
        sandbox = getattr(self._local, "sandbox", None)
        if sandbox is None:
            with self._lock:
                sandbox = self._waiting.pop(0) if self._waiting else self._new()
            self._local.sandbox = sandbox
        return sandbox

    def _new(self) -> Sandbox:
        """A sandbox with the next slot's uid; the caller holds the lock, or is __init__."""
        sandbox = Sandbox(self.mode, self.hide, slot=len(self._all))
        self._all.append(sandbox)
        return sandbox

    def close(self) -> None:
        with self._lock:
            for sandbox in self._all:
                sandbox.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_submission(
    notebooks: list[tuple[str | None, dict[str, str]]],
    exercises: dict[str, tuple[int, list[Case]]],
    limits: Limits = DEFAULT_LIMITS,
    mode: str = "auto",
    hide: tuple[str, ...] = (),
    pool: SandboxPool | None = None,
) -> dict[str, ExerciseRun]:
    """Run each exercise (id -> (index of its notebook, cases)) on the cells of its notebook, a
    (setup cell, {id: cell}) pair, each exercise in a process of its own, all in one sandbox.

    `hide` names directories (the gradebook, the submissions) that must not be visible to the sandbox;
    with a `pool`, the worker's sandbox is reused (and `mode` and `hide` are the pool's).
    """
    mode = pool.mode if pool else isolation(mode)
    sandbox = pool.get() if pool else Sandbox(mode, hide)
    runs: dict[str, ExerciseRun] = {}
    remaining = list(exercises)
    while remaining:
        job = _job(notebooks, {e: exercises[e] for e in remaining}, limits, sandbox.uid)
        frames, ended = sandbox.run(job, 60 + len(remaining) * (limits.timeout + 5))
        got = _decode(frames, job)
        runs.update(got)
        remaining = [e for e in remaining if e not in got]
        if remaining:  # the sandbox itself died while this exercise ran: it takes the blame
            lost = remaining.pop(0)
            runs[lost] = ExerciseRun(lost, "sandbox ended", [None] * len(exercises[lost][1]), fatal=ended)
    if pool is None:
        sandbox.close()
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
        "imports": sorted(
            {
                name
                for setup, cells in notebooks
                for code in (setup, *cells.values())
                for name in _imports(code)
            }
        ),
        "drop_to": drop_to,
        "timeout": limits.timeout,
        "memory": limits.memory,
        "processes": limits.processes,
        "file_bytes": limits.file_bytes,
        "output_bytes": limits.output_bytes,
    }


@functools.lru_cache(maxsize=128)
def _imports(code: str | None) -> tuple[str, ...]:
    """The modules a cell imports (the sandbox imports the allowed ones once, before forking).
    Remembered: a cell is in every job of its student (each attempt, each restart) and, without its
    metadata, may stand for every exercise it defines; 1 MB of code takes seconds to parse."""
    try:
        tree = ast.parse(code or "")
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # too deeply nested to parse
        return ()
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return tuple(names)


def _decode(frames: list[bytes], job: dict) -> dict[str, ExerciseRun]:
    runs = {}
    expected = {e: cases for e, _, cases in job["exercises"]}
    for frame in frames:
        decoded, _ = decode_frames(frame)
        for header, arrays in decoded[:1]:
            exercise = header.get("exercise")
            if exercise not in expected or exercise in runs or len(arrays) != 1:
                continue
            runs[exercise] = _exercise_run(exercise, header, arrays[0].tobytes(), len(expected[exercise]))
    return runs


def _exercise_run(exercise: str, header: dict, data: bytes, n_cases: int) -> ExerciseRun:
    seconds = header.get("seconds")
    seconds = float(seconds) if type(seconds) in (int, float) else 0.0
    run = ExerciseRun(exercise, str(header.get("status"))[:100], [None] * n_cases, seconds=seconds)
    frames, problem = decode_frames(data, max_frames=n_cases + 3)  # the cases, a fatal problem, done
    for inner, arrays in frames:
        if inner.get("kind") == "fatal" and not run.fatal:
            run.fatal = str(inner.get("message"))[:1000]
        elif inner.get("kind") == "done":
            run.references = [str(r)[:200] for r in _list(inner.get("references"))[:50]]
            run.notes = [str(n)[:500] for n in _list(inner.get("notes"))[:20]]
            run.printed = str(inner.get("printed", ""))[:4000]
        elif isinstance(inner.get("case"), int) and 0 <= inner["case"] < n_cases:
            try:
                if run.outcomes[inner["case"]] is None:
                    run.outcomes[inner["case"]] = decode_outcome(inner, arrays)
            except ValueError as error:
                run.outcomes[inner["case"]] = Outcome(error=f"sent back an unreadable result ({error})")
    if problem:
        run.notes.append(problem)
    return run


def _list(value) -> list:
    return value if isinstance(value, list) else []
