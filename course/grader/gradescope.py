"""`course grade-gradescope`: grade one submission inside Gradescope's autograder, or build that autograder.

`--make-autograder DIR` writes the autograder of one assignment (see `course.grader.autograder`): the
exercises of the notebooks named by --notebooks and/or --exercises, which Gradescope visibility the
visible and the hidden cases' results get, and whether hidden cases are drawn per student, per
submission or once for the class. Zip DIR's contents and upload the zip as the assignment's autograder.

Inside the container, `--root ROOT` grades ROOT/submission as `course grade` grades one student (same
sandbox, same checks) and writes ROOT/results/results.json. Student code never sees the secret: it is
in a root-only file, and the grader refuses to run when student code would have the grader's rights.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from course.grader.autograder import (
    HIDDEN_CASES,
    VISIBILITIES,
    Assignment,
    load_private,
    make_autograder,
    prepare,
)
from course.grader.overrides import error_text, points_option
from course.grader.sandbox.run import DEFAULT_LIMITS, Limits, describe, drop_to, isolation
from course.grader.secret import BadSecret, read_secret, student_seed
from course.grader.student import StudentGrade, grade_student
from course.grader.verdict import PRINTED_NOTE
from course.grading import EXERCISES, cases_for
from course.grading.result import CaseResult, CheckResult, points_text

__all__ = ["add_arguments", "grade_submission", "hidden_seed", "results_json", "run"]

UNSAFE = (
    "student code would run with the grader's rights and no sandbox (bubblewrap cannot start here and "
    "no unprivileged uid of the grader's pool can run the course's Python), so it could read the "
    "secret of the hidden cases"
)


def grade_submission(root: Path, mode: str = "auto") -> dict:
    """Grade ROOT/submission for the assignment `prepare` left in ROOT/.course; returns results.json's
    content. Raises PermissionError when student code could read the secret."""
    start = time.perf_counter()
    assignment, secret = load_private(root)
    mode = isolation(mode)
    if mode == "fallback" and drop_to(mode) is None:
        raise PermissionError(UNSAFE)
    seed = hidden_seed(root, secret, assignment.hidden_cases)
    cases = {e: cases_for(EXERCISES[e], seed) for e in assignment.exercises}
    limits = Limits(timeout=assignment.timeout)
    hide = tuple(str(root / name) for name in (".course", "source", "results"))
    grade = grade_student(
        (root / "submission").resolve(),
        None,  # the seed stays in this process: cases are given, and nothing records it
        limits,
        mode,
        hide,
        cases=cases,
        points=dict(assignment.points),
        exercises=assignment.exercises,
    )
    notes = [n for n in grade.notes if n != describe(mode)]
    return results_json(replace(grade, notes=notes), assignment, time.perf_counter() - start)


def results_json(grade: StudentGrade, assignment: Assignment, seconds: float = 0.0) -> dict:
    """Gradescope's results.json for one graded submission: a test for each exercise's visible cases
    and one for its hidden cases (each with the assignment's visibility), and a top-level text that
    speaks to the student. No seed, no secret, no sandbox detail."""
    tests = []
    for result in grade.results.values():
        for part, visibility in ((False, assignment.visibility), (True, assignment.hidden_visibility)):
            shown = _part(result, hidden=part)
            if shown is None:
                continue
            name = f"{result.exercise}: {result.title}" + (" (hidden cases)" if part else "")
            tests.append(
                {
                    "name": name,
                    "score": shown.score,
                    "max_score": shown.max_score,
                    "status": "passed" if shown.score >= shown.max_score else "failed",
                    "output": str(shown),
                    "visibility": visibility,
                }
            )
    possible = sum(r.max_score for r in grade.results.values())
    earned = f"{points_text(grade.total)}/{points_text(possible)} points"
    head = f"Graded {len(grade.results)} exercises of {assignment.label}: {earned}"
    return {
        "score": grade.total,
        "execution_time": round(seconds, 1),
        "output": "\n".join([head + ".", *grade.notes]),
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"exercises": {e: r.score for e, r in grade.results.items()}},
    }


def _part(result: CheckResult, hidden: bool) -> CheckResult | None:
    """The visible (or hidden) cases of a result as a result of their own, out of their share of the
    points; a whole-exercise verdict without cases goes to the visible part only. The hidden part is
    what the visible part leaves of the exercise's score and points, so that the two tests add up to
    them exactly (each share rounded on its own would not: 0.1667 + 0.1667 for a score of 0.3333).
    What the student's code printed (on every case, hidden ones too: it could quote their inputs) is
    told with the hidden cases when there are any."""
    if not result.cases:
        return None if hidden else result
    cases = [c for c in result.cases if c.hidden == hidden]
    if not cases:
        return None
    earned, possible = sum(c.score for c in cases), sum(c.max_score for c in cases)
    status = "passed" if earned >= possible else "partial" if earned > 0 else "failed"
    score, maximum = _share(result, [c for c in result.cases if not c.hidden])
    if hidden:
        maximum = round(result.max_score - maximum, 4)
        score = min(max(round(result.score - score, 4), 0.0), maximum)
    message = _message(result, hidden)
    return replace(result, score=score, max_score=maximum, status=status, cases=cases, message=message)


def _share(result: CheckResult, cases: list[CaseResult]) -> tuple[float, float]:
    """The points `cases` earned of the exercise's, and the points they could, each rounded as the
    exercise's score is (`course.grading.summarize`)."""
    weight = sum(c.max_score for c in result.cases)
    earned, possible = sum(c.score for c in cases), sum(c.max_score for c in cases)
    return round(result.max_score * earned / weight, 4), round(result.max_score * possible / weight, 4)


def _message(result: CheckResult, hidden: bool) -> str:
    """The exercise's message for its visible (or hidden) test: all of it for the visible test of an
    exercise without hidden cases; otherwise the note on what the code printed (and anything after
    it) goes to the hidden test only, and the visible test says where it is."""
    if not any(c.hidden for c in result.cases):
        return "" if hidden else result.message
    before, marker, printed = result.message.partition(PRINTED_NOTE)
    if hidden:
        return marker + printed
    where = "what your code printed is shown in the test of the hidden cases" if marker else ""
    return "\n".join(m for m in (before.rstrip("\n"), where) if m)


def hidden_seed(root: Path, secret: bytes, per: str) -> int:
    """The seed of this submission's hidden cases (`course.grader.secret.student_seed`), drawn for its
    submitters' Gradescope ids ("student"), for them and this submission's id ("submission"), or once
    for everyone ("class"), from ROOT/submission_metadata.json."""
    if per == "class":
        return student_seed(secret, "")
    try:
        metadata = json.loads((root / "submission_metadata.json").read_text())
        student = ",".join(sorted(str(user["id"]) for user in metadata["users"]))
        submission = str(metadata["id"]) if per == "submission" else ""
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RuntimeError(f"submission_metadata.json has no {per} id ({error!r})") from None
    return student_seed(secret, student, submission)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    build = parser.add_argument_group("building the autograder (on your machine)")
    build.add_argument(
        "--make-autograder", type=Path, metavar="DIR", help="write the autograder's files here"
    )
    build.add_argument(
        "--notebooks",
        nargs="+",
        default=[],
        metavar="NAME",
        help="grade these notebooks' exercises, e.g. 02_components (default: all)",
    )
    build.add_argument(
        "--exercises", nargs="+", default=[], metavar="ID", help="grade these exercises too (ids)"
    )
    build.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        default="visible",
        help="when students see the results of the visible cases",
    )
    build.add_argument(
        "--hidden-visibility",
        choices=VISIBILITIES,
        default="after_due_date",
        help="when students see the results of the hidden cases",
    )
    build.add_argument(
        "--hidden-cases",
        choices=HIDDEN_CASES,
        default="student",
        help="draw new hidden cases for each student, each submission, or once for the class",
    )
    build.add_argument("--timeout", type=float, default=DEFAULT_LIMITS.timeout, help="seconds per exercise")
    build.add_argument("--points", type=Path, help="JSON {exercise id: points} to reweight exercises")
    build.add_argument(
        "--secret-file",
        type=Path,
        help="a file whose content is the secret, at least 16 bytes (default: a new random one)",
    )
    inside = parser.add_argument_group("inside Gradescope's container (run by setup.sh and run_autograder)")
    inside.add_argument("--root", type=Path, default=Path("/autograder"), help="Gradescope's folder")
    inside.add_argument(
        "--prepare", action="store_true", help="setup.sh's last step: hide the secret, warm the cache"
    )


def run(args: argparse.Namespace) -> int:
    if args.make_autograder is not None:
        return _make(args)
    if args.prepare:
        prepare(args.root)
        return 0
    try:
        results = grade_submission(args.root)
    except (PermissionError, RuntimeError, OSError, ValueError) as error:
        print(f"course grade-gradescope: cannot grade: {error}", file=sys.stderr)
        return 1
    path = args.root / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"{describe(isolation('auto'))}; score {points_text(results['score'])}; results in {path}")
    return 0


def _make(args: argparse.Namespace) -> int:
    try:
        points = tuple((points_option(args.points) or {}).items())
        secret = read_secret(args.secret_file) if args.secret_file else None
        assignment = Assignment.choose(
            args.notebooks,
            args.exercises,
            visibility=args.visibility,
            hidden_visibility=args.hidden_visibility,
            hidden_cases=args.hidden_cases,
            timeout=args.timeout,
            points=points,
        )
        make_autograder(args.make_autograder, assignment, secret)
    except (OSError, ValueError, TypeError, KeyError, BadSecret) as error:
        print(f"course grade-gradescope: {error_text(error)}", file=sys.stderr)
        return 2
    print(
        f"Autograder for {assignment.label} ({len(assignment.exercises)} exercises: "
        f"{', '.join(assignment.exercises)}) in {args.make_autograder}.\n"
        f"Visible cases: {assignment.visibility}; hidden cases: {assignment.hidden_visibility}, drawn per "
        f"{assignment.hidden_cases}. Keep {args.make_autograder / 'secret'} private.\n"
        f"Upload: cd {args.make_autograder} && zip -r ../autograder.zip . "
        "(then choose a base image with Python >= 3.11, e.g. Ubuntu 24.04)"
    )
    return 0
