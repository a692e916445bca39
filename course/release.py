"""`course release`: regenerate the student notebooks (notebooks/) from the complete ones (solutions/).

In an exercise cell (metadata {"course": {"exercise": "<id>"}}) every region between a line
`### BEGIN SOLUTION` and a line `### END SOLUTION` is replaced by one line, indented like the BEGIN
marker, `raise NotImplementedError("<id>: complete this function")` (for a question,
"<id>: return your answer instead"). Outputs and execution counts are cleared, except in cells marked
`# NBVAL_CHECK_OUTPUT`: their outputs are the expected ones that CI compares against (so they must not
depend on how an exercise was solved), and nbval only compares a cell that has an execution count, so
they keep the count a top-to-bottom run gives them. Students do not see the marker: in the student
notebook its line is removed and the cell carries nbval's equivalent tag, `nbval-check-output`, in its
metadata instead (a tag Jupyter does not show). Cell and notebook metadata are otherwise kept. Nested,
unterminated or stray markers, and malformed ones (`## BEGIN SOLUTION`), are errors naming the notebook
and the cell: a marker that is silently ignored would hand the solution to students.

Works on the notebook JSON directly (no nbformat round trip), so the output is a pure function of the
input, byte for byte. `--check` only compares and exits non-zero when notebooks/ is out of date.
`--record` first executes each solution notebook (nbclient) and stores back the outputs of its
`# NBVAL_CHECK_OUTPUT` cells, every other output cleared: the way to refresh the expected outputs after
changing such a cell.

Layering: imports only the standard library (nbformat and nbclient lazily, for `--record`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

__all__ = [
    "BEGIN",
    "END",
    "CHECK_OUTPUT",
    "CHECK_OUTPUT_TAG",
    "MarkerError",
    "add_arguments",
    "exercise_id",
    "release_notebook",
    "release_source",
    "record_outputs",
    "release_text",
    "run",
    "stale_notebooks",
    "stub_line",
]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CHECK_OUTPUT = "# NBVAL_CHECK_OUTPUT"
CHECK_OUTPUT_TAG = "nbval-check-output"  # nbval's metadata form of the marker
_MARKER_LIKE = re.compile(r"\b(BEGIN|END)\s+SOLUTION\b", re.IGNORECASE)


class MarkerError(ValueError):
    """A solution marker is nested, unterminated, stray, malformed, or in a cell that is no exercise."""


def stub_line(exercise: str, indent: str = "") -> str:
    """The line that replaces a solution region in the student's notebook. A question (its id starts
    with "q_", see course.grading.questions) is answered by returning the answer, and its stub says so."""
    if exercise.startswith("q_"):
        return f'{indent}raise NotImplementedError("{exercise}: return your answer instead")'
    return f'{indent}raise NotImplementedError("{exercise}: complete this function")'


def exercise_id(cell: dict) -> str | None:
    """The exercise id of a cell (metadata {"course": {"exercise": id}}), or None."""
    course = cell.get("metadata", {}).get("course", {})
    return course.get("exercise") if isinstance(course, dict) else None


def release_source(source: str, exercise: str | None, where: str) -> str:
    """The student version of one cell's source: each solution region replaced by the stub.

    `exercise` is the cell's exercise id (None for a cell that is no exercise, which may not hold
    markers); `where` names the cell in error messages, e.g. "solutions/02_components.ipynb, cell 7".
    """
    out: list[str] = []
    begin_line = None  # 1-based line of the open BEGIN marker, None outside a region
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker not in (BEGIN, END):
            if _MARKER_LIKE.search(line):
                raise MarkerError(
                    f"{where}, line {number}: malformed solution marker {marker!r}; "
                    f"write exactly {BEGIN!r} or {END!r} on a line of its own"
                )
            if begin_line is None:
                out.append(line)
            continue
        if exercise is None:
            raise MarkerError(
                f"{where}, line {number}: {marker!r} in a cell that is no exercise; solution markers "
                'belong in a cell with metadata {"course": {"exercise": "<id>"}}'
            )
        if marker == BEGIN:
            if begin_line is not None:
                raise MarkerError(
                    f"{where}, line {number}: nested {BEGIN!r} (the region opened on line {begin_line} "
                    "is not closed yet)"
                )
            begin_line = number
            out.append(stub_line(exercise, line[: len(line) - len(line.lstrip())]))
        else:
            if begin_line is None:
                raise MarkerError(f"{where}, line {number}: {END!r} without a {BEGIN!r} before it")
            begin_line = None
    if begin_line is not None:
        raise MarkerError(f"{where}, line {begin_line}: {BEGIN!r} is never closed by {END!r}")
    return "\n".join(out)


def release_notebook(notebook: dict, name: str) -> dict:
    """The student version of a notebook (as parsed JSON); `name` is used in error messages."""
    released = json.loads(json.dumps(notebook))  # a deep copy that the input never shares
    code_cells = 0
    for index, cell in enumerate(released.get("cells", [])):
        where = f"{name}, cell {index} ({cell.get('cell_type')})"
        source = "".join(cell.get("source", ""))
        exercise = exercise_id(cell)
        if cell.get("cell_type") != "code":
            if _MARKER_LIKE.search(source) or exercise is not None:
                raise MarkerError(f"{where}: only code cells may be exercises or hold solution markers")
            continue
        new_source = release_source(source, exercise, where)
        if exercise is not None and new_source == source:
            raise MarkerError(f"{where}: exercise {exercise!r} has no {BEGIN!r} ... {END!r} region")
        code_cells += 1
        cell["source"] = _split_lines(new_source)
        if CHECK_OUTPUT in source:
            if exercise is not None:
                raise MarkerError(f"{where}: an exercise cell cannot have {CHECK_OUTPUT!r}")
            cell["source"] = _split_lines(_without_check_output(new_source))
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if CHECK_OUTPUT_TAG not in tags:
                tags.append(CHECK_OUTPUT_TAG)
            _set_count(cell, code_cells)
        else:
            cell["execution_count"] = None
            cell["outputs"] = []
    return released


def release_text(text: str, name: str) -> str:
    """The student notebook file for the solution notebook file `text`, as written to disk."""
    return _dumps(release_notebook(json.loads(text), name))


def record_outputs(text: str, path: Path, timeout: int = 600) -> str:
    """Execute the solution notebook `text` (stored at `path`, run from its folder) and return it with
    the outputs of its `# NBVAL_CHECK_OUTPUT` cells filled in and every other output cleared."""
    import nbclient
    import nbformat

    executed = nbformat.reads(text, as_version=4)
    nbclient.NotebookClient(
        executed, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    notebook = json.loads(text)
    code_cells = 0
    for cell, ran in zip(notebook["cells"], executed.cells, strict=True):
        if cell["cell_type"] != "code":
            continue
        code_cells += 1
        cell["execution_count"] = None
        cell["outputs"] = []
        if CHECK_OUTPUT in "".join(cell["source"]):
            cell["outputs"] = _join_streams(json.loads(json.dumps(ran.outputs)))
            _set_count(cell, code_cells)
    return _dumps(notebook)


def stale_notebooks(source_dir: Path, dest_dir: Path) -> list[Path]:
    """Notebooks in `dest_dir` that no longer have a solution in `source_dir`."""
    sources = {path.name for path in source_dir.glob("*.ipynb")}
    return sorted(path for path in dest_dir.glob("*.ipynb") if path.name not in sources)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the student notebooks differ from what release would produce",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="first execute solutions/ and store the expected outputs of `# NBVAL_CHECK_OUTPUT` cells",
    )
    parser.add_argument("--solutions", type=Path, default=Path("solutions"), help="default: solutions/")
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"), help="default: notebooks/")


def run(args: argparse.Namespace) -> int:
    source_dir, dest_dir = args.solutions, args.notebooks
    expected = f"--solutions {source_dir}: expected a folder of solution notebooks"
    if not source_dir.is_dir():
        return _error(f"{expected}, got {'a file' if source_dir.exists() else 'no such folder'}")
    sources = sorted(source_dir.glob("*.ipynb"))
    if not sources:
        return _error(f"{expected} (*.ipynb), got none")
    try:
        texts = {path: _read_notebook(path) for path in sources}
        if getattr(args, "record", False) and not args.check:
            for path in sources:
                texts[path] = record_outputs(texts[path], path)
                path.write_text(texts[path], encoding="utf-8")
                print(f"recorded the expected outputs of {path}")
        wanted = {dest_dir / path.name: release_text(texts[path], str(path)) for path in sources}
    except MarkerError as error:
        return _error(str(error))
    changed = [path for path, text in wanted.items() if not path.exists() or path.read_text("utf-8") != text]
    stale = stale_notebooks(source_dir, dest_dir) if dest_dir.is_dir() else []
    if args.check:
        for path in changed:
            print(f"out of date: {path}")
        for path in stale:
            print(f"no solution for: {path}")
        if changed or stale:
            print("run `course release` to regenerate the student notebooks")
            return 1
        print(f"{len(wanted)} student notebooks are up to date")
        return 0
    dest_dir.mkdir(parents=True, exist_ok=True)
    for path in changed:
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path}")
    for path in stale:
        path.unlink()
        print(f"removed {path} (its solution is gone)")
    print(f"{len(wanted)} student notebooks, {len(changed)} rewritten")
    return 0


class _NotANotebook(MarkerError):
    """A solution file that is not a notebook's JSON (reported like a marker error: file and reason)."""


def _read_notebook(path: Path) -> str:
    """The text of the solution notebook at `path`; a MarkerError naming it when it is not a notebook."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _NotANotebook(f"{path}: not a notebook (not UTF-8 text)") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise _NotANotebook(f"{path}: not a notebook (invalid JSON: {error})") from None
    return text


def _error(message: str) -> int:
    print(f"course release: {message}", file=sys.stderr)
    return 1


def _without_check_output(source: str) -> str:
    """The source without its `# NBVAL_CHECK_OUTPUT` line (nbval's tag takes its place)."""
    return "\n".join(line for line in source.split("\n") if line.strip() != CHECK_OUTPUT)


def _split_lines(source: str) -> list[str]:
    """A cell source in the notebook format's list-of-lines form."""
    return source.splitlines(keepends=True)


def _join_streams(outputs: list[dict]) -> list[dict]:
    """The outputs with each run of stream outputs of one name joined into one, its text one string:
    how a kernel splits printed text depends on when it flushes, and nbval compares streams joined."""
    joined: list[dict] = []
    for output in outputs:
        if output.get("output_type") == "stream":
            text = "".join(output["text"]) if isinstance(output["text"], list) else output["text"]
            last = joined[-1] if joined else {}
            if last.get("output_type") == "stream" and last.get("name") == output.get("name"):
                last["text"] += text
                continue
            output = {**output, "text": text}
        joined.append(output)
    return joined


def _set_count(cell: dict, count: int) -> None:
    """Give a cell and its results the execution count of a top-to-bottom run."""
    cell["execution_count"] = count
    for output in cell.get("outputs", []):
        if "execution_count" in output:
            output["execution_count"] = count


def _dumps(notebook: dict) -> str:
    """JSON as Jupyter writes it (indent 1, sorted keys, UTF-8 kept, a final newline)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
