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

Layering: grade (the command line) -> class_run (the class) -> student (one student: collect, notebook,
attempts read; verdict judges, in this process) and results (the signed files); gradebook writes the
instructor's files after. The sandbox (`course.grader.sandbox`) is reached through sandbox.run only:
session, launch start it; child and runner run inside it; wire is the only format shared across it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course.grader.class_run import SecretMismatch, grade_class
from course.grader.collect import students
from course.grader.export import read_roster
from course.grader.gradebook import check_folders, loose_files, write_gradebook
from course.grader.overrides import error_text, points_option, read_overrides
from course.grader.sandbox.run import FALLBACK_NOTE, Limits, become_undumpable, isolation
from course.grader.secret import BadSecret, read_secret
from course.grader.summary import shown
from course.grading import EXERCISES

__all__ = ["add_arguments", "run"]


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
        found = f"; found only the files {', '.join(map(shown, loose[:5]))}" if loose else ""
        example = f"{args.submissions}/alice/02_components.ipynb"
        return _error(
            f"no student folders in {args.submissions}: expected one folder per student ({example}){found}", 1
        )
    if args.workers < 1 or args.timeout <= 0:
        return _error(f"need --workers >= 1 and --timeout > 0, got {args.workers} and {args.timeout}", 2)
    if args.memory_mb < 1:
        return _error(f"need --memory-mb >= 1 (megabytes per exercise), got {args.memory_mb}", 2)
    if not args.canvas_column.strip():
        column = args.canvas_column
        return _error(f"--canvas-column: expected the assignment's name in Canvas, got {column!r}", 2)
    limits = Limits(timeout=args.timeout, memory=args.memory_mb * 2**20)
    try:
        mode = isolation(args.sandbox)
        points = points_option(args.points)
        table = {e: (points or {}).get(e, x.points) for e, x in EXERCISES.items()}
        names = {s.name for s in class_list}
        overrides = read_overrides(args.overrides, names, table) if args.overrides else []
        roster = read_roster(args.canvas_roster) if args.canvas_roster else None
    except (RuntimeError, OSError, ValueError, TypeError, KeyError) as error:
        return _error(error_text(error), 2)
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
