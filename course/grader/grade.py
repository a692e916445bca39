"""`course grade SUBMISSIONS_DIR --out OUT_DIR`: grade a whole class, each exercise in a sandbox.

SUBMISSIONS_DIR holds one folder per student (the folder name is the student id) with any of the
course's notebooks. The grader writes OUT_DIR/<student>.json (Gradescope's results.json format) as each
student finishes, and OUT_DIR/grades.csv at the end. Every file in OUT_DIR is written by this process
only, after the sandboxed runs, and written again from memory at the end, so nothing a submission did
during the run survives in the gradebook. A run that is interrupted resumes: students whose JSON is
complete (same seed, exercises and points) are not graded again.

Layering: grade -> verdict (judging, in this process) and sandbox -> session, launch (starting the
sandbox); child and runner run inside the sandbox; wire is the only format shared across it.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from course.grader.notebook import Submission, UnreadableNotebook, read_notebook
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
from course.grading.exercise import Case, Exercise
from course.grading.result import CaseResult, CheckResult

__all__ = [
    "StudentFiles",
    "StudentGrade",
    "read_student",
    "gradebook_csv",
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
    assigned = _assign(files.notebooks, chosen)
    for index in sorted(set(assigned.values())):
        notes += files.notebooks[index].notes
    notebooks = [(n.setup, n.cells) for n in files.notebooks]
    plan = {e: (i, cases[e]) for e, i in assigned.items()}
    runs = run_submission(notebooks, plan, limits, mode, hide, pool)
    results = {e: verdict(EXERCISES[e], cases[e], runs[e], limits.timeout, points.get(e)) for e in assigned}
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


def _assign(notebooks: tuple[Submission, ...], exercises: dict[str, Exercise]) -> dict[str, int]:
    """Each exercise is graded from one notebook (its index): preferably the one named after its notebook."""
    assigned: dict[str, int] = {}
    for exercise_id, exercise in exercises.items():
        holders = [i for i, n in enumerate(notebooks) if exercise_id in n.cells]
        if holders:
            holders.sort(key=lambda i: not notebooks[i].path.startswith(exercise.notebook))
            assigned[exercise_id] = holders[0]
    return assigned


def grade_class(
    submissions: Path,
    out: Path,
    workers: int = 2,
    seed: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    mode: str = "auto",
    progress: bool = True,
    points: dict[str, float] | None = None,
) -> list[StudentGrade]:
    """Grade every student folder of `submissions` into `out`; returns the grades in student order.
    `points` (exercise id -> points) overrides the exercises' own points."""
    submissions, out = submissions.resolve(), out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    seed = _seed(out, seed)
    become_subreaper()
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
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
    _write_atomic(out / "grades.csv", gradebook_csv(ordered))
    return ordered


def gradebook_csv(grades: list[StudentGrade]) -> str:
    """grades.csv: student, the points of each exercise in registry order, total."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *EXERCISES, "total"])
    for grade in grades:
        points = [f"{grade.results[e].score:g}" for e in EXERCISES]
        writer.writerow([grade.student, *points, f"{grade.total:g}"])
    return buffer.getvalue()


def _seed(out: Path, seed: int | None) -> int:
    """The hidden cases' seed: the one given, else the one of the run being resumed, else a new one."""
    run_file = out / ".course-grade-run.json"  # hidden: no student folder (hidden ones are skipped) clashes
    previous = None
    try:
        previous = json.loads(run_file.read_text()).get("seed")
    except (OSError, ValueError, AttributeError):
        pass
    if seed is None:
        seed = previous if isinstance(previous, int) else secrets.randbelow(2**31)
    _write_atomic(run_file, json.dumps({"seed": seed, "exercises": list(EXERCISES)}))
    return seed


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
    parser.add_argument("--out", type=Path, required=True, help="where grades.csv and <student>.json go")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="students graded at once")
    parser.add_argument("--timeout", type=float, default=Limits.timeout, help="seconds per exercise")
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden cases (default: new)")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory // 2**20, help="memory per exercise")
    parser.add_argument(
        "--sandbox", choices=("auto", "bwrap", "fallback"), default="auto", help="isolation (default: auto)"
    )
    parser.add_argument("--points", type=Path, default=None, help="JSON {exercise id: points} to reweight")


def run(args: argparse.Namespace) -> int:
    if not args.submissions.is_dir():
        print(f"course grade: SUBMISSIONS_DIR {args.submissions} is not a folder")
        return 2
    if args.workers < 1 or args.timeout <= 0:
        print(f"course grade: need --workers >= 1 and --timeout > 0, got {args.workers} and {args.timeout}")
        return 2
    limits = Limits(timeout=args.timeout, memory=args.memory_mb * 2**20)
    try:
        mode = isolation(args.sandbox)
    except RuntimeError as error:
        print(f"course grade: {error}")
        return 2
    if mode == "fallback":
        print(f"course grade: {FALLBACK_NOTE}")
    try:
        points = load_points(args.points) if args.points else None
    except (OSError, ValueError, TypeError, KeyError) as error:
        print(f"course grade: --points {args.points}: {error}")
        return 2
    try:
        grades = grade_class(args.submissions, args.out, args.workers, args.seed, limits, mode, points=points)
    except KeyboardInterrupt:
        print("course grade: interrupted; run the same command again to grade the students left")
        return 130
    total = sum((points or {}).get(e, x.points) for e, x in EXERCISES.items())
    mean = sum(g.total for g in grades) / len(grades) if grades else 0.0
    print(f"graded {len(grades)} students; mean {mean:.2f}/{total:g}; gradebook: {args.out / 'grades.csv'}")
    return 0
