"""How a sandbox process is started: bubblewrap when it works, else a plain process; as whom.

With bubblewrap (`bwrap`): a read-only view of the system directories, the Python installation and
the `course` package only (no home, no submissions, no gradebook), a private /tmp, no network, its own
PID, IPC and UTS namespaces, killed with the grader (--die-with-parent). Without it, the same process
limits apply but student code sees the filesystem as its user does ("process limits only"). Either way,
when the grader runs as root and an unprivileged user can run its Python, student code runs as an
unprivileged uid of a small pool, one per grading worker (`student_uid`): students graded at the same
time never share a uid, so none can signal, trace or outcount another's processes. The pool is root's
range in /etc/subuid when there is one, else uids from 61000 up; uids of existing accounts are skipped.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from course.grader.sandbox import seccomp
from course.grader.sandbox.confine import abi

__all__ = [
    "ENV",
    "FALLBACK_NOTE",
    "bwrap_works",
    "command",
    "describe",
    "drop_to",
    "isolation",
    "student_uid",
]

TMP_BYTES = 256 * 2**20  # the sandbox's private /tmp (in memory) holds every exercise's working directory
# what the sandbox's root processes need: set the runner's user, own its directory, kill and clean up,
# and measure the memory of the runner's processes (their /proc/<pid>/smaps_rollup: CAP_SYS_PTRACE)
_DROP_CAPS = (
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_CHOWN",
    "CAP_FOWNER",
    "CAP_DAC_OVERRIDE",
    "CAP_KILL",
    "CAP_SYS_PTRACE",
)
FALLBACK_NOTE = "sandbox: bubblewrap unavailable, process limits only"

_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc")
_POOL_START, _POOL_SIZE = 61000, 4096  # without a subuid range for root


ENV = {
    "COURSE_SANDBOX": "1",  # marks the sandbox's processes (see session._kill_strays)
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    "MPLBACKEND": "Agg",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


@cache
def bwrap_works() -> bool:
    if not shutil.which("bwrap"):
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--die-with-parent", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def isolation(requested: str = "auto") -> str:
    """ "bwrap" or "fallback": what `requested` ("auto", "bwrap", "fallback") gives on this machine.
    The environment variable COURSE_SANDBOX=fallback forces the fallback."""
    if requested not in ("auto", "bwrap", "fallback"):
        raise ValueError(f"isolation must be 'auto', 'bwrap' or 'fallback', got {requested!r}")
    if requested == "fallback" or os.environ.get("COURSE_SANDBOX") == "fallback":
        return "fallback"
    if bwrap_works():
        return "bwrap"
    if requested == "bwrap":
        raise RuntimeError("bubblewrap was requested but `bwrap` is missing or cannot create a sandbox")
    return "fallback"


def command(
    mode: str,
    hide: tuple[str, ...],
    code: str,
    drops: bool | None = None,
    binds: dict[str, str] | None = None,
) -> list[str]:
    """The command running `code` with the course importable: in bubblewrap, or as a plain process.
    `binds` (path outside -> path inside) are made writable in bubblewrap (the sandbox's control groups).

    Run as root, bubblewrap would keep every capability inside the sandbox (enough to remount its
    read-only binds); it keeps only those needed to hand each exercise to its uid and clean up after
    it when `drops` (default: whether student code runs as a uid of the pool), else none."""
    root = str(Path(__file__).resolve().parents[3])
    boot = f"import sys; sys.path[:] = [{root!r}] + [p for p in sys.path if p not in ('', '.')]; {code}"
    command = [sys.executable, "-E", "-B", "-c", boot]
    if mode != "bwrap":
        return command
    caps = []
    if os.geteuid() == 0:
        drops = drop_to(mode) is not None if drops is None else drops
        caps = ["--cap-drop", "ALL"]
        for cap in _DROP_CAPS if drops else ():
            caps += ["--cap-add", cap]
    writable = [option for outside, inside in (binds or {}).items() for option in ("--bind", outside, inside)]
    return _bwrap_command(root, hide) + writable + caps + command


def student_uid(mode: str, slot: int) -> int | None:
    """The uid student code of grading worker number `slot` runs as (see `drop_to`), else None."""
    if drop_to(mode) is None:
        return None
    return _pool()[slot % len(_pool())]


@cache
def drop_to(mode: str) -> int | None:
    """The first uid of the pool, when the grader is root and an unprivileged uid can run the course's
    Python in this mode (a Python under /root cannot be, without bubblewrap), else None (student code
    runs as the grader's own user)."""
    if os.geteuid() != 0:
        return None
    uid = _pool()[0]
    probe = (
        f"import os, course.grader.sandbox.runner; os.setgid({uid}); os.setuid({uid}); import fractions, json"
    )
    try:
        probe_command = command(mode, (), probe, drops=True)
        done = subprocess.run(probe_command, env=ENV, cwd="/", capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return uid if done.returncode == 0 else None


def describe(mode: str) -> str:
    """One line for the report: how student code was isolated."""
    user = (
        "an unprivileged uid per worker" if drop_to(mode) is not None else pwd.getpwuid(os.geteuid()).pw_name
    )
    files = f"Landlock ABI {abi()}" if abi() else "no Landlock"
    calls = "seccomp" if seccomp.available() else "no seccomp"
    if mode == "bwrap":
        isolated = "bubblewrap (read-only system, no network, own process namespace)"
        return f"sandbox: {isolated}, {files}, {calls}, user {user}"
    return f"{FALLBACK_NOTE}, {files}, {calls}, user {user}"


def _bwrap_command(root: str, hide: tuple[str, ...]) -> list[str]:
    links = [p for p in _SYSTEM if os.path.islink(p)]  # /lib -> usr/lib on merged-/usr systems
    sources = [p for p in _SYSTEM if os.path.isdir(p) and p not in links]
    sources += [sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent)]
    sources += [p for p in sys.path if p and os.path.isdir(p) and os.path.abspath(p) != root]
    sources += [os.path.join(root, "course")]
    sources = sorted({os.path.realpath(s) for s in sources})
    sources = [s for s in sources if not any(_inside(s, other) for other in sources if other != s)]
    parents = sorted({str(p) for s in sources for p in Path(s).parents if str(p) != "/"})
    options: list[str] = []
    for parent in parents:  # bwrap would create them 0700: a dropped-privilege runner could not enter
        if not any(_inside(parent, s) for s in sources):
            options += ["--perms", "0755", "--dir", parent]
    for source in sources:
        options += ["--ro-bind", source, source]
    for link in links:
        options += ["--symlink", os.readlink(link), link]
    for path in (os.path.realpath(h) for h in hide):
        if any(_inside(path, s) for s in sources):
            options += ["--tmpfs", path]
    # the private /tmp comes first, so that binds below it (a venv or a clone under /tmp) stay visible
    return [
        "bwrap",
        "--size",
        str(TMP_BYTES),
        "--tmpfs",
        "/tmp",
        *options,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--chdir",
        "/tmp",
    ]


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


@cache
def _pool() -> list[int]:
    """The uids student code may run as: root's subordinate range, else 61000 and up; without the
    uids of existing accounts."""
    start, size = _POOL_START, _POOL_SIZE
    try:
        for line in Path("/etc/subuid").read_text().splitlines():
            name, first, count = line.strip().split(":")
            if name in ("root", "0"):
                start, size = int(first), min(int(count), _POOL_SIZE)
                break
    except (OSError, ValueError):
        pass
    taken = {entry.pw_uid for entry in pwd.getpwall()}
    return [uid for uid in range(start, start + size) if uid not in taken][:64]
