"""OUT/<student>.json: one student's results, signed with the run's secret, and read back on resume.

The file is Gradescope's results.json (`StudentGrade.to_gradescope`) with an HMAC of its content
under the run's secret (`course.grader.secret.sign`) in `extra_data.mac`. A resumed run trusts a file
only when this secret signed it, for this student, complete, with the same exercises in the same order
and the same points; anything else (a forgery, a file edited or cut short, a link, a file over 16 MiB,
another secret's file) is graded again.

Layering: results -> student (StudentGrade), secret, files; written and read by the class run.
"""

from __future__ import annotations

import json
from pathlib import Path

from course.grader.files import student_file_name
from course.grader.secret import sign, verify
from course.grader.student import StudentGrade
from course.grading import EXERCISES
from course.grading.result import CaseResult, CheckResult

__all__ = ["MAX_RESULT_BYTES", "finished", "result_name", "signed_json"]

MAX_RESULT_BYTES = 2**24  # a results file larger than this was not written by the grader: graded again


def result_name(student: str) -> str:
    """The file name of a student's results: <student>.json, shortened for an id too long."""
    return student_file_name(student, ".json")


def signed_json(grade: StudentGrade, secret: bytes) -> str:
    """The student's results.json, with an HMAC of its content under the run's secret in extra_data."""
    data = grade.to_gradescope()
    data["extra_data"]["mac"] = sign(secret, _canonical(data))
    return json.dumps(data, indent=1)


def finished(path: Path, student: str, secret: bytes, points: dict[str, float]) -> StudentGrade | None:
    """The grade in a complete JSON that this secret signed, for this student, the same exercises and
    points; else None (graded again)."""
    try:
        if path.is_symlink() or path.stat().st_size > MAX_RESULT_BYTES:
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
        notes = extra["notes"]
        if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
            return None
        return StudentGrade(student, results, list(notes))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _canonical(data: dict) -> bytes:
    """The signed bytes of a results file: everything but the MAC, in a fixed order."""
    unsigned = {**data, "extra_data": {k: v for k, v in data["extra_data"].items() if k != "mac"}}
    return json.dumps(unsigned, sort_keys=True).encode()


def _check_result(data: dict) -> CheckResult:
    """A CheckResult from its `to_dict` form (raises TypeError or KeyError on any other shape)."""
    cases = [CaseResult(**c) for c in data.pop("cases")]
    return CheckResult(**data, cases=cases)
