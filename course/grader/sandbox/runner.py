"""Inside the sandbox, in the student's process: run one exercise of one notebook, one case per request.

This is the only module that executes student code. The process it runs in was forked for this one
exercise by `course.grader.sandbox.relay`, which holds the result channel; this process never returns,
it ends with `os._exit`. Steps: limits (memory, processes, file size), references poisoned, privileges
dropped (another uid when run as root and one can run the Python; no capabilities in any case), the
process confined with Landlock (`confine`: it reads no course source, no submission, no gradebook;
writes only its working directory; signals nobody outside) and a system-call filter (`seccomp`: no
keyrings, io_uring, perf events or namespaces), `os._exit` and friends made to raise, print capped; then
the setup cell, the top-level definitions of the other exercise cells (only inert statements, see
`inert`), this exercise's own cell in full; then "ready" (or "fatal"), one reply per case the relay asks
for, and "done", each as an 8-byte length and a frame. Student code runs in this same process and can
write to the replies pipe itself: the relay takes one reply per request and judges nothing; everything
is judged outside, by the grader.
"""

from __future__ import annotations

import ast
import ctypes
import io
import os
import resource
import signal
import struct
import sys
import tempfile
import traceback

from course.grader.sandbox import poison, seccomp
from course.grader.sandbox.confine import Confinement
from course.grader.sandbox.session import LENGTH
from course.grader.sandbox.wire import encode_frame, encode_outcome, read_exact, write_all
from course.grading.exercise import Case, Outcome, run_case

__all__ = ["REQUEST", "inert", "prepare", "run_student"]

KEEP = (
    "course.grading.exercise",
    "course.grader.sandbox.wire",
    "course.grader.sandbox.poison",
    "course.grader.sandbox.runner",
)
PRINT_CAP = 4000
# descriptors a process of student code may hold (the course's notebooks need under 16). The kernel
# memory of a socket's or a pipe's queued data is mapped by no process, so no PSS counts it: 10,000
# socket pairs per process, each holding 400 kB, held 15.7 GB under a 200 MB budget where no control
# group bounds the exercise. 64 descriptors bound it to about 14 MB a process (and the descriptors a
# uid may have in flight in unix sockets to as many).
OPEN_FILES = 64
REQUEST = struct.Struct(">i")  # a case number from the relay; a negative one: no more cases
_real_exit = os._exit
_runner_pid = -1
_planned: list | None = None  # where the references are (`prepare`), inherited by each exercise's fork
_PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP = 38, 24
_CAPABILITY_VERSION_3 = 0x20080522


def prepare() -> None:
    """Find the references once, in the job's process after its imports (`poison.plan`), so that
    each exercise's process only replaces them."""
    global _planned
    _planned = poison.plan(keep=lambda name: name in KEEP)


def run_student(
    job: dict,
    notebook: dict,
    exercise_id: str,
    cases: list[Case],
    requests_fd: int,
    replies_fd: int,
    workdir: str,
    confinement: Confinement,
) -> None:
    """Run `exercise_id`'s cell of `notebook` ({"setup": source, "cells": {id: source}}) in this
    (forked) process under `job`'s limits and `confinement`; then answer the case numbers read from
    `requests_fd` (`relay.REQUEST`, `relay.END` last) with replies on `replies_fd`; exit."""
    global _runner_pid
    _runner_pid = os.getpid()
    try:
        _isolate(job, (requests_fd, replies_fd), workdir, confinement)
        printed = _Capped()
        sys.stdout = sys.stderr = printed
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        notes = _run_cells(notebook, exercise_id, namespace)
        fn = namespace.get(exercise_id)
        if not callable(fn):
            _send(
                replies_fd, encode_frame({"kind": "fatal", "message": _missing(notebook, exercise_id, notes)})
            )
        else:
            _send(replies_fd, encode_frame({"kind": "ready"}))
            while (index := _request(requests_fd)) is not None:
                _send(replies_fd, encode_outcome(index, _run_one(fn, cases[index])))
        done = {"kind": "done", "notes": notes, "references": poison.used(), "printed": printed.head}
        _send(replies_fd, encode_frame(done))
    except BaseException as error:  # noqa: BLE001 - whatever happens, the process ends here
        try:
            _send(replies_fd, encode_frame({"kind": "fatal", "message": f"grading failed: {error!r}"[:500]}))
        except BaseException:  # noqa: BLE001
            pass
    _real_exit(0)


def _request(fd: int) -> int | None:
    """The next case number the relay asks for; None at the end (or when the relay is gone)."""
    data = read_exact(fd, REQUEST.size)
    if data is None:
        return None
    (index,) = REQUEST.unpack(data)
    return index if index >= 0 else None


def _isolate(job: dict, pipes: tuple[int, int], workdir: str, confinement: Confinement) -> None:
    os.setpgid(0, 0)
    os.chdir(workdir)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    keep = sorted({*pipes, confinement.fd} - {-1})  # the rules' descriptor: closed once applied
    for low, high in zip([2, *keep], [*keep, 1 << 16], strict=True):
        os.closerange(low + 1, high)
    _limit(resource.RLIMIT_CORE, 0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing too much fails with an OSError instead
    _limit(resource.RLIMIT_FSIZE, job["file_bytes"])
    _limit(resource.RLIMIT_CPU, int(job["timeout"]) + 2)
    _limit(resource.RLIMIT_AS, _mapped_bytes() + job["memory"])
    # memory held in socket and pipe buffers counts in no PSS: descriptors bound it (see OPEN_FILES)
    _limit(resource.RLIMIT_NOFILE, OPEN_FILES)
    poison.poison_references(keep=lambda name: name in KEEP, planned=_planned)
    if job["drop_to"] is not None:
        os.setgroups([])
        os.setgid(job["drop_to"])
        os.setuid(job["drop_to"])
    _drop_capabilities()
    # a backstop one above the exercise's budget, so that where its control group bounds the processes
    # (`cgroup`), the group refuses the first fork too many and the grader can say so
    _limit(resource.RLIMIT_NPROC, _processes_of(os.getuid()) + job["processes"] + 1)
    os.environ["HOME"] = os.environ["TMPDIR"] = tempfile.tempdir = workdir
    if "numba" in sys.modules:  # kernels compiled with cache=True need a cache this user may write
        sys.modules["numba"].core.config.CACHE_DIR = os.path.join(workdir, ".numba")
    confinement.confine(workdir)
    seccomp.install()  # after no_new_privs (_drop_capabilities)
    os._exit = _raise_exit
    os.abort = _raise_exit


def _run_cells(notebook: dict, exercise_id: str, namespace: dict) -> list[str]:
    notes = []
    if notebook["setup"]:
        notes += _execute(notebook["setup"], "the setup cell", namespace)
    for other, source in notebook["cells"].items():
        if other != exercise_id:
            notes += _execute(source, f"the cell of {other}", namespace, only_inert=True)
    if exercise_id in notebook["cells"]:
        notes += _execute(notebook["cells"][exercise_id], "your cell", namespace)
    return notes


def _execute(source: str, where: str, namespace: dict, only_inert: bool = False) -> list[str]:
    """Run a cell's code (or only its inert top-level statements); return notes on what went wrong."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return [f"{where} has a syntax error (line {error.lineno}: {error.msg})"]
    except (RecursionError, MemoryError):  # a sum of thousands of terms: its own cell's loss only
        return [f"{where} is nested too deeply for Python to compile"]
    body = [node for node in tree.body if inert(node)] if only_inert else tree.body
    notes = []
    for node in body if only_inert else [tree]:
        module = node if isinstance(node, ast.Module) else ast.Module(body=[node], type_ignores=[])
        try:
            exec(compile(module, f"<{where}>", "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 - a failing cell is a note, not the end
            notes.append(f"{where} raised {_describe(error)}")
            if not only_inert:
                break
    return notes


def inert(node: ast.stmt) -> bool:
    """True for a statement that only defines names and runs nothing of the student's when executed:
    a top-level import, or a def or class with no decorator (a decorator is a call: `@all
    @itertools.repeat` never returns), whose defaults, annotations and bases are constants or (dotted)
    names, and whose class body holds only such defs, docstrings and constant assignments."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args
        parts = [*args.defaults, *args.kw_defaults, node.returns]
        parts += [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        parts += [a.annotation for a in (args.vararg, args.kwarg) if a is not None]
        return not node.decorator_list and all(_plain(p) for p in parts)
    if isinstance(node, ast.ClassDef):
        if node.decorator_list or node.keywords or not all(_plain(b) for b in node.bases):
            return False
        return all(_class_statement(statement) for statement in node.body)
    return False


def _class_statement(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return inert(node)
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant)  # a docstring
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) for t in node.targets) and _plain(node.value)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and _plain(node.annotation) and _plain(node.value)
    return isinstance(node, ast.Pass)


def _plain(node: ast.expr | None) -> bool:
    """An expression that evaluates without running code: absent, a constant, a (dotted) name, or a
    tuple or list of those, or a negative number."""
    if node is None or isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return _plain(node.value)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_plain(e) for e in node.elts)
    return isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)


def _run_one(fn, case: Case) -> Outcome:
    try:
        return run_case(fn, case)
    except BaseException as error:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, ... end this case only
        return Outcome(error=f"raised {_describe(error)}")


def _missing(notebook: dict, exercise_id: str, notes: list[str]) -> str:
    if exercise_id not in notebook["cells"]:
        return f"no cell defines `{exercise_id}`"
    why = "; ".join(notes)
    return f"your cell does not define the function `{exercise_id}`" + (f" ({why})" if why else "")


def _describe(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames and frames[-1].line else ""
    return f"{type(error).__name__}: {str(error)[:300]}{where}"


def _raise_exit(*args) -> None:
    if os.getpid() != _runner_pid:  # a process the student's code forked may end as it likes
        _real_exit(args[0] if args and isinstance(args[0], int) else 0)
    raise SystemExit(f"the process tried to exit{' with ' + repr(args[0]) if args else ''}")


def _send(fd: int, frame: bytes) -> None:
    """One reply to the relay: the frame's length, then the frame."""
    if os.getpid() != _runner_pid:  # a forked copy of the runner that fell through: end it quietly
        _real_exit(0)
    write_all(fd, LENGTH.pack(len(frame)) + frame)


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _drop_capabilities() -> None:
    """Give up every capability, for this process and any program it runs. Where no unprivileged uid
    can run the Python, the fallback runs student code as root, which would otherwise hold all of the
    grader's capabilities: raise its own limits (CAP_SYS_RESOURCE), change the machine's priorities,
    network, clock, kernel modules, reboot it; Landlock rules files, not these. (Bubblewrap gives the
    same case a root without capabilities.) No new privileges: a program it runs regains none."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    for capability in range(64):  # the bounding set, where this process may (CAP_SETPCAP); else no-op
        libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)  # this process
    if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:  # effective, permitted, inheritable: none
        raise OSError(ctypes.get_errno(), "capset failed")


def _mapped_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += 1
        except OSError:
            pass
    return count


class _Capped(io.TextIOBase):
    """sys.stdout and sys.stderr during grading: keeps the first PRINT_CAP characters, drops the rest."""

    def __init__(self):
        self.head = ""

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        if len(self.head) < PRINT_CAP:
            self.head += text[: PRINT_CAP - len(self.head)]
        return len(text)
