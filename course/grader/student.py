"""One student: their files read into memory, then every exercise graded on them in the sandbox.

`read_student` reads a student's folder (bounded, links not followed: `course.grader.collect`) into
their notebooks and notes, before any student code runs; `grade_student` grades each exercise from the
notebook where it was attempted (`course.grader.attempts`), the best attempt if several, with the
student's hidden cases, and returns a `StudentGrade`: the verdicts by exercise id and the notes on the
files and the sandbox, which `to_gradescope` writes as Gradescope's results.json.

Layering: student -> collect, notebook, attempts (reading), verdict (judging, in this process) and
sandbox.run (running); the class run (`class_run`) and Gradescope's command (`gradescope`) grade
through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from course.grader.attempts import candidates
from course.grader.collect import Student, read_files
from course.grader.notebook import (
    MAX_STUDENT_CODE_BYTES,
    Submission,
    UnreadableNotebook,
    parse_notebook,
)
from course.grader.sandbox.run import DEFAULT_LIMITS, Limits, SandboxPool, describe, isolation, run_submission
from course.grader.verdict import verdict
from course.grading import EXERCISES, cases_for, not_attempted
from course.grading.exercise import Case
from course.grading.questions.question import Question
from course.grading.result import CheckResult

__all__ = ["StudentFiles", "StudentGrade", "grade_student", "read_student"]


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
            "notes": list(self.notes),  # as they are: a note may hold a line break, which `output` joins on
        }
        return {"score": self.total, "output": "\n".join(self.notes), "tests": tests, "extra_data": extra}


@dataclass(frozen=True)
class StudentFiles:
    """A student's notebooks, read (into memory) before any student code runs, and notes on the
    files that could not be read."""

    student: str
    notebooks: tuple[Submission, ...]
    notes: tuple[str, ...]


def read_student(folder: Path | Student) -> StudentFiles:
    """Read the files of one student's folder (bounded, links not followed: see `collect`); a file
    that is not a notebook, or that was not read, becomes a note."""
    student = folder if isinstance(folder, Student) else Student(folder.name, folder)
    if student.refused:
        return StudentFiles(student.name, (), (student.refused,))
    notebooks, notes = [], []
    files, skipped = read_files(student.path)
    notes += skipped
    code_left = MAX_STUDENT_CODE_BYTES  # of code in all the student's notebooks, in file name order
    for relative, data in files:
        try:
            notebooks.append(parse_notebook(data, EXERCISES, relative, code_left))
            code_left -= notebooks[-1].code_size
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
    questions = {e for e, x in chosen.items() if isinstance(x, Question)}  # one answer, not the best guess
    options = candidates(
        [(n.path, n.cells) for n in files.notebooks], {e: x.notebook for e, x in chosen.items()}, questions
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
    notes += _choices(files.notebooks, used, questions)
    missing = "not submitted: no notebook has a cell for `{}`"
    ordered = {
        e: results.get(e) or not_attempted(x, missing.format(e), points=points.get(e))
        for e, x in chosen.items()
    }
    return StudentGrade(files.student, ordered, notes)


def _choices(notebooks: tuple[Submission, ...], used: dict[str, int], questions: set[str]) -> list[str]:
    """A note for each exercise that more than one notebook holds: which file it was graded from."""
    notes = []
    for exercise_id, index in used.items():
        others = [n.path for i, n in enumerate(notebooks) if i != index and exercise_id in n.cells]
        if others:
            why = (
                "a question's answer is graded from one notebook: the first where it was answered"
                if exercise_id in questions
                else "the notebook where it was attempted, the best attempt if several"
            )
            notes.append(
                f"{exercise_id}: graded from {notebooks[index].path} (also in {', '.join(others)}; {why})"
            )
    return notes
