"""A class run: every student folder of SUBMISSIONS graded into OUT, resumable, whatever they hold.

`grade_class` reads every student's files before any student code runs, grades the students on a pool
of sandboxed workers (`--workers`), writes each OUT/<student>.json (signed: `course.grader.results`)
as the student finishes, and at the end writes every one again from memory and OUT/grades.csv, so
nothing a submission did during the run survives in the gradebook. A student the grader itself could
not read or grade gets zeros and the reason, not a crash of the class.

The run's secret (`course.grader.secret`) draws each student's hidden cases: the one given, else the
one kept in OUT by the run being resumed (OUT/.course-grade-secret, mode 0600), else a new one.
OUT/.course-grade-run.json keeps its fingerprint, so a run given another secret for the same OUT is
refused (SecretMismatch) instead of mixing two sets of hidden cases in one gradebook.

Layering: class_run -> collect (the class list), student (one student), results (the signed files),
secret, export (grades.csv), files and sandbox.run (the pool of workers); the command (`grade`) and
the benchmark (`bench`) call it.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from course.grader.collect import Student, students
from course.grader.export import final_grades, gradebook_csv
from course.grader.files import write_private
from course.grader.overrides import Override
from course.grader.results import finished, result_name, signed_json
from course.grader.sandbox.run import DEFAULT_LIMITS, Limits, SandboxPool, become_subreaper, describe
from course.grader.secret import BadSecret, fingerprint, new_secret, read_secret, student_seed
from course.grader.student import StudentFiles, StudentGrade, grade_student, read_student
from course.grading import EXERCISES, not_attempted

__all__ = ["SecretMismatch", "grade_class"]


class SecretMismatch(ValueError):
    """OUT_DIR was graded with another secret (the message says what to do)."""


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
    done = {s.name: finished(out / result_name(s.name), s.name, secret, table) for s in class_list}
    grades = {name: grade for name, grade in done.items() if grade is not None}
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
                write_private(out / result_name(grade.student), signed_json(grade, secret))
        except KeyboardInterrupt:  # stop now: students not written yet are graded when the run resumes
            for future in futures:
                future.cancel()
            sandboxes.close()
            raise
    ordered = [grades[s.name] for s in class_list]
    for grade in ordered:  # again, from memory: undoes anything a submission wrote during the run
        write_private(out / result_name(grade.student), signed_json(grade, secret))
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
    student, the student gets zeros and the reason, and the class goes on (its notes, as
    grade_student's, start with the one on the sandbox)."""
    seed = student_seed(secret, files.student)
    try:
        return grade_student(files, seed, limits, mode, hide, None, pool, points)
    except Exception as error:  # noqa: BLE001 - one student never stops the class
        reason = f"the grader failed on this submission ({error!r:.300}); tell your instructor"
        message = f"0 points: {reason}"
        results = {e: not_attempted(x, message, points=points.get(e)) for e, x in EXERCISES.items()}
        return StudentGrade(files.student, results, [describe(pool.mode), *files.notes, reason])


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
