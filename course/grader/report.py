"""One HTML feedback page per student, readable in any browser without the course installed.

Rendered from the results as data (`CheckResult`, `CaseResult`), never from their text: per exercise,
its score, its status, what each case earned out of its points and why, and the exercise's message.
Everything that comes from a submission (the student's folder name, file names, messages that quote
the student's output or errors) is escaped; the page has no script and no external resource.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from course.grading.result import CheckResult, points_text

__all__ = ["render_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin: 0; }
section { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.8rem 1rem; margin: 1rem 0; }
.passed { color: #1a7f37; } .partial { color: #9a6700; } .failed, .error, .not-attempted { color: #cf222e; }
table { border-collapse: collapse; width: 100%; margin-top: 0.5rem; }
td, th { text-align: left; vertical-align: top; padding: 0.2rem 0.5rem; border-top: 1px solid #eaeef2; }
td.points { white-space: nowrap; width: 6rem; }
pre { white-space: pre-wrap; margin: 0; font-size: 0.9em; }
"""


def render_report(
    student: str, results: Iterable[CheckResult], notes: Iterable[str] = (), title: str = ""
) -> str:
    """The HTML page of one student: `results` in the course's order, `notes` on their files (which
    notebook was graded, files that were not notebooks, ...), under the heading `title`."""
    results = list(results)
    earned = sum(r.score for r in results)
    possible = sum(r.max_score for r in results)
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title or 'Feedback')}: {e(student)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{e(title or 'Feedback')}: {e(student)}</h1>",
        f"<p><strong>Total: {points_text(earned)} / {points_text(possible)} points</strong></p>",
    ]
    notes = [n for n in notes if n]
    if notes:
        parts.append("<ul>" + "".join(f"<li><pre>{e(n)}</pre></li>" for n in notes) + "</ul>")
    parts += [_exercise(result) for result in results]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _exercise(result: CheckResult) -> str:
    e = html.escape
    status = result.status.replace(" ", "-")
    weight = sum(case.max_score for case in result.cases)  # case scores are in weights: show points
    scale = result.max_score / weight if weight else 0.0
    rows = []
    for case in result.cases:
        mark = "passed" if case.passed else "partial" if case.score > 0 else "failed"
        hidden = " (hidden case)" if case.hidden else ""
        message = f"<pre>{e(case.message)}</pre>" if case.message else ""
        points = f"{points_text(case.score * scale)} / {points_text(case.max_score * scale)}"
        rows.append(
            f'<tr><td class="points {mark}">{points}</td><td>{e(case.name)}{hidden}{message}</td></tr>'
        )
    table = f"<table><tr><th>points</th><th>case</th></tr>{''.join(rows)}</table>" if rows else ""
    message = f"<pre>{e(result.message)}</pre>" if result.message else ""
    verdict = f"{e(result.status)}, {points_text(result.score)} / {points_text(result.max_score)} points"
    return (
        f'<section id="{e(result.exercise)}"><h2>{e(result.exercise)}: {e(result.title)} '
        f'&mdash; <span class="{status}">{verdict}</span></h2>{message}{table}</section>'
    )
