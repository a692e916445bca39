"""Around the grading of a class: what is checked before it starts, and the instructor's files written
after it (canvas.csv, reports/<student>.html, summary.txt; grades.csv is written by `grade_class`).

Checked before any grading: SUBMISSIONS is a folder with student folders in it and the gradebook
folder --out is not inside it (it would be graded as a student); a gradebook graded with another secret
is refused by `grade_class` itself (SecretMismatch).
"""

from __future__ import annotations

from pathlib import Path

from course.grader.export import canvas_csv, final_grades, write_reports
from course.grader.files import write_private
from course.grader.overrides import Override
from course.grader.summary import ClassSummary, summarize_class

__all__ = ["check_folders", "loose_files", "write_gradebook"]


def loose_files(submissions: Path) -> list[str]:
    """Names of the files directly in SUBMISSIONS, outside every student folder (never graded)."""
    return sorted(p.name for p in submissions.iterdir() if p.is_file() and not p.name.startswith("."))


def check_folders(submissions: Path, out: Path) -> str:
    """Why `course grade` cannot run with these folders ("" when it can)."""
    if not submissions.is_dir():
        return f"SUBMISSIONS {submissions} is not a folder"
    where, inside = out.resolve(), submissions.resolve()
    if where == inside or inside in where.parents:
        return f"--out {out} is inside SUBMISSIONS {submissions}, where it would be graded as a student"
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder: expected the gradebook's folder (new or from a run)"
    return ""


def write_gradebook(
    out: Path,
    submissions: Path,
    grades: list,
    overrides: list[Override],
    roster: list[dict[str, str]] | None,
    canvas_column: str,
    title: str,
) -> ClassSummary:
    """Write canvas.csv, reports/ and summary.txt into `out` for the graded class; returns the summary."""
    final = final_grades(grades, overrides)
    full_points = sum(r.max_score for r in grades[0].results.values()) if grades else 0.0
    canvas, left_out = canvas_csv(final, canvas_column, full_points, roster)
    write_private(out / "canvas.csv", canvas)
    write_reports(out / "reports", final, title)
    summary = summarize_class(final, grades, overrides, loose_files(submissions), left_out)
    write_private(out / "summary.txt", summary.text())
    return summary
