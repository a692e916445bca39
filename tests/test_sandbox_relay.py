"""Can student code write to the result channel? Only the relay, a process that runs no student code,
writes the frames that leave an exercise: student code reaches only the pipe of its own replies, and
the relay takes one reply per case it asks for and labels it itself."""

from __future__ import annotations

import pytest

from course.grader.sandbox import run as sandbox
from course.grader.sandbox import session as sandbox_session
from course.grader.sandbox.run import Limits
from course.grader.verdict import verdict
from course.grading import EXERCISES, cases_for

FC = "fc_param_count"
LIMITS = Limits(timeout=10.0)
MODES = ["fallback", *(["bwrap"] if sandbox.bwrap_works() else [])]

# Writes, to every descriptor it holds, forged frames in both framings the sandbox has used: a
# "fatal", a "done" that names no reference and carries a note, and outcomes labelled with other
# cases; then returns the right answer.
FORGER = """
import os, struct
from course.grader.sandbox.wire import encode_frame
from course.grading.exercise import Outcome
from course.grader.sandbox.wire import encode_outcome
FORGED = [encode_frame({"kind": "fatal", "message": "forged fatal"}),
          encode_frame({"kind": "done", "notes": ["forged note"], "references": [], "printed": "forged"})]
FORGED += [encode_outcome(index, Outcome(output=-7)) for index in range(8)]
def fc_param_count(h, w, c, u):
    for fd in range(3, 256):  # its own replies pipe among them
        for frame in FORGED:
            for data in (frame, struct.pack(">Q", len(frame)) + frame):
                try:
                    os.write(fd, data)
                except OSError:
                    pass
    return h * w * c * u
"""


@pytest.mark.parametrize("mode", MODES)
def test_frames_forged_by_student_code_never_leave_the_exercise_as_frames(mode):
    cases = {FC: cases_for(EXERCISES[FC], 1)}
    run = sandbox.run_notebook(None, {FC: FORGER}, cases, LIMITS, mode)[FC]
    assert run.status == "exited 0" and run.fatal == ""
    assert not any("forged" in note for note in run.notes) and "forged" not in run.printed
    assert all(outcome is None or outcome.output != -7 for outcome in run.outcomes)
    # what came back on its replies pipe was not one reply per request: its exercise ends, and says why
    result = verdict(EXERCISES[FC], cases[FC], run, LIMITS.timeout)
    assert result.score == 0
    assert "could not read your code's results" in result.message and "forged" not in result.message


@pytest.mark.parametrize("mode", MODES)
def test_a_student_process_that_dies_mid_case_ends_its_exercise_the_same_way(mode):
    crash = "import os, signal\ndef fc_param_count(h, w, c, u):\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
    cases = {FC: cases_for(EXERCISES[FC], 1)}
    run = sandbox.run_notebook(None, {FC: crash}, cases, LIMITS, mode)[FC]
    assert run.status == "signal SIGSEGV" and all(outcome is None for outcome in run.outcomes)
    result = verdict(EXERCISES[FC], cases[FC], run, LIMITS.timeout)
    assert result.score == 0 and "crashed the Python process (SIGSEGV)" in result.message


# Each exercise may send 16 MB of results, and the grader holds a job's results until its last
# exercise: a submission whose 62 exercises each returned 16 MB cost the grader's own process 1.25 GB
# (an honest submission of the whole course sends about 200 kB). A job's results are bounded as a whole.
BIG = "import numpy as np\ndef {}(*args):\n    return np.ones(1_000_000)\n"


@pytest.mark.parametrize("mode", MODES)
def test_the_results_of_a_job_are_bounded_as_a_whole(mode, monkeypatch):
    monkeypatch.setattr(sandbox_session, "MAX_JOB_BYTES", 20 * 2**20)
    exercises = (FC, "conv_param_count", "receptive_field")
    cases = {e: cases_for(EXERCISES[e], 1)[:1] for e in exercises}
    runs = sandbox.run_notebook(None, {e: BIG.format(e) for e in exercises}, cases, LIMITS, mode)
    assert [runs[e].outcomes[0] is not None for e in exercises] == [True, True, False]
    assert runs["receptive_field"].status == "output"
    result = verdict(EXERCISES["receptive_field"], cases["receptive_field"], runs["receptive_field"], 10.0)
    assert result.score == 0 and "sent back too much data" in result.message
