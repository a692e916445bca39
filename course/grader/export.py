"""The gradebook files written beside the graded results: grades.csv, canvas.csv and one HTML report
per student, all with the instructor's overrides applied (the results in OUT/<student>.json never are).

- grades.csv: `student`, one column per exercise (points, or EX when excused), `total`.
- canvas.csv: Canvas's gradebook import layout: `Student`, `ID`, `SIS User ID`, `SIS Login ID`,
  `Section`, then one assignment column, and a `Points Possible` row. Canvas matches rows to students
  by ID, SIS User ID or SIS Login ID; without a roster the student folder name goes in `SIS Login ID`.
  With `roster` (the CSV that Canvas's "Export" of the gradebook gives), each folder name is looked
  up in that roster's SIS Login ID, then SIS User ID, then ID columns (a whole column before the next:
  one student's login may be another's Canvas ID) and the student's row is copied; a roster student
  no folder names is left out, and said to be (Canvas gets no grade for them). An
  excused exercise leaves the student's points possible: the Canvas score is scaled to the full points.
- reports/<student>.html: `course.grader.report`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from course.grader.files import student_file_name, write_private
from course.grader.overrides import Override, apply
from course.grader.report import render_report
from course.grading.result import CheckResult, points_text

__all__ = [
    "CANVAS_IDS",
    "NO_FOLDER",
    "FinalGrade",
    "canvas_csv",
    "final_grades",
    "gradebook_csv",
    "read_roster",
    "write_reports",
]

CANVAS_IDS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
NO_FOLDER = "in the Canvas roster, but no student folder is theirs (no grade in Canvas)"


@dataclass(frozen=True)
class FinalGrade:
    """One student's results with the overrides applied, notes on their files, excused exercise ids."""

    student: str
    results: dict[str, CheckResult]
    notes: tuple[str, ...]
    excused: frozenset[str]

    @property
    def total(self) -> float:
        return round(sum(r.score for r in self.results.values()), 4)

    @property
    def possible(self) -> float:
        return round(sum(r.max_score for r in self.results.values()), 4)


def final_grades(grades: Iterable, overrides: list[Override]) -> list[FinalGrade]:
    """Each StudentGrade with its overrides applied, without the grader's note on the sandbox (its
    first note, "sandbox: ..."; the others may start so too: a note on a file starts with the file's
    name, which the student chose)."""
    final = []
    for grade in grades:
        mine = [o for o in overrides if o.student == grade.student]
        notes = tuple(
            grade.notes[1:] if grade.notes[:1] and grade.notes[0].startswith("sandbox:") else grade.notes
        )
        excused = frozenset(o.exercise for o in mine if o.points is None)
        final.append(FinalGrade(grade.student, apply(grade.results, mine), notes, excused))
    return final


def gradebook_csv(final: list[FinalGrade], exercises: Iterable[str]) -> str:
    """grades.csv: student, points per exercise in the course's order (EX if excused), total. Lines end
    with CR LF (RFC 4180), so a CR or LF inside an id is quoted rather than taken for the end of a row."""
    exercises = list(exercises)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["student", *exercises, "total"])
    for grade in final:
        points = ["EX" if e in grade.excused else points_text(grade.results[e].score) for e in exercises]
        writer.writerow([_cell(grade.student), *points, points_text(grade.total)])
    return buffer.getvalue()


def read_roster(path: Path) -> list[dict[str, str]]:
    """The rows of a Canvas gradebook export (its first columns identify each student). Raises
    ValueError when the file lacks Canvas's identifying columns."""
    try:
        # the reader reads the text itself: a quoted line break, or a U+2028 in a name, ends no row
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    except OSError as error:
        raise ValueError(f"--canvas-roster {path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(
            f"--canvas-roster {path}: expected a Canvas gradebook export (CSV), "
            "got a file that is not UTF-8 text"
        ) from None
    columns = set(rows[0]) if rows else set()
    if not {"Student", "SIS Login ID"} <= columns:
        raise ValueError(
            f"--canvas-roster {path}: expected a Canvas gradebook export with the columns "
            f"{', '.join(CANVAS_IDS)}, got {', '.join(sorted(columns)) or 'no rows'}"
        )
    return [r for r in rows if r.get("Student", "").strip() not in ("", "Points Possible")]


def canvas_csv(
    final: list[FinalGrade],
    assignment: str,
    full_points: float,
    roster: list[dict[str, str]] | None = None,
) -> tuple[str, dict[str, str]]:
    """canvas.csv's text, and the students left out of it, each with the reason: not in the roster, a
    roster row that another student folder names too (which grade Canvas should get is for the
    instructor to decide), or a roster student no folder names ("Name (login)": nothing handed in)."""
    by_id: dict[str, dict[str, str]] = {}
    for column in ("SIS Login ID", "SIS User ID", "ID"):  # a login first, even another row's Canvas ID
        for row in roster or []:
            if row.get(column, "").strip():
                by_id.setdefault(row[column].strip(), row)
    folders_of_row: dict[int, list[str]] = {}
    for grade in final:
        if grade.student in by_id:
            folders_of_row.setdefault(id(by_id[grade.student]), []).append(grade.student)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CANVAS_IDS, assignment])
    writer.writerow(["Points Possible", "", "", "", "", points_text(full_points)])
    left_out = {}
    for grade in final:
        score = grade.total * full_points / grade.possible if grade.possible else 0.0
        if roster is None:
            ids = [grade.student, "", "", grade.student, ""]
        elif grade.student not in by_id:
            left_out[grade.student] = "not in the Canvas roster"
            continue
        elif len(folders := folders_of_row[id(by_id[grade.student])]) > 1:
            row = by_id[grade.student].get("Student", "")
            left_out[grade.student] = f"the folders {', '.join(folders)} all name the roster row of {row}"
            continue
        else:
            ids = [by_id[grade.student].get(c, "") for c in CANVAS_IDS]
        writer.writerow([*map(_cell, ids), points_text(round(score, 2))])
    for row in roster or []:  # no row in canvas.csv, so no grade in Canvas: the instructor is told
        if id(row) not in folders_of_row:
            ids = (row.get(column, "").strip() for column in ("SIS Login ID", "SIS User ID", "ID"))
            name = row.get("Student", "").strip()
            left_out[f"{name} ({next((i for i in ids if i), 'no id')})"] = NO_FOLDER
    return buffer.getvalue(), left_out


def write_reports(folder: Path, final: list[FinalGrade], title: str) -> None:
    """reports/<student>.html for every student (shortened for an id too long for a file name)."""
    for grade in final:
        page = render_report(grade.student, grade.results.values(), grade.notes, title)
        write_private(folder / student_file_name(grade.student, ".html"), page)


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a student id comes from a folder name)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
