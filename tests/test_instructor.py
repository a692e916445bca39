"""Does `course grade` serve an instructor through a term: the right notebook graded when a student
hands in two, old notebooks read, a summary of what went wrong, overrides applied where they belong,
a Canvas gradebook, a report each student can open, and clear refusals with exit codes?"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from grading_corpus import REPO, write_notebook

from course.cli import main
from course.grader.attempts import MAX_ATTEMPTS, attempted, candidates, helpers_elsewhere
from course.grader.export import FinalGrade, canvas_csv, gradebook_csv, read_roster
from course.grader.notebook import parse_notebook
from course.grader.overrides import Override, apply, read_overrides
from course.grader.report import render_report
from course.grader.sandbox.run import Limits, SandboxPool
from course.grader.student import grade_student
from course.grader.summary import summarize_class
from course.grading import EXERCISES
from course.grading.result import CaseResult, CheckResult

STUB = 'def conv2d(x, w):\n    """doc"""\n    raise NotImplementedError("conv2d: complete this function")\n'
MOTIVATION = tuple(e for e, x in EXERCISES.items() if x.notebook == "01_motivation")
COMPONENTS = tuple(e for e, x in EXERCISES.items() if x.notebook == "02_components")


# --- which notebook an exercise is graded from ------------------------------------------------------


@pytest.mark.parametrize(
    "source, tried",
    [
        (STUB, False),
        ("def conv2d(x, w):\n    raise NotImplementedError\n", False),
        ("def conv2d(x, w):\n    return x\n", True),
        ("def conv2d(x, w):\n    if x is None:\n        raise NotImplementedError\n    return x\n", True),
        ("def conv2d(x, w):\n    raise ValueError('no')\n", True),
        ("def conv2d(x, w)\n    return", True),  # a syntax error is a broken attempt
    ],
)
def test_an_exercise_counts_as_attempted_unless_its_body_is_the_stub(source, tried):
    assert attempted(source, "conv2d") is tried


def test_the_notebook_where_the_student_worked_wins_over_an_untouched_one_named_after_the_part():
    notebooks = [
        ("02_components.ipynb", {"conv2d": STUB}),
        ("02_components_final.ipynb", {"conv2d": "def conv2d(x, w):\n    return x\n"}),
    ]
    assert candidates(notebooks, {"conv2d": "02_components"}) == {"conv2d": [1]}


def test_distinct_attempts_are_all_tried_and_identical_copies_once():
    done = "def conv2d(x, w):\n    return x\n"
    notebooks = [
        ("copy.ipynb", {"conv2d": done}),
        ("02_components.ipynb", {"conv2d": "def conv2d(x, w):\n    return w\n"}),
        ("02_components (1).ipynb", {"conv2d": done}),
        ("untouched.ipynb", {"conv2d": STUB}),
    ]
    assert candidates(notebooks, {"conv2d": "02_components", "iou": "05_applications"}) == {"conv2d": [1, 2]}
    assert candidates([("a.ipynb", {"conv2d": STUB})], {"conv2d": "02_components"}) == {"conv2d": [0]}


FC = "fc_param_count"
RIGHT = f"def {FC}(h, w, c, u):\n    return h * w * c * u\n"
ONE_THIRD = f"def {FC}(h, w, c, u):\n    return h * w * c * u if h == 224 else 0\n"  # 1 visible case of 3
WRONG = f"def {FC}(h, w, c, u):\n    return 0\n"
ALSO_WRONG = f"def {FC}(h, w, c, u):\n    return -1\n"


@pytest.mark.parametrize(
    "attempts, graded, score",
    [
        # the best attempt is neither the first nor the last graded
        (
            {
                "01_motivation.ipynb": WRONG,
                "01_motivation_final.ipynb": RIGHT,
                "01_motivation_v2.ipynb": ONE_THIRD,
            },
            "01_motivation_final.ipynb",
            1.0,
        ),
        # four distinct attempts: the first MAX_ATTEMPTS (3) are graded, so the right fourth never runs
        (
            {
                "01_motivation_1.ipynb": WRONG,
                "01_motivation_2.ipynb": ONE_THIRD,
                "01_motivation_3.ipynb": ALSO_WRONG,
                "01_motivation_4.ipynb": RIGHT,
            },
            "01_motivation_2.ipynb",
            1 / 3,
        ),
    ],
    ids=["best_of_three", "a_fourth_is_not_run"],
)
def test_each_distinct_attempt_is_graded_up_to_three_and_the_best_counts(tmp_path, attempts, graded, score):
    assert MAX_ATTEMPTS == 3 and EXERCISES[FC].points == 1.0
    for name, cell in attempts.items():
        write_notebook(tmp_path / "ann" / name, None, {FC: cell})
    with SandboxPool() as pool:
        grade = grade_student(tmp_path / "ann", None, Limits(timeout=10.0), pool=pool, exercises=[FC])
    assert grade.results[FC].score == pytest.approx(score, abs=1e-4)
    others = ", ".join(name for name in attempts if name != graded)
    assert f"{FC}: graded from {graded} (also in {others};" in "\n".join(grade.notes)


def test_a_helper_defined_in_an_ungraded_cell_is_named_with_what_to_move():
    graded = {"conv2d": "def conv2d(x, w):\n    return pad(x) + np.sum(w) + len(x) + helper_ok(x)\n"}
    notes = helpers_elsewhere(
        graded,
        "import numpy as np\ndef helper_ok(x):\n    return x",
        ["def pad(x):\n    return x"],
        "nb.ipynb",
    )
    assert notes == [
        "nb.ipynb: conv2d uses `pad`, defined in a cell that is not graded (only the setup cell and the "
        "exercise cells run): move it into the cell of conv2d"
    ]
    assert helpers_elsewhere(graded, "import numpy as np\nhelper_ok = pad = len", [], "nb.ipynb") == []


def test_a_name_bound_inside_the_exercise_cell_is_not_a_helper_elsewhere():
    # an import, a nested def or class, an `except ... as`, a `with ... as` or a loop target inside the
    # exercise's own function binds the name there: no note, even when another cell defines it too
    graded = {
        "conv2d": (
            "def conv2d(x, w):\n"
            "    from numpy.lib.stride_tricks import sliding_window_view\n"
            "    import numpy.linalg as la\n"
            "    def inner(v):\n"
            "        return v\n"
            "    class Box:\n"
            "        pass\n"
            "    try:\n"
            "        pass\n"
            "    except ValueError as err:\n"
            "        print(err)\n"
            "    return inner(sliding_window_view(x, w.shape)), la, Box\n"
        )
    }
    ungraded = [
        "from numpy.lib.stride_tricks import sliding_window_view\nimport numpy.linalg as la\n"
        "def inner(v):\n    return v\nclass Box:\n    pass\nerr = 1"
    ]
    assert helpers_elsewhere(graded, "import numpy as np", ungraded, "nb.ipynb") == []


def test_an_nbformat_3_notebook_is_upgraded_and_its_cells_found():
    notebook = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("import numpy as np")
    setup.metadata["course"] = {"setup": True}
    cell = nbformat.v4.new_code_cell("def iou(a, b):\n    return 1.0")
    cell.metadata["course"] = {"exercise": "iou"}
    notebook.cells += [setup, cell]
    old = nbformat.writes(nbformat.convert(notebook, 3))
    assert json.loads(old)["nbformat"] == 3 and "worksheets" in json.loads(old)
    found = parse_notebook(old.encode(), ["iou"])
    assert found.setup == "import numpy as np"
    assert found.cells == {"iou": "def iou(a, b):\n    return 1.0"}


@pytest.mark.parametrize("course", ["setup", ["setup"], None])
def test_an_nbformat_3_notebook_with_odd_course_metadata_is_read_as_its_nbformat_4_twin(course):
    """A cell's "course" metadata that is not a dict means no marks, in both formats: the old format's
    own reader of it failed on a string or a list, and the whole notebook was refused."""
    notebook = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("import numpy as np")
    setup.metadata["course"] = course
    notebook.cells += [setup, nbformat.v4.new_code_cell("def iou(a, b):\n    return 1.0")]
    new = parse_notebook(nbformat.writes(notebook).encode(), ["iou"])
    old = parse_notebook(nbformat.writes(nbformat.convert(notebook, 3)).encode(), ["iou"])
    assert new.setup == "import numpy as np" and list(new.cells) == ["iou"]
    assert (old.setup, old.cells) == (new.setup, new.cells)


def test_an_nbformat_3_notebook_with_a_heading_cell_is_read_as_jupyter_reads_it():
    """nbformat writes an nbformat 3 notebook's text as lists of lines, and its reader joins them before
    upgrading: a heading cell's list of lines stopped the upgrade, and the whole notebook was refused
    (0 points), where Jupyter opens it."""
    old = nbformat.v3.new_notebook(
        worksheets=[
            nbformat.v3.new_worksheet(
                cells=[
                    nbformat.v3.new_heading_cell("Exercise iou", level=2),
                    nbformat.v3.new_code_cell("import numpy as np", metadata={"course": {"setup": True}}),
                    nbformat.v3.new_code_cell(
                        "def iou(a, b):\n    return 1.0", metadata={"course": {"exercise": "iou"}}
                    ),
                ]
            )
        ]
    )
    text = nbformat.writes(old, version=3)
    assert json.loads(text)["worksheets"][0]["cells"][0]["source"] == ["Exercise iou"]
    found = parse_notebook(text.encode(), ["iou"])
    assert found.setup == "import numpy as np"
    assert found.cells == {"iou": "def iou(a, b):\n    return 1.0"}


def test_reading_notebook_4_leaves_nbformat_unimported():
    """nbformat (with jsonschema, which builds its grammars on import) costs seconds at the start of
    every run, a Gradescope container's included: it is imported only for an nbformat 3 notebook."""
    solution = REPO / "solutions" / "05_applications.ipynb"
    probe = (
        "import sys\n"
        "from course.grader import grade\n"
        "from course.grader.notebook import parse_notebook\n"
        f"found = parse_notebook(open({str(solution)!r}, 'rb').read(), ['iou'])\n"
        "assert found.cells['iou'], found\n"
        "print(sorted(m for m in ('nbformat', 'jsonschema') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- overrides, gradebook, Canvas, reports -------------------------------------------------------------


def _result(
    exercise: str = "conv2d", score: float = 2.0, points: float = 4.0, message: str = ""
) -> CheckResult:
    cases = [CaseResult("case a", 1.0, 1.0), CaseResult("case b", 0.0, 1.0, "wrong at [0, 1]", hidden=True)]
    status = "passed" if score >= points else "partial" if score else "failed"
    return CheckResult(exercise, "convolution", score, points, status, cases, message)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_overrides_are_read_with_their_reasons_and_applied_on_top_of_the_graded_results(tmp_path):
    path = _write(
        tmp_path / "o.csv",
        "student,exercise,points,reason\nalice,conv2d,3.5,regrade: padding slip\n\nbob,iou,excused,medical\n",
    )
    table = {e: x.points for e, x in EXERCISES.items()}
    overrides = read_overrides(path, {"alice", "bob"}, table)
    assert overrides == [
        Override("alice", "conv2d", 3.5, "regrade: padding slip"),
        Override("bob", "iou", None, "medical"),
    ]
    graded = {"conv2d": _result()}
    changed = apply(graded, overrides[:1])
    assert (changed["conv2d"].score, changed["conv2d"].status) == (3.5, "partial")
    assert graded["conv2d"].score == 2.0
    assert changed["conv2d"].message.startswith("conv2d: 3.5/4 set by your instructor (was 2/4): regrade")
    excused = apply({"iou": _result("iou", 0.0, 1.0)}, overrides[1:])["iou"]
    assert (excused.score, excused.max_score) == (0.0, 0.0) and "excused" in excused.message


def test_an_override_or_roster_keeps_a_quoted_line_break_and_a_student_id_that_holds_one(tmp_path):
    """A CSV cell in quotes may hold a line break (a spreadsheet writes a two-line reason so, and a
    folder name may hold one): the file was split into lines before the CSV reader saw it, so the
    reason lost its break and a student id with one named no student; the line of a later error must
    still be the file's own."""
    path = tmp_path / "o.csv"
    path.write_text(
        'student,exercise,points,reason\nalice,conv2d,3,"regrade:\nsee my email"\n'
        '"new\nline",iou,excused,"sick\u2028leave"\n',
        newline="",
    )
    table = {e: x.points for e, x in EXERCISES.items()}
    assert read_overrides(path, {"alice", "new\nline"}, table) == [
        Override("alice", "conv2d", 3.0, "regrade:\nsee my email"),
        Override("new\nline", "iou", None, "sick\u2028leave"),
    ]
    with path.open("a", newline="") as file:
        file.write("alice,conv3d,1,x\n")
    with pytest.raises(ValueError, match="line 6: expected an exercise id"):
        read_overrides(path, {"alice", "new\nline"}, table)
    roster = tmp_path / "roster.csv"
    roster.write_text('Student,ID,SIS User ID,SIS Login ID,Section\n"Smith\u2028Alice",101,s1,alice,A\n')
    ids = {"ID": "101", "SIS User ID": "s1", "SIS Login ID": "alice", "Section": "A"}
    assert read_roster(roster) == [{"Student": "Smith\u2028Alice", **ids}]


@pytest.mark.parametrize(
    "rows, error",
    [
        ("student,exercise,points\n", "expected the header student,exercise,points,reason"),
        ("student,exercise,points,reason\nzoe,conv2d,1,x\n", "line 2: no student 'zoe'"),
        ("student,exercise,points,reason\nalice,conv3d,1,x\n", "line 2: expected an exercise id"),
        ("student,exercise,points,reason\nalice,conv2d,5,x\n", "points must be a number from 0 to 4"),
        ("student,exercise,points,reason\nalice,conv2d,-1,x\n", "got '-1'"),
        ("student,exercise,points,reason\nalice,conv2d,lots,x\n", "got 'lots'"),
        ("student,exercise,points,reason\nalice,conv2d,1,\n", "every override needs a reason"),
        ("student,exercise,points,reason\nalice,conv2d,1,x\nalice,conv2d,2,y\n", "line 3: a second override"),
        ("student,exercise,points,reason\nalice,conv2d,1\n", "expected 4 columns"),
    ],
)
def test_a_wrong_overrides_file_is_refused_naming_the_line_and_the_problem(tmp_path, rows, error):
    table = {e: x.points for e, x in EXERCISES.items()}
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace(")", r"\)")):
        read_overrides(_write(tmp_path / "o.csv", rows), {"alice"}, table)


def _final(student: str, results: dict[str, CheckResult], excused=()) -> FinalGrade:
    return FinalGrade(student, results, (), frozenset(excused))


def test_grades_csv_marks_excused_exercises_and_canvas_csv_follows_its_import_layout():
    alice = _final("alice", {"conv2d": _result(score=3.0), "iou": _result("iou", 1.0, 1.0)})
    bob = _final("bob", {"conv2d": _result(score=2.0), "iou": _result("iou", 0.0, 0.0)}, excused={"iou"})
    grades = list(csv.reader(gradebook_csv([alice, bob], ["conv2d", "iou"]).splitlines()))
    assert grades == [
        ["student", "conv2d", "iou", "total"],
        ["alice", "3", "1", "4"],
        ["bob", "2", "EX", "2"],
    ]
    text, unknown = canvas_csv([alice, bob], "CNN notebooks", 5.0)
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "CNN notebooks"]
    assert rows[1] == ["Points Possible", "", "", "", "", "5"]
    assert rows[2] == ["alice", "", "", "alice", "", "4"]
    assert rows[3] == ["bob", "", "", "bob", "", "2.5"]  # 2 of the 4 points bob could earn, out of 5
    assert unknown == {}
    roster = [
        {"Student": "Smith, Alice", "ID": "101", "SIS User ID": "s1", "SIS Login ID": "alice", "Section": "A"}
    ]
    text, unknown = canvas_csv([alice, bob], "CNN notebooks", 5.0, roster)
    assert list(csv.reader(text.splitlines()))[2] == ["Smith, Alice", "101", "s1", "alice", "A", "4"]
    assert unknown == {"bob": "not in the Canvas roster"}
    formula = _final("=HYPERLINK(1)", {"iou": _result("iou", 1.0, 1.0)})
    assert gradebook_csv([formula], ["iou"]).splitlines()[1].startswith("'=HYPERLINK(1)")
    assert canvas_csv([formula], "CNN", 1.0)[0].splitlines()[2].startswith("'=HYPERLINK(1),,,'=HYPERLINK(1)")


def test_points_of_100_or_more_keep_their_decimals_so_the_parts_add_up_to_the_total():
    """With a points table of 100 points or more, a total such as 105.5556 (50 + 55.5556, 5 of 9 cases
    of a 100-point exercise) was written with 6 significant digits, 105.556: grades.csv's columns no
    longer added up to its total, and the report said another number than the exercise lines."""
    part = _result(score=55.5556, points=100.0)
    alice = _final("alice", {"conv2d": part, "iou": _result("iou", 50.0, 50.0)})
    row = list(csv.reader(gradebook_csv([alice], ["conv2d", "iou"]).splitlines()))[1]
    assert row == ["alice", "55.5556", "50", "105.5556"]
    assert float(row[1]) + float(row[2]) == pytest.approx(float(row[3]), abs=1e-9)
    page = render_report("alice", alice.results.values())
    assert "Total: 105.5556 / 150 points" in page and "partial, 55.5556 / 100 points" in page
    assert "50 / 50</td><td>case a" in page  # a case's points, as the exercise's are written
    sum_ = _final("bob", {"conv2d": _result(score=0.1 + 0.2, points=1000.0 / 3)})
    assert list(csv.reader(gradebook_csv([sum_], ["conv2d"]).splitlines()))[1] == ["bob", "0.3", "0.3"]
    assert "Total: 0.3 / 333.3333 points" in render_report("bob", sum_.results.values())
    rows = list(csv.reader(canvas_csv([alice], "CNN", 1234.5)[0].splitlines()))
    assert rows[1][-1] == "1234.5" and rows[2][-1] == "868.72"  # 105.5556 of 150, out of 1234.5


def test_the_canvas_roster_matches_a_folder_by_its_sis_login_id_sis_user_id_or_id():
    """README: "each folder name is looked up in its SIS Login ID, then SIS User ID, then ID columns"; the
    matched row's ids are copied, and a folder the roster lacks is left out and named."""
    rows = [
        ("Smith, Alice", "101", "s1", "alice", "A"),
        ("Jones, Bob", "102", "s2", "bjones", "B"),
        ("Wu, Carol", "103", "", "", "A"),
    ]
    roster = [
        dict(zip(("Student", "ID", "SIS User ID", "SIS Login ID", "Section"), r, strict=True)) for r in rows
    ]
    folders = {"alice": 4.0, "s2": 3.0, "103": 2.0, "zed": 1.0}  # by login, user id, Canvas ID, none
    final = [_final(f, {"iou": _result("iou", score, 4.0)}) for f, score in folders.items()]
    text, unknown = canvas_csv(final, "CNN", 4.0, roster)
    assert list(csv.reader(text.splitlines()))[2:] == [
        ["Smith, Alice", "101", "s1", "alice", "A", "4"],
        ["Jones, Bob", "102", "s2", "bjones", "B", "3"],
        ["Wu, Carol", "103", "", "", "A", "2"],
    ]
    assert unknown == {"zed": "not in the Canvas roster"}


def test_a_roster_student_without_a_folder_is_named_in_the_summary():
    """A student of the Canvas roster who handed in nothing has no folder, so no row in canvas.csv:
    Canvas keeps no grade for them (and by default leaves an ungraded assignment out of the course
    grade). The instructor is told, with the others left out of canvas.csv."""
    roster = [
        {"Student": "Smith, Alice", "ID": "101", "SIS User ID": "s1", "SIS Login ID": "alice"},
        {"Student": "Jones, Bob", "ID": "102", "SIS User ID": "s2", "SIS Login ID": "bjones"},
        {"Student": "Wu, Carol", "ID": "103", "SIS User ID": "", "SIS Login ID": ""},
    ]
    final = [_final("alice", {"iou": _result("iou", 1.0, 1.0)})]
    text, left_out = canvas_csv(final, "CNN", 1.0, roster)
    assert [row[0] for row in list(csv.reader(text.splitlines()))[2:]] == ["Smith, Alice"]
    missing = "in the Canvas roster, but no student folder is theirs (no grade in Canvas)"
    assert left_out == {"Jones, Bob (bjones)": missing, "Wu, Carol (103)": missing}
    summary = summarize_class(final, left_out_of_canvas=left_out).text()
    assert f"  Jones, Bob (bjones): {missing}: left out of canvas.csv" in summary


def test_two_folders_that_name_one_roster_row_are_both_left_out_and_named():
    """A student's folder under their login and another under their SIS User ID (a resubmission, say):
    which grade Canvas should get is the instructor's call, so neither row is written, and both are
    named with the row they share."""
    roster = [
        {"Student": "Smith, Alice", "ID": "101", "SIS User ID": "s1", "SIS Login ID": "alice"},
        {"Student": "Jones, Bob", "ID": "102", "SIS User ID": "s2", "SIS Login ID": "bob"},
    ]
    folders = {"alice": 4.0, "bob": 3.0, "s1": 1.0}
    final = [_final(f, {"iou": _result("iou", score, 4.0)}) for f, score in folders.items()]
    text, left_out = canvas_csv(final, "CNN", 4.0, roster)
    assert [row[0] for row in list(csv.reader(text.splitlines()))[2:]] == ["Jones, Bob"]
    reason = "the folders alice, s1 all name the roster row of Smith, Alice"
    assert left_out == {"alice": reason, "s1": reason}


def test_a_folder_named_by_its_login_id_is_not_taken_for_an_earlier_student_whose_canvas_id_it_is():
    """Where logins are student numbers, one student's login can be another's Canvas ID: the SIS Login
    ID is looked up first in the whole roster, so each grade goes to its own student's row."""
    roster = [
        {"Student": "Smith, Alice", "ID": "20231234", "SIS User ID": "", "SIS Login ID": "20239999"},
        {"Student": "Jones, Bob", "ID": "55", "SIS User ID": "", "SIS Login ID": "20231234"},
    ]
    final = [
        _final(f, {"iou": _result("iou", score, 4.0)}) for f, score in {"20239999": 4, "20231234": 1}.items()
    ]
    rows = list(csv.reader(canvas_csv(final, "CNN", 4.0, roster)[0].splitlines()))[2:]
    assert [(row[0], row[-1]) for row in rows] == [("Smith, Alice", "4"), ("Jones, Bob", "1")]


def test_the_html_report_shows_each_exercise_and_case_in_points_and_escapes_what_students_control():
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    result = _result(score=2.0, message=f"your code printed:\n{hostile}")
    page = render_report(f"eve{hostile}", [result], [f"{hostile}.ipynb: not a notebook"], "CNN")
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "http" not in page and "src=" not in page.replace("src=x", "")  # nothing loaded from outside
    assert "conv2d: convolution" in page and "partial, 2 / 4 points" in page
    assert "2 / 2</td><td>case a" in page  # case weights shown as the points they are worth
    assert "0 / 2</td><td>case b (hidden case)<pre>wrong at [0, 1]</pre>" in page
    assert "Total: 2 / 4 points" in page


# --- a whole class through the command line -------------------------------------------------------------


def _v3(path: Path, target: Path) -> None:
    notebook = nbformat.read(str(path), as_version=4)
    target.write_text(nbformat.writes(nbformat.convert(notebook, 3)))


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """A class graded through `course grade`: alice handed in an untouched notebook beside her finished
    one, bob an nbformat 3 notebook, carol a text file and a helper in an ungraded cell; a loose file
    sits beside the student folders; overrides regrade alice and excuse bob."""
    root = tmp_path_factory.mktemp("term")
    subs = root / "submissions"
    (subs / "alice").mkdir(parents=True)
    shutil.copy(REPO / "notebooks" / "01_motivation.ipynb", subs / "alice" / "01_motivation.ipynb")
    shutil.copy(REPO / "solutions" / "01_motivation.ipynb", subs / "alice" / "01_motivation_final.ipynb")
    (subs / "bob").mkdir()
    _v3(REPO / "solutions" / "01_motivation.ipynb", subs / "bob" / "01_motivation.ipynb")
    (subs / "carol").mkdir()
    (subs / "carol" / "notes.txt").write_text("my notes")
    write_notebook(
        subs / "carol" / "01_motivation.ipynb",
        "import numpy as np",
        {"fc_param_count": "def fc_param_count(h, w, c, u):\n    return product(h, w, c, u)\n"},
    )
    notebook = nbformat.read(str(subs / "carol" / "01_motivation.ipynb"), as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("def product(*xs):\n    return np.prod(xs)"))
    nbformat.write(notebook, str(subs / "carol" / "01_motivation.ipynb"))
    (subs / "readme.txt").write_text("collected on Friday")
    overrides = _write(
        root / "overrides.csv",
        "student,exercise,points,reason\nalice,receptive_field,1.5,regrade: a unit slip\n"
        "bob,fc_param_count,excused,joined late\n",
    )
    out = root / "grades"
    _write(root / "secret", "0123456789abcdef" * 4)
    argv = ["grade", str(subs), "--out", str(out), "--workers", "2", "--timeout", "20"]
    argv += ["--secret-file", str(root / "secret")]
    done = _course(*argv, "--overrides", str(overrides))
    return done, out, subs, root


def _course(*argv: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "course.cli", *argv]
    return subprocess.run(
        command, capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    )


def _motivation_points() -> dict[str, float]:
    return {e: EXERCISES[e].points for e in MOTIVATION}


def test_the_class_is_graded_from_the_right_files_with_overrides_in_the_gradebook_only(term):
    done, out, _, _ = term
    assert done.returncode == 0, done.stderr
    table = {row["student"]: row for row in csv.DictReader((out / "grades.csv").read_text().splitlines())}
    full = _motivation_points()
    assert {e: float(table["alice"][e]) for e in MOTIVATION} == {**full, "receptive_field": 1.5}
    assert table["bob"]["fc_param_count"] == "EX"
    assert float(table["bob"]["total"]) == pytest.approx(sum(full.values()) - full["fc_param_count"])
    alice = json.loads((out / "alice.json").read_text())  # the graded result is left as graded
    assert alice["extra_data"]["exercises"]["receptive_field"] == full["receptive_field"]
    assert (
        "receptive_field: graded from 01_motivation_final.ipynb (also in 01_motivation.ipynb"
        in alice["output"]
    )


def test_the_summary_tells_the_instructor_what_went_wrong_and_is_kept_in_a_file(term):
    done, out, _, _ = term
    summary = (out / "summary.txt").read_text()
    assert summary in done.stdout
    assert summary.startswith("Graded 3 students:")
    assert "Not graded: files outside any student folder (1):\n  readme.txt" in summary
    assert "Files that are not notebooks (0 points for them) (1):\n  carol: notes.txt" in summary
    duplicates = f"Exercises found in several notebooks (which file was graded) ({len(MOTIVATION)}):\n"
    assert duplicates + "  alice: fc_param_count: graded from 01_motivation_final.ipynb" in summary
    helpers = "Helpers defined in a cell that is not graded (1):\n"
    assert helpers + "  carol: 01_motivation.ipynb: fc_param_count uses `product`" in summary
    overrides = "Overrides applied (2):\n  alice: receptive_field: 1.5/2 set by your instructor (was 2/2)"
    assert overrides + ": regrade: a unit slip\n  bob: fc_param_count: excused" in summary
    assert "sandbox" not in summary and "bubblewrap" not in summary


def test_the_summary_numbers_are_those_of_the_gradebook(term):
    """README: the summary gives "the class mean, each exercise's mean and how many students earned
    points on it", here recomputed from grades.csv; bob is excused from fc_param_count (grades.csv has
    no number for him there), so that exercise's mean and count are over the two others."""
    _, out, _, _ = term
    rows = list(csv.DictReader((out / "grades.csv").read_text().splitlines()))
    excused = {(row["student"], e) for row in rows for e in EXERCISES if row[e] == "EX"}
    assert excused == {("bob", "fc_param_count")}
    summary = (out / "summary.txt").read_text().splitlines()
    head = re.fullmatch(r"Graded 3 students: mean ([\d.]+)/([\d.]+) points\.", summary[0])
    assert head, summary[0]
    totals = [float(row["total"]) for row in rows]
    assert float(head[1]) == pytest.approx(sum(totals) / len(totals), abs=0.005)
    assert float(head[2]) == sum(x.points for x in EXERCISES.values())
    pattern = r"  (\w+) +([\d.]+)/([\d.]+) +(\d+)/(\d+)"
    lines = {m[1]: m for m in (re.fullmatch(pattern, s) for s in summary) if m}
    assert set(lines) == set(EXERCISES)
    for exercise in EXERCISES:
        scores = [float(row[exercise]) for row in rows if row[exercise] != "EX"]
        line = lines[exercise]
        assert float(line[2]) == pytest.approx(sum(scores) / len(scores), abs=0.005), exercise
        expected = (EXERCISES[exercise].points, sum(s > 0 for s in scores), len(scores))
        assert (float(line[3]), int(line[4]), int(line[5])) == expected, exercise
    assert [float(lines["receptive_field"][2]), int(lines["receptive_field"][4])] == [1.17, 2]  # (1.5+2+0)/3
    assert lines["fc_param_count"][5] == "2"  # bob excused


def test_each_student_gets_an_html_report_and_canvas_gets_its_csv(term):
    _, out, _, _ = term
    page = (out / "reports" / "alice.html").read_text()
    assert "graded from 01_motivation_final.ipynb" in page and "set by your instructor" in page
    rows = list(csv.reader((out / "canvas.csv").read_text().splitlines()))
    assert [r[3] for r in rows[2:]] == ["alice", "bob", "carol"]
    assert rows[1][5] == f"{sum(x.points for x in EXERCISES.values()):g}"


def test_grading_again_with_another_secret_is_refused_instead_of_regrading_everyone(term):
    _, out, subs, root = term
    other = _write(root / "other-secret", "fedcba9876543210" * 4)
    done = _course("grade", str(subs), "--out", str(out), "--secret-file", str(other))
    assert done.returncode == 2 and done.stdout == ""
    assert "graded with another secret" in done.stderr


def test_a_gradebook_inside_the_submissions_folder_is_refused(term):
    _, _, subs, _ = term
    done = _course("grade", str(subs), "--out", str(subs / "grades"))
    assert done.returncode == 2 and done.stdout == ""
    assert "inside SUBMISSIONS" in done.stderr and "graded as a student" in done.stderr
    assert not (subs / "grades").exists()


def test_a_folder_without_students_is_an_error_that_says_what_was_expected(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "alice.ipynb").write_text("{}")
    done = _course("grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and done.stdout == ""
    assert (
        "no student folders" in done.stderr
        and "one folder per student" in done.stderr
        and "alice.ipynb" in done.stderr
    )


def test_help_shows_defaults_and_no_developer_notes(capsys):
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    text = capsys.readouterr().out
    assert "(default: 30.0)" in text and "(default: auto)" in text and "Layering" not in text
    assert "(default: None)" not in text


def test_every_option_the_instructors_readme_names_exists():
    """The walkthrough a newcomer follows names only options that the commands accept."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### A term, step by step") : readme.index("### What the sandbox protects")]
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", section))
    known = set()
    for command in ("grade", "grade-gradescope", "bench-gradescope", "bench-grade", "release"):
        with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:
            main([command, "--help"])
        known |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", out.getvalue()))
    assert named and named <= known, named - known


@pytest.mark.parametrize(
    "option, content, expected",
    [
        ("--points", b"conv2d=5\n", r"--points \S*p\.json: .*expected a JSON object \{exercise id: points\}"),
        ("--points", b"", r"--points \S*p\.json: .*expected a JSON object"),
        ("--points", b"\xd0\xcf\x11\xe0\xa1", r"--points \S*p\.json: .*expected a JSON object"),
        ("--points", b'{"conv3d": 5}', r"^course grade: --points \S*p\.json: no exercise 'conv3d'; the"),
        ("--points", None, r"--points \S*p\.json: cannot be read \(No such file or directory\)"),
        ("--overrides", b"\xd0\xcf\x11\xe0\xa1", r"overrides file \S*p\.json: .*not UTF-8 text"),
        ("--canvas-roster", b"\xd0\xcf\x11\xe0\xa1", r"--canvas-roster \S*p\.json: .*not UTF-8 text"),
    ],
)
def test_a_bad_points_overrides_or_roster_file_is_refused_naming_the_option_and_the_file(
    tmp_path, capsys, option, content, expected
):
    """Each stops the command before any grading, with exit status 2 and one line that names the
    option (or the file), what was expected and what was got: not a bare parser or codec message."""
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    path = tmp_path / "p.json"
    if content is not None:
        path.write_bytes(content)
    status = main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), option, str(path)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and re.search(expected, err), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"conv2d=5\n", r"--points \S*p\.json: .*expected a JSON object \{exercise id: points\}"),
        (b'{"conv3d": 5}', r"^course grade-gradescope: --points \S*p\.json: no exercise 'conv3d'"),
    ],
)
def test_the_autograder_refuses_a_bad_points_file_naming_the_option(tmp_path, capsys, content, expected):
    path = _write(tmp_path / "p.json", "")
    path.write_bytes(content)
    status = main(["grade-gradescope", "--make-autograder", str(tmp_path / "ag"), "--points", str(path)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and re.search(expected, err), err


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--memory-mb", "0"], r"need --memory-mb >= 1 \(megabytes per exercise\), got 0"),
        (["--memory-mb", "-5"], r"need --memory-mb >= 1 \(megabytes per exercise\), got -5"),
        (["--out", "FILE"], r"--out \S*notes\.txt is a file, not a folder"),
        (["--canvas-column", " "], r"--canvas-column: expected the assignment's name in Canvas, got ' '"),
    ],
)
def test_a_memory_limit_below_one_mb_or_an_out_that_is_a_file_is_refused(tmp_path, capsys, extra, expected):
    """--memory-mb 0 graded the whole class to zero ('used more memory than allowed') with exit status
    0; --out naming a file ended in a FileExistsError traceback."""
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    notes = _write(tmp_path / "notes.txt", "not a folder")
    args = [a.replace("FILE", str(notes)) for a in extra]
    out = [] if "--out" in args else ["--out", str(tmp_path / "out")]
    status = main(["grade", str(tmp_path / "subs"), *out, *args])
    err = capsys.readouterr().err.strip()
    assert status == 2 and re.search(expected, err), err
    assert not (tmp_path / "out").exists() and notes.read_text() == "not a folder"


def test_the_summary_of_a_class_of_one_says_student():
    from course.grader.summary import ClassSummary

    summary = ClassSummary(students=1, mean=83.0, possible=83.0, exercises={})
    assert summary.text().startswith("Graded 1 student: mean")


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--submission", "MISSING"],
            r"^course bench-grade: --submission \S*nosuch: expected a folder of "
            r"notebooks \(\*\.ipynb\), got no such folder$",
        ),
        (
            ["--submission", "EMPTY"],
            r"^course bench-grade: --submission \S*empty: expected a folder of "
            r"notebooks \(\*\.ipynb\), got none$",
        ),
        (["--students", "0"], r"^course bench-grade: --students must be at least 1, got 0$"),
        (["--workers", "0"], r"^course bench-grade: --workers must be at least 1, got 0$"),
    ],
)
def test_bench_grade_refuses_bad_arguments_before_grading(tmp_path, capsys, monkeypatch, args, expected):
    """A missing --submission folder ended in a ValueError traceback, --students 0 in a
    FileNotFoundError traceback after building nothing."""
    from course.grader import bench

    monkeypatch.setattr(bench, "grade_class", lambda *a, **k: pytest.fail("grading started"))
    (tmp_path / "empty").mkdir()
    paths = {"MISSING": str(tmp_path / "nosuch"), "EMPTY": str(tmp_path / "empty")}
    status = main(["bench-grade", *[paths.get(a, a) for a in args]])
    err = capsys.readouterr().err.strip()
    assert status == 2 and re.search(expected, err), err
