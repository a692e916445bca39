"""`course.kernels.precompile()` fills Numba's disk cache with every kernel `course.functional` calls,
sharing the compiling among processes: after it, a fresh process compiles nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from course import functional, kernels
from course.kernels import activation, conv, pool

PRECOMPILE = """
import json
from course.kernels import activation, conv, pool, precompile
precompile(processes=2)
modules = (activation, conv, pool)
kernels = [getattr(m, name) for m in modules for name in m.__all__ if hasattr(getattr(m, name), "stats")]
counts = {k.py_func.__name__: (sum(k.stats.cache_misses.values()), len(k.signatures)) for k in kernels}
print(json.dumps(counts))
"""

EVERY_OP = """
from numba.core import event
compiled = []

class Count(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__name__)

    def on_end(self, ev):
        pass

event.register("numba:compile", Count())
import numpy as np
import course.functional as F
for dtype in (np.float32, np.float64):
    x = np.ones((2, 6, 9, 9), dtype=dtype)
    for w, stride, padding in [
        (np.ones((3, 6, 2, 2), dtype=dtype), 1, 1),  # 24 taps, stride 1: sweeps
        (np.ones((3, 6, 5, 5), dtype=dtype), 1, 0),  # 150 taps: matrix products
        (np.ones((3, 6, 2, 2), dtype=dtype), 2, 0),  # 24 taps, stride 2: direct loops
    ]:
        z = F.conv2d(x, w, None, stride, padding)
        F.conv2d_backward(np.ones_like(z), x, w, stride, padding)
    pools = [(F.max_pool2d, F.max_pool2d_backward), (F.avg_pool2d, F.avg_pool2d_backward)]
    for kernel, stride in [(2, 2), (3, 1)]:
        for forward, backward in pools:
            y = forward(x, kernel, stride)
            backward(np.ones_like(y), x, kernel, stride)
    F.relu_backward(x, F.relu(x))
from course import _jit
_jit.spin(np.ones(1, dtype=np.int64), 0)  # the threads' waits, as parallel_for's helpers call it
print(compiled)
"""


def test_precompile_shares_the_compiling_and_leaves_nothing_to_compile(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", PRECOMPILE], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    # The first group compiles here, before the helper starts; the helper compiled at least one other
    # group, which this process only loaded from the cache: it holds more specialisations than it
    # compiled.
    assert counts["sweep_forward"][0] > 0
    compiled = sum(misses for misses, _ in counts.values())
    held = sum(signatures for _, signatures in counts.values())
    assert compiled < held, counts
    afterwards = subprocess.run([sys.executable, "-c", EVERY_OP], env=env, capture_output=True, text=True)
    assert afterwards.returncode == 0, afterwards.stderr
    compiled = afterwards.stdout.strip().splitlines()[-1]
    assert compiled == "[]", f"compiled after precompile: {compiled}"


def _fake_groups(monkeypatch) -> list:
    """Three groups that record their calls, in place of the kernels."""
    called = []

    def group(name):
        return lambda dtype: called.append((name, np.dtype(dtype).char))

    monkeypatch.setattr(kernels, "_GROUPS", tuple(group(name) for name in "abc"))
    return called


EVERY_GROUP = [(name, dtype) for name in "abc" for dtype in "fd"]


def test_without_a_directory_for_claims_this_process_compiles_every_group_alone(monkeypatch):
    called = _fake_groups(monkeypatch)

    def no_directory(*args, **kwargs):
        raise PermissionError("read-only file system")

    started = []
    monkeypatch.setattr(kernels.tempfile, "TemporaryDirectory", no_directory)
    monkeypatch.setattr(kernels.subprocess, "Popen", lambda *args, **kwargs: started.append(args))
    kernels._compile_shared(2)
    assert called == EVERY_GROUP
    assert started == []


def test_a_helper_that_cannot_start_leaves_its_groups_to_this_process(monkeypatch):
    called = _fake_groups(monkeypatch)

    def no_process(*args, **kwargs):
        raise BlockingIOError("fork: Resource temporarily unavailable")

    monkeypatch.setattr(kernels.subprocess, "Popen", no_process)
    kernels._compile_shared(3)
    assert called == EVERY_GROUP + EVERY_GROUP  # claimed here, then loaded here


def test_a_group_is_compiled_in_both_dtypes_by_the_one_process_that_claims_it_first(tmp_path, monkeypatch):
    called = _fake_groups(monkeypatch)
    (tmp_path / "1").touch()  # claimed by another process: "b", in both dtypes
    kernels._compile(str(tmp_path))
    assert called == [("a", "f"), ("a", "d"), ("c", "f"), ("c", "d")]
    assert sorted(os.listdir(tmp_path)) == ["0", "1", "2"]
    kernels._compile(str(tmp_path))  # every group claimed: a second process calls nothing
    assert len(called) == 4
    kernels._compile(None)  # no claims: every group
    assert called[4:] == EVERY_GROUP


def test_no_kernel_belongs_to_two_groups_and_every_kernel_to_one(monkeypatch):
    """Processes compile different groups at the same time. Numba's cache index of a kernel is read,
    extended and written back, so two processes compiling one kernel in two dtypes at once could leave
    it naming the wrong file where saves cannot take turns by a file lock (`course._jit`; not on
    Windows): each kernel must be called by one group only."""
    callers = {}
    source = Path(functional.__file__).read_text()
    called_by_functional = set()
    modules = {"_activation": activation, "_conv": conv, "_pool": pool}
    for module_name, name in re.findall(r"(_activation|_conv|_pool)\.(\w+)", source):
        called = getattr(modules[module_name], name)
        if name.endswith("_kernel"):  # picks a kernel by dtype: functional calls every one it picks
            called_by_functional |= {called(dtype).py_func.__name__ for dtype in (np.float32, np.float64)}
        elif hasattr(called, "py_func"):
            called_by_functional.add(name)
    for module in modules.values():
        for name in module.__all__:
            if hasattr(getattr(module, name), "py_func"):  # a Numba kernel, not a constant or helper
                monkeypatch.setattr(module, name, _recorder(name, callers))
    for group in kernels._GROUPS:
        for dtype in (np.float32, np.float64):
            callers.setdefault("group", group.__name__)
            group(dtype)
            callers.pop("group")
    callers.pop("group", None)
    assert set(callers) == called_by_functional
    shared = {name: groups for name, groups in callers.items() if len(groups) > 1}
    assert not shared, shared


def _recorder(name: str, callers: dict):
    def record(*args):
        callers.setdefault(name, set()).add(callers["group"])

    return record


def test_precompile_runs_the_kernels_as_python_when_numba_is_disabled(tmp_path):
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    code = "from course.kernels import precompile; precompile(); print('done')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
