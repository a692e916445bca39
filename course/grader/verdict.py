"""From what came back from the sandbox to an exercise's CheckResult, in the grader's own process.

The exercise's own `score_case` and `summarize` judge every outcome; this module only decides what a
missing outcome means (the run timed out, crashed, exited, ...) and adds what a student needs to know.
It is total: a value the judge cannot handle (inf where an integer is expected, an int of 400 digits,
a tuple of strings, ...) costs that case, with a message naming the value, never the grader; a case's
message is at most MAX_MESSAGE characters, whatever a judge quoted of the value. Hidden
cases are shown as "hidden case 1", "hidden case 2", ...: their names describe the draws.
"""

from __future__ import annotations

import reprlib
from dataclasses import replace

from course.grader.sandbox.run import ExerciseRun
from course.grading import not_attempted, summarize
from course.grading.exercise import Case, Exercise, Outcome
from course.grading.result import CheckResult

__all__ = ["PRINTED_NOTE", "verdict"]

_SHORT = reprlib.Repr()  # bounded reprs of what a student's function returned
_SHORT.maxlevel, _SHORT.maxtuple, _SHORT.maxlist, _SHORT.maxdict = 3, 4, 4, 4
_SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 40, 40, 60
PRINTED = 300  # characters of what the student's code printed, shown when the exercise was not passed
# the note that quotes what the student's code printed, on every case (hidden ones too), last in the message
PRINTED_NOTE = "your code printed (the start of it):"
MAX_MESSAGE = 4000  # characters of a case's message: a judge may quote what was returned (16 MB of it)


def verdict(
    exercise: Exercise, cases: list[Case], run: ExerciseRun, timeout: float, points: float | None = None
) -> CheckResult:
    """Score one exercise of one submission from its sandboxed run, out of `points` (default: the
    exercise's own)."""
    points = exercise.points if points is None else points
    if run.references:
        names = ", ".join(sorted(set(run.references)))
        message = (
            f"0 points: your code called {names}, the course's own implementation. During grading "
            "the reference implementations cannot be used: write the exercise yourself."
        )
        return CheckResult(exercise.id, exercise.title, 0.0, points, "failed", [], message)
    if run.fatal.startswith("no cell defines"):
        return not_attempted(exercise, f"not submitted: {run.fatal}", points=points)
    if run.fatal and all(outcome is None for outcome in run.outcomes):
        message = f"0 points: {run.fatal}" + _ending(run, timeout, prefix="; ")
        return CheckResult(exercise.id, exercise.title, 0.0, points, "error", [], message)
    missing = Outcome(error="gave no result" + (_ending(run, timeout, prefix=": ") or " for this case"))
    outcomes = [(case, outcome or missing) for case, outcome in zip(cases, run.outcomes, strict=True)]
    try:
        result = summarize(exercise, outcomes, points=points)
    except Exception:  # noqa: BLE001 - some value broke the judge: find which, and judge without it
        outcomes = [(case, _judgeable(exercise, case, outcome)) for case, outcome in outcomes]
        try:
            result = summarize(exercise, outcomes, points=points)
        except Exception as error:  # noqa: BLE001 - a judge that fails even then: 0, and why
            message = f"0 points: the check could not judge what your {exercise.id} returned ({error!r:.200})"
            return CheckResult(exercise.id, exercise.title, 0.0, points, "error", [], message)
    result = _bounded(_hide_names(result))
    if result.status != "not attempted" and len(result.cases) == len(cases):
        unrun = "no result: the run ended before this case (see above)"
        pairs = zip(result.cases, run.outcomes, strict=True)
        marked = [replace(r, message=unrun) if o is None else r for r, o in pairs]
        result = replace(result, cases=marked)
    # a limit the kernel held (a fork refused, a process killed) is said even when every case came back
    ended = any(o is None for o in run.outcomes) or run.status in ("memory", "processes")
    notes = [*run.notes, _ending(run, timeout)] if ended else list(run.notes)
    if run.printed.strip() and result.status not in ("passed", "not attempted"):
        notes.append(f"{PRINTED_NOTE}\n" + run.printed[:PRINTED].rstrip())
    if notes and result.status != "not attempted":
        result = replace(result, message="\n".join(n for n in [result.message, *notes] if n))
    return result


def _judgeable(exercise: Exercise, case: Case, outcome: Outcome) -> Outcome:
    """`outcome`, or, when the exercise's judge raises on it, an error outcome that says what the
    student's function returned."""
    try:
        exercise.score_case(case, outcome)
        return outcome
    except Exception as error:  # noqa: BLE001 - the judge's exception is the finding
        return Outcome(
            error=f"returned {_describe(outcome.output)}, which cannot be the answer "
            f"(the check could not compare it: {type(error).__name__})"
        )


def _describe(value: object) -> str:
    """A short description of a returned value: its type and the start of its repr."""
    try:
        text = _SHORT.repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails is described by its type alone
        text = "?"
    return f"{text} (a {type(value).__name__})"


def _bounded(result: CheckResult) -> CheckResult:
    """The result with each case's message cut to MAX_MESSAGE characters."""
    cut = " ... (cut short)"
    cases = [
        replace(c, message=c.message[: MAX_MESSAGE - len(cut)] + cut) if len(c.message) > MAX_MESSAGE else c
        for c in result.cases
    ]
    return replace(result, cases=cases)


def _hide_names(result: CheckResult) -> CheckResult:
    """The result with each hidden case named by its number only."""
    if not any(case.hidden for case in result.cases):
        return result
    numbers = iter(range(1, len(result.cases) + 1))
    cases = [replace(c, name=f"hidden case {next(numbers)}") if c.hidden else c for c in result.cases]
    return replace(result, cases=cases)


def _ending(run: ExerciseRun, timeout: float, prefix: str = "") -> str:
    """What ended the run early, in a student's terms ("" when it ended normally)."""
    status = run.status
    if status == "timeout":
        text = f"your code ran out of time ({timeout:g} s for this exercise; is there an endless loop?)"
    elif status.startswith("signal "):
        text = f"your code crashed the Python process ({status[7:]})"
    elif status == "output":
        text = "your code sent back too much data"
    elif status == "memory":
        text = "your code used more memory than allowed, counting all the processes it started"
    elif status == "processes":
        text = "your code started more processes (or threads) than allowed"
    elif status.startswith("exited ") and status != "exited 0":
        text = f"your code ended the Python process ({status})"
    elif status == "sandbox ended":
        text = run.fatal
    else:
        return ""
    return prefix + text
