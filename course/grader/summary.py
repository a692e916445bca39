"""What went on in a whole class, for the instructor: printed at the end of `course grade` and written
to OUT/summary.txt.

The summary gathers the notes the grader made on each student's files into kinds an instructor acts
on (files that are not notebooks, students without any notebook, exercises found in several notebooks,
cells whose metadata was lost, helpers defined in a cell that does not run), with the overrides applied,
the loose files of the submissions folder that belong to no student, and how each exercise went.
Names from the submissions are shown with their control characters escaped (`shown`): the summary is
printed on the instructor's terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from course.grader.export import FinalGrade
from course.grader.overrides import Override
from course.grading.result import points_text

__all__ = ["KINDS", "ClassSummary", "shown", "summarize_class"]

# kind -> (heading, the phrase that marks its notes); a note of no kind is listed under "other notes"
KINDS = {
    "unreadable": ("files that are not notebooks (0 points for them)", "0 points for it"),
    "no_notebook": ("students without any readable notebook", "no readable notebook in"),
    "duplicates": ("exercises found in several notebooks (which file was graded)", ": graded from "),
    "lost_metadata": ("cells whose metadata was lost (found by their code)", "lost its metadata"),
    "helpers": ("helpers defined in a cell that is not graded", "defined in a cell that is not graded"),
}


# control characters (escape sequences, CR, LF), bidirectional overrides, bytes a file name held that
# are not UTF-8 (decoded as lone surrogates): what a submission's names could write on a terminal
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def shown(text: str) -> str:
    """`text` from a submission (a student id, a file name, a note quoting one) as one line that a
    terminal prints as written: each character of `_UNPRINTABLE` as its escape (\\x1b, \\n, \\u202e,
    \\xff for a byte that is not UTF-8)."""

    def escape(match: re.Match) -> str:
        char = match.group()
        if "\udc80" <= char <= "\udcff":  # a byte of the file name, as os.fsdecode keeps it
            return f"\\x{ord(char) - 0xDC00:02x}"
        return char.encode("unicode_escape", "backslashreplace").decode("ascii")

    return _UNPRINTABLE.sub(escape, text)


@dataclass
class ClassSummary:
    """The class's numbers and the notes of each kind, as (student, note) pairs."""

    students: int
    mean: float
    possible: float
    # id -> (mean score, points, students with points > 0, students graded on it: all but the excused)
    exercises: dict[str, tuple[float, float, int, int]]
    notes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    overrides: list[tuple[str, str]] = field(default_factory=list)
    loose_files: list[str] = field(default_factory=list)

    def text(self) -> str:
        students = f"{self.students} student{'' if self.students == 1 else 's'}"
        lines = [f"Graded {students}: mean {self.mean:.2f}/{points_text(self.possible)} points."]
        lines.append("\nPer exercise (mean points; students who earned any, of those not excused from it):")
        width = max(map(len, self.exercises), default=0)
        for exercise, (mean, points, scored, graded) in self.exercises.items():
            lines.append(f"  {exercise:{width}}  {mean:5.2f}/{points_text(points)}  {scored}/{graded}")
        if self.loose_files:
            count = len(self.loose_files)
            lines.append(f"\nNot graded: files outside any student folder ({count}):")
            lines += [f"  {shown(name)}" for name in self.loose_files]
        for kind, (heading, _) in [*KINDS.items(), ("other", ("other notes", ""))]:
            found = self.notes.get(kind, [])
            if found:
                lines.append(f"\n{heading[0].upper()}{heading[1:]} ({len(found)}):")
                lines += [f"  {shown(student)}: {shown(note)}" for student, note in found]
        if self.overrides:
            lines.append(f"\nOverrides applied ({len(self.overrides)}):")
            lines += [f"  {shown(student)}: {shown(text)}" for student, text in self.overrides]
        return "\n".join(lines) + "\n"


def summarize_class(
    final: list[FinalGrade],
    graded: Iterable = (),
    overrides: Iterable[Override] = (),
    loose_files: Iterable[str] = (),
    left_out_of_canvas: Mapping[str, str] | None = None,
) -> ClassSummary:
    """The summary of a graded class: `final` (with overrides applied), `graded` (the StudentGrades
    before them, to say what each override changed), the `overrides`, `loose_files` (names in the
    submissions folder that are not student folders) and the students left out of canvas.csv, with why."""
    before = {g.student: g.results for g in graded}
    changed = [
        (o.student, o.describe(before[o.student][o.exercise])) for o in overrides if o.student in before
    ]
    notes: dict[str, list[tuple[str, str]]] = {}
    for grade in final:
        for note in grade.notes:
            kind = next((k for k, (_, phrase) in KINDS.items() if phrase in note), "other")
            notes.setdefault(kind, []).append((grade.student, note))
    for student, reason in (left_out_of_canvas or {}).items():
        notes.setdefault("other", []).append((student, f"{reason}: left out of canvas.csv"))
    exercises = {}
    for exercise in final[0].results if final else ():
        scores = [g.results[exercise].score for g in final if exercise not in g.excused]
        points = max(g.results[exercise].max_score for g in final)
        mean = sum(scores) / len(scores) if scores else 0.0
        exercises[exercise] = (mean, points, sum(s > 0 for s in scores), len(scores))
    mean = sum(g.total for g in final) / len(final) if final else 0.0
    possible = max((g.possible for g in final), default=0.0)
    return ClassSummary(len(final), mean, possible, exercises, notes, changed, sorted(loose_files))
