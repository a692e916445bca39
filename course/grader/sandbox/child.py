"""The sandbox's first process: forks a process per student's job, which forks one per exercise.

Started by `course.grader.sandbox.session` (inside bubblewrap when available), it imports the usual
modules once; each job (a pickle on stdin, trusted: the grader wrote it) is read and served by a
process forked for it, which imports what the setup cells need, then for each exercise forks a
process (`course.grader.sandbox.relay`, which forks the student's process) in an empty working
directory of its own and, where the sandbox has control groups, in groups of its own (`cgroup`). It
waits for that process with the exercise's time limit and budget (`budget`), reads its frames (at
most `output_bytes`), kills it and every process it left behind (it is a child subreaper, so orphans
come back to it), and writes one frame per exercise to the job channel: the status and the relay's
frames as bytes. It runs no student code itself and decodes nothing the relay sent. The job channel
is the process's original stdout, moved to a descriptor of its own before anything is imported:
whatever a module prints goes to stderr instead.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import pickle
import selectors
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from course.grader.sandbox.budget import OWN_PROCESSES, PERIOD, Budget
from course.grader.sandbox.cgroup import ExerciseGroup
from course.grader.sandbox.confine import Confinement
from course.grader.sandbox.session import LENGTH, remove_tree
from course.grader.sandbox.wire import encode_frame, read_exact, write_all

__all__ = ["main"]

PRE_IMPORT = ("numpy", "matplotlib", "course", "math", "itertools", "functools", "collections")
PRELOAD = ("numpy", "matplotlib.pyplot", "course.grading", "course.functional", "course.data", "course.nn")
_PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 4, 36
_COURSE_ROOT = str(Path(__file__).resolve().parents[3])  # the folder that holds the course package
_channel = 1  # the descriptor of the job channel (see main)


def main(scratch: str | None = None, groups: dict[str, str] | None = None, private_ipc: bool = False) -> None:
    """Serve jobs from stdin until it closes: each job in a process forked for it, which writes one
    length-prefixed frame per exercise to stdout, then a zero length, and exits. This process only
    imports the usual modules once and forks, so no student's job is ever in its memory, and a job's
    process (and what an earlier student's code could have read there) ends with the job.
    `private_ipc`: the sandbox has an IPC namespace of its own (bubblewrap), which no other program
    uses, so every System V object left in it after an exercise is the exercise's."""
    global _channel
    _channel = os.dup(1)
    os.dup2(2, 1)  # print() of any module imported from here on goes to stderr, not into the channel
    sys.stdout = sys.stderr
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_DUMPABLE, 0)
    _pre_import(list(PRELOAD))
    from course.grader.sandbox import relay  # noqa: F401 - loaded once, before any fork

    confinement = Confinement(_COURSE_ROOT)  # the rules, built once; each exercise's process applies them

    base = tempfile.mkdtemp(prefix="course-grade-", dir=scratch)
    os.chmod(base, 0o711)  # a dropped-privilege runner may enter its own directory, not list others
    while True:
        with selectors.DefaultSelector() as selector:
            selector.register(0, selectors.EVENT_READ)
            selector.select()  # a job is waiting, or the grader closed the pipe
        pid = os.fork()
        if pid == 0:
            _prctl(_PR_SET_CHILD_SUBREAPER, 1)
            code = 2
            try:
                code = _one_job(base, confinement, groups, private_ipc)
            finally:  # whatever happened (a SystemExit of an imported module), never back into the loop
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        _kill_tree(pid, alive=False)
        if os.waitstatus_to_exitcode(status) != 0:  # end of input, or the job's process was killed
            break
    remove_tree(base)


def _one_job(
    base: str, confinement: Confinement, groups: dict[str, str] | None, private_ipc: bool = False
) -> int:
    """Read one job from stdin, serve it; 0 when done, 1 at end of input."""
    head = read_exact(0, LENGTH.size)
    if head is None:
        return 1
    job = pickle.loads(read_exact(0, LENGTH.unpack(head)[0]) or b"")
    for frame in _serve(job, base, confinement, groups, private_ipc):
        _write(LENGTH.pack(len(frame)) + frame)
    _write(LENGTH.pack(0))
    return 0


def _write(data: bytes) -> None:
    write_all(_channel, data)


def _serve(
    job: dict, base: str, confinement: Confinement, groups: dict[str, str] | None, private_ipc: bool = False
):
    """Run each exercise of the job in a forked process of its own, in control groups of its own
    where the sandbox has `groups` (`cgroup`); yield one frame per exercise."""
    _pre_import(job["imports"])
    # imported after the setup cell's modules, before any fork; the references found once for all
    from course.grader.sandbox import relay, runner

    runner.prepare()

    for exercise_id, index, cases in job["exercises"]:
        workdir = tempfile.mkdtemp(dir=base)
        if job["drop_to"] is not None:
            os.chown(workdir, job["drop_to"], job["drop_to"])
        read_fd, write_fd = os.pipe()
        budget = Budget(job["memory"], job["processes"])
        group = _exercise_group(groups, job)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            if group is not None:
                _join_or_exit(group)
            _own_ipc_namespace()
            relay.run_exercise(
                job, job["notebooks"][index], exercise_id, cases, write_fd, workdir, confinement
            )
        os.close(write_fd)
        data, status = _collect(pid, read_fd, job["timeout"], job["output_bytes"], _over(group, budget))
        if group is not None:
            status = _held(group, status)
            group.remove()
        header = {"exercise": exercise_id, "status": status, "seconds": round(time.monotonic() - started, 3)}
        remove_tree(workdir)
        if job["drop_to"] is not None:
            _sweep(job["drop_to"])
        _remove_ipc(job["drop_to"], private_ipc)
        yield encode_frame(header, [np.frombuffer(data, dtype=np.uint8)])


def _exercise_group(groups: dict[str, str] | None, job: dict) -> ExerciseGroup | None:
    """The exercise's control groups (its memory, and its processes with its own two), or None."""
    if groups is None:
        return None
    try:
        return ExerciseGroup(groups, "exercise", job["memory"], job["processes"] + OWN_PROCESSES)
    except OSError:
        return None


def _over(group: ExerciseGroup | None, budget: Budget) -> Callable[[], str]:
    """What ends the exercise early: a process the kernel killed for the group's memory (the exercise
    is then broken), else the budget. A fork the kernel refused does not: the student's code got an
    error it may handle, as with any other limit."""
    if group is None:
        return budget.over
    return lambda: "memory" if group.killed_for_memory() else budget.over()


def _held(group: ExerciseGroup, status: str) -> str:
    """The status, told what the kernel held: "memory" if it killed a process of the exercise for
    memory, "processes" if it refused a fork of an exercise that did not end normally."""
    if group.killed_for_memory():
        return "memory"
    if group.refused_a_fork() and status != "exited 0":
        return "processes"
    return status


def _join_or_exit(group: ExerciseGroup) -> None:
    """In the exercise's process, before anything else: join its groups, or end without running it."""
    try:
        group.join()
    except OSError:
        os._exit(3)


def _collect(pid: int, fd: int, timeout: float, limit: int, over: Callable[[], str]) -> tuple[bytes, str]:
    """Read the relay's frames until it exits, overruns its time or its limits (`over()`, asked every
    PERIOD: "memory" or "processes" across all its processes, else ""), or writes too much; then end
    it and everything it started. Returns the bytes and a status: "exited 0", "signal SIGSEGV",
    "timeout", "memory", "processes", "output"."""
    deadline = time.monotonic() + timeout
    check = time.monotonic() + PERIOD
    chunks, size, status, code = [], 0, None, None
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while status is None:
            if code is None:
                done, code = os.waitpid(pid, os.WNOHANG)
                code = code if done else None
            ready = selector.select(timeout=0.02 if code is None else 0)
            chunk = _read(fd) if ready or code is not None else b""
            if ready and not chunk and code is None:
                time.sleep(0.001)  # end of file, but the runner has not exited yet
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                status = "output"
            elif code is not None and not chunk:
                status = _exit_status(code)
            elif time.monotonic() > deadline:
                status = "timeout"
            elif code is None and time.monotonic() > check:
                check = time.monotonic() + PERIOD
                status = over() or None
    os.close(fd)
    _kill_tree(pid, code is None)
    return b"".join(chunks)[:limit], status


_CLONE_NEWIPC = 0x08000000
_IPC_RMID = 0
_SYSV = ("shm", "sem", "msg")


def _own_ipc_namespace() -> None:
    """In the exercise's process, before any student code: an IPC namespace of its own, where the
    sandbox may make one (root, or bubblewrap's user namespace), so that the System V shared memory,
    semaphores and message queues its code makes are destroyed with its last process. Such an object
    outlives the processes that made it, and memory no process maps counts in no process's PSS: 384 MB
    left by each exercise's setup cell stayed in the kernel after the run. Where unshare fails (no
    privilege), `_remove_ipc` removes them after the exercise, which it does either way."""
    ctypes.CDLL(None, use_errno=True).unshare(_CLONE_NEWIPC)


def _remove_ipc(uid: int | None, private: bool) -> None:
    """Remove the System V objects an exercise left in the sandbox's IPC namespace (when it could not
    have one of its own): those the student's uid made, or, in a namespace private to the sandbox,
    those of anyone. Run by a process of that uid, the one allowed to, besides CAP_SYS_ADMIN."""
    if uid is None and not private:
        return  # student code ran as this user in the machine's namespace: its objects are not told apart
    left = _sysv_objects(uid)
    if not any(left.values()):
        return
    pid = os.fork()
    if pid == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            for creator in {c for ids in left.values() for _, c in ids}:
                if os.fork() == 0:  # one process per creator, each as that creator
                    try:
                        if creator != os.geteuid():
                            os.setgroups([])
                            os.setuid(creator)
                        for kind, ids in left.items():
                            for ident, _ in (i for i in ids if i[1] == creator):
                                if kind == "shm":
                                    libc.shmctl(ident, _IPC_RMID, None)
                                elif kind == "sem":
                                    libc.semctl(ident, 0, _IPC_RMID)
                                else:
                                    libc.msgctl(ident, _IPC_RMID, None)
                    finally:
                        os._exit(0)
                os.wait()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _sysv_objects(uid: int | None) -> dict[str, list[tuple[int, int]]]:
    """kind -> (id, creator's uid) of the System V objects in this IPC namespace that `uid` made (any
    uid: None)."""
    found: dict[str, list[tuple[int, int]]] = {}
    for kind in _SYSV:
        found[kind] = []
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *lines = f.read().splitlines()
        except OSError:
            continue
        names = header.split()
        for line in lines:
            fields = dict(zip(names, line.split(), strict=False))
            try:
                ident, creator = int(fields[names[1]]), int(fields["cuid"])
            except (KeyError, ValueError, IndexError):
                continue
            if uid is None or creator == uid:
                found[kind].append((ident, creator))
    return found


SHARED = ("/tmp", "/var/tmp", "/dev/shm")  # world-writable: what one student leaves there, the next finds


def _sweep(uid: int) -> None:
    """Remove what the student's uid left in the world-writable folders, so the next student graded
    under this uid (the same worker's) finds nothing of it. (Landlock already keeps student code out
    of them where the kernel has it.)"""
    for folder in SHARED:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    remove_tree(entry.path)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""


def _exit_status(code: int) -> str:
    if os.WIFSIGNALED(code):
        return f"signal {signal.Signals(os.WTERMSIG(code)).name}"
    return f"exited {os.waitstatus_to_exitcode(code)}"


def _kill_tree(pid: int, alive: bool) -> None:
    """SIGKILL the runner's process group, the runner, and every process that came back to this
    subreaper, until no child is left."""
    for kill in ((lambda: os.killpg(pid, signal.SIGKILL)), (lambda: os.kill(pid, signal.SIGKILL))):
        try:
            kill()
        except OSError:
            pass
    if alive:
        os.waitpid(pid, 0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for child in _children():
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.01)


def _children() -> list[int]:
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me:
            found.append(int(entry))
    return found


def _pre_import(names: list[str]) -> None:
    """Import the modules the notebook's cells name, when they belong to PRE_IMPORT (so each exercise's
    process finds them loaded: a course module cannot be imported once the references are poisoned); a
    module that fails here fails again, with its message, in the cell."""
    for name in names:
        if name.split(".")[0] in PRE_IMPORT:
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001, S110 - reported when the cell imports it (even SystemExit)
                pass


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    main()
