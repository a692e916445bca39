"""`course grade SUBMISSIONS_DIR --out OUT_DIR`: grade a whole class, each exercise in a sandbox.

SUBMISSIONS_DIR holds one folder per student (the folder name is the student id) with any of the
course's notebooks. The grader writes OUT_DIR/<student>.json (Gradescope's results.json format) as each
student finishes, and at the end OUT_DIR/grades.csv, canvas.csv (Canvas's import layout), reports/
(one HTML page per student) and summary.txt (what went wrong across the class, also printed), with
the --overrides file (regrades, excused exercises, manual credit) applied to all but the JSON. Every
file in OUT_DIR is written by this process only, private to it, after the sandboxed runs, and written
again from memory at the end, so nothing a submission did during the run survives in the gradebook.
Each student's hidden cases come from the run's secret and the student id (`course.grader.secret`),
never from anything on the command line.
A run that is interrupted resumes: a student whose JSON is complete and signed with the run's secret
(same exercises and points) is not graded again; any other file is graded again.

Whatever a submission holds or does, the run ends with a row for every student: a student the grader
itself could not grade gets zeros and the reason, not a crash of the class.

Layering: grade -> collect, notebook (reading), verdict (judging, in this process) and sandbox ->
session, launch (starting the sandbox); child and runner run inside the sandbox; wire is the only
format shared across it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from course.grader.attempts import candidates
from course.grader.collect import Student, read_files, students
from course.grader.export import final_grades, gradebook_csv, read_roster
from course.grader.files import student_file_name, write_private
from course.grader.gradebook import check_folders, loose_files, write_gradebook
from course.grader.notebook import Submission, UnreadableNotebook, parse_notebook
from course.grader.overrides import Override, read_overrides
from course.grader.sandbox.run import (
    DEFAULT_LIMITS,
    FALLBACK_NOTE,
    Limits,
    SandboxPool,
    become_subreaper,
    become_undumpable,
    describe,
    isolation,
    run_submission,
)
from course.grader.secret import BadSecret, fingerprint, new_secret, read_secret, sign, student_seed, verify
from course.grader.verdict import verdict
from course.grading import EXERCISES, cases_for, load_points, not_attempted
from course.grading.exercise import Case
from course.grading.result import CaseResult, CheckResult

__all__ = [
    "SecretMismatch",
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


class SecretMismatch(ValueError):
    """OUT_DIR was graded with another secret (the message says what to do)."""


def read_student(folder: Path | Student) -> StudentFiles:
    """Read the files of one student's folder (bounded, links not followed: see `collect`); a file
    that is not a notebook, or that was not read, becomes a note."""
    student = folder if isinstance(folder, Student) else Student(folder.name, folder)
    if student.refused:
        return StudentFiles(student.name, (), (student.refused,))
    notebooks, notes = [], []
    files, skipped = read_files(student.path)
    notes += skipped
    for relative, data in files:
        try:
            notebooks.append(parse_notebook(data, EXERCISES, name=relative))
        except UnreadableNotebook as reason:
            notes.append(f"{reason}: 0 points for it")
    if not notebooks:
        notes.append(f"no readable notebook in {student.name}/")
    return StudentFiles(student.name, tuple(notebooks), tuple(notes))


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
    """Grade every exercise of the registry (or the `exercises` ids) on one student's notebooks (or
    folder), each from the notebook where it was attempted (`course.grader.attempts`), with the hidden
    cases of `seed` (the student's: `course.grader.secret.student_seed`; None: visible cases only);
    with a `pool`, in the calling worker's sandbox (the pool's mode and hidden folders apply); `points`
    (exercise id -> points, see `course.grading.load_points`) overrides the exercises' own points."""
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
    return StudentGrade(files.student, ordered, notes)


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
    secret: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
    mode: str = "auto",
    progress: bool = True,
    points: dict[str, float] | None = None,
    overrides: list[Override] | None = None,
) -> list[StudentGrade]:
    """Grade every student folder of `submissions` into `out`; returns the grades in student order.
    `secret` (see `course.grader.secret`; default: the one of the run being resumed, else a new one)
    draws each student's hidden cases; `points` (exercise id -> points) overrides the exercises' own;
    `overrides` (`course.grader.overrides`) apply to grades.csv, never to the graded <student>.json.
    Raises SecretMismatch when `out` was graded with another secret."""
    submissions, out = submissions.resolve(), out.resolve()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = _run_secret(out, secret)
    become_subreaper()
    class_list = students(submissions)
    table = {e: (points or {}).get(e, x.points) for e, x in EXERCISES.items()}
    finished = {s.name: _finished(out / _result_name(s.name), s.name, secret, table) for s in class_list}
    grades = {name: grade for name, grade in finished.items() if grade is not None}
    hide = (str(out), str(submissions))
    warm = min(workers, len(class_list) - len(grades))  # sandboxes start while the notebooks are read
    with SandboxPool(mode, hide, warm) as sandboxes, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        todo = [_read_safely(s) for s in class_list if s.name not in grades]  # all read before any runs
        futures = {
            pool.submit(_grade_safely, s, secret, limits, mode, hide, sandboxes, table): s.student
            for s in todo
        }
        bar = tqdm(as_completed(futures), total=len(class_list), initial=len(grades), disable=not progress)
        try:
            for future in bar:
                grade = future.result()
                grades[grade.student] = grade
                write_private(out / _result_name(grade.student), _signed_json(grade, secret))
        except KeyboardInterrupt:  # stop now: students not written yet are graded when the run resumes
            for future in futures:
                future.cancel()
            sandboxes.close()
            raise
    ordered = [grades[s.name] for s in class_list]
    for grade in ordered:  # again, from memory: undoes anything a submission wrote during the run
        write_private(out / _result_name(grade.student), _signed_json(grade, secret))
    write_private(out / "grades.csv", gradebook_csv(final_grades(ordered, overrides or []), EXERCISES))
    return ordered


def _read_safely(student: Student) -> StudentFiles:
    """read_student, total: a folder the reader fails on is a note, not the end of the class."""
    try:
        return read_student(student)
    except Exception as error:  # noqa: BLE001 - one student's files never stop the class
        return StudentFiles(student.name, (), (f"the grader could not read this folder ({error!r:.200})",))


def _grade_safely(
    files: StudentFiles,
    secret: bytes,
    limits: Limits,
    mode: str,
    hide: tuple[str, ...],
    pool: SandboxPool,
    points: dict[str, float],
) -> StudentGrade:
    """grade_student with the student's own hidden cases, total: if the grader itself fails on this
    student, the student gets zeros and the reason, and the class goes on."""
    seed = student_seed(secret, files.student)
    try:
        return grade_student(files, seed, limits, mode, hide, None, pool, points)
    except Exception as error:  # noqa: BLE001 - one student never stops the class
        reason = f"the grader failed on this submission ({error!r:.300}); tell your instructor"
        message = f"0 points: {reason}"
        results = {e: not_attempted(x, message, points=points.get(e)) for e, x in EXERCISES.items()}
        return StudentGrade(files.student, results, [*files.notes, reason])


def _result_name(student: str) -> str:
    """The file name of a student's results: <student>.json, shortened for an id too long."""
    return student_file_name(student, ".json")


_SECRET_FILE, _RUN_FILE = ".course-grade-secret", ".course-grade-run.json"  # hidden: never a student's


def _run_secret(out: Path, given: bytes | None) -> bytes:
    """The run's secret: `given`, else the one this folder was graded with, else a new one (kept in
    out/.course-grade-secret, mode 0600). Raises SecretMismatch when `given` is not the secret `out`
    was graded with, or when `out` was graded with a secret that was not kept there and none is given."""
    run_file, stored = out / _RUN_FILE, None
    try:
        previous = json.loads(run_file.read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        previous = None
    try:
        stored = read_secret(out / _SECRET_FILE)
    except BadSecret:
        stored = None
    if given is None and stored is not None and fingerprint(stored) == previous:
        given = stored
    elif given is None and isinstance(previous, str):
        raise SecretMismatch(
            f"{out} was graded with a secret given by --secret-file; give the same file again to resume, "
            "or grade into a new folder"
        )
    elif given is None:
        given = new_secret()
        write_private(out / _SECRET_FILE, given.decode())
    elif isinstance(previous, str) and previous != fingerprint(given):
        raise SecretMismatch(
            f"{out} was graded with another secret: give the same --secret-file to resume, or grade into "
            "a new folder (hidden cases of two secrets in one gradebook would not be comparable)"
        )
    write_private(run_file, json.dumps({"fingerprint": fingerprint(given), "exercises": list(EXERCISES)}))
    return given


def _signed_json(grade: StudentGrade, secret: bytes) -> str:
    """The student's results.json, with an HMAC of its content under the run's secret in extra_data."""
    data = grade.to_gradescope()
    data["extra_data"]["mac"] = sign(secret, _canonical(data))
    return json.dumps(data, indent=1)


def _canonical(data: dict) -> bytes:
    """The signed bytes of a results file: everything but the MAC, in a fixed order."""
    unsigned = {**data, "extra_data": {k: v for k, v in data["extra_data"].items() if k != "mac"}}
    return json.dumps(unsigned, sort_keys=True).encode()


def _finished(path: Path, student: str, secret: bytes, points: dict[str, float]) -> StudentGrade | None:
    """The grade in a complete JSON that this secret signed, for this student, the same exercises and
    points; else None (graded again)."""
    try:
        if path.is_symlink() or path.stat().st_size > 2**24:
            return None
        data = json.loads(path.read_text())
        extra = data["extra_data"]
        if not verify(secret, _canonical(data), extra.get("mac")) or extra["student"] != student:
            return None
        if extra["complete"] is not True or list(extra["results"]) != list(EXERCISES):
            return None
        results = {e: _check_result(r) for e, r in extra["results"].items()}
        if any(results[e].max_score != points[e] for e in results):
            return None
        notes = data.get("output", "")
        return StudentGrade(student, results, notes.splitlines() if notes else [])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _check_result(data: dict) -> CheckResult:
    cases = [CaseResult(**c) for c in data.pop("cases")]
    return CheckResult(**data, cases=cases)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="folder with one folder of notebooks per student")
    parser.add_argument(
        "--out", type=Path, required=True, help="the gradebook's folder (not inside SUBMISSIONS)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="students graded at once")
    parser.add_argument("--timeout", type=float, default=Limits.timeout, help="seconds per exercise")
    parser.add_argument(
        "--secret-file",
        type=Path,
        default=None,
        help="file whose content is the secret the hidden cases are drawn from (default: the one kept in "
        "OUT from an earlier run, else a new one); never give a secret on the command line",
    )
    parser.add_argument("--memory-mb", type=int, default=Limits.memory // 2**20, help="memory per exercise")
    parser.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "fallback"),
        default="auto",
        help="how student code is kept apart",
    )
    parser.add_argument("--points", type=Path, default=None, help="JSON {exercise id: points} to reweight")
    parser.add_argument(
        "--overrides", type=Path, default=None, help="CSV student,exercise,points,reason (regrades, excused)"
    )
    parser.add_argument("--canvas-roster", type=Path, default=None, help="Canvas gradebook export (its ids)")
    parser.add_argument("--canvas-column", default="CNN notebooks", help="assignment name in canvas.csv")
    parser.add_argument("--title", default="Convolutional neural networks", help="heading of the reports")


def run(args: argparse.Namespace) -> int:
    problem = check_folders(args.submissions, args.out)
    if problem:
        return _error(problem, 2)
    class_list = students(args.submissions.resolve())
    if not class_list:
        loose = loose_files(args.submissions.resolve())
        found = f"; found only the files {', '.join(loose[:5])}" if loose else ""
        example = f"{args.submissions}/alice/02_components.ipynb"
        return _error(
            f"no student folders in {args.submissions}: expected one folder per student ({example}){found}", 1
        )
    if args.workers < 1 or args.timeout <= 0:
        return _error(f"need --workers >= 1 and --timeout > 0, got {args.workers} and {args.timeout}", 2)
    limits = Limits(timeout=args.timeout, memory=args.memory_mb * 2**20)
    try:
        mode = isolation(args.sandbox)
        points = load_points(args.points) if args.points else None
        table = {e: (points or {}).get(e, x.points) for e, x in EXERCISES.items()}
        names = {s.name for s in class_list}
        overrides = read_overrides(args.overrides, names, table) if args.overrides else []
        roster = read_roster(args.canvas_roster) if args.canvas_roster else None
    except (RuntimeError, OSError, ValueError, TypeError, KeyError) as error:
        return _error(str(error), 2)
    if mode == "fallback":
        print(f"course grade: {FALLBACK_NOTE}", file=sys.stderr)
    become_undumpable()  # the command's process holds the secret: no /proc/<pid>/mem or environ for others
    try:
        secret = read_secret(args.secret_file) if args.secret_file else None
        grades = grade_class(
            args.submissions, args.out, args.workers, secret, limits, mode, points=points, overrides=overrides
        )  # fmt: skip
    except (BadSecret, SecretMismatch) as error:
        return _error(str(error), 2)
    except KeyboardInterrupt:
        return _error("interrupted; run the same command again to grade the rest", 130)
    out = args.out.resolve()
    summary = write_gradebook(
        out, args.submissions.resolve(), grades, overrides, roster, args.canvas_column, args.title
    )
    print(summary.text())
    print(f"gradebook {out / 'grades.csv'}, Canvas {out / 'canvas.csv'}, reports {out / 'reports'}/")
    print(f"this summary: {out / 'summary.txt'}")
    return 0


def _error(message: str, status: int) -> int:
    print(f"course grade: {message}", file=sys.stderr)
    return status
