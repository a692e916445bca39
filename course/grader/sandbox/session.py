"""A sandbox process that grades one student's job after another, and the cleanup around it.

Starting a sandbox costs about a second (Python, numpy, numba, matplotlib), so a grading worker keeps
one (`Sandbox`) and sends it job after job: a job is a length-prefixed pickle on its stdin (trusted ->
untrusted), and the answer is a length-prefixed frame per exercise on its stdout, then a zero length.
The sandbox's first process never runs student code nor holds a job: each job is served by a process
forked for it, and every process an exercise left behind is killed before the next exercise starts,
so students do not meet. A sandbox that dies, overruns its time or
sends garbage is killed with its process group and replaced by a fresh one for the next job.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import pickle
import selectors
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time

import numpy as np

from course.grader.sandbox.budget import descendants
from course.grader.sandbox.cgroup import SandboxGroups
from course.grader.sandbox.launch import ENV, command, student_uid
from course.grader.sandbox.wire import decode_frames, encode_frame

__all__ = ["LENGTH", "Sandbox", "become_subreaper", "become_undumpable", "remove_tree"]

LENGTH = struct.Struct(">Q")
# bytes of results of one job, all its exercises together (an honest submission of the whole course
# sends about 200 kB): each exercise may send 16 MB, and the grader holds a job's results until its
# last exercise, so 62 exercises of 16 MB each cost the grader's own process 1.25 GB per student
MAX_JOB_BYTES = 64 * 2**20
_in_flight: set[int] = set()
_names = itertools.count()  # of the sandboxes' control groups
_lock = threading.Lock()
_subreaper = False


class Sandbox:
    """One sandbox process (started on first use), for one thread at a time."""

    def __init__(self, mode: str, hide: tuple[str, ...] = (), slot: int = 0):
        self.mode, self.hide = mode, hide
        self.uid = student_uid(mode, slot)  # who student code runs as (None: the grader's user)
        self.process: subprocess.Popen | None = None
        self.stderr = None
        self.scratch: str | None = None
        self.groups: SandboxGroups | None = None

    def run(self, job: dict, seconds: float) -> tuple[list[bytes], str]:
        """Send `job`; return the exercise frames that came back within `seconds`, and "" or why the
        sandbox ended early (it is then closed; the next run starts a new one)."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        payload = pickle.dumps(job)
        try:
            self.process.stdin.write(LENGTH.pack(len(payload)) + payload)
            self.process.stdin.flush()
        except OSError:
            return [], self._end("the sandbox could not take the job")
        deadline, frames, total = time.monotonic() + seconds, [], 0
        while True:
            head = self._read(LENGTH.size, deadline)
            if head is None:
                return frames, self._end(self._why(deadline, seconds))
            (length,) = LENGTH.unpack(head)
            if length == 0:
                return frames, ""
            body = self._read(length, deadline) if length <= job["output_bytes"] + 2**16 else None
            if body is None:
                return frames, self._end(self._why(deadline, seconds))
            total += len(body)
            frames.append(body if total <= MAX_JOB_BYTES else _too_much(body))

    def close(self) -> None:
        """End the sandbox (and everything in it); a run in progress in another thread then ends."""
        if self.process is not None:
            self._end("")

    def start(self) -> None:
        """Start the sandbox process now (it imports for about a second while the caller goes on)."""
        self.stderr = tempfile.TemporaryFile()
        # without bubblewrap, the working directories go in a folder this side removes, even after a crash
        self.scratch = tempfile.mkdtemp(prefix="course-grade-") if self.mode != "bwrap" else None
        self.groups = SandboxGroups.make(f"course-grade-{os.getpid()}-{next(_names)}")
        outside = self.groups.paths if self.groups else {}
        inside = {c: (f"/run/course-cgroup/{c}" if self.mode == "bwrap" else p) for c, p in outside.items()}
        private_ipc = self.mode == "bwrap"  # bubblewrap gives the sandbox an IPC namespace of its own
        code = (
            "from course.grader.sandbox.child import main; "
            f"main({self.scratch!r}, {inside or None!r}, {private_ipc!r})"
        )
        with _lock:
            self.process = subprocess.Popen(
                command(self.mode, self.hide, code, binds={outside[c]: inside[c] for c in outside}),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                cwd="/tmp" if self.mode == "bwrap" else None,
                env=ENV,
                start_new_session=True,
            )
            _in_flight.add(self.process.pid)
        os.set_blocking(self.process.stdout.fileno(), False)

    def _read(self, size: int, deadline: float) -> bytes | None:
        """Exactly `size` bytes from the sandbox's stdout, or None at end of file or the deadline."""
        chunks, got = [], 0
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while got < size:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=min(left, 1.0)) and time.monotonic() >= deadline:
                    return None
                try:
                    chunk = os.read(fd, min(size - got, 1 << 20))
                except BlockingIOError:
                    continue
                if not chunk:
                    return None
                chunks.append(chunk)
                got += len(chunk)
        return b"".join(chunks)

    def _why(self, deadline: float, seconds: float) -> str:
        if time.monotonic() >= deadline:
            return f"the sandbox ran out of time ({seconds:g} s)"
        self.process.poll()
        why = f"the sandbox ended (exit code {self.process.returncode})"
        self.stderr.seek(0)
        lines = self.stderr.read()[-2000:].decode(errors="replace").strip().splitlines()
        return why + (f": {lines[-1][:300]}" if lines else "")

    def _end(self, why: str) -> str:
        process, self.process = self.process, None
        if process is None:  # ended already, by another thread
            return why
        tree = descendants(process.pid)
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            process.wait(timeout=5 if not why else 0.1)  # a sandbox told to finish exits at end of input
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
        _kill_and_wait(tree)  # the sandbox's own processes, to the last, before the grader goes on
        self.stderr.close()
        if self.scratch:
            remove_tree(self.scratch)
        if self.groups:
            self.groups.remove()
        with _lock:
            _in_flight.discard(process.pid)
            _kill_strays()
        return why


def remove_tree(path: str) -> None:
    """Remove the folder `path` and all it holds, however deep, links not followed; quietly. Student
    code writes in the folders removed here: shutil.rmtree recurses once per level and raised
    RecursionError (which ignore_errors does not cover) on a folder 3,000 levels deep, so such a tree
    is left to `rm`, which walks it without recursion."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:
        pass
    if os.path.lexists(path):
        subprocess.run(
            ["rm", "-rf", "--one-file-system", "--", path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


def _too_much(frame: bytes) -> bytes:
    """An exercise's frame past the job's MAX_JOB_BYTES: its header with the status "output" (the
    exercise sent back too much) and none of its results; b"" if it is not a frame."""
    decoded, _ = decode_frames(frame, max_frames=1)
    if not decoded:
        return b""
    header = {key: decoded[0][0].get(key) for key in ("exercise", "seconds")}
    return encode_frame({**header, "status": "output"}, [np.zeros(0, dtype=np.uint8)])


def become_subreaper() -> None:
    """Make this process the one that inherits orphans of the sandboxes it starts (Linux), so that a
    process that escaped a killed sandbox is found and killed (`_kill_strays`) rather than left behind.
    Children that did not come from a sandbox are left alone (see `_from_a_sandbox`)."""
    global _subreaper
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        _subreaper = True
    except (OSError, AttributeError):
        pass


def become_undumpable() -> None:
    """Make this process's memory and /proc files (environ, mem, fd, ...) unreadable to other
    processes of its user, and to ptrace: the grader holds the secret and every student's work, and
    without Landlock or a uid of its own, student code runs as the grader's user (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass


def _kill_strays() -> None:
    """Kill and reap this process's children that came from a sandbox but are not a running sandbox:
    orphans re-parented here because this process is a subreaper. The caller holds _lock."""
    if not _subreaper:
        return
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in _in_flight:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = f.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if parent == me and _from_a_sandbox(int(entry)):
            try:
                os.kill(int(entry), signal.SIGKILL)
                os.waitpid(int(entry), 0)
            except OSError:
                pass


def _from_a_sandbox(pid: int) -> bool:
    """A process started with the sandbox's environment, or one of another user (student code that
    dropped to `nobody`); not, say, a Jupyter kernel that a test run started beside the grader."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return b"COURSE_SANDBOX=1" in f.read().split(b"\0")
    except PermissionError:
        return True
    except OSError:
        return False


def _kill_and_wait(pids: list[int], seconds: float = 5.0) -> None:
    """SIGKILL these processes and wait (a while) until they are gone."""
    deadline = time.monotonic() + seconds
    while pids and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        pids = [pid for pid in pids if _alive(pid)]
        if pids:
            time.sleep(0.01)


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
