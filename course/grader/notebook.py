"""Reading a submitted notebook without trusting it: find the setup cell and the exercise cells.

A notebook is read as JSON (never executed here). Cells are found by their metadata,
{"course": {"setup": true}} and {"course": {"exercise": "<id>"}}; when a student's editor lost the
metadata, an exercise cell is the last code cell that defines `def <id>(`, and the setup cell is the
first code cell that imports something and defines no exercise. IPython magics and shell lines
(`%matplotlib inline`, `!pip ...`) become `pass`, since the sandbox runs plain Python. An old-format
notebook (nbformat 3) is upgraded first, as Jupyter does; an exercise cell that uses a helper only an
ungraded cell defines gets a note (`course.grader.attempts`).

Reading is linear in the file's size (no pattern here can backtrack across lines) and bounded: at most
MAX_NOTEBOOK_BYTES per file, MAX_CELLS cells and MAX_CODE_BYTES of code per notebook, and
MAX_STUDENT_CODE_BYTES of code in all of a student's notebooks together (an old notebook's
cells, and its worksheets, are counted before nbformat upgrades it: that takes 150 us a cell); past a
limit the notebook is refused with a message naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from course.grader.attempts import cell_text, course_metadata, helpers_elsewhere, upgrade
from course.grader.collect import MAX_FILE_BYTES

__all__ = [
    "MAX_CELLS",
    "MAX_CODE_BYTES",
    "MAX_NOTEBOOK_BYTES",
    "MAX_STUDENT_CODE_BYTES",
    "Submission",
    "UnreadableNotebook",
    "parse_notebook",
    "read_notebook",
]

MAX_NOTEBOOK_BYTES = MAX_FILE_BYTES
MAX_CELLS = 5000  # the course's notebooks have about a hundred
MAX_CODE_BYTES = 2**20  # of code, in all the code cells of one notebook
# of code in all of one student's notebooks (the grader parses it in its own process: 1 MB of one-line
# statements takes seconds); the five solution notebooks hold about 95,000 characters of code together
MAX_STUDENT_CODE_BYTES = 2**20
_MAGIC = re.compile(r"^([ \t]*)[%!].*$", re.MULTILINE)  # [ \t], not \s: a run of newlines is not rescanned
_IMPORT = re.compile(r"^[ \t]*(import|from)[ \t]", re.MULTILINE)


class UnreadableNotebook(ValueError):
    """A submitted file that is not a notebook we can grade; the message is the reason."""


@dataclass(frozen=True)
class Submission:
    """The code of one notebook: its setup cell (or None) and one source per exercise id found."""

    path: str
    setup: str | None
    cells: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    code_size: int = 0  # characters of code in all its code cells


def read_notebook(path: str | Path, exercise_ids: Iterable[str]) -> Submission:
    """Read the file at `path` and find the cells of the given exercises.

    Raises UnreadableNotebook (a ValueError) saying why when the file is empty, binary, too large,
    not JSON, or JSON that is not a notebook.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise UnreadableNotebook(f"{path.name}: {size} bytes, more than a notebook can be")
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableNotebook(f"{path.name}: cannot be read ({error.strerror})") from None
    return parse_notebook(data, exercise_ids, name=path.name)


def parse_notebook(
    data: bytes, exercise_ids: Iterable[str], name: str = "notebook", code_left: int = MAX_STUDENT_CODE_BYTES
) -> Submission:
    """Like read_notebook, from the file's bytes; `code_left`: the characters of code the student's
    other notebooks left of MAX_STUDENT_CODE_BYTES (a notebook with more is refused)."""
    if not data.strip():
        raise UnreadableNotebook(f"{name}: the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableNotebook(f"{name}: not a text file (binary data), so not a notebook") from None
    try:
        notebook = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise UnreadableNotebook(f"{name}: not a notebook (invalid JSON: {error})"[:300]) from None
    old_cells = _old_cells(notebook) if isinstance(notebook, dict) else 0
    if old_cells > MAX_CELLS:  # before nbformat converts them
        raise UnreadableNotebook(f"{name}: {old_cells} cells, more than {MAX_CELLS}: not graded")
    try:
        notebook = upgrade(notebook) if isinstance(notebook, dict) else notebook
    except ValueError as error:
        raise UnreadableNotebook(f"{name}: {error}") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise UnreadableNotebook(f"{name}: JSON but not a Jupyter notebook (no list of cells)")
    if len(notebook["cells"]) > MAX_CELLS:
        raise UnreadableNotebook(f"{name}: {len(notebook['cells'])} cells, more than {MAX_CELLS}: not graded")
    code = [(course_metadata(cell), _source(cell)) for cell in notebook["cells"] if _is_code(cell)]
    size = sum(len(source) for _, source in code)
    if size > MAX_CODE_BYTES:
        raise UnreadableNotebook(f"{name}: {size} characters of code, more than {MAX_CODE_BYTES}: not graded")
    if size > code_left:  # before any of it is parsed
        raise UnreadableNotebook(
            f"{name}: {size} characters of code, more than the {code_left} characters of code left of the "
            f"{MAX_STUDENT_CODE_BYTES} a student's notebooks may hold together: not graded"
        )
    found = _find_cells(code, list(exercise_ids), name)
    ungraded = [source for _, source in code if source != found.setup and source not in found.cells.values()]
    helpers = helpers_elsewhere(found.cells, found.setup, ungraded, name)
    return replace(found, notes=found.notes + tuple(helpers), code_size=size)


def _find_cells(code: list[tuple[dict, str]], exercise_ids: list[str], name: str) -> Submission:
    setup = None
    cells: dict[str, str] = {}
    notes = []
    for meta, source in code:
        if meta.get("setup") is True and setup is None:
            setup = source
        exercise = meta.get("exercise")
        if isinstance(exercise, str) and exercise in exercise_ids:
            cells[exercise] = source  # the last cell tagged with an id wins, as in a top-down run
    for exercise in exercise_ids:
        if exercise in cells:
            continue
        defining = [source for _, source in code if re.search(rf"^def {re.escape(exercise)}\(", source, re.M)]
        if defining:
            cells[exercise] = defining[-1]
            notes.append(f"{name}: the cell of {exercise} had lost its metadata; found it by its `def`")
    if setup is None:
        defined = set(cells.values())
        setup = next((s for _, s in code if s not in defined and _IMPORT.search(s)), None)
        if setup is not None and cells:
            notes.append(f"{name}: the setup cell had lost its metadata; used the first cell with imports")
    return Submission(name, setup, cells, tuple(notes))


def _old_cells(notebook: dict) -> int:
    """The cells of an nbformat 3 notebook, in all its worksheets (each counted as one too); 0 for
    another format."""
    sheets = notebook.get("worksheets") if notebook.get("nbformat") == 3 else None
    if not isinstance(sheets, list):
        return 0
    cells = [s.get("cells") if isinstance(s, dict) else None for s in sheets]
    return len(sheets) + sum(len(c) for c in cells if isinstance(c, list))


def _is_code(cell: object) -> bool:
    return isinstance(cell, dict) and cell.get("cell_type") == "code"


def _source(cell: dict) -> str:
    return _MAGIC.sub(lambda m: m.group(1) + "pass", cell_text(cell.get("source", "")))
