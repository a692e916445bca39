"""Does every link from a notebook to the course's outline of the lecture (docs/lecture.md) land on a
section that exists, and does the outline have one section per part plus the notation?"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTLINE = ROOT / "docs" / "lecture.md"
PARTS = ["1-motivation", "2-components", "3-structure", "4-learning", "5-applications"]


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub and Jupyter give the headings: lower case, punctuation dropped, spaces to '-'."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_the_outline_has_a_section_per_part_and_the_notation():
    assert set(PARTS) | {"notation"} <= anchors(OUTLINE.read_text("utf-8"))


def _links() -> list[tuple[str, str]]:
    found = []
    for folder in ("solutions", "notebooks"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            for cell in json.loads(path.read_text("utf-8"))["cells"]:
                for anchor in re.findall(r"\.\./docs/lecture\.md#([\w\-]+)", "".join(cell["source"])):
                    found.append((f"{folder}/{path.name}", anchor))
    return found


def test_the_notebooks_link_to_the_outline():
    assert {name for name, _ in _links()} >= {
        f"solutions/{n}.ipynb" for n in ("01_motivation", "02_components")
    }


@pytest.mark.parametrize(("notebook", "anchor"), _links())
def test_every_link_to_the_outline_lands_on_a_section(notebook, anchor):
    assert anchor in anchors(OUTLINE.read_text("utf-8")), f"{notebook} links to a missing section #{anchor}"
