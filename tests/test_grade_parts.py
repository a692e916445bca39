"""The grader's parts on their own: reading notebooks, the wire format, which statements of another
exercise's cell run (the Gradescope autograder: tests/test_gradescope.py)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from grading_corpus import REPO

from course.grader.notebook import UnreadableNotebook, parse_notebook
from course.grader.sandbox import child, session
from course.grader.sandbox.run import Limits
from course.grader.sandbox.runner import inert
from course.grader.sandbox.wire import decode_frames, decode_outcome, encode_frame, encode_outcome
from course.grader.student import grade_student
from course.grading.exercise import Outcome


def _notebook(*cells: tuple[str, dict]) -> bytes:
    notebook = nbformat.v4.new_notebook()
    for source, meta in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata.update(meta)
        notebook.cells.append(cell)
    return nbformat.writes(notebook).encode()


def test_cells_are_found_by_metadata_and_magics_become_pass():
    data = _notebook(
        ("import numpy as np\n%matplotlib inline\n!pip install x", {"course": {"setup": True}}),
        ("def f(x):\n    return 1", {"course": {"exercise": "f"}}),
        ("def f(x):\n    return 2", {"course": {"exercise": "f"}}),  # a later copy of the cell wins
        ("def g(x):\n    return 3", {}),
    )
    found = parse_notebook(data, ["f", "g"])
    assert found.setup == "import numpy as np\npass\npass"
    assert found.cells == {"f": "def f(x):\n    return 2", "g": "def g(x):\n    return 3"}
    assert "lost its metadata" in found.notes[0]


def test_without_metadata_the_setup_cell_is_the_first_cell_with_imports():
    found = parse_notebook(_notebook(("x = 1", {}), ("import math", {}), ("def f():\n    pass", {})), ["f"])
    assert found.setup == "import math"
    assert found.cells == {"f": "def f():\n    pass"}


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "binary"),
        (b'{"cells": [', "invalid JSON"),
        (b'{"metadata": {}}', "not a Jupyter notebook"),
        (b"[1, 2]", "not a Jupyter notebook"),
        (b"[" * 100000, "invalid JSON"),
    ],
)
def test_files_that_are_not_notebooks_give_a_reason(data, reason):
    with pytest.raises(UnreadableNotebook, match=reason):
        parse_notebook(data, ["f"])


def test_outcomes_cross_the_wire_as_plain_data():
    output = (np.arange(6, dtype=np.float32).reshape(2, 3), [1, 2.5, None, True], {"k": np.int64(3)})
    outcome = Outcome(output=(output[0], output[1], {"k": 3}), modified=("x",))
    frames, problem = decode_frames(encode_outcome(4, outcome) + encode_frame({"kind": "done"}))
    assert problem == "" and len(frames) == 2
    back = decode_outcome(*frames[0])
    assert frames[0][0]["case"] == 4 and back.modified == ("x",)
    np.testing.assert_array_equal(back.output[0], output[0])
    assert back.output[0].dtype == np.float32 and type(back.output[0]) is np.ndarray
    assert back.output[1:] == ([1, 2.5, None, True], {"k": 3})


@pytest.mark.parametrize(
    "header, body",
    [
        ({"buffers": [{"dtype": "|O", "shape": [1]}]}, b"\0" * 8),  # objects: would need pickle
        ({"buffers": [{"dtype": "<f8", "shape": [10**9, 10**9]}]}, b""),  # a huge claimed shape
        ({"buffers": [{"dtype": "<f8", "shape": [4]}]}, b"\0" * 8),  # fewer bytes than claimed
        ({"buffers": [{"dtype": "<f8", "shape": [-1]}]}, b""),
        ({"buffers": "nope"}, b""),
    ],
)
def test_hostile_frames_are_refused(header, body):
    head = json.dumps(header).encode()
    frames, problem = decode_frames(struct.pack(">I", len(head)) + head + body)
    assert frames == [] and problem


def test_a_big_endian_array_arrives_as_the_same_numbers():
    big = np.arange(4, dtype=">f8")
    frames, _ = decode_frames(encode_outcome(0, Outcome(output=big)))
    back = decode_outcome(*frames[0]).output
    assert back.dtype == np.float64 and back.tolist() == big.tolist()


def test_a_forged_output_reference_is_refused():
    frames, _ = decode_frames(encode_frame({"case": 0, "output": {"array": 5}, "modified": []}))
    with pytest.raises(ValueError, match="not plain data"):
        decode_outcome(*frames[0])


@pytest.mark.parametrize(
    "source, runs",
    [
        ("import os", True),
        ("from math import sqrt", True),
        ("def f(x=1, *, y=(2, 3)):\n    while True:\n        pass", True),  # the body runs only if called
        ("class A:\n    k = 1\n    def m(self):\n        return f()", True),
        ("while True:\n    pass", False),
        ("os._exit(0)", False),
        ("x = compute()", False),
        ("def f(x=os._exit(0)):\n    pass", False),  # a default is evaluated at definition
        ("@decorate()\ndef f():\n    pass", False),
        ("class A(make_base()):\n    pass", False),
        ("class A:\n    for i in range(10**9):\n        pass", False),
        ("@all\n@itertools.repeat\ndef f():\n    pass", False),  # no call in sight, yet it never returns
        ("@loop\ndef f():\n    pass", False),  # a decorator runs whatever it is
        ("class A(metaclass=Loop):\n    pass", False),
        ("class A:\n    x = [i for i in range(10**9)]", False),
        ("def f(x: int = -1, y=np.float64, *a: int, **k) -> np.ndarray:\n    pass", True),
        ('class A(np.ndarray):\n    "doc"\n    k: int = 2\n    def m(self):\n        pass', True),
    ],
)
def test_only_inert_statements_of_other_cells_run(source, runs):
    assert inert(ast.parse(source).body[0]) is runs


def test_the_released_student_notebooks_grade_as_not_attempted(tmp_path):
    released = sorted((REPO / "notebooks").glob("*.ipynb"))
    if not released:
        pytest.skip("no released notebooks yet")
    folder = tmp_path / "student"
    folder.mkdir()
    for notebook in released:
        shutil.copy(notebook, folder / notebook.name)
    result = grade_student(folder, seed=1, limits=Limits(timeout=20))
    assert result.total == 0
    assert {r.status for r in result.results.values()} == {"not attempted"}


def test_orphans_of_a_dead_sandbox_are_killed_and_other_children_spared():
    session.become_subreaper()
    marked = {"COURSE_SANDBOX": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(["sh", "-c", "setsid sleep 3331 & setsid sleep 3332 &"], env=marked, check=True)
    bystander = subprocess.Popen(["sleep", "3333"], env={"PATH": "/usr/bin:/bin"})
    try:
        time.sleep(0.3)  # the orphans are re-parented to this process
        with session._lock:
            session._kill_strays()
        left = [_read(p) for p in Path("/proc").glob("[0-9]*/cmdline")]
        assert not any(b"sleep\0333" in c and not c.endswith(b"3333\0") for c in left)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process is gone
        return b""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another uid")
def test_what_a_student_uid_left_in_shared_folders_is_swept():
    uid = 61999
    left = Path(f"/tmp/course-grade-sweep-{os.getpid()}")
    kept = Path(f"/tmp/course-grade-keep-{os.getpid()}")
    for path in (left, kept):
        path.write_text("x")
    os.chown(left, uid, uid)
    try:
        child._sweep(uid)
        assert not left.exists() and kept.exists()
    finally:
        for path in (left, kept):
            path.unlink(missing_ok=True)
