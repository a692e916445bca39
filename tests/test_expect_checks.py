"""COURSE_EXPECT_CHECKS, the setting that turns the notebooks' `check(...)` cells into assertions for the
course's own test run: does `check` raise on every other verdict, naming the exercise, and only then? Is
`check` otherwise unchanged, and does the setting change nothing in the grader, whoever sets it?"""

from __future__ import annotations

import importlib.util
import sys

import nbformat
import pytest
from grading_corpus import REPO

from course.grader.sandbox.run import Limits
from course.grader.student import grade_student
from course.grading import EXPECT_VARIABLE, check, fallback, get

EXERCISE = "fc_param_count"


def right(height, width, channels, hidden_units):
    return height * width * channels * hidden_units


def wrong(height, width, channels, hidden_units):
    return height * width * channels  # the hidden units forgotten


def stub(height, width, channels, hidden_units):
    raise NotImplementedError(f"{EXERCISE}: complete this function")


FUNCTIONS = {"passed": right, "failed": wrong, "not attempted": stub}


@pytest.mark.parametrize("expected", ["passed", "not attempted"])
@pytest.mark.parametrize("status", sorted(FUNCTIONS))
def test_check_raises_on_every_verdict_but_the_expected_one_and_names_the_exercise(
    monkeypatch, expected, status
):
    monkeypatch.setenv(EXPECT_VARIABLE, expected)
    if status == expected:
        assert check(EXERCISE, FUNCTIONS[status]).status == status
    else:
        with pytest.raises(AssertionError) as raised:
            check(EXERCISE, FUNCTIONS[status])
        message = str(raised.value)
        assert f"check('{EXERCISE}') reported '{status}' where this run expects '{expected}'" in message
        assert f"{EXERCISE} (" in message  # the verdict itself follows, with its cases


@pytest.mark.parametrize("status", sorted(FUNCTIONS))
def test_without_the_setting_check_only_reports(monkeypatch, status):
    monkeypatch.delenv(EXPECT_VARIABLE, raising=False)
    assert check(EXERCISE, FUNCTIONS[status]).status == status
    monkeypatch.setenv(EXPECT_VARIABLE, "")  # empty is unset
    assert check(EXERCISE, FUNCTIONS[status]).status == status


def test_a_value_that_is_no_status_is_an_error_not_ignored(monkeypatch):
    monkeypatch.setenv(EXPECT_VARIABLE, "pass")
    with pytest.raises(ValueError, match="COURSE_EXPECT_CHECKS='pass' is no status"):
        check(EXERCISE, right)


def test_fallback_is_held_to_the_setting_as_its_check_is(monkeypatch):
    """A notebook's `fallback` call is one of its checks: right in a solution, a stub when released."""
    monkeypatch.setenv(EXPECT_VARIABLE, "passed")
    assert fallback(EXERCISE, right) is right
    with pytest.raises(AssertionError, match="reported 'failed' where this run expects 'passed'"):
        fallback(EXERCISE, wrong)
    monkeypatch.setenv(EXPECT_VARIABLE, "not attempted")
    assert fallback(EXERCISE, stub) is get(EXERCISE).reference
    monkeypatch.delenv(EXPECT_VARIABLE)
    assert fallback(EXERCISE, wrong) is get(EXERCISE).reference


SETUP = "import os\nfrom course.grading import check, fallback"
WRONG_CELL = f"""
os.environ[{EXPECT_VARIABLE!r}] = "passed"
def conv_param_count(kernel_h, kernel_w, in_channels, out_channels):
    return -1
check("conv_param_count", conv_param_count)
"""
RIGHT_CELL = f"""
os.environ[{EXPECT_VARIABLE!r}] = "not attempted"
def fc_param_count(height, width, channels, hidden_units):
    return height * width * channels * hidden_units
check("fc_param_count", fc_param_count)
"""


@pytest.mark.parametrize("grader_sets", [None, "passed", "not attempted"])
def test_the_grade_is_the_same_whoever_sets_it(tmp_path, monkeypatch, grader_sets):
    """The grader judges with `summarize`, never `check`; in the sandbox `check` does nothing (and the
    sandbox's environment is its own): set by the grader's environment or by the student's cells, the
    setting changes no verdict."""
    if grader_sets is None:
        monkeypatch.delenv(EXPECT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(EXPECT_VARIABLE, grader_sets)
    notebook = nbformat.v4.new_notebook()
    for source, meta in [
        (SETUP, {"course": {"setup": True}}),
        (WRONG_CELL, {"course": {"exercise": "conv_param_count"}}),
        (RIGHT_CELL, {"course": {"exercise": EXERCISE}}),
    ]:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata.update(meta)
        notebook.cells.append(cell)
    folder = tmp_path / "student"
    folder.mkdir()
    nbformat.write(notebook, folder / "01_motivation.ipynb")
    grade = grade_student(folder, seed=1, limits=Limits(timeout=20), exercises=(EXERCISE, "conv_param_count"))
    results = grade.results
    assert {e: r.status for e, r in results.items()} == {EXERCISE: "passed", "conv_param_count": "failed"}, {
        e: str(r) for e, r in results.items()
    }
    assert results[EXERCISE].score == results[EXERCISE].max_score > 0 == results["conv_param_count"].score


def _conftest():
    spec = importlib.util.spec_from_file_location("course_root_conftest", REPO / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_test_run_expects_passed_in_solutions_and_not_attempted_in_the_released_notebooks():
    conftest = _conftest()
    assert conftest.EXPECT_VARIABLE == EXPECT_VARIABLE
    assert conftest.EXPECTED_CHECKS == {
        REPO / "solutions": "passed",
        REPO / "notebooks": "not attempted",
    }
    assert "course_root_conftest" not in sys.modules


@pytest.mark.parametrize("suffixes, compiles", [((".py", ".ipynb"), True), ((".py",), False)])
def test_a_run_with_notebooks_compiles_every_kernel_before_the_first_one(monkeypatch, suffixes, compiles):
    """With an empty Numba cache, a notebook's first compile prints a line on stderr, which fails a cell
    whose output is compared (# NBVAL_CHECK_OUTPUT): the run compiles first, and only when it has
    notebooks to run."""
    from types import SimpleNamespace

    from course import kernels

    called = []
    monkeypatch.setattr(kernels, "precompile", lambda: called.append(True))
    items = [SimpleNamespace(path=REPO / f"x{suffix}") for suffix in suffixes]
    _conftest().pytest_collection_finish(SimpleNamespace(items=items))
    assert called == ([True] if compiles else [])
