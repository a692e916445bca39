"""The fallback's uid pool, tested as an attacker would: in fallback mode (what a Docker-like container
such as Gradescope's gives) a root grader runs each concurrent student's code as its own unprivileged
uid (`course.grader.sandbox.launch.student_uid`).

Here the Python lives under /root (mode 0700) and in CI in a venv in a private folder of /tmp (with its
base under /root), which no other uid can enter, so the grader finds no uid that can run it
(`drop_to("fallback")` is None) and grades as root. So each test runs the grading inside bubblewrap
(`reachable_python`): the folders that hide the Python are replaced by empty ones anyone may enter, with
the Python installation (and the course) bound back at the same paths, and /tmp, /var/tmp and /dev/shm
are fresh. A seccomp filter also hides Landlock (its system calls fail with ENOSYS, as on a kernel built
without it), so the uid pool is all that keeps the students apart: what each test sees is its doing.
Skipped only where the tests do not run as root, or bubblewrap is missing or cannot start.
"""

from __future__ import annotations

import csv
import os
import platform
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from grading_corpus import LIFT_LIMITS, REPO, write_student

from course.grader.sandbox import cgroup
from course.grading import EXERCISES

FC = "fc_param_count"
FRESH = ("/tmp", "/var/tmp", "/dev/shm")  # world-writable folders: fresh ones inside the wrapper
INSIDE = "/tmp/class"  # where the test's folder is bound inside the wrapper (the wrapper's /tmp is its own)
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}  # seccomp's names of the two architectures
_LANDLOCK_CALLS = (444, 446)  # landlock_create_ruleset .. landlock_restrict_self, the same on both
_ENOSYS = 38


def _hide_landlock() -> bytes:
    """A classic-BPF seccomp program (bubblewrap's --seccomp format): Landlock's system calls fail with
    ENOSYS, every other call is allowed."""
    first, last = _LANDLOCK_CALLS
    program = [
        (0x20, 0, 0, 4),  # load the architecture
        (0x15, 0, 4, _AUDIT_ARCH[platform.machine()]),  # another architecture: allow
        (0x20, 0, 0, 0),  # load the system call number
        (0x35, 0, 2, first),  # below the first: allow
        (0x25, 1, 0, last),  # above the last: allow
        (0x06, 0, 0, 0x00050000 | _ENOSYS),  # SECCOMP_RET_ERRNO | ENOSYS
        (0x06, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
    ]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def _private_ancestor(path: str) -> str | None:
    """The outermost folder above or at `path` that other users cannot enter, else None."""
    current = "/"
    for part in Path(path).parts[1:]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return current
    return None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def reachable_python(classroom: Path, seccomp_fd: int) -> list[str]:
    """The bubblewrap command prefix under which any uid can run this Python and the course: /tmp,
    /var/tmp and /dev/shm are fresh and world-writable, each private folder above the installation or
    the course is an empty tmpfs (0755), and the installation and the course are bound back at their
    own paths with every folder between made 0755 (bubblewrap would make them 0700); `classroom` is
    at INSIDE; Landlock is hidden (`_hide_landlock`). A venv in a private folder of /tmp (CI's) works."""
    needed = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, os.path.dirname(sys.executable))}
    needed.add(str(REPO))
    needed = {p for p in needed if not any(p != q and _inside(p, q) for q in needed)}
    options, covered = ["--dev-bind", "/", "/"], list(FRESH)
    for shared in FRESH:
        options += ["--perms", "1777", "--tmpfs", shared]
    for private in sorted({a for a in map(_private_ancestor, needed) if a}):
        if not any(_inside(private, c) for c in covered):
            options += ["--perms", "0755", "--tmpfs", private]
            covered.append(private)
    made: set[str] = set()
    for path in sorted(needed):
        cover = max((c for c in covered if _inside(path, c)), key=len, default=None)
        if cover is None:
            continue  # every uid reaches it as it is
        for folder in reversed(Path(path).relative_to(cover).parents[:-1]):
            if str(Path(cover) / folder) not in made:
                options += ["--perms", "0755", "--dir", str(Path(cover) / folder)]
                made.add(str(Path(cover) / folder))
        options += ["--bind" if path == str(REPO) else "--ro-bind", path, path]
    options += ["--bind", str(classroom), INSIDE, "--seccomp", str(seccomp_fd)]
    return ["bwrap", *options, "--die-with-parent", "--chdir", str(REPO)]


def _wrapped(classroom: Path, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run `argv` (as root) inside `reachable_python`."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, _hide_landlock())  # 56 bytes: fits in the pipe before anyone reads
        os.close(write_end)
        prefix = reachable_python(classroom, read_end)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": "/root"}
        return subprocess.run(
            [*prefix, *argv], pass_fds=(read_end,), env=env, capture_output=True, text=True, timeout=timeout
        )
    finally:
        os.close(read_end)


PROBE = """
from course.grader.sandbox import confine, launch
print(confine.abi(), launch.drop_to("fallback"), flush=True)
"""


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> Path:
    """A folder bound at INSIDE, every uid may enter it; skips where the wrapper cannot work."""
    if os.geteuid() != 0:
        pytest.skip("the uid pool needs a root grader; these tests do not run as root")
    if not shutil.which("bwrap"):
        pytest.skip("bubblewrap (bwrap) is not installed: the Python cannot be made reachable by other uids")
    if platform.machine() not in _AUDIT_ARCH:
        pytest.skip(f"no seccomp filter to hide Landlock written for {platform.machine()}")
    room = tmp_path_factory.mktemp("classroom")
    room.chmod(0o755)
    probe = _wrapped(room, [sys.executable, "-c", PROBE], timeout=120)
    if probe.returncode != 0 and "bwrap" in probe.stderr:
        pytest.skip(f"bubblewrap cannot start here: {probe.stderr.strip()[:200]}")
    assert probe.returncode == 0, probe.stderr
    landlock, uid = probe.stdout.split()
    assert landlock == "0" and uid != "None", probe.stdout  # no Landlock, and a uid that runs the Python
    return room


def _grade(classroom: Path, name: str, students: dict[str, str], workers: int) -> Path:
    """`course grade --sandbox fallback` of one FC cell per student, inside the wrapper; the gradebook."""
    subs = classroom / name / "subs"
    for student, cell in students.items():
        write_student(subs / student, {FC: cell}, only=FC)
    inside = f"{INSIDE}/{name}"
    argv = [sys.executable, "-m", "course.cli", "grade", f"{inside}/subs", "--out", f"{inside}/out"]
    argv += ["--sandbox", "fallback", "--workers", str(workers), "--timeout", "40"]
    done = _wrapped(classroom, argv, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return classroom / name / "out"


def _scores(out: Path) -> dict[str, float]:
    with open(out / "grades.csv") as f:
        return {row["student"]: float(row[FC]) for row in csv.DictReader(f)}


def _drop_box(classroom: Path, name: str) -> Path:
    """A world-writable folder (sticky, like /tmp) where students leave what the test reads."""
    box = classroom / name / "drop"
    box.mkdir(parents=True)
    box.chmod(0o1777)
    return box


CELL = """
import os, time
DROP = {drop!r}
def note(name, text):  # atomic: the other student may read it at any moment
    with open(f"{{DROP}}/.{{name}}", "w") as f:
        f.write(str(text))
    os.replace(f"{{DROP}}/.{{name}}", f"{{DROP}}/{{name}}")
def wait_for(name):
    deadline = time.monotonic() + 20
    while not os.path.exists(f"{{DROP}}/{{name}}") and time.monotonic() < deadline:
        time.sleep(0.05)
    return open(f"{{DROP}}/{{name}}").read() if os.path.exists(f"{{DROP}}/{{name}}") else None
def readable(paths):  # those this uid can list (a folder) or open (a file)
    opened = []
    for path in paths:
        try:
            os.listdir(path) if os.path.isdir(path) else open(path, "rb").close()
            opened.append(path)
        except OSError:
            pass
    return ",".join(opened)
done = False
def fc_param_count(h, w, c, u):
    global done
    if not done:
        done = True
{attack}
    return h * w * c * u
"""


def _cell(drop: str, attack: str) -> str:
    return CELL.format(drop=drop, attack=textwrap.indent(textwrap.dedent(attack), " " * 8))


SPY = f"""
out = "{INSIDE}/together/out"  # this run's gradebook, being written
note("spy.read", readable([out, f"{{out}}/.course-grade-secret", f"{{out}}/.course-grade-run.json"]))
note("spy.uid", os.getuid())
victim = wait_for("victim.pid")
try:
    os.kill(int(victim), 9)
    note("spy.kill", "killed")
except Exception as error:
    note("spy.kill", type(error).__name__)
"""

VICTIM = """
note("victim.uid", os.getuid())
note("victim.pid", os.getpid())
wait_for("spy.kill")
"""


def test_two_students_graded_at_once_run_as_two_unprivileged_uids_and_cannot_kill_each_other(classroom):
    drop = _drop_box(classroom, "together")
    inside = f"{INSIDE}/together/drop"
    students = {"a_spy": _cell(inside, SPY), "b_victim": _cell(inside, VICTIM)}
    out = _grade(classroom, "together", students, workers=2)
    seen = {p.name: p.read_text() for p in drop.iterdir() if not p.name.startswith(".")}
    spy, victim = int(seen["spy.uid"]), int(seen["victim.uid"])
    assert spy != victim and 0 not in (spy, victim) and os.geteuid() not in (spy, victim)
    assert seen["spy.kill"] == "PermissionError"  # it found the classmate's running process: refused
    assert seen["spy.read"] == ""  # neither the gradebook folder nor the run's secret
    assert _scores(out) == {"a_spy": EXERCISES[FC].points, "b_victim": EXERCISES[FC].points}


LEAVER = """
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    with open(f"{folder}/left-by-leaver", "w") as f:
        f.write("for the next student")
    os.mkdir(f"{folder}/left-folder-by-leaver")
note("leaver.uid", os.getuid())
note("leaver.wrote", "yes")
"""

FINDER = """
found = [f"{{folder}}/{{name}}" for folder in ("/tmp", "/var/tmp", "/dev/shm")
         for name in os.listdir(folder) if "leaver" in name]
note("finder.uid", os.getuid())
note("finder.found", ",".join(found))
note("finder.read", readable({gradebook!r}))
"""


def test_the_next_student_of_a_worker_finds_nothing_left_and_no_gradebook_file_is_readable(classroom):
    """One worker: a student leaves files in every world-writable folder; the next student, under the
    same uid, looks for them and tries every file of a finished class's gradebook."""
    first = _grade(classroom, "earlier", {"ann": "def fc_param_count(h, w, c, u):\n    return 1\n"}, 1)
    gradebook = sorted(str(p.relative_to(classroom)) for p in first.rglob("*") if p.is_file())
    assert {"earlier/out/grades.csv", "earlier/out/.course-grade-secret", "earlier/out/ann.json"} <= set(
        gradebook
    )
    paths = [f"{INSIDE}/{p}" for p in gradebook] + [f"{INSIDE}/earlier/out"]
    drop = _drop_box(classroom, "one_worker")
    inside = f"{INSIDE}/one_worker/drop"
    students = {"c_leaver": _cell(inside, LEAVER), "d_finder": _cell(inside, FINDER.format(gradebook=paths))}
    out = _grade(classroom, "one_worker", students, workers=1)
    seen = {p.name: p.read_text() for p in drop.iterdir() if not p.name.startswith(".")}
    assert seen["leaver.wrote"] == "yes"  # the attack is real: nothing stopped the writes
    assert seen["finder.uid"] == seen["leaver.uid"] != "0"  # the same worker's uid, not root
    assert seen["finder.found"] == ""
    assert seen["finder.read"] == ""
    assert _scores(out) == {"c_leaver": EXERCISES[FC].points, "d_finder": EXERCISES[FC].points}


LIFTER = """
tried, lifted = lift_limits()
note("lifter.uid", os.getuid())
note("lifter.tried", ",".join(tried))
note("lifter.lifted", ",".join(lifted))
"""


@pytest.mark.skipif(cgroup._bases() is None, reason="no writable cgroup v1 memory and pids hierarchies")
def test_without_landlock_the_groups_files_are_in_reach_and_still_not_writable(classroom):
    """With Landlock hidden, student code (its worker's uid) sees /sys/fs/cgroup and finds its own
    groups' files: only their owner and mode (root's, 0644) keep it from raising its memory and process
    limits or leaving its groups."""
    drop = _drop_box(classroom, "groups")
    cell = LIFT_LIMITS + _cell(f"{INSIDE}/groups/drop", LIFTER)
    out = _grade(classroom, "groups", {"lifter": cell}, workers=1)
    seen = {p.name: p.read_text() for p in drop.iterdir() if not p.name.startswith(".")}
    assert seen["lifter.uid"] != "0"
    assert seen["lifter.tried"] == "cgroup.procs,memory.limit_in_bytes,pids.max,tasks"  # the attack is real
    assert seen["lifter.lifted"] == ""
    assert _scores(out) == {"lifter": EXERCISES[FC].points}


NEED_ANOTHER_UID = (  # outside the wrapper they skip, or assert less (without a uid pool), in fallback mode
    "tests/test_grade.py::test_students_graded_at_the_same_time_run_as_different_unprivileged_uids[fallback]",
    "tests/test_grade.py::test_every_submission_gets_the_score_an_honest_grader_gives[fallback]",
    "tests/test_grade.py::test_the_gradebook_and_other_students_are_intact_after_a_vandal[fallback]",
    "tests/test_gradescope.py::test_without_bubblewrap_student_code_runs_as_nobody_and_cannot_read_the_secret",
)


def test_the_fallback_tests_that_need_another_uid_pass_where_one_can_run_the_python(classroom):
    """Those tests, run by pytest inside the wrapper: the hostile class of test_grade.py graded in
    fallback mode with no Landlock, the uid pool alone between the students, and the Gradescope
    autograder whose student code runs as `nobody` and must not read the secret."""
    argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *NEED_ANOTHER_UID]
    done = _wrapped(classroom, argv, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"{len(NEED_ANOTHER_UID)} passed" in done.stdout and "skipped" not in done.stdout, done.stdout
