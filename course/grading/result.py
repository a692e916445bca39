"""What a check found, as data, with separate renderings: text for a terminal, HTML for a notebook,
and a dict for machines (the grader's JSON)."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field

STATUSES = ("passed", "partial", "failed", "not attempted", "error")


def points_text(value: float) -> str:
    """Points as every file of the course writes them: rounded to 4 decimals, as scores are, and written
    with all of them (no trailing zeros, no exponent): 105.5556, 0.3, 2. (`:g` keeps 6 significant
    digits: a total of 105.5556 read 105.556, and no longer the sum of its parts.)"""
    text = f"{round(value, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class CaseResult:
    """One case of one exercise: `score` out of `max_score`, and a message saying what was wrong."""

    name: str
    score: float
    max_score: float
    message: str = ""
    hidden: bool = False

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score

    @property
    def mark(self) -> str:
        """ "ok" (full marks), "part" (some of its points) or "FAIL" (none)."""
        return "ok" if self.passed else "part" if self.score > 0 else "FAIL"


@dataclass(frozen=True)
class CheckResult:
    """All cases of one exercise. `status` is one of STATUSES; `message` explains a whole-exercise
    verdict ("not attempted", a crash before any case ran)."""

    exercise: str
    title: str
    score: float
    max_score: float
    status: str
    cases: list[CaseResult] = field(default_factory=list)
    message: str = ""

    def __post_init__(self):
        assert self.status in STATUSES, self.status

    def case_points(self, case: CaseResult) -> str:
        """What one case earned out of what it could, in the exercise's points: "0.5/1 points"."""
        total = sum(c.max_score for c in self.cases)
        scale = self.max_score / total if total else 0.0
        return _points(case.score * scale, case.max_score * scale)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"{self.exercise} ({self.title}): {self.status}, {_points(self.score, self.max_score)}"]
        if self.message:
            lines.append(f"  {self.message}")
        for case in self.cases:
            earned = self.case_points(case)
            lines.append(f"  {case.mark:4s} {earned} {case.name}" + (" [hidden]" if case.hidden else ""))
            lines.extend(f"       {line}" for line in case.message.splitlines())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"passed": "#1a7f37", "partial": "#9a6700"}.get(self.status, "#cf222e")
        head = (
            f"<b style='color:{colour}'>{html.escape(self.exercise)}: {html.escape(self.status)}</b>"
            f" &mdash; {_points(self.score, self.max_score)}"
        )
        parts = [f"<div>{head}"]
        if self.message:
            parts.append(f"<div>{html.escape(self.message)}</div>")
        rows = []
        for case in self.cases:
            mark = {"ok": "&#10004;", "part": "&#9680;", "FAIL": "&#10008;"}[case.mark]
            earned = self.case_points(case)
            note = f"<pre style='margin:0'>{html.escape(case.message)}</pre>" if case.message else ""
            rows.append(f"<li>{mark} {earned} {html.escape(case.name)}{note}</li>")
        if rows:
            parts.append(f"<ul style='margin:0'>{''.join(rows)}</ul>")
        parts.append("</div>")
        return "".join(parts)


def _points(score: float, max_score: float) -> str:
    return f"{points_text(score)}/{points_text(max_score)} points"
