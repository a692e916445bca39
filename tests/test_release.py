"""Does `course release` hide every solution, fail loudly on bad markers, and keep notebooks/ in sync
with solutions/? Does every exercise of the registry live in exactly one notebook, with its check?"""

from __future__ import annotations

import argparse
import io
import json
import re
import tokenize
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from course import release
from course.grading import EXERCISES, check
from course.release import BEGIN, END, MarkerError, release_notebook, release_source, release_text

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
SOLUTION_FILES = sorted(SOLUTIONS.glob("*.ipynb"))


def code(source: str, exercise: str | None = None, outputs: list | None = None, **metadata) -> dict:
    if exercise is not None:
        metadata["course"] = {"exercise": exercise}
    cell = {"cell_type": "code", "execution_count": 3, "id": "c", "metadata": metadata, "source": source}
    cell["outputs"] = (
        outputs if outputs is not None else [{"name": "stdout", "output_type": "stream", "text": "x"}]
    )
    return cell


def notebook(*cells: dict) -> dict:
    return {
        "cells": list(cells),
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def stub(exercise: str, indent: str = "") -> str:
    return f'{indent}raise NotImplementedError("{exercise}: complete this function")'


# --- marker parsing ------------------------------------------------------------------------------


def test_region_is_replaced_by_a_stub_with_the_marker_indentation():
    source = f"def f(x):\n    '''doc'''\n    {BEGIN}\n    y = x + 1\n    return y\n    {END}\n"
    assert release_source(source, "f", "nb, cell 0") == f"def f(x):\n    '''doc'''\n{stub('f', '    ')}\n"


def test_code_outside_regions_is_kept_and_every_region_stubbed():
    source = (
        f"def f(x):\n    {BEGIN}\n    a = 1\n    {END}\n    b = 2\n    {BEGIN}\n    return a + b\n    {END}"
    )
    expected = f"def f(x):\n{stub('f', '    ')}\n    b = 2\n{stub('f', '    ')}"
    assert release_source(source, "f", "nb") == expected


def test_deeper_indentation_is_kept():
    source = f"def f(x):\n    if x:\n        {BEGIN}\n        return 1\n        {END}\n    return 0"
    assert release_source(source, "f", "nb") == f"def f(x):\n    if x:\n{stub('f', '        ')}\n    return 0"


def test_nested_begin_is_an_error_naming_the_cell_and_line():
    source = f"def f():\n    {BEGIN}\n    {BEGIN}\n    pass\n    {END}\n    {END}"
    with pytest.raises(MarkerError, match=r"sol/01\.ipynb, cell 4, line 3: nested .*line 2"):
        release_source(source, "f", "sol/01.ipynb, cell 4")


def test_unterminated_region_is_an_error():
    with pytest.raises(MarkerError, match=r"cell 2, line 2: .* never closed"):
        release_source(f"def f():\n    {BEGIN}\n    return 1\n", "f", "nb, cell 2")


def test_end_without_begin_is_an_error():
    with pytest.raises(MarkerError, match=r"line 2: .*END SOLUTION.* without"):
        release_source(f"def f():\n    {END}\n", "f", "nb")


def test_markers_in_a_cell_that_is_no_exercise_are_an_error():
    with pytest.raises(MarkerError, match="no exercise"):
        release_source(f"{BEGIN}\nx = 1\n{END}", None, "nb")


@pytest.mark.parametrize(
    "bad", ["## BEGIN SOLUTION", "### begin solution", "# END SOLUTION", "### BEGIN SOLUTION x"]
)
def test_malformed_markers_are_an_error_not_silently_kept(bad):
    with pytest.raises(MarkerError, match="malformed"):
        release_source(f"def f():\n    {bad}\n    return 1", "f", "nb")


_plain_line = st.text(alphabet="abc xyz=()+:#1", max_size=20).filter(lambda t: "SOLUTION" not in t)


@given(
    st.lists(
        st.tuples(st.lists(_plain_line, max_size=3), st.sampled_from(["", "    ", "\t"]), st.booleans()),
        min_size=1,
        max_size=5,
    )
)
def test_any_well_formed_source_keeps_its_code_and_stubs_each_region(blocks):
    """Blocks of lines, each either plain code or a solution region at some indentation: the plain lines
    come through unchanged and in order, each region becomes exactly one stub at its indentation."""
    source_lines, expected_lines = [], []
    for lines, indent, is_region in blocks:
        if is_region:
            source_lines += [indent + BEGIN, *lines, indent + END]
            expected_lines.append(stub("f", indent))
        else:
            source_lines += lines
            expected_lines += lines
    assert release_source("\n".join(source_lines), "f", "nb") == "\n".join(expected_lines)


def test_record_stores_only_check_output_cells_with_the_count_of_a_fresh_run(tmp_path):
    pytest.importorskip("nbclient")
    solution = notebook(
        code("x = 6 * 7\nprint('not kept')"),
        code("# NBVAL_CHECK_OUTPUT\nprint(x)", outputs=[]),
    )
    for index, cell in enumerate(solution["cells"]):
        cell["id"], cell["source"] = f"c{index}", cell["source"].splitlines(keepends=True)
    path = tmp_path / "01_x.ipynb"
    recorded = json.loads(release.record_outputs(json.dumps(solution), path, timeout=120))
    first, second = recorded["cells"]
    assert first["outputs"] == [] and first["execution_count"] is None
    assert second["execution_count"] == 2
    assert [(o["output_type"], o["text"]) for o in second["outputs"]] == [("stream", "42\n")]


def test_record_joins_the_pieces_of_a_stream_so_that_a_second_recording_is_the_same():
    """How a kernel splits printed text into stream outputs depends on when it flushes: two recordings
    of 01's receptive-field table stored its five lines as 2 + 3 and as 1 + 4. nbval compares the
    streams joined, so the recording joins them too, and is the same every time."""
    outputs = [
        {"name": "stdout", "output_type": "stream", "text": ["a\n", "b\n"]},
        {"name": "stdout", "output_type": "stream", "text": "c\n"},
        {"name": "stderr", "output_type": "stream", "text": "warn\n"},
        {"data": {"text/plain": "1"}, "execution_count": 3, "metadata": {}, "output_type": "execute_result"},
        {"name": "stdout", "output_type": "stream", "text": "d\n"},
    ]
    assert release._join_streams(outputs) == [
        {"name": "stdout", "output_type": "stream", "text": "a\nb\nc\n"},
        {"name": "stderr", "output_type": "stream", "text": "warn\n"},
        outputs[3],
        {"name": "stdout", "output_type": "stream", "text": "d\n"},
    ]


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.name)
def test_stored_outputs_are_what_record_writes(path):
    """Each `# NBVAL_CHECK_OUTPUT` cell's stored output has the count of a top-to-bottom run (the
    count `course release --record` gives it) and its streams joined, so that --record changes nothing
    until a cell's output does. Cells inserted above them had left their counts stale."""
    code_cells = 0
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        code_cells += 1
        if cell["outputs"]:
            assert cell["execution_count"] == code_cells, (cell["id"], cell["execution_count"], code_cells)
            assert release._join_streams(cell["outputs"]) == cell["outputs"], cell["id"]


def test_exercise_cell_without_a_region_is_an_error():
    with pytest.raises(MarkerError, match="has no"):
        release_notebook(notebook(code("def f():\n    return 1", "f")), "nb")


def test_markdown_cell_with_a_marker_is_an_error():
    cell = {"cell_type": "markdown", "id": "m", "metadata": {}, "source": f"{BEGIN}\nthe answer\n{END}"}
    with pytest.raises(MarkerError, match=r"nb, cell 0 \(markdown\)"):
        release_notebook(notebook(cell), "nb")


def test_outputs_and_counts_cleared_metadata_kept_input_untouched():
    solution = notebook(
        code("import numpy as np", course={"setup": True}),
        code(f"def f():\n    {BEGIN}\n    return 1\n    {END}\n", "f", tags=["t"]),
        code('check("f", f)'),
    )
    before = json.dumps(solution, sort_keys=True)
    released = release_notebook(solution, "nb")
    assert json.dumps(solution, sort_keys=True) == before
    assert [cell["outputs"] for cell in released["cells"]] == [[], [], []]
    assert [cell["execution_count"] for cell in released["cells"]] == [None, None, None]
    assert [cell["metadata"] for cell in released["cells"]] == [
        cell["metadata"] for cell in solution["cells"]
    ]
    assert released["metadata"] == solution["metadata"]
    assert "".join(released["cells"][1]["source"]) == f"def f():\n{stub('f', '    ')}\n"


def test_expected_outputs_of_check_output_cells_are_kept():
    expected = [{"name": "stdout", "output_type": "stream", "text": "15052800\n"}]
    released = release_notebook(
        notebook(code("# NBVAL_CHECK_OUTPUT\nprint(224 * 224 * 3 * 100)", outputs=expected)), "nb"
    )
    assert released["cells"][0]["outputs"] == expected
    assert released["cells"][0]["execution_count"] == 1  # nbval compares only cells that have a count


def test_a_question_stub_says_to_return_the_answer():
    released = release_notebook(
        notebook(code(f"def q_x():\n    {BEGIN}\n    return 3\n    {END}", "q_x")), "nb"
    )
    expected = 'def q_x():\n    raise NotImplementedError("q_x: return your answer instead")'
    assert "".join(released["cells"][0]["source"]) == expected


def test_students_do_not_see_the_check_output_marker_but_nbval_still_checks_the_cell():
    source = "# NBVAL_CHECK_OUTPUT\nprint(224 * 224 * 3 * 100)"
    released = release_notebook(notebook(code(source, outputs=[])), "nb")
    cell = released["cells"][0]
    assert "".join(cell["source"]) == "print(224 * 224 * 3 * 100)"
    assert cell["metadata"]["tags"] == ["nbval-check-output"]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_no_test_marker_shows_in_a_student_notebook(path):
    for cell in json.loads(path.read_text("utf-8"))["cells"]:
        assert "NBVAL" not in "".join(cell["source"]), (
            f"{path.name}: a test marker shows: {cell['source'][:1]}"
        )


def test_release_text_is_deterministic_json_with_a_final_newline():
    text = json.dumps(notebook(code(f"def f():\n    {BEGIN}\n    return 'é'\n    {END}", "f")))
    out = release_text(text, "nb")
    assert out == release_text(text, "nb") and out.endswith("}\n") and "\\u" not in out
    assert json.loads(out)["cells"][0]["source"] == ["def f():\n", stub("f", "    ")]


def test_check_mode_reports_an_out_of_date_notebook(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_x.ipynb").write_text(json.dumps(notebook(code("x = 1"))))
    args = argparse.Namespace(check=True, solutions=tmp_path / "solutions", notebooks=tmp_path / "notebooks")
    assert release.run(args) == 1
    assert "out of date" in capsys.readouterr().out
    assert release.run(argparse.Namespace(**{**vars(args), "check": False})) == 0
    assert release.run(args) == 0
    (tmp_path / "notebooks" / "99_old.ipynb").write_text("{}")
    assert release.run(args) == 1


@pytest.mark.parametrize(
    "setup, expected",
    [
        (
            "missing",
            r"course release: --solutions \S*nosuch: expected a folder of solution notebooks, "
            r"got no such folder",
        ),
        (
            "file",
            r"course release: --solutions \S*file\.txt: expected a folder of solution notebooks, got a file",
        ),
        (
            "empty",
            r"course release: --solutions \S*solutions: expected a folder of solution notebooks "
            r"\(\*\.ipynb\), got none",
        ),
        ("not json", r"course release: \S*01_x\.ipynb: not a notebook \(invalid JSON: Expecting value"),
        ("not utf-8", r"course release: \S*01_x\.ipynb: not a notebook \(not UTF-8 text\)"),
    ],
)
def test_a_bad_solutions_folder_or_notebook_is_named_in_the_error(tmp_path, capsys, setup, expected):
    """A solution notebook that was not JSON printed only the parser's message ('Expecting value: line 1
    column 1 (char 0)') without the file; a missing --solutions folder read 'no notebooks in nosuch/'."""
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    if setup == "missing":
        solutions = tmp_path / "nosuch"
    elif setup == "file":
        solutions = tmp_path / "file.txt"
        solutions.write_text("x")
    elif setup == "not json":
        (solutions / "01_x.ipynb").write_text("not json")
    elif setup == "not utf-8":
        (solutions / "01_x.ipynb").write_bytes(b"\xd0\xcf\x11\xe0")
    args = argparse.Namespace(check=False, solutions=solutions, notebooks=tmp_path / "notebooks")
    assert release.run(args) == 1
    captured = capsys.readouterr()
    assert re.search(expected, captured.err.strip()), captured
    assert not (tmp_path / "notebooks").exists()


# --- the repository's notebooks ------------------------------------------------------------------


def test_there_are_solution_notebooks():
    assert SOLUTION_FILES, f"no notebooks in {SOLUTIONS}"


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.name)
def test_student_notebook_is_exactly_what_release_produces(path):
    student = NOTEBOOKS / path.name
    assert student.exists(), f"{student} is missing: run `course release`"
    assert student.read_text("utf-8") == release_text(path.read_text("utf-8"), str(path)), (
        f"{student} differs from what `course release` produces from {path}: run `course release` "
        "(never edit notebooks/ by hand)"
    )


def test_no_student_notebook_without_a_solution():
    assert release.stale_notebooks(SOLUTIONS, NOTEBOOKS) == []


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.name)
def test_solutions_are_stored_without_outputs(path):
    for index, cell in enumerate(json.loads(path.read_text("utf-8"))["cells"]):
        if cell["cell_type"] != "code":
            continue
        if release.CHECK_OUTPUT not in "".join(cell["source"]):
            assert cell["outputs"] == [], f"{path.name} cell {index} is stored with outputs"
            assert cell["execution_count"] is None, f"{path.name} cell {index} has an execution count"


def _cells(path: Path) -> list[dict]:
    return [cell for cell in json.loads(path.read_text("utf-8"))["cells"] if cell["cell_type"] == "code"]


def _exercise_cells() -> list[tuple[Path, int, str]]:
    """(solution notebook, index among its code cells, exercise id) for every exercise cell."""
    return [
        (path, index, exercise)
        for path in SOLUTION_FILES
        for index, cell in enumerate(_cells(path))
        if (exercise := release.exercise_id(cell)) is not None
    ]


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_every_registered_exercise_is_in_exactly_one_notebook_with_a_check_cell(exercise):
    places = [(path, index) for path, index, found in _exercise_cells() if found == exercise]
    notebook_name = EXERCISES[exercise].notebook
    assert len(places) == 1, f"{exercise} is in {len(places)} exercise cells (registry: {notebook_name})"
    path, index = places[0]
    assert path.stem == notebook_name, f"{exercise} is in {path.name}, the registry says {notebook_name}"
    cells = _cells(path)
    after = "".join(cells[index + 1]["source"]) if index + 1 < len(cells) else ""
    assert re.search(rf'check\("{exercise}", {exercise}\)', after), f"no check cell right after {exercise}"
    assert re.search(rf"^def {exercise}\(", "".join(cells[index]["source"]), re.M), f"no `def {exercise}(`"


def _bare_names(source: str) -> set[str]:
    """Names used in Python code, leaving out strings, comments and attributes (`F.conv2d`)."""
    names, previous = set(), None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and previous != ".":
            names.add(token.string)
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = token.string
    return names


@pytest.mark.parametrize("path, index, exercise", _exercise_cells(), ids=[e for _, _, e in _exercise_cells()])
def test_later_cells_use_an_exercise_only_through_fallback(path, index, exercise):
    """A student notebook must run with every exercise still a stub: after its check cell, the student's
    function may only be reached as `fallback("<id>", <id>)` (theirs if it passes, else the reference)."""
    allowed = f'fallback("{exercise}", {exercise})'
    for later, cell in enumerate(_cells(path)[index + 2 :], start=index + 2):
        source = "".join(cell["source"]).replace(allowed, "fallback()")
        assert exercise not in _bare_names(source), (
            f"{path.name}: code cell {later} uses {exercise} directly; write `{allowed}` instead"
        )


def test_every_exercise_cell_is_registered():
    unknown = [
        f"{path.name}: {exercise}" for path, _, exercise in _exercise_cells() if exercise not in EXERCISES
    ]
    assert unknown == []


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.name)
def test_notebook_starts_with_one_setup_cell(path):
    setups = [i for i, cell in enumerate(_cells(path)) if cell["metadata"].get("course", {}).get("setup")]
    assert setups == [0], f"{path.name}: the setup cell must be the first code cell, and only one"


def _run_exercise_cell(path: Path, index: int, exercise: str, released: bool):
    cells = (release_notebook if released else lambda nb, _: nb)(
        json.loads(path.read_text("utf-8")), path.name
    )
    code_cells = [cell for cell in cells["cells"] if cell["cell_type"] == "code"]
    namespace: dict = {}
    exec(compile("".join(code_cells[0]["source"]), f"{path.name}:setup", "exec"), namespace)  # noqa: S102
    exec(compile("".join(code_cells[index]["source"]), f"{path.name}:{exercise}", "exec"), namespace)  # noqa: S102
    return check(exercise, namespace[exercise])


@pytest.mark.parametrize("path, index, exercise", _exercise_cells(), ids=[e for _, _, e in _exercise_cells()])
def test_solution_passes_its_check_and_the_stub_is_not_attempted(path, index, exercise):
    if exercise not in EXERCISES:
        pytest.skip(f"{exercise} is not registered (reported by another test)")
    with warnings.catch_warnings(record=True) as caught:  # a solution is a model: no numpy warning
        warnings.simplefilter("always")
        solved = _run_exercise_cell(path, index, exercise, released=False)
    assert solved.status == "passed", str(solved)
    assert not caught, [str(warning.message) for warning in caught]
    assert _run_exercise_cell(path, index, exercise, released=True).status == "not attempted"


def test_the_course_command_runs_release_check(tmp_path, capsys):
    from course import cli

    assert cli.main(["release", "--check", "--solutions", str(SOLUTIONS), "--notebooks", str(NOTEBOOKS)]) == 0
    assert cli.main(["release", "--check", "--solutions", str(SOLUTIONS), "--notebooks", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().out
