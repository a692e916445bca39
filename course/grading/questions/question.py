"""Short questions (a number, one choice, or several choices) as exercises of the registry.

A student answers a question the way they answer a code exercise: in its own cell, a function with no
arguments that returns the answer,

    def q_receptive_field_five_layers():
        return 11

so `check`, `fallback`, the release stubs and the sandboxed grader treat it like any other exercise.
The function may compute its answer (`return (227 - 11) // 4 + 1`), also with the student's own
exercise functions; but, as for every exercise cell, the grader defines only the functions of exercise
cells, so a variable of a plain cell (`rf = fallback(...)`) does not exist when it is graded.

A wrong answer gets the reasoning that leads to the right one, never the right answer itself (a check
can be run again and again, so a stated answer would be free points), and, when the answer is a known
mistake, what that mistake is. A hint for a mistake is given only when the answer equals it: a known
mistake never equals the right answer or another known mistake (checked when the question is built).

Layering: imports the exercise machinery of course.grading only.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from course.grading.exercise import Case, Exercise

__all__ = ["ChoiceQuestion", "NumberQuestion", "Question"]


class Question(Exercise):
    """An exercise whose function takes no argument and returns an answer, judged on one visible case.

    `prompt` names the case (the question in a few words); `reasoning` is shown after any wrong answer
    and must not contain the answer. The reference is a function returning the right answer, so that
    `fallback` hands later cells the right value.
    """

    points = 1.0
    prompt: str
    reasoning: str

    def __init__(self, id: str, notebook: str, title: str, prompt: str, reasoning: str, points: float = 1.0):
        if not id.startswith("q_"):
            raise ValueError(f"question ids start with 'q_' (the gradebook tells them apart), got {id!r}")
        self.id, self.notebook, self.title, self.points = id, notebook, title, points
        self.prompt, self.reasoning = prompt, reasoning

    def reference(self) -> Any:
        """The right answer (each kind of question says how it holds it)."""
        raise NotImplementedError

    def cases(self, rng, hidden):
        """One visible case: the question itself. There is nothing to draw for hidden cases."""
        return [] if hidden else [Case(self.prompt)]

    def wrong(self, why: str, hint: str = "") -> tuple[float, str]:
        """(0.0, the message of a wrong answer): what was wrong, the mistake if known, the reasoning."""
        return 0.0, "\n".join(part for part in (why, hint, self.reasoning) if part)


class NumberQuestion(Question):
    """A question whose answer is one number, right within `rtol` (exact for integers by default).

    `mistakes` maps the answers that known mistakes give to what the mistake is, e.g.
    {54: "the + 1 is missing: the first position of the kernel counts too"}.
    """

    def __init__(
        self,
        id: str,
        notebook: str,
        title: str,
        prompt: str,
        answer: float,
        reasoning: str,
        mistakes: Mapping[float, str] | None = None,
        rtol: float = 1e-9,
        points: float = 1.0,
    ):
        super().__init__(id, notebook, title, prompt, reasoning, points)
        self.answer, self.rtol = answer, rtol
        self.mistakes = dict(mistakes or {})
        for value in self.mistakes:
            if self._close(value):
                raise ValueError(f"{id}: the mistake {value!r} is the right answer")
        values = sorted(self.mistakes)
        for low, high in zip(values, values[1:], strict=False):
            if abs(high - low) <= rtol * max(abs(high), 1.0):
                raise ValueError(f"{id}: the mistakes {low!r} and {high!r} cannot be told apart")
        if _number_in(answer, reasoning):
            raise ValueError(f"{id}: the reasoning states the answer {answer!r}")

    def reference(self) -> float:
        return self.answer

    def judge(self, case, output):
        if isinstance(output, bool) or not isinstance(output, (int, float)):
            return self.wrong(f"your answer should be a number, got {_describe(output)}")
        if isinstance(output, int) and abs(output) > sys.float_info.max:  # math.isfinite would overflow
            return self.wrong("your answer, an int with more than 300 digits, is not right")
        if not math.isfinite(output):
            return self.wrong(f"your answer should be a finite number, got {output!r}")
        if self._close(output):
            return 1.0, ""
        hint = next((why for value, why in self.mistakes.items() if self._close(output, value)), "")
        if hint and _rounded(self.answer, output):  # the right value rounded as far as the mistake's:
            hint = ""  # either could be theirs, so no mistake is named
        return self.wrong(f"your answer {output:.10g} is not right", hint)

    def _close(self, got: float, expected: float | None = None) -> bool:
        expected = self.answer if expected is None else expected
        return abs(got - expected) <= self.rtol * max(abs(expected), 1.0)


class ChoiceQuestion(Question):
    """A question answered by naming options: one (`answer` a string) or several (`answer` a set).

    `options` maps each option's name to what it is (the notebook shows them). For one choice,
    `mistakes` maps a wrong option to why it is wrong. For several, the answer is a list of names in
    any order, right only when it is exactly the right set, and a wrong answer is told how many options
    it misjudges (not which: with yes/no per option, naming them would give the answer away).
    """

    def __init__(
        self,
        id: str,
        notebook: str,
        title: str,
        prompt: str,
        options: Sequence[str],
        answer: str | frozenset[str],
        reasoning: str,
        mistakes: Mapping[str, str] | None = None,
        points: float = 1.0,
    ):
        super().__init__(id, notebook, title, prompt, reasoning, points)
        self.options = tuple(options)
        self.several = not isinstance(answer, str)
        self.answer = frozenset(answer) if self.several else answer
        self.mistakes = dict(mistakes or {})
        chosen = self.answer if self.several else {self.answer}
        unknown = sorted(set(chosen) - set(self.options)) + sorted(set(self.mistakes) - set(self.options))
        if unknown:
            raise ValueError(f"{id}: {unknown} are not among the options {self.options}")
        if self.several and self.mistakes:
            raise ValueError(f"{id}: a question with several choices explains by count, not by mistakes")
        if not self.several and self.answer in self.mistakes:
            raise ValueError(f"{id}: the right option {self.answer!r} cannot be a mistake")

    def reference(self) -> str | list[str]:
        return sorted(self.answer) if self.several else self.answer

    def judge(self, case, output):
        names = self._names(output)
        if isinstance(names, str):
            return self.wrong(names)
        unknown = [name for name in names if name not in self.options]
        if unknown:
            listed = ", ".join(repr(option) for option in self.options)
            why = f"{_quoted(unknown)} {_is_or_are(unknown)} not an option; the options are {listed}"
            return self.wrong(why)
        if not self.several:
            (name,) = names
            if name == self.answer:
                return 1.0, ""
            return self.wrong(f"{name!r} is not right", self.mistakes.get(name, ""))
        if set(names) == self.answer:
            return 1.0, ""
        misjudged = len(set(names) ^ self.answer)
        return self.wrong(
            f"your choice {sorted(set(names))} misjudges {misjudged} of the {len(self.options)} options"
        )

    def _names(self, output: Any) -> list[str] | str:
        """The names the answer chose, or a message saying why it is not a usable answer."""
        if isinstance(output, str):
            return [output]
        if self.several and isinstance(output, (list, tuple)) and all(isinstance(v, str) for v in output):
            return list(output)
        expected = (
            "a list of option names, e.g. ['a', 'b'] (or [] for none)"
            if self.several
            else ("one option name, as a string")
        )
        return f"your answer should be {expected}, got {_describe(output)}"


def _rounded(value: float, output: float) -> bool:
    """Whether `output`, written with decimals, is `value` rounded to them (0.09 for 0.0873)."""
    text = repr(float(output))
    if "e" in text or "n" in text:
        return False
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return decimals > 0 and round(float(value), decimals) == float(output)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _is_or_are(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _number_in(number: float, text: str) -> bool:
    """Whether `number` is written in `text` as a whole number or decimal (not as part of another)."""
    written = {f"{number:g}", f"{number:,g}"}
    if float(number).is_integer():
        written |= {str(int(number)), f"{int(number):,}"}
    return any(re.search(rf"(?<![\d.,]){re.escape(w)}(?![\d]|[.,]\d)", text) for w in written)
