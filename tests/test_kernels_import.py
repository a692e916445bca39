"""Is importing `course` free (nothing compiled, nothing printed), and do the kernels also pass with
Numba switched off (plain Python, readable tracebacks)?"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

IMPORT_PROBE = """
import course, course.functional
from course.kernels import activation, conv, pool
modules = (activation, conv, pool)
kernels = [getattr(m, n) for m in modules for n in dir(m) if hasattr(getattr(m, n), "signatures")]
assert kernels, "no Numba dispatchers found"
compiled = [k.py_func.__name__ for k in kernels if k.signatures]
assert not compiled, f"compiled at import: {compiled}"
"""


def run_python(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )


def test_import_compiles_nothing_and_prints_nothing():
    done = run_python(["-c", IMPORT_PROBE])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


def test_kernels_pass_with_numba_disabled():
    """The hand-worked and error tests again, with every kernel run as plain Python."""
    done = run_python(
        [
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_errors.py",
            "tests/test_functional.py",
            "-k",
            "by_hand or sobel or overlap or ties or mixed or non_contiguous or conv_bad or relu_matches",
        ],
        NUMBA_DISABLE_JIT="1",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout


SCIPY_PROBE = """
import sys
import numpy as np
import course.functional as F
x, w = np.ones((2, 1, 6, 6)), np.ones((2, 1, 3, 3))
F.conv2d_backward(F.conv2d(x, w), x, w)
assert "scipy.linalg" not in sys.modules, "the first kernel call imported scipy.linalg"
assert "cffi" not in sys.modules, "the first kernel call imported cffi"
try:
    import scipy
except ImportError:
    scipy = None
if scipy is not None:
    import scipy.linalg.cython_blas  # refused only while Numba's target loaded: importable now
import cffi  # likewise
print("ok")
"""


def test_the_first_kernel_call_leaves_scipy_linalg_and_cffi_alone():
    """Numba's target imports scipy.linalg (0.3 s of a warm start) and builds a cffi parser (35 ms)
    unless `course._jit` refuses both."""
    pytest.importorskip("cffi")
    done = run_python(["-c", SCIPY_PROBE])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


COVERAGE_PROBE = """
import sys
import numpy as np
if sys.argv[1] == "coverage first":
    import coverage
import course.functional as F
from numba.misc import coverage_support
x, w = np.ones((2, 1, 6, 6)), np.ones((2, 1, 3, 3))
F.conv2d_backward(F.conv2d(x, w), x, w)
print("coverage" in sys.modules, coverage_support.coverage_available)
import coverage  # refused only while Numba loaded: importable now
"""


def test_numba_loads_without_coverage_unless_a_coverage_run_imported_it_first():
    """Numba imports coverage.py (0.1-0.18 s of a warm start) to report compiled lines to a coverage
    run; `course._jit` refuses that import, unless coverage is loaded already (a run going on)."""
    pytest.importorskip("coverage")
    done = run_python(["-c", COVERAGE_PROBE, "plain"])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False False\n"
    done = run_python(["-c", COVERAGE_PROBE, "coverage first"])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True True\n"


LAZY_PROBE = """
import sys
import course, course.apps, course.widgets
for package, name in ((course, "nn"), (course.apps, "boxes"), (course.widgets, "grid")):
    full = f"{package.__name__}.{name}"
    assert full not in sys.modules, full
    assert getattr(package, name) is sys.modules[full]
    try:
        getattr(package, "no_such_module")
    except AttributeError as error:
        assert package.__name__ in str(error) and "no_such_module" in str(error)
    else:
        raise AssertionError(f"{package.__name__}.no_such_module did not raise")
"""


def test_the_packages_load_their_submodules_on_first_use_only():
    done = run_python(["-c", LAZY_PROBE])
    assert done.returncode == 0, done.stderr
