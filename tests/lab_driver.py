"""Drive JupyterLab in a real Chromium the way a student does, for tests/test_browser.py.

`LabServer` starts `jupyter lab` on 127.0.0.1 with a random free port and a random token, serving a
directory of notebook copies, with `--expose-app-in-browser` so the page's JupyterLab application
(`window.jupyterapp`) can be asked what it shows: which cells ran, which outputs are errors.
`Lab` wraps a Selenium session on Debian's chromium + chromium-driver (no browser download: the driver's
path is given, and Selenium Manager is kept offline). Actions go through the UI (menus, clicks, keys
typed into the CodeMirror editor, arrow keys on a slider); reading the state, and making a cell the
active one, go through `window.jupyterapp`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

__all__ = ["find_chromium", "LabServer", "Lab", "LabError"]


class LabError(AssertionError):
    """What the page shows is not what the test expected."""


def find_chromium() -> tuple[str, str] | None:
    """(browser, driver) executables of Debian's chromium and chromium-driver, or None if missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Settings of the test's own JupyterLab: every cell stays in the page (no windowing, so outputs of cells
# scrolled away can be read) and no pop-up asks about news.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def _write_settings(settings_dir: Path) -> None:
    for name, values in SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


class LabServer:
    """`jupyter lab` serving `root` on 127.0.0.1:<random port> with a random token; stop() ends it."""

    def __init__(self, root: Path, log: Path) -> None:
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        state = root.parent / "jupyter-state"
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # the tests set Agg; a student's kernel draws inline figures
        env.update(
            JUPYTER_CONFIG_DIR=str(state / "config"),
            JUPYTER_RUNTIME_DIR=str(state / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        )
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--expose-app-in-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
        ]  # fmt: skip
        _write_settings(state / "settings")
        if os.geteuid() == 0:  # CI containers run as root
            command.append("--ServerApp.allow_root=True")
        self._log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=root
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.process.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer on {self.url} within 90 s; see {log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


# JavaScript run in the page: the current notebook panel and facts about its cells.
_PANEL = "const panel = window.jupyterapp.shell.currentWidget; const cells = panel.content.widgets;"
_CELL_BY_ID = (
    _PANEL + "const index = cells.findIndex(c => c.model.id === arguments[0]); const cell = cells[index];"
)


class Lab:
    """A Chromium session on a LabServer."""

    def __init__(self, server: LabServer, browser: str, driver: str) -> None:
        os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download anything
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1700",
                     "--disable-gpu", "--no-first-run", "--disable-extensions"):  # fmt: skip
            options.add_argument(flag)
        self.server = server
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=driver))
        self.driver.set_script_timeout(60)

    def quit(self) -> None:
        self.driver.quit()

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait_for(self, what: str, condition, timeout: float, poll: float = 0.5):
        """Poll condition() until it returns something true; raise LabError naming `what` on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(poll)

    # -- notebooks --------------------------------------------------------------------------------

    def open_notebook(self, name: str) -> None:
        """Open notebook `name` in the lab and wait until its kernel is idle."""
        self.driver.get(f"{self.server.url}/lab/tree/{name}?token={self.server.token}")
        self.wait_for(
            f"{name} to open with an idle kernel",
            lambda: self.js(
                "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                "return !!(w && w.context && w.context.path.endsWith(arguments[0]) && w.context.isReady"
                " && w.sessionContext.session && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.status === 'idle');",
                name,
            ),
            timeout=300,  # a kernel starting on two cores shared with other jobs
        )

    def close_notebook(self) -> None:
        """Shut down the current notebook's kernel and close its tab without saving (so the next page
        load neither restores it nor keeps its kernel busy)."""
        self.driver.execute_async_script(
            _PANEL + "const done = arguments[arguments.length - 1]; panel.context.model.dirty = false;"
            "panel.sessionContext.shutdown().then(() => { panel.dispose(); done(true); }, () => done(false));"
        )

    def menu(self, menu: str, entry: str) -> None:
        """Click the main menu `menu` (e.g. "Run"), then its entry labelled `entry` (e.g. "Run All Cells")."""
        self.driver.find_element(
            By.XPATH, f"//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='{menu}']"
        ).click()
        label = (
            "//li[contains(@class, 'lm-Menu-item')]"
            f"[.//div[contains(@class, 'lm-Menu-itemLabel') and text()='{entry}']]"
        )
        item = self.wait_for(
            f"menu entry {menu} > {entry}",
            lambda: [e for e in self.driver.find_elements(By.XPATH, label) if e.is_displayed()],
            timeout=10,
        )
        item[0].click()

    def _busy(self) -> bool:
        return self.js(
            _PANEL + "const k = panel.sessionContext.session && panel.sessionContext.session.kernel;"
            "return !k || k.status !== 'idle' || cells.some(c => c.model.type === 'code'"
            " && (c.model.executionState === 'running'"
            "     || (c.promptNode && c.promptNode.textContent.includes('*'))));"
        )

    def wait_until_idle(self, what: str, timeout: float) -> None:
        """Wait until no cell is queued or running and the kernel is idle (twice in a row, 1 s apart)."""
        self.wait_for(what, lambda: not self._busy() and (time.sleep(1) or not self._busy()), timeout)

    def run_all(self, timeout: float) -> None:
        """Run > Run All Cells, and wait until every code cell ran or an error stopped the run."""
        self.menu("Run", "Run All Cells")
        time.sleep(2)
        self.wait_until_idle("Run All Cells to finish", timeout)

    def not_run(self) -> list[int]:
        """Indices of code cells without an execution count."""
        return self.js(
            _PANEL + "return cells.map((c, i) => [c, i]).filter(([c]) => c.model.type === 'code'"
            " && c.model.executionCount === null).map(([, i]) => i);"
        )

    def errors(self) -> list[str]:
        """Every error a cell shows: exceptions in outputs, and widgets that failed to display."""
        return self.js(
            _PANEL + "const found = [];"
            "cells.forEach((c, i) => { if (c.model.type !== 'code') return;"
            " for (const o of c.model.outputs.toJSON()) if (o.output_type === 'error')"
            "  found.push(`cell ${i} (${c.model.id}): ${o.ename}: ${o.evalue}`);"
            " const area = c.node.querySelector('.jp-OutputArea'); const text = area ? area.innerText : '';"
            " if (text.includes('Error displaying widget'))"
            "  found.push(`cell ${i} (${c.model.id}): ${text.slice(0, 300)}`);"
            "}); return found;"
        )

    def cell_ids(self) -> list[str]:
        return self.js(_PANEL + "return cells.map(c => c.model.id);")

    def cell_element(self, cell_id: str):
        """The cell's DOM element, scrolled into view."""
        return self.js(
            _CELL_BY_ID + "cell.node.scrollIntoView({block: 'center'}); return cell.node;", cell_id
        )

    def select(self, cell_id: str) -> None:
        """Make the cell the active one, as clicking on it does."""
        self.js(
            _CELL_BY_ID
            + "panel.content.activeCellIndex = index; cell.node.scrollIntoView({block: 'center'});",
            cell_id,
        )

    def cell_source(self, cell_id: str) -> str:
        return self.js(_CELL_BY_ID + "return cell.model.sharedModel.getSource();", cell_id)

    def output_text(self, cell_id: str) -> str:
        return self.js(
            _CELL_BY_ID + "const o = cell.node.querySelector('.jp-OutputArea'); return o ? o.innerText : '';",
            cell_id,
        )

    def execution_count(self, cell_id: str):
        return self.js(_CELL_BY_ID + "return cell.model.executionCount;", cell_id)

    def type_into(self, cell_id: str, lines: list[str]) -> None:
        """Replace the cell's text by typing it: click into its editor, select all, type `lines`. After
        each Enter, Shift+Home selects whatever indentation the editor added, so the typed line's own
        indentation replaces it."""
        self.cell_element(cell_id)
        editor = self.js(_CELL_BY_ID + "return cell.node.querySelector('.cm-content');", cell_id)
        editor.click()
        keys = ActionChains(self.driver)
        keys.key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(Keys.DELETE).perform()
        for k, line in enumerate(lines):
            if k:
                keys = ActionChains(self.driver).send_keys(Keys.ENTER)
                keys.key_down(Keys.SHIFT).send_keys(Keys.HOME).key_up(Keys.SHIFT).perform()
            ActionChains(self.driver).send_keys(line).perform()

    def run_cell_and_next(self, cell_id: str, timeout: float = 60) -> None:
        """Shift+Enter in the cell (runs it, selects the next one); wait for the kernel."""
        self.js(_CELL_BY_ID + "panel.content.activeCellIndex = index;", cell_id)
        editor = self.js(_CELL_BY_ID + "return cell.node.querySelector('.cm-content');", cell_id)
        editor.click()
        ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        time.sleep(1)
        self.wait_until_idle(f"cell {cell_id} to run", timeout)

    # -- widgets ----------------------------------------------------------------------------------

    def figure_image(self, cell_id: str) -> str:
        """The src of the widget's rendered picture in the cell's output ("" if there is none)."""
        return self.js(
            _CELL_BY_ID + "const img = cell.node.querySelector('.jp-OutputArea .widget-image');"
            "return img ? img.getAttribute('src') : '';",
            cell_id,
        )

    def nudge_first_slider(self, cell_id: str) -> None:
        """Focus the first slider of the widget in the cell and press the right arrow key once."""
        handle = self.js(
            _CELL_BY_ID + "const h = cell.node.querySelector('.jp-OutputArea .widget-slider .noUi-handle');"
            "if (h) { h.scrollIntoView({block: 'center'}); h.focus(); } return h;",
            cell_id,
        )
        if handle is None:
            raise LabError(f"cell {cell_id}: no slider in its output")
        ActionChains(self.driver).send_keys(Keys.ARROW_RIGHT).perform()

    def screenshot(self, path: Path, cell_id: str | None = None) -> None:
        """Save a PNG of the cell (or of the whole window)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if cell_id is None:
            self.driver.save_screenshot(str(path))
        else:
            self.cell_element(cell_id).screenshot(str(path))

    def page_text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text
