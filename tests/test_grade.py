"""Does `course grade` give every submission, honest, broken or hostile, the score an honest grader
would, keep the gradebook intact, and leave no process behind? Both with bubblewrap and without."""

from __future__ import annotations

import argparse
import csv
import errno
import json
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from grading_corpus import (
    REPO,
    SLEEP_MARK,
    ScaleArray,
    broken_files,
    full_marks,
    honest_notebooks,
    hostile_cells,
    leaving_processes_cell,
    printing_cell,
    stealing_cells,
    write_student,
)

from course.grader import class_run, grade
from course.grader.sandbox import cgroup, confine
from course.grader.sandbox import run as sandbox
from course.grader.sandbox.run import Limits
from course.grader.verdict import verdict
from course.grading import EXERCISES, cases_for

LIMITS = Limits(timeout=3.0, memory=512 * 2**20)
FC = "fc_param_count"  # hostile students submit only its notebook, which also holds scale_array
VISIBLE_FC_ARGS = {case.args for case in cases_for(EXERCISES[FC], None)}  # what a student can see


@pytest.fixture(scope="module", autouse=True)
def scale_array_registered():
    """The test-only exercise joins the registry for this module (the grader reads it from there)."""
    EXERCISES["scale_array"] = ScaleArray()
    yield
    del EXERCISES["scale_array"]


def _modes():
    return [
        pytest.param("bwrap", marks=pytest.mark.skipif(not sandbox.bwrap_works(), reason="no bwrap")),
        "fallback",
    ]


def _build_class(root: Path) -> tuple[Path, Path, Path, dict[str, dict[str, float]]]:
    """The corpus: submissions, the gradebook folder, a file outside every sandbox, expected points."""
    subs, out, sentinel = root / "submissions", root / "out", root / "precious.txt"
    sentinel.write_text("do not delete")
    honest = full_marks(only=FC)
    write_student(subs / "honest")
    expected = {"honest": full_marks()}
    for student, (exercise, cell) in hostile_cells(out, subs, sentinel).items():
        write_student(subs / student, {exercise: cell}, only=FC)
        expected[student] = {**honest, exercise: 0.0}
    if confine.abi() >= 6:  # without Landlock's file rules and scopes, these attacks succeed (README)
        for student, cell in stealing_cells(out, subs).items():
            write_student(subs / student, {FC: cell}, only=FC)
            expected[student] = {**honest, FC: 0.0}
    # right on the visible cases only: the hidden ones, drawn for each student, must cost half the points
    memorised = f"def {FC}(h, w, c, u):\n    if (h, w, c, u) in {VISIBLE_FC_ARGS!r}:\n"
    memorised += "        return h * w * c * u\n    return -1\n"
    write_student(subs / "memorised_visible", {FC: memorised}, only=FC)
    expected["memorised_visible"] = {**honest, FC: honest[FC] / 2}
    write_student(subs / "leaves_processes", {FC: leaving_processes_cell()}, only=FC)
    write_student(subs / "prints_50mb", {FC: printing_cell()}, only=FC)
    write_student(subs / "lost_metadata", metadata=False, only=FC)
    checking = f"def {FC}(h, w, c, u):\n    return h * w * c * u\n\n"
    checking += f"check({FC!r}, {FC})\nf = fallback({FC!r}, {FC})\n"  # left in the cell: no harm
    write_student(
        subs / "checks_in_its_cell", {FC: "from course.grading import fallback\n" + checking}, only=FC
    )
    expected.update(
        leaves_processes=honest, prints_50mb=honest, lost_metadata=honest, checks_in_its_cell=honest
    )
    stubs = {e: f"def {e}(*args, **kwargs):\n    raise NotImplementedError({e!r})\n" for e in EXERCISES}
    write_student(subs / "stub", stubs, only=FC)
    broken_files(subs / "broken_files")
    (subs / "empty_folder").mkdir()
    (subs / "links_to_a_classmate").symlink_to(subs / "honest")  # a whole folder that is a link
    (subs / "links_inside").mkdir()
    for notebook in (subs / "honest").iterdir():  # a real folder of links to a classmate's notebooks
        (subs / "links_inside" / notebook.name).symlink_to(notebook)
    for student in ("stub", "broken_files", "empty_folder", "links_to_a_classmate", "links_inside"):
        expected[student] = dict.fromkeys(EXERCISES, 0.0)
    return subs, out, sentinel, expected


@pytest.fixture(scope="module", params=_modes())
def graded(request, tmp_path_factory):
    subs, out, sentinel, expected = _build_class(tmp_path_factory.mktemp(request.param))
    grades = class_run.grade_class(
        subs,
        out,
        workers=2,
        limits=LIMITS,
        mode=request.param,
        progress=False,  # a secret kept in out
    )
    return request.param, {g.student: g for g in grades}, subs, out, sentinel, expected


def _table(out: Path) -> dict[str, dict[str, float]]:
    with open(out / "grades.csv") as f:
        return {row.pop("student"): {k: float(v) for k, v in row.items()} for row in csv.DictReader(f)}


def _protected(mode: str) -> bool:
    """Whether student code was kept away from the filesystem (bubblewrap, or dropped to nobody)."""
    return mode == "bwrap" or sandbox.drop_to(mode) is not None


def test_every_submission_gets_the_score_an_honest_grader_gives(graded):
    _, _, _, out, _, expected = graded
    table = _table(out)
    assert set(table) == set(expected)
    for student, points in expected.items():
        assert table[student] == {**points, "total": pytest.approx(sum(points.values()))}, student


def test_the_json_of_each_student_is_gradescope_results_agreeing_with_the_csv(graded):
    _, _, _, out, _, expected = graded
    table = _table(out)
    for student in expected:
        data = json.loads((out / f"{student}.json").read_text())
        assert data["score"] == pytest.approx(table[student]["total"])
        assert [t["name"].split(":")[0] for t in data["tests"]] == list(EXERCISES)
        for test in data["tests"]:
            assert set(test) == {"name", "score", "max_score", "output", "visibility"}
            assert test["score"] == pytest.approx(table[student][test["name"].split(":")[0]])


@pytest.mark.parametrize(
    "student, exercise, words",
    [
        ("loop_at_top_level", "fc_param_count", "ran out of time"),
        ("loop_in_function", "fc_param_count", "ran out of time"),
        ("ignores_signals", "fc_param_count", "ran out of time"),
        ("segfault", "fc_param_count", "crashed"),
        ("syntax_error", "fc_param_count", "syntax error"),
        ("os_exit", "fc_param_count", "tried to exit"),
        ("keyboard_interrupt", "fc_param_count", "KeyboardInterrupt"),
        ("runaway_recursion", "fc_param_count", "RecursionError"),
        ("memory_hog", "fc_param_count", "MemoryError"),
        ("calls_reference", "fc_param_count", "course.functional.conv2d"),
        ("reloads_reference", "fc_param_count", "cannot be imported again"),
        ("nan_output", "scale_array", "non-finite"),
        ("wrong_shape", "scale_array", "has shape"),
        ("stub", "fc_param_count", "not attempted"),
    ],
)
def test_the_feedback_says_what_went_wrong(graded, student, exercise, words):
    _, grades, *_ = graded
    assert words in str(grades[student].results[exercise])


def test_unreadable_files_get_a_row_with_zero_and_a_reason(graded):
    _, grades, *_ = graded
    notes = "\n".join(grades["broken_files"].notes)
    for reason in ("the file is empty", "binary data", "invalid JSON", "not a Jupyter notebook"):
        assert reason in notes
    assert "no readable notebook" in "\n".join(grades["empty_folder"].notes)
    assert "this folder is a symbolic link: not graded" in grades["links_to_a_classmate"].notes
    assert "symbolic link: not read" in "\n".join(grades["links_inside"].notes)


def test_the_report_says_which_sandbox_was_used(graded):
    mode, grades, *_ = graded
    note = grades["honest"].notes[0]
    assert ("bubblewrap unavailable" in note) == (mode == "fallback")


def test_the_gradebook_and_other_students_are_intact_after_a_vandal(graded):
    mode, _, subs, out, sentinel, _ = graded
    assert json.loads((out / "honest.json").read_text())["score"] == pytest.approx(sum(full_marks().values()))
    assert json.loads((out / "vandal.json").read_text())["extra_data"]["exercises"]["fc_param_count"] == 0
    if _protected(mode):  # without either, student code can touch what the grading user can (README)
        assert sentinel.read_text() == "do not delete"
        assert (subs / "honest").is_dir()
        assert not (out / "evil.txt").exists()


def test_nothing_is_left_outside_the_sandbox(graded):
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not [p for p in Path(folder).glob(f"course-grade-{SLEEP_MARK}*")]


def test_no_process_of_a_submission_is_left(graded):
    leftovers = []
    for entry in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ours = "course.grader.sandbox.child" in command and str(REPO) in command  # not another checkout's
        if SLEEP_MARK in command or ours:
            leftovers.append(command)
    assert leftovers == []


def test_a_rerun_resumes_without_regrading_finished_students(tmp_path, monkeypatch):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ann", "ben"):
        write_student(subs / student, only=FC)
    class_run.grade_class(subs, out, workers=2, limits=LIMITS, progress=False)  # a new secret, kept in out
    write_student(subs / "cy", only=FC)
    (out / "ben.json").write_text((out / "ben.json").read_text()[:100])  # interrupted mid-write
    graded = []
    real = class_run.grade_student
    monkeypatch.setattr(
        class_run, "grade_student", lambda files, *a: graded.append(files.student) or real(files, *a)
    )
    grades = class_run.grade_class(
        subs, out, workers=2, limits=LIMITS, progress=False
    )  # the secret of the first run
    assert sorted(graded) == ["ben", "cy"]
    assert [g.total for g in grades] == [sum(full_marks(only=FC).values())] * 3


def test_the_command_exits_0_however_badly_students_did(tmp_path, capsys):
    subs = tmp_path / "subs"
    write_student(subs / "crash", {FC: "import os\nos.kill(os.getpid(), 9)\n"}, only=FC)
    broken_files(subs / "junk")
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    args = parser.parse_args([str(subs), "--out", str(tmp_path / "out"), "--timeout", "4", "--workers", "2"])
    assert grade.run(args) == 0
    assert "Graded 2 students" in capsys.readouterr().out
    assert grade.run(parser.parse_args([str(tmp_path / "missing"), "--out", str(tmp_path)])) == 2


def test_a_crash_of_the_whole_sandbox_costs_only_the_exercise_that_ran():
    setup, cells = next(nb for nb in honest_notebooks().values() if "fc_param_count" in nb[1])
    killer = textwrap.dedent(
        """
        import os, signal
        def fc_param_count(h, w, c, u):
            os.kill(os.getppid(), signal.SIGKILL)  # the sandbox's first process, if it may
            return h * w * c * u
        """
    )
    cases = {e: cases_for(EXERCISES[e], 1) for e in cells}
    runs = sandbox.run_notebook(setup, {**cells, "fc_param_count": killer}, cases, LIMITS, "fallback")
    for exercise in cells:
        result = verdict(EXERCISES[exercise], cases[exercise], runs[exercise], LIMITS.timeout)
        assert result.score == (0.0 if exercise == "fc_param_count" else EXERCISES[exercise].points)


@pytest.mark.skipif(
    not sandbox.bwrap_works() or sandbox.drop_to("bwrap") is None,
    reason="RLIMIT_NPROC binds student code only as `nobody` here (root is exempt; a user's count is global)",
)
def test_a_fork_bomb_is_held_by_the_process_limit():
    bomb = textwrap.dedent(
        """
        import os, time
        def fc_param_count(h, w, c, u):
            forked = 0
            try:
                while True:
                    if os.fork() == 0:
                        time.sleep(1000)
                    forked += 1
            except OSError:
                return -forked
        """
    )
    honest = "def conv_param_count(kh, kw, c, f):\n    return kh * kw * c * f\n"
    ids = [FC, "conv_param_count"]
    cases = {e: cases_for(EXERCISES[e], 1) for e in ids}
    runs = sandbox.run_notebook(None, {FC: bomb, ids[1]: honest}, cases, LIMITS, "bwrap")
    assert -LIMITS.processes <= runs[FC].outcomes[0].output < 0
    assert verdict(EXERCISES[ids[1]], cases[ids[1]], runs[ids[1]], LIMITS.timeout).score == 1.0


def test_a_points_table_reweights_and_a_rerun_with_other_points_regrades(tmp_path, monkeypatch):
    subs, out = tmp_path / "subs", tmp_path / "out"
    write_student(subs / "ann", only=FC)
    grades = class_run.grade_class(
        subs, out, secret=b"3" * 16, limits=LIMITS, progress=False, points={FC: 5.0}
    )
    assert grades[0].results[FC].score == 5.0 and _table(out)["ann"][FC] == 5.0
    graded = []
    real = class_run.grade_student
    monkeypatch.setattr(
        class_run, "grade_student", lambda files, *a: graded.append(files.student) or real(files, *a)
    )
    grades = class_run.grade_class(subs, out, secret=b"3" * 16, limits=LIMITS, progress=False)
    assert graded == ["ann"] and grades[0].results[FC].score == EXERCISES[FC].points


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="needs bwrap")
def test_filling_the_disk_costs_only_that_exercise():
    filler = textwrap.dedent(
        """
        def fc_param_count(h, w, c, u):
            chunk = b"x" * 2**20
            for index in range(10**6):
                with open(f"junk{index}", "wb") as f:
                    for _ in range(8):
                        f.write(chunk)
        """
    )
    honest = "def conv_param_count(kh, kw, c, f):\n    return kh * kw * c * f\n"
    ids = [FC, "conv_param_count"]
    cases = {e: cases_for(EXERCISES[e], 1) for e in ids}
    runs = sandbox.run_notebook(None, {FC: filler, ids[1]: honest}, cases, LIMITS, "bwrap")
    assert "OSError" in runs[FC].outcomes[0].error  # "No space left on device", not a crash
    assert verdict(EXERCISES[ids[1]], cases[ids[1]], runs[ids[1]], LIMITS.timeout).score == 1.0


# Writes past the per-file size limit (16 MB) every way it can; answers [way, errno, MiB in the file]
# for each: one file, reopened to append, at an offset (a sparse file), by truncating, from a child
# process, and after trying to raise its own limit (then also whether that worked).
GROWS_FILES = """
import os, resource
MB = 2**20
def fill(name, mode="wb", times=17):
    for _ in range(times if "a" in mode else 1):
        with open(name, mode) as f:
            for _ in range(1 if "a" in mode else times):
                f.write(b"x" * MB)
def at_offset(name):
    fd = os.open(name, os.O_CREAT | os.O_WRONLY)
    os.pwrite(fd, b"x", 64 * MB)
def truncated(name):
    fd = os.open(name, os.O_CREAT | os.O_WRONLY)
    os.ftruncate(fd, 64 * MB)
def from_a_child(name):
    pid = os.fork()
    if pid == 0:
        try:
            fill(name)
        except OSError as error:
            os._exit(error.errno)
        os._exit(0)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code:
        raise OSError(code, "in the child")
def attempt(way, write):
    try:
        write(way)
        error = 0
    except OSError as caught:
        error = caught.errno
    return [way, error, os.path.getsize(way) // MB]
def fc_param_count(h, w, c, u):
    ways = {"one": fill, "append": lambda n: fill(n, "ab"), "offset": at_offset, "truncate": truncated}
    answers = [attempt(way, write) for way, write in {**ways, "child": from_a_child}.items()]
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        raised = True
    except (OSError, ValueError):
        raised = False
    return answers + [[raised, *attempt("lifted", fill)]]
"""


@pytest.mark.parametrize("mode", _modes())
def test_no_file_grows_past_the_file_size_limit_however_it_is_written(mode):
    """README: "files written to the working directory are limited in size (16 MB each)"; under
    bubblewrap too (its 256 MB /tmp alone would let one file hold it all)."""
    honest = "def conv_param_count(kh, kw, c, f):\n    return kh * kw * c * f\n"
    ids = [FC, "conv_param_count"]
    cases = {FC: cases_for(EXERCISES[FC], None)[:1], ids[1]: cases_for(EXERCISES[ids[1]], 1)}
    limits = Limits(timeout=20.0)
    assert limits.file_bytes == 16 * 2**20
    runs = sandbox.run_notebook(None, {FC: GROWS_FILES, ids[1]: honest}, cases, limits, mode)
    too_large = errno.EFBIG
    assert runs[FC].status == "exited 0" and runs[FC].outcomes[0].output == [
        ["one", too_large, 16],
        ["append", too_large, 16],
        ["offset", too_large, 0],
        ["truncate", too_large, 0],
        ["child", too_large, 16],
        [False, "lifted", too_large, 16],
    ], runs[FC].outcomes
    assert verdict(EXERCISES[ids[1]], cases[ids[1]], runs[ids[1]], limits.timeout).score == 1.0


def test_a_warm_pool_starts_its_sandboxes_before_the_first_job_and_hands_them_out():
    with sandbox.SandboxPool("auto", warm=2) as pool:
        started = [s.process.pid for s in pool._waiting]
        assert len(started) == 2 and all(os.path.exists(f"/proc/{pid}") for pid in started)
        given = []
        threads = [threading.Thread(target=lambda: given.append(pool.get())) for _ in range(3)]
        for thread in threads:
            thread.start()
            thread.join()
        assert [s.process.pid if s.process else None for s in given] == [*started, None]


@pytest.mark.parametrize("mode", _modes())
def test_students_graded_at_the_same_time_run_as_different_unprivileged_uids(mode):
    if sandbox.drop_to(mode) is None:
        pytest.skip("student code cannot run as another user here (not root, or its Python is private)")
    whoami = "import os\ndef fc_param_count(h, w, c, u):\n    return os.getuid()\n"
    cases = {FC: cases_for(EXERCISES[FC], None)}
    with sandbox.SandboxPool(mode) as pool, ThreadPoolExecutor(max_workers=2) as threads:
        barrier = threading.Barrier(2)

        def one(_):
            barrier.wait()  # both workers exist at once, as in a class graded with --workers 2
            runs = sandbox.run_submission(
                [(None, {FC: whoami})], {FC: (0, cases[FC])}, LIMITS, mode, (), pool
            )
            return runs[FC].outcomes[0].output

        uids = list(threads.map(one, range(2)))
    assert len(set(uids)) == 2 and os.geteuid() not in uids and 0 not in uids


SPREADS_MEMORY = """
import os, time
import numpy as np
def fc_param_count(h, w, c, u):
    for _ in range(6):  # 6 x 100 MB, each child well under the per-process limit
        if os.fork() == 0:
            block = np.ones(100 * 2**20 // 8)
            time.sleep(30)
            os._exit(0)
    time.sleep(30)
    return h * w * c * u
"""

# Forty processes if it may; where a fork is refused (a control group, or RLIMIT_NPROC of its uid, one
# above the budget) it keeps those it has. They stay 2 s, ten of the budget's periods: what ends the
# exercise sooner is the budget (or the kernel); the answer is minus the number of processes started.
SPREADS_PROCESSES = """
import os, time
def fc_param_count(h, w, c, u):
    started = 0
    try:
        for _ in range(40):
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
    except OSError:
        pass
    time.sleep(2)
    return -started
"""

MORE_MEMORY, MORE_PROCESSES = "more memory than allowed", "more processes (or threads) than allowed"
NEEDS_GROUPS = pytest.mark.skipif(
    cgroup._bases() is None, reason="no writable cgroup v1 memory and pids hierarchies here"
)


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize(
    "cell, groups, status, answers, words",
    [
        pytest.param(
            SPREADS_MEMORY, True, "memory", [None], MORE_MEMORY, marks=NEEDS_GROUPS, id="memory-groups"
        ),
        pytest.param(SPREADS_MEMORY, False, "memory", [None], MORE_MEMORY, id="memory-no_groups"),
        # the pids group refuses the 17th fork; the code goes on with its 16 and answers
        pytest.param(
            SPREADS_PROCESSES, True, "exited 0", [-16], "got -16", marks=NEEDS_GROUPS, id="processes-groups"
        ),
        pytest.param(SPREADS_PROCESSES, False, "processes", [None], MORE_PROCESSES, id="processes-no_groups"),
    ],
)
def test_limits_hold_across_all_processes_of_an_exercise(
    mode, cell, groups, status, answers, words, monkeypatch
):
    """With control groups the kernel holds the exercise's memory and processes; without them (as on
    Gradescope, or for a grader that is not root) the budget alone stops the exercise as soon as its
    processes together are over either, long before its time limit."""
    if not groups:
        monkeypatch.setattr(cgroup, "_bases", lambda: None)  # as on a machine without control groups
    honest = "def conv_param_count(kh, kw, c, f):\n    return kh * kw * c * f\n"
    ids = [FC, "conv_param_count"]
    cases = {FC: cases_for(EXERCISES[FC], None)[:1], ids[1]: cases_for(EXERCISES[ids[1]], 1)}
    limits = Limits(timeout=20.0, memory=300 * 2**20, processes=16)
    runs = sandbox.run_notebook(None, {FC: cell, ids[1]: honest}, cases, limits, mode)
    result = verdict(EXERCISES[FC], cases[FC], runs[FC], limits.timeout)
    assert (runs[FC].status, [o and o.output for o in runs[FC].outcomes]) == (status, answers)
    assert result.score == 0 and runs[FC].seconds < 10  # stopped when over, not at the timeout
    assert words in str(result)
    assert verdict(EXERCISES[ids[1]], cases[ids[1]], runs[ids[1]], limits.timeout).score == 1.0


# VmHWM, not ru_maxrss: the latter keeps the peak of the (v)forked parent across exec
MEASURE = """
import sys, time
from pathlib import Path
from course.grader.class_run import grade_class
from course.grader.sandbox.run import Limits
started = time.monotonic()
grades = grade_class(Path(sys.argv[1]), Path(sys.argv[2]), workers=1, limits=Limits(timeout=30),
                     mode=sys.argv[3], progress=False)
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1]
print(int(peak) // 1024, time.monotonic() - started, [g.total for g in grades])
"""

FLOODS_THE_CHANNEL = """
import os, struct
def fc_param_count(h, w, c, u):
    frame = struct.pack(">I", 2) + b"{}"
    chunk = frame * (2**20 // len(frame))
    for fd in range(3, 64):
        try:
            for _ in range(64):
                os.write(fd, chunk)
        except OSError:
            pass
    return h * w * c * u
"""


@pytest.mark.parametrize("mode", _modes())
def test_64_mb_of_tiny_frames_cost_the_grader_bounded_memory_and_time(tmp_path, mode):
    write_student(tmp_path / "subs" / "flood", {FC: FLOODS_THE_CHANNEL}, only=FC)
    command = [sys.executable, "-c", MEASURE, str(tmp_path / "subs"), str(tmp_path / "out"), mode]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True
    )
    megabytes, seconds, totals = done.stdout.split(maxsplit=2)
    assert int(megabytes) < 500  # the grader's own peak: 2.9 GB when 64 MB of frames were kept and decoded
    assert float(seconds) < 120  # 227 s when each tiny frame was decoded
    others = [points for e, points in full_marks(only=FC).items() if e not in (FC, "scale_array")]
    assert float(totals.strip("[] \n")) == sum(others)  # the subprocess has no scale_array; fc earns 0
