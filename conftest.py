"""Settings for every pytest run, notebooks included (nbval's kernels inherit this environment)."""

import os
from pathlib import Path

import pytest

# Figures are drawn but never shown while testing: no display needed, no image encoding.
os.environ.setdefault("MPLBACKEND", "Agg")

# What every `check(...)` of a notebook must report, by folder: a solution passes, a released notebook
# (all stubs) is "not attempted". `check` raises on any other verdict when COURSE_EXPECT_CHECKS is set
# (course.grading.check), so the notebook run fails at that cell, naming the exercise.
EXPECT_VARIABLE = "COURSE_EXPECT_CHECKS"  # course.grading.EXPECT_VARIABLE (not imported: it takes a second)
ROOT = Path(__file__).resolve().parent
EXPECTED_CHECKS = {ROOT / "solutions": "passed", ROOT / "notebooks": "not attempted"}
os.environ.pop(EXPECT_VARIABLE, None)  # the unit tests call `check` on wrong functions: never for them


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Set COURSE_EXPECT_CHECKS while a notebook's cell is set up: nbval starts the notebook's kernel
    then (when its first cell is set up) and the kernel keeps the environment it started with."""
    expected = EXPECTED_CHECKS.get(item.path.resolve().parent) if item.path.suffix == ".ipynb" else None
    if expected is not None:
        os.environ[EXPECT_VARIABLE] = expected
    try:
        yield
    finally:
        os.environ.pop(EXPECT_VARIABLE, None)


def pytest_collection_finish(session):
    """Before any notebook runs, every kernel the notebooks use is compiled (or loaded from Numba's disk
    cache): with an empty cache the first compile in a notebook's kernel prints "course: compiling ..."
    on stderr, and in a cell whose output the run compares (# NBVAL_CHECK_OUTPUT) that line alone would
    fail it."""
    if any(item.path.suffix == ".ipynb" for item in session.items):
        from course.kernels import precompile

        precompile()
