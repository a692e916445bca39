"""Inside the sandbox: the exercise's process, which runs no student code and alone writes its results.

Forked by `course.grader.sandbox.child` for one exercise, it forks the student's process
(`course.grader.sandbox.runner`) and keeps the one descriptor student code never holds: the result
channel to the job process. It asks the student's process for one case at a time (a case number on a
pipe) and reads back one reply per request, as an 8-byte length and a frame, at most `output_bytes` in
all; it decodes each reply as hostile data (`wire`: bounded and total) and writes its own frame for it,
labelled with the case it asked for. So the result channel carries only frames this process wrote,
in the order it chose; what student code decides is the content of its own answers and nothing else.
Student code cannot reach this process: it runs as another user where it can, under Landlock (no
signals or ptrace outside its domain), and this process is not dumpable. When the student's process
ends early, this one ends the same way (same exit code or signal), so the job process reports it.

Layering: imports `wire`, `runner` and `confine` of the sandbox, and `course.grading.exercise`.
"""

from __future__ import annotations

import os
import signal

from course.grader.sandbox import runner
from course.grader.sandbox.confine import Confinement
from course.grader.sandbox.session import LENGTH
from course.grader.sandbox.wire import (
    decode_frames,
    decode_outcome,
    encode_frame,
    encode_outcome,
    read_exact,
    write_all,
)
from course.grading.exercise import Case

__all__ = ["END", "run_exercise"]

END = -1  # the request that means: no more cases, send what is left and exit


def run_exercise(
    job: dict,
    notebook: dict,
    exercise_id: str,
    cases: list[Case],
    result_fd: int,
    workdir: str,
    confinement: Confinement,
) -> None:
    """Run `exercise_id` of `notebook` ({"setup": source, "cells": {id: source}}) on `cases` in a
    student's process forked from this one, under `job`'s limits and `confinement`; write to
    `result_fd` a frame per case that came back (in order), a "fatal" frame when the exercise could
    not run, and a "done" frame; then exit like the student's process did. Never returns."""
    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    student = os.fork()
    if student == 0:
        os.close(result_fd)
        os.close(requests_write)
        os.close(replies_read)
        runner.run_student(
            job, notebook, exercise_id, cases, requests_read, replies_write, workdir, confinement
        )
    os.close(requests_read)
    os.close(replies_write)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a student's process gone: writes fail, they do not kill
    try:
        finished = _relay(len(cases), _Replies(replies_read, job["output_bytes"]), requests_write, result_fd)
    except _Garbled as problem:  # the student's process wrote to its replies pipe itself: it is ended
        _kill(student)
        write_all(result_fd, encode_frame({"kind": "done", "notes": [str(problem)], "references": []}))
        finished = True
    except BaseException:  # noqa: BLE001 - whatever happened, the student's process tells how it ended
        finished = False
    if finished:  # every frame is written: the student's process (and what it started) may go
        _kill(student)
        os.waitpid(student, 0)
        os._exit(0)
    os._exit(_mirror(student))


def _relay(n_cases: int, replies: _Replies, requests_fd: int, result_fd: int) -> bool:
    """Ask for each case and relay the answer; True when the student's process sent its last frame,
    False when it ended before; _Garbled when what it sent is not one reply per request."""
    first = replies.next()
    if first is None:
        return False
    if first.get("kind") == "fatal":
        write_all(result_fd, encode_frame({"kind": "fatal", "message": first.get("message")}))
    elif first.get("kind") == "ready":
        for index in range(n_cases):
            if not _ask(requests_fd, index):
                return False
            reply = replies.next()
            if reply is None:
                return False
            try:
                outcome = decode_outcome(reply, replies.arrays)
            except ValueError as error:
                raise _Garbled(f"the reply for case {index + 1} is not a result ({error})") from None
            write_all(result_fd, encode_outcome(index, outcome))
    else:
        raise _Garbled("the first reply is neither 'ready' nor 'fatal'")
    _ask(requests_fd, END)
    last = replies.next()
    if last is None:
        return False
    if last.get("kind") != "done":
        raise _Garbled("the last reply is not 'done'")
    # the fields as sent (plain JSON, within the output limit): the grader bounds and checks each
    done = {"kind": "done", **{key: last.get(key) for key in ("notes", "references", "printed")}}
    write_all(result_fd, encode_frame(done))
    return True


class _Garbled(Exception):
    """What the student's process sent is not one reply per request."""

    def __init__(self, what: str):
        super().__init__(
            f"the grader could not read your code's results: {what}. Did your code write to a file "
            "descriptor it did not open itself?"
        )


class _Replies:
    """The student's process's replies: an 8-byte length, then one frame; at most `limit` bytes."""

    def __init__(self, fd: int, limit: int):
        self.fd, self.left, self.limit = fd, limit, limit
        self.arrays: list = []

    def next(self) -> dict | None:
        """The next reply's header (its arrays in `self.arrays`); None when the student's process
        ended; _Garbled when it sent more than its limit or something that is not one frame."""
        head = self._read(LENGTH.size)
        if head is None:
            return None
        (length,) = LENGTH.unpack(head)
        if length > self.left:
            raise _Garbled(f"more than {self.limit / 2**20:g} MB of results, or bytes that are not a reply")
        body = self._read(length)
        if body is None:
            return None
        frames, problem = decode_frames(body, max_frames=1)
        if problem or len(frames) != 1:
            raise _Garbled(problem or "an empty reply")
        header, self.arrays = frames[0]
        return header

    def _read(self, size: int) -> bytes | None:
        data = read_exact(self.fd, size)
        self.left -= size
        return data


def _ask(fd: int, index: int) -> bool:
    try:
        os.write(fd, runner.REQUEST.pack(index))
        return True
    except OSError:
        return False


def _kill(pid: int) -> None:
    for kill in ((lambda: os.killpg(pid, signal.SIGKILL)), (lambda: os.kill(pid, signal.SIGKILL))):
        try:
            kill()
        except OSError:
            pass


def _mirror(student: int) -> int:
    """Wait for the student's process; return its exit code, or end this process by the same signal."""
    _, status = os.waitpid(student, 0)
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
