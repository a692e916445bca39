"""The student's path in a real browser: JupyterLab on the loopback address, driven through Chromium.

For each student notebook (a copy of notebooks/): open it, Run > Run All Cells, and require that every
code cell ran and none shows an error; then move one slider of every interactive figure and require
that the picture changes. In 02, type a correct `conv2d_single` into its exercise cell, run it and its
check, and read "passed"; then type a flipped-kernel version and read the misconception hint.

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); skipped, saying so, when they
are missing. Screenshots of every interactive figure, and on failure a screenshot of the window and
the page's text, go to tests/browser-artifacts/ (git-ignored), or to $COURSE_BROWSER_ARTIFACTS.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from lab_driver import Lab, LabServer, find_chromium

REPO = Path(__file__).resolve().parent.parent
STUDENT_NOTEBOOKS = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))
ARTIFACTS = Path(os.environ.get("COURSE_BROWSER_ARTIFACTS", REPO / "tests" / "browser-artifacts"))
RUN_ALL_TIMEOUT = 900  # seconds for one notebook on 2 busy cores

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium not found: the browser test needs Debian's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver; .ci/run does this)",
    ),
]

CORRECT = [
    "def conv2d_single(a, w):",
    "    kh, kw = w.shape",
    "    z = np.zeros((a.shape[0] - kh + 1, a.shape[1] - kw + 1), dtype=a.dtype)",
    "    for n in range(z.shape[0]):",
    "        for m in range(z.shape[1]):",
    "            z[n, m] = np.sum(a[n : n + kh, m : m + kw] * w)",
    "    return z",
]
FLIPPED = [CORRECT[0], "    w = w[::-1, ::-1]", *CORRECT[1:]]  # a true convolution: the kernel flipped


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab serving copies of the student notebooks, and a Chromium on it."""
    workdir = tmp_path_factory.mktemp("browser")
    root = workdir / "notebooks"
    shutil.copytree(REPO / "notebooks", root)
    server = LabServer(root, log=workdir / "jupyter.log")
    browser = None
    try:
        browser = Lab(server, *CHROMIUM)
        yield browser
    finally:
        if browser is not None:
            browser.quit()
        server.stop()


@pytest.fixture
def evidence(lab, request):
    """On failure, save a screenshot of the window and the page's text under ARTIFACTS."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:  # the call's report is logged before teardown
        stem = ARTIFACTS / request.node.name.replace("/", "_").replace("[", "-").rstrip("]")
        lab.screenshot(stem.with_suffix(".png"))
        stem.with_suffix(".txt").write_text(lab.page_text())


def widget_cells(lab: Lab) -> list[str]:
    """Ids of the cells that display an interactive figure (their outputs hold a widget picture)."""
    return [cell_id for cell_id in lab.cell_ids() if lab.figure_image(cell_id)]


@pytest.mark.parametrize("name", STUDENT_NOTEBOOKS)
def test_notebook_runs_in_the_browser_and_its_figures_move(lab, evidence, name):
    start = time.monotonic()
    lab.open_notebook(name)
    lab.run_all(RUN_ALL_TIMEOUT)
    assert lab.errors() == [], f"{name}: cells show errors after Run All Cells"
    assert lab.not_run() == [], f"{name}: code cells that did not run (indices)"

    for cell_id in widget_cells(lab):
        before = lab.figure_image(cell_id)
        lab.nudge_first_slider(cell_id)

        def changed(cell_id=cell_id, before=before):
            return lab.figure_image(cell_id) not in ("", before)

        lab.wait_for(
            f"{name}, cell {cell_id}: the figure to change after moving a slider", changed, timeout=120
        )
        time.sleep(0.5)  # let the new picture paint before the screenshot
        lab.screenshot(ARTIFACTS / f"{Path(name).stem}-{cell_id}.png", cell_id)
    assert lab.errors() == [], f"{name}: errors after moving the sliders"
    lab.close_notebook()
    print(f"{name}: ran and checked in {time.monotonic() - start:.0f} s")


def test_a_student_types_conv2d_single_and_reads_the_check(lab, evidence):
    lab.open_notebook("02_components.ipynb")
    ids = lab.cell_ids()
    exercise = next(cell_id for cell_id in ids if "def conv2d_single" in lab.cell_source(cell_id))
    check_cell = ids[ids.index(exercise) + 1]
    assert 'check("conv2d_single"' in lab.cell_source(check_cell)
    lab.select(exercise)
    lab.menu("Run", "Run All Above Selected Cell")  # the imports and the cells before the exercise
    lab.wait_until_idle("the cells above the exercise to run", 300)

    outputs = {}
    for attempt, lines in (("correct", CORRECT), ("flipped", FLIPPED)):
        lab.type_into(exercise, lines)
        typed = lab.cell_source(exercise)
        assert typed == "\n".join(lines), f"the editor holds something else than what was typed:\n{typed}"
        lab.run_cell_and_next(exercise)
        lab.run_cell_and_next(check_cell)
        outputs[attempt] = lab.output_text(check_cell)
        lab.screenshot(ARTIFACTS / f"02-check-{attempt}.png", check_cell)
    assert lab.errors() == []
    assert "passed" in outputs["correct"].lower(), outputs["correct"]
    assert "passed" not in outputs["flipped"].lower(), outputs["flipped"]
    assert "flip" in outputs["flipped"].lower(), outputs["flipped"]
    lab.close_notebook()
