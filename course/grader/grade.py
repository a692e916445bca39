"""`course grade SUBMISSIONS_DIR --out OUT_DIR`: grade a whole class, each exercise in a sandbox.

SUBMISSIONS_DIR holds one folder per student (the folder name is the student id) with any of the
course's notebooks. The grader writes OUT_DIR/<student>.json (Gradescope's results.json format) as each
student finishes, and at the end OUT_DIR/grades.csv, canvas.csv (Canvas's import layout), reports/
(one HTML page per student) and summary.txt (what went wrong across the class, also printed), with
the --overrides file (regrades, excused exercises, manual credit) applied. Every file in OUT_DIR is
written by this process only, after the sandboxed runs, and written again from memory at the end, so
nothing a submission did during the run survives in the gradebook. A run that is interrupted resumes:
students whose JSON is complete (same seed, exercises and points) are not graded again.

Layering: grade -> verdict (judging, in this process) and sandbox -> session, launch (starting the
sandbox); child and runner run inside the sandbox; wire is the only format shared across it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from course.grader.attempts import candidates
from course.grader.export import final_grades, gradebook_csv, read_roster
from course.grader.gradebook import check_folders, loose_files, student_folders, write_gradebook
from course.grader.notebook import Submission, UnreadableNotebook, read_notebook
from course.grader.overrides import Override, read_overrides
from course.grader.sandbox.run import (
    DEFAULT_LIMITS,
    FALLBACK_NOTE,
    Limits,
    SandboxPool,
    become_subreaper,
    describe,
    isolation,
    run_submission,
)
from course.grader.verdict import verdict
from course.grading import EXERCISES, cases_for, load_points, not_attempted
from course.grading.exercise import Case
from course.grading.result import CaseResult, CheckResult

RUN_FILE = ".course-grade-run.json"  # hidden: no student folder (hidden ones are skipped) clashes

__all__ = [
    "StudentFiles",
    "StudentGrade",
    "read_student",
    "add_arguments",
    "grade_class",
    "grade_student",
    "run",
]


@dataclass
class StudentGrade:
    """One student's verdicts, by exercise id, and notes on their files and the sandbox."""

    student: str
    results: dict[str, CheckResult]
    notes: list[str] = field(default_factory=list)
    seed: int | None = None

    @property
    def total(self) -> float:
        return round(sum(r.score for r in self.results.values()), 4)

    def to_gradescope(self) -> dict:
        """Gradescope's results.json: `score`, one test per exercise, our own data in `extra_data`."""
        tests = [
            {
                "name": f"{r.exercise}: {r.title}",
                "score": r.score,
                "max_score": r.max_score,
                "output": str(r),
                "visibility": "visible",
            }
            for r in self.results.values()
        ]
        extra = {
            "student": self.student,
            "complete": True,
            "seed": self.seed,
            "exercises": {e: r.score for e, r in self.results.items()},
            "results": {e: r.to_dict() for e, r in self.results.items()},
        }
        return {"score": self.total, "output": "\n".join(self.notes), "tests": tests, "extra_data": extra}


@dataclass(frozen=True)
class StudentFiles:
    """A student's notebooks, read (into memory) before any student code runs, and notes on the
    files that could not be read."""

    student: str
    notebooks: tuple[Submission, ...]
    notes: tuple[str, ...]


def read_student(folder: Path) -> StudentFiles:
    """Read every file of one student's folder; a file that is not a notebook becomes a note."""
    notebooks, notes = [], []
    for path in _files(folder):
        try:
            notebooks.append(read_notebook(path, EXERCISES))
        except UnreadableNotebook as reason:
            notes.append(f"{reason}: 0 points for it")
    if not notebooks:
        notes.append(f"no readable notebook in {folder.name}/")
    return StudentFiles(folder.name, tuple(notebooks), tuple(notes))


def grade_student(
    files: StudentFiles | Path,
    seed: int | None,
    limits: Limits = DEFAULT_LIMITS,
    mode: str = "auto",
    hide: tuple[str, ...] = (),
    cases: dict[str, list[Case]] | None = None,
    pool: SandboxPool | None = None,
    points: dict[str, float] | None = None,
    exercises: Iterable[str] | None = None,
) -> StudentGrade:
    """Grade every exercise of the registry (or the given `exercises` ids) on one student's notebooks
    (or folder); with a `pool`, in the calling worker's sandbox (the pool's mode and hidden folders
    apply); `points` (exercise id -> points, see `course.grading.load_points`) overrides the exercises'
    own points."""
    points = points or {}
    chosen = {e: EXERCISES[e] for e in exercises} if exercises is not None else EXERCISES
    files = read_student(files) if isinstance(files, Path) else files
    cases = cases if cases is not None else {e: cases_for(x, seed) for e, x in chosen.items()}
    mode = pool.mode if pool else isolation(mode)
    notes = [describe(mode), *files.notes]
    options = candidates(
        [(n.path, n.cells) for n in files.notebooks], {e: x.notebook for e, x in chosen.items()}
    )
    notebooks = [(n.setup, n.cells) for n in files.notebooks]
    results: dict[str, CheckResult] = {}
    used: dict[str, int] = {}
    for attempt in range(max(map(len, options.values()), default=0)):  # each exercise's best attempt
        plan = {e: (o[attempt], cases[e]) for e, o in options.items() if attempt < len(o)}
        runs = run_submission(notebooks, plan, limits, mode, hide, pool)
        for e, (index, _) in plan.items():
            result = verdict(EXERCISES[e], cases[e], runs[e], limits.timeout, points.get(e))
            if e not in results or result.score > results[e].score:
                results[e], used[e] = result, index
    for index in sorted(set(used.values())):
        notes += files.notebooks[index].notes
    notes += _choices(files.notebooks, used)
    missing = "not submitted: no notebook has a cell for `{}`"
    ordered = {
        e: results.get(e) or not_attempted(x, missing.format(e), points=points.get(e))
        for e, x in chosen.items()
    }
    return StudentGrade(files.student, ordered, notes, seed)


def _files(folder: Path) -> list[Path]:
    """The student's files, skipping hidden ones (.ipynb_checkpoints holds stale copies)."""
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(p.startswith(".") for p in parts):
            found.append(path)
    return found


def _choices(notebooks: tuple[Submission, ...], used: dict[str, int]) -> list[str]:
    """A note for each exercise that more than one notebook holds: which file it was graded from."""
    notes = []
    for exercise_id, index in used.items():
        others = [n.path for i, n in enumerate(notebooks) if i != index and exercise_id in n.cells]
        if others:
            notes.append(
                f"{exercise_id}: graded from {notebooks[index].path} (also in {', '.join(others)}; "
                "the notebook where it was attempted, the best attempt if several)"
            )
    return notes


def grade_class(
    submissions: Path,
    out: Path,
    workers: int = 2,
    seed: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    mode: str = "auto",
    progress: bool = True,
    points: dict[str, float] | None = None,
    overrides: list[Override] | None = None,
) -> list[StudentGrade]:
    """Grade every student folder of `submissions` into `out`; returns the grades in student order.
    `points` (exercise id -> points) overrides the exercises' own points; `overrides` (see
    `course.grader.overrides`) apply to grades.csv only, never to the graded <student>.json."""
    submissions, out = submissions.resolve(), out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    seed = _seed(out, seed)
    become_subreaper()
    students = student_folders(submissions)
    table = {e: (points or {}).get(e, x.points) for e, x in EXERCISES.items()}
    finished = {s.name: _finished(out / f"{s.name}.json", seed, table) for s in students}
    grades = {name: grade for name, grade in finished.items() if grade is not None}
    todo = [read_student(s) for s in students if s.name not in grades]  # all read before any runs
    cases = {e: cases_for(x, seed) for e, x in EXERCISES.items()}
    hide = (str(out), str(submissions))
    with SandboxPool(mode, hide) as sandboxes, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [
            pool.submit(grade_student, s, seed, limits, mode, hide, cases, sandboxes, table) for s in todo
        ]
        bar = tqdm(as_completed(futures), total=len(students), initial=len(grades), disable=not progress)
        try:
            for future in bar:
                grade = future.result()
                grades[grade.student] = grade
                _write_atomic(out / f"{grade.student}.json", json.dumps(grade.to_gradescope(), indent=1))
        except KeyboardInterrupt:  # stop now: students not written yet are graded when the run resumes
            for future in futures:
                future.cancel()
            sandboxes.close()
            raise
    ordered = [grades[s.name] for s in students]
    for grade in ordered:  # again, from memory: undoes anything a submission wrote during the run
        _write_atomic(out / f"{grade.student}.json", json.dumps(grade.to_gradescope(), indent=1))
    _write_atomic(out / "grades.csv", gradebook_csv(final_grades(ordered, overrides or []), EXERCISES))
    return ordered


def _seed(out: Path, seed: int | None) -> int:
    """The hidden cases' seed: the one given, else the one of the run being resumed, else a new one."""
    previous = _previous_seed(out)
    if seed is None:
        seed = previous if previous is not None else secrets.randbelow(2**31)
    _write_atomic(out / RUN_FILE, json.dumps({"seed": seed, "exercises": list(EXERCISES)}))
    return seed


def _previous_seed(out: Path) -> int | None:
    """The seed of the run whose gradebook is in `out`, if any."""
    try:
        previous = json.loads((out / RUN_FILE).read_text()).get("seed")
    except (OSError, ValueError, AttributeError):
        return None
    return previous if isinstance(previous, int) else None


def _finished(path: Path, seed: int, points: dict[str, float]) -> StudentGrade | None:
    """The grade in a complete JSON of an earlier run with the same seed, exercises and points, else None."""
    try:
        data = json.loads(path.read_text())
        extra = data["extra_data"]
        same = extra["seed"] == seed and list(extra["results"]) == list(EXERCISES)
        if extra["complete"] is not True or not same:
            return None
        results = {e: _check_result(r) for e, r in extra["results"].items()}
        if any(results[e].max_score != points[e] for e in results):
            return None
        notes = data.get("output", "")
        return StudentGrade(path.stem, results, notes.splitlines() if notes else [], seed)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _check_result(data: dict) -> CheckResult:
    cases = [CaseResult(**c) for c in data.pop("cases")]
    return CheckResult(**data, cases=cases)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # again: without bubblewrap a submission may remove it
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="folder with one folder of notebooks per student")
    parser.add_argument(
        "--out", type=Path, required=True, help="the gradebook's folder (not inside SUBMISSIONS)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="students graded at once")
    parser.add_argument("--timeout", type=float, default=Limits.timeout, help="seconds per exercise")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the hidden cases (default: the stored one, else new)"
    )
    parser.add_argument("--memory-mb", type=int, default=Limits.memory // 2**20, help="memory per exercise")
    parser.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "fallback"),
        default="auto",
        help="how student code is isolated",
    )
    parser.add_argument("--points", type=Path, default=None, help="JSON {exercise id: points} to reweight")
    parser.add_argument(
        "--overrides", type=Path, default=None, help="CSV student,exercise,points,reason (regrades, excused)"
    )
    parser.add_argument(
        "--canvas-roster", type=Path, default=None, help="Canvas gradebook export to match ids"
    )
    parser.add_argument("--canvas-column", default="CNN notebooks", help="assignment name in canvas.csv")
    parser.add_argument(
        "--title", default="Convolutional neural networks", help="heading of the HTML reports"
    )


def run(args: argparse.Namespace) -> int:
    problem = check_folders(args.submissions, args.out, _previous_seed(args.out.resolve()), args.seed)
    if problem:
        print(f"course grade: {problem}", file=sys.stderr)
        return 2
    students = student_folders(args.submissions.resolve())
    if not students:
        loose = loose_files(args.submissions.resolve())
        print(
            f"course grade: no student folders in {args.submissions}: expected one folder per student "
            f"(e.g. {args.submissions}/alice/02_components.ipynb)"
            + (f"; found only the files {', '.join(loose[:5])}" if loose else ""),
            file=sys.stderr,
        )
        return 1
    if args.workers < 1 or args.timeout <= 0:
        message = f"need --workers >= 1 and --timeout > 0, got {args.workers} and {args.timeout}"
        print(f"course grade: {message}", file=sys.stderr)
        return 2
    limits = Limits(timeout=args.timeout, memory=args.memory_mb * 2**20)
    try:
        mode = isolation(args.sandbox)
        points = load_points(args.points) if args.points else None
    except (RuntimeError, OSError, ValueError, TypeError, KeyError) as error:
        print(f"course grade: {error}", file=sys.stderr)
        return 2
    table = {e: (points or {}).get(e, x.points) for e, x in EXERCISES.items()}
    try:
        names = {s.name for s in students}
        overrides = read_overrides(args.overrides, names, table) if args.overrides else []
        roster = read_roster(args.canvas_roster) if args.canvas_roster else None
    except ValueError as error:
        print(f"course grade: {error}", file=sys.stderr)
        return 2
    if mode == "fallback":
        print(f"course grade: {FALLBACK_NOTE}", file=sys.stderr)
    try:
        grades = grade_class(
            args.submissions,
            args.out,
            args.workers,
            args.seed,
            limits,
            mode,
            points=points,
            overrides=overrides,
        )
    except KeyboardInterrupt:
        print("course grade: interrupted; run the same command again to grade the rest", file=sys.stderr)
        return 130
    out = args.out.resolve()
    summary = write_gradebook(
        out, args.submissions.resolve(), grades, overrides, roster, args.canvas_column, args.title
    )
    print(summary.text())
    print(f"gradebook {out / 'grades.csv'}, Canvas {out / 'canvas.csv'}, reports {out / 'reports'}/")
    print(f"this summary: {out / 'summary.txt'}")
    return 0
