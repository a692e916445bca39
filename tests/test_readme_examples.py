"""Each Python example of the README's "The `course` package" section runs as written, on its own (a
reader pastes one block into a fresh interpreter), and prints what the README says it prints."""

from __future__ import annotations

import contextlib
import io
import re

import matplotlib
import pytest
from grading_corpus import REPO

matplotlib.use("Agg")

README = (REPO / "README.md").read_text()
SECTION = README[README.index("## The `course` package") : README.index("## For instructors")]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, flags=re.S)


def test_the_section_has_its_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_example_runs_on_its_own_and_prints_what_the_readme_shows(index):
    block = BLOCKS[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(block, f"README example {index + 1}", "exec"), {"__name__": "__readme__"})
    shown = SECTION[SECTION.index(block) + len(block) :]
    printed = re.match(r"```\n+prints\n+```\n(.*?)```", shown, flags=re.S)
    if printed:
        assert out.getvalue() == printed.group(1)
