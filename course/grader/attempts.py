"""What a student's files hold, beyond their cells: which notebook to grade each exercise from when
several have it, helpers defined where they do not run, and old notebook formats.

Everything here reads source text or JSON only; nothing runs student code.

- `candidates`: for each exercise, the notebooks to grade it from, best first: notebooks where the
  student attempted it (its function is more than the released stub) before untouched copies, distinct
  attempts once each, the notebook named after the exercise's own before others. The grader grades
  the first and, when the student attempted it in several notebooks, the others too, and keeps the best;
  a question (`once`) is graded from the first only: its answers are few, and the best of several
  notebooks would let a student try each one.
- `helpers_elsewhere`: names an exercise cell uses that only an ungraded cell defines (only the setup
  cell and the exercise cells run when grading), as notes that say what to move where.
- `upgrade`: a notebook in an old format (nbformat 3, with worksheets and `input`) converted to
  nbformat 4 by `nbformat`, as Jupyter does when it opens one (only what the grader reads of it).
- `course_metadata` and `cell_text`: what the grader reads of a cell, the same in both formats
  (`course.grader.notebook` reads its cells with them too).
"""

from __future__ import annotations

import ast
import builtins
import functools
from collections.abc import Collection, Iterable, Mapping

__all__ = [
    "MAX_ATTEMPTS",
    "attempted",
    "candidates",
    "cell_text",
    "course_metadata",
    "helpers_elsewhere",
    "upgrade",
]

MAX_ATTEMPTS = 3  # distinct attempts of one exercise graded per student, at most
# sources whose facts (stubs, names defined, names used) are remembered: a cell without metadata stands
# for every exercise whose `def` it holds, and is asked about once per exercise (1 MB of code takes
# seconds to parse); the sources are a student's cells, which the class run keeps in memory anyway
_REMEMBERED_SOURCES = 128
_MARKS = ("setup", "exercise")  # what the grader reads of a cell's {"course": {...}} metadata


def attempted(source: str, exercise_id: str) -> bool:
    """Whether a cell holds an attempt at `exercise_id`: False when its function's body is only the
    released stub (a docstring and `raise NotImplementedError(...)`), True otherwise (also when the
    cell does not parse: a broken attempt is still an attempt)."""
    return exercise_id not in _stubs(source)


def candidates(
    cells_by_notebook: list[tuple[str, Mapping[str, str]]],
    notebook_of: Mapping[str, str],
    once: Collection[str] = (),
) -> dict[str, list[int]]:
    """For each exercise id of `notebook_of` (id -> its notebook's name, e.g. "02_components"), the
    indexes into `cells_by_notebook` ((file name, {id: cell source}) per notebook) to grade it from,
    best first (see the module's note); exercises no notebook holds are left out; the ids in `once`
    (the questions) get one notebook only."""
    chosen: dict[str, list[int]] = {}
    for exercise_id, home in notebook_of.items():
        holders = [i for i, (_, cells) in enumerate(cells_by_notebook) if exercise_id in cells]
        if not holders:
            continue
        holders.sort(key=lambda i: not cells_by_notebook[i][0].startswith(home))
        tried = [i for i in holders if attempted(cells_by_notebook[i][1][exercise_id], exercise_id)]
        distinct, seen = [], set()
        for index in tried:
            source = cells_by_notebook[index][1][exercise_id]
            if source not in seen:
                seen.add(source)
                distinct.append(index)
        chosen[exercise_id] = distinct[: 1 if exercise_id in once else MAX_ATTEMPTS] or holders[:1]
    return chosen


def helpers_elsewhere(
    graded: Mapping[str, str], setup: str | None, ungraded: Iterable[str], name: str
) -> list[str]:
    """Notes for names that an exercise cell (`graded`: id -> source) uses but that only an ungraded
    cell of notebook `name` defines."""
    elsewhere: dict[str, None] = {}
    for source in ungraded:
        for defined in _defined(source):
            elsewhere.setdefault(defined)
    available = _defined(setup or "") | {n for source in graded.values() for n in _defined(source)}
    notes = []
    for exercise_id, source in graded.items():
        missing = [n for n in _used(source) if n in elsewhere and n not in available]
        if missing:
            names = ", ".join(f"`{n}`" for n in missing)
            notes.append(
                f"{name}: {exercise_id} uses {names}, defined in a cell that is not graded (only the setup "
                f"cell and the exercise cells run): move it into the cell of {exercise_id}"
            )
    return notes


def upgrade(notebook: dict) -> dict:
    """`notebook` (parsed JSON) in nbformat 4: an nbformat 3 notebook is converted as Jupyter does,
    others are returned as they are. Only what the grader reads is converted (`_read_parts`). Raises
    ValueError when nbformat cannot convert it."""
    if notebook.get("nbformat") != 3:
        return notebook
    import nbformat  # here, not at the top: importing it takes seconds (jsonschema builds its grammars)

    try:
        return nbformat.convert(nbformat.from_dict(_read_parts(notebook)), 4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds on malformed input
        raise ValueError(f"an nbformat 3 notebook that nbformat cannot upgrade ({error})"[:300]) from None


def _read_parts(notebook: dict) -> dict:
    """An nbformat 3 notebook with only what the grader reads of it: its cells (not the entries that
    are not cells), each with its type, its text (a code cell's `input`) with its lines joined, as
    nbformat's reader joins them when Jupyter opens the file (a heading cell's list of lines stopped
    the upgrade), and the `setup` and `exercise` marks of its metadata. nbformat validates and
    converts every node it is given: 19 MB of metadata took 27 s and 2.7 GB, 20 MB of outputs 30 s."""
    cells = []
    for sheet in notebook.get("worksheets") or []:
        for cell in (sheet.get("cells") if isinstance(sheet, dict) else None) or []:
            if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
                continue  # not a cell, and surely not a code cell
            marks = {
                k: v for k, v in course_metadata(cell).items() if k in _MARKS and isinstance(v, (bool, str))
            }
            kept = {"cell_type": cell["cell_type"], "metadata": {"course": marks} if marks else {}}
            for key in ("input", "source"):
                if key in cell:
                    kept[key] = cell_text(cell[key])
            if kept["cell_type"] == "code":
                kept.update(language="python", outputs=[])
            if isinstance(cell.get("level"), int):
                kept["level"] = cell["level"]
            cells.append(kept)
    minor = notebook.get("nbformat_minor")
    return {
        "nbformat": 3,
        "nbformat_minor": minor if isinstance(minor, int) else 0,
        "metadata": {},
        "worksheets": [{"cells": cells, "metadata": {}}],
    }


def course_metadata(cell: dict) -> dict:
    """A cell's own metadata, {"course": {...}}'s dict: {} when it is missing or not a dict."""
    meta = cell.get("metadata")
    course = meta.get("course") if isinstance(meta, dict) else None
    return course if isinstance(course, dict) else {}


def cell_text(text: object) -> str:
    """A cell's text as one string, its parts joined when nbformat stored it as a list of lines, as
    nbformat's reader joins them; "" for anything else."""
    if isinstance(text, list):
        return "".join(part for part in text if isinstance(part, str))
    return text if isinstance(text, str) else ""


@functools.lru_cache(maxsize=_REMEMBERED_SOURCES)
def _stubs(source: str) -> frozenset[str]:
    """Top-level functions of a cell whose last definition is only the released stub (see
    `attempted`); none when the cell does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    last = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    return frozenset(name for name, function in last.items() if _is_stub(function.body))


def _is_stub(body: list[ast.stmt]) -> bool:
    """Whether a function's body is a docstring (or none) and `raise NotImplementedError(...)`."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


@functools.lru_cache(maxsize=_REMEMBERED_SOURCES)
def _defined(source: str) -> frozenset[str]:
    """Top-level names a cell defines: functions, classes, assignments, imports."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return frozenset(names)


@functools.lru_cache(maxsize=_REMEMBERED_SOURCES)
def _used(source: str) -> tuple[str, ...]:
    """Names a cell reads and neither defines nor gets from Python's builtins, in order of first use."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    bound = {*_defined(source), *dir(builtins)}
    for node in ast.walk(tree):
        # every way a name is bound anywhere in the cell, nested scopes included: a function that
        # imports what it needs, or defines a helper inside itself, does not use another cell's
        if isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    used: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound:
            used.setdefault(node.id)
    return tuple(used)
