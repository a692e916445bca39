"""The instructor's overrides: regrades, excused exercises and manual partial credit, each with a reason.

An overrides file is a CSV with the header `student,exercise,points,reason`, one row per override:

    student,exercise,points,reason
    alice,conv2d,3.5,regrade: the padding slip costs 0.5 only (email of 3 March)
    bob,max_pool2d,excused,medical certificate
    carol,iou,1,manual credit: a correct answer returned as a list

`points` is a number from 0 to the exercise's points, or `excused` (the exercise leaves the student's
total and the points possible). Every row needs a reason; the student and the exercise must exist.
Overrides never touch the graded results (OUT/<student>.json, which depend on the hidden cases): they
are applied on top of them when the gradebook, reports and exports are written, and listed in the
summary, so that a regrade with another seed keeps them and removing a row undoes one.

`points_option` reads the other table an instructor hands the grader, `--points points.json`, for
`course grade` and `course grade-gradescope` alike, its errors naming the option and the file.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace
from pathlib import Path

from course.grading import load_points
from course.grading.result import CheckResult, points_text

__all__ = ["EXCUSED", "HEADER", "Override", "apply", "error_text", "points_option", "read_overrides"]

HEADER = ("student", "exercise", "points", "reason")
EXCUSED = "excused"


@dataclass(frozen=True)
class Override:
    """One row: `points` is the score to give (None when the exercise is excused)."""

    student: str
    exercise: str
    points: float | None
    reason: str

    def describe(self, graded: CheckResult) -> str:
        """What it changed, for the summary and the student's report."""
        was = f"{points_text(graded.score)}/{points_text(graded.max_score)}"
        if self.points is None:
            return f"{self.exercise}: excused by your instructor (was {was}): {self.reason}"
        now = f"{points_text(self.points)}/{points_text(graded.max_score)}"
        return f"{self.exercise}: {now} set by your instructor (was {was}): {self.reason}"


def read_overrides(path: Path, students: set[str], max_points: dict[str, float]) -> list[Override]:
    """The overrides in the CSV at `path`, checked against the class (`students`) and the exercises
    (`max_points`: id -> points). Raises ValueError naming the file, the line and what was wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's CSV may start with a BOM
    except OSError as error:
        raise ValueError(f"overrides file {path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(
            f"overrides file {path}: expected a CSV file ({','.join(HEADER)}), "
            "got a file that is not UTF-8 text"
        ) from None
    rows = _rows(text)
    if not rows or tuple(c.strip().lower() for c in rows[0][1]) != HEADER:
        got = ",".join(rows[0][1]) if rows else "an empty file"
        raise ValueError(f"overrides file {path}: expected the header {','.join(HEADER)}, got {got}")
    overrides, seen = [], set()
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        where = f"overrides file {path}, line {line}"
        if len(row) != len(HEADER):
            raise ValueError(f"{where}: expected 4 columns ({','.join(HEADER)}), got {len(row)}: {row}")
        student, exercise, points, reason = (cell.strip() for cell in row)
        if student not in students:
            raise ValueError(f"{where}: no student {student!r} in the submissions folder")
        if exercise not in max_points:
            raise ValueError(f"{where}: expected an exercise id ({', '.join(max_points)}), got {exercise!r}")
        if not reason:
            raise ValueError(f"{where}: every override needs a reason (the student reads it)")
        if (student, exercise) in seen:
            raise ValueError(f"{where}: a second override for {student}, {exercise}")
        seen.add((student, exercise))
        overrides.append(Override(student, exercise, _points(points, max_points[exercise], where), reason))
    return overrides


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """The CSV rows of `text`, each with the line of the file it starts on. The reader reads the text
    itself (not its `splitlines`), so that a quoted cell keeps its line break (a two-line reason, a
    folder name with one) and only CR and LF end a line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, start = [], 1
    for row in reader:
        rows.append((start, row))
        start = reader.line_num + 1
    return rows


def apply(results: dict[str, CheckResult], overrides: list[Override]) -> dict[str, CheckResult]:
    """One student's results with their overrides applied: an excused exercise is out of 0 points
    (status kept, message says why), a set score replaces the graded one (and its status follows)."""
    changed = dict(results)
    for override in overrides:
        graded = results[override.exercise]
        note = override.describe(graded)
        message = "\n".join(m for m in (note, graded.message) if m)
        if override.points is None:
            changed[override.exercise] = replace(graded, score=0.0, max_score=0.0, message=message)
        else:
            points, maximum = override.points, graded.max_score
            status = "passed" if points >= maximum else "partial" if points > 0 else "failed"
            changed[override.exercise] = replace(graded, score=points, status=status, message=message)
    return changed


def _points(text: str, maximum: float, where: str) -> float | None:
    if text.lower() == EXCUSED:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= maximum:
        raise ValueError(
            f"{where}: points must be a number from 0 to {points_text(maximum)} or {EXCUSED!r}, got {text!r}"
        )
    return value


def points_option(path: Path | None) -> dict[str, float] | None:
    """The table of `--points PATH` (None without it); any problem is a ValueError that names the
    option and the file."""
    if path is None:
        return None
    try:
        return load_points(path)
    except (ValueError, TypeError, KeyError) as error:
        text = error_text(error).removeprefix("load_points: ").removeprefix(f"{path}: ")
        raise ValueError(f"--points {path}: {text}") from None


def error_text(error: BaseException) -> str:
    """An error's message as the user reads it (a KeyError's str() is its message in quotes)."""
    if isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        return error.args[0]
    return str(error)
