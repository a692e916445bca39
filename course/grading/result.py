"""What a check found, as data, with separate renderings: text for a terminal, HTML for a notebook,
and a dict for machines (the grader's JSON)."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field

STATUSES = ("passed", "partial", "failed", "not attempted", "error")


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

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"{self.exercise} ({self.title}): {self.status}, {_points(self.score, self.max_score)}"]
        if self.message:
            lines.append(f"  {self.message}")
        for case in self.cases:
            mark = "ok  " if case.passed else "FAIL"
            lines.append(f"  {mark} {case.name}" + (" [hidden]" if case.hidden else ""))
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
            mark = "&#10004;" if case.passed else "&#10008;"
            note = f"<pre style='margin:0'>{html.escape(case.message)}</pre>" if case.message else ""
            rows.append(f"<li>{mark} {html.escape(case.name)}{note}</li>")
        if rows:
            parts.append(f"<ul style='margin:0'>{''.join(rows)}</ul>")
        parts.append("</div>")
        return "".join(parts)


def _points(score: float, max_score: float) -> str:
    return f"{score:g}/{max_score:g} points"
