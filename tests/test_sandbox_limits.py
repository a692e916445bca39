"""Are an exercise's memory and process limits held by the kernel across all its processes, counting
memory that no process maps, where the grader can make control groups; can student code lift them;
are the groups gone afterwards? Can it leave state in the kernel for the next exercise or student
(System V objects, keys)? (The process-tree budget that polls where there are no control groups is
tested in test_grade.py.)"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import subprocess
import sys

import pytest
from grading_corpus import LIFT_LIMITS, REPO

from course.grader.sandbox import cgroup, confine, seccomp
from course.grader.sandbox import run as sandbox
from course.grader.sandbox import session as sandbox_session
from course.grader.sandbox.launch import describe
from course.grader.sandbox.run import Limits
from course.grader.verdict import verdict
from course.grading import EXERCISES, cases_for

FC = "fc_param_count"
LIMITS = Limits(timeout=10.0, memory=200 * 2**20, processes=8)
MODES = ["fallback", *(["bwrap"] if sandbox.bwrap_works() else [])]


def _groups_can_be_made() -> bool:
    probe = cgroup.SandboxGroups.make(f"course-grade-probe-{os.getpid()}")
    if probe is not None:
        probe.remove()
    return probe is not None


needs_groups = pytest.mark.skipif(
    not _groups_can_be_made(),
    reason="no writable cgroup v1 memory and pids hierarchies (not root, or /sys/fs/cgroup read-only)",
)

# 600 MB held in memory-backed files (memfd, 15 MB each: under the per-file size limit) that no
# process maps: invisible to RLIMIT_AS and to a budget that measures what processes map (PSS).
MEMORY_IN_FILES = """
import os
def fc_param_count(h, w, c, u):
    chunk, files = b"x" * 2**20, []
    for index in range(40):
        fd = os.memfd_create(f"hold{index}")
        for _ in range(15):
            os.write(fd, chunk)
        files.append(fd)
    return len(files)
"""

# Forty processes alive at once, each waiting on a pipe: returns how many forks succeeded.
FORK_BURST = """
import os
def fc_param_count(h, w, c, u):
    release, started = os.pipe(), 0
    try:
        for _ in range(40):
            if os.fork() == 0:
                os.read(release[0], 1)
                os._exit(0)
            started += 1
    except OSError:
        pass
    os.write(release[1], b"x" * started)
    return started
"""

LIFT = LIFT_LIMITS + "def fc_param_count(h, w, c, u):\n    return lift_limits()\n"


# What a process running student code may do beyond its uid's file permissions: its effective and
# permitted capabilities, those of a program it starts, and whether it can raise its own priority (as
# it could raise any of its limits with CAP_SYS_RESOURCE, or load a kernel module, or reboot).
CAPABILITIES = """
import ctypes, os, subprocess, sys
HELD = '''
import ctypes
header, data = (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()
if ctypes.CDLL(None, use_errno=True).capget(header, data) != 0:
    raise OSError(ctypes.get_errno(), "capget")
held = [data[0] | data[3] << 32, data[1] | data[4] << 32]
'''
def fc_param_count(h, w, c, u):
    namespace = {}
    exec(HELD, namespace)
    started = subprocess.run([sys.executable, "-c", HELD + "print(*held)"], capture_output=True, text=True)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -5)
        raised = True
    except OSError:
        raised = False
    return [namespace["held"], [int(n) for n in started.stdout.split()], raised]
"""


def _run(code: str, mode: str):
    cases = {FC: cases_for(EXERCISES[FC], None)[:1]}
    runs = sandbox.run_notebook(None, {FC: code}, cases, LIMITS, mode)
    return runs[FC], verdict(EXERCISES[FC], cases[FC], runs[FC], LIMITS.timeout)


def _leftover_groups() -> list[str]:
    bases = cgroup._bases() or {}
    mine = f"course-grade-{os.getpid()}-"  # other graders (another test run) may be running beside
    return [e for base in bases.values() for e in os.listdir(base) if e.startswith(mine)]


@needs_groups
@pytest.mark.parametrize("mode", MODES)
def test_memory_held_in_files_no_process_maps_is_stopped(mode):
    run, result = _run(MEMORY_IN_FILES, mode)
    assert run.status == "memory", (run.status, run.outcomes)
    assert result.score == 0 and "more memory than allowed" in result.message
    assert not _leftover_groups()


@needs_groups
@pytest.mark.parametrize("mode", MODES)
def test_forks_past_the_process_limit_are_refused(mode):
    """The kernel refuses the fork past the limit, however briefly the processes live; the code that
    handles the refusal goes on (its answer, the number of forks, is judged as any answer)."""
    run, _ = _run(FORK_BURST, mode)
    assert run.status == "exited 0" and run.outcomes[0].output == LIMITS.processes


@needs_groups
@pytest.mark.skipif(confine.abi() == 0, reason="no Landlock: see test_fallback_uids.py, where it is hidden")
@pytest.mark.parametrize("mode", MODES)
def test_student_code_cannot_lift_its_own_limits(mode):
    """Landlock keeps student code away from the groups' files (in the fallback it may run as root):
    it finds none to write. (Without Landlock, file permissions must hold them: test_fallback_uids.py.)"""
    run, _ = _run(LIFT, mode)
    assert run.status == "exited 0" and run.outcomes[0].output == [[], []]


@pytest.mark.parametrize("mode", MODES)
def test_student_code_holds_no_capability_even_where_it_runs_as_root(mode):
    """Where no unprivileged uid can run the Python, student code runs as root: bubblewrap drops every
    capability; the fallback must too, or its rlimits and Landlock would hold only until student code
    uses them (setrlimit with CAP_SYS_RESOURCE, init_module, reboot: Landlock rules files, not these)."""
    run, _ = _run(CAPABILITIES, mode)
    assert run.status == "exited 0" and run.outcomes[0].output == [[0, 0], [0, 0], False], run.outcomes


@needs_groups
@pytest.mark.parametrize("mode", MODES)
def test_an_honest_exercise_passes_within_its_groups_and_leaves_none(mode):
    honest = "def fc_param_count(h, w, c, u):\n    return h * w * c * u\n"
    run, result = _run(honest, mode)
    assert run.status == "exited 0" and result.score == result.max_score
    assert not _leftover_groups()


@pytest.mark.parametrize("mode", MODES)
def test_without_groups_the_budget_counts_memory_held_in_files(mode, monkeypatch):
    monkeypatch.setattr(cgroup, "_bases", lambda: None)  # as on a machine without control groups
    run, result = _run(MEMORY_IN_FILES, mode)
    assert run.status == "memory", (run.status, run.outcomes)
    assert result.score == 0 and "more memory than allowed" in result.message


# A System V shared memory segment (or semaphore set, or message queue) outlives the processes that made
# it: no process maps it once detached, so no PSS counts it, and it stays in the kernel after the
# exercise, the student and, without bubblewrap, the whole run. A cell that left 384 MB per exercise
# left 2.3 GB after a run of one notebook's six exercises under a 512 MB limit. Here one exercise
# leaves a keyed segment, a semaphore set and a message queue; the next exercise looks for them.
SYSV_KEY = 0x0C0DE000 + os.getpid() % 0x1000
SYSV = f"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
KEY, CREATE = {SYSV_KEY}, 0o1600  # IPC_CREAT | 0600

def leave():
    segment = libc.shmget(KEY, 8 << 20, CREATE)
    address = libc.shmat(segment, None, 0)
    ctypes.memset(address, 1, 8 << 20)
    libc.shmdt(ctypes.c_void_p(address))
    return [segment >= 0, libc.semget(KEY, 4, CREATE) >= 0, libc.msgget(KEY, CREATE) >= 0]

def find():
    return [libc.shmget(KEY, 0, 0) >= 0, libc.semget(KEY, 0, 0) >= 0, libc.msgget(KEY, 0) >= 0]

def fc_param_count(h, w, c, u):
    return leave()

def conv_param_count(kh, kw, c, f):
    return find()
"""


def _sysv_keys() -> set[int]:
    keys = set()
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}") as f:
            keys |= {int(line.split()[0]) for line in f.readlines()[1:]}
    return keys


@pytest.mark.parametrize("mode", MODES)
def test_shared_memory_an_exercise_leaves_is_gone_before_the_next(mode):
    cases = {e: cases_for(EXERCISES[e], None)[:1] for e in (FC, "conv_param_count")}
    cells = {FC: SYSV, "conv_param_count": SYSV}
    runs = sandbox.run_notebook(None, cells, cases, LIMITS, mode)
    assert runs[FC].outcomes[0].output == [True, True, True], runs[FC]
    assert runs["conv_param_count"].outcomes[0].output == [False, False, False]
    assert SYSV_KEY not in _sysv_keys()  # nothing left on the machine either


# A folder 3,000 levels deep in the working directory: Python's shutil.rmtree recurses once per level
# and raised RecursionError (ignore_errors does not cover it) in the sandbox's job process, which
# died; without bubblewrap, then in the grader's own process, removing the sandbox's scratch folder:
# the student got zeros on every exercise ("the grader failed on this submission") and the tree stayed
# in the machine's /tmp after the run.
DEEP_FOLDERS = """
import os
def fc_param_count(h, w, c, u):
    here = os.getcwd()
    for _ in range(3000):
        os.mkdir("d")
        os.chdir("d")
    os.chdir(here)
    return h * w * c * u
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_folder_thousands_of_levels_deep_is_removed_after_its_exercise(mode, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox_session.tempfile, "tempdir", str(tmp_path))  # the scratch folders
    cases = {e: cases_for(EXERCISES[e], None)[:1] for e in (FC, "conv_param_count")}
    cells = {FC: DEEP_FOLDERS, "conv_param_count": "def conv_param_count(*args):\n    return 7\n"}
    runs = sandbox.run_notebook(None, cells, cases, LIMITS, mode)
    assert runs[FC].status == "exited 0" and runs[FC].outcomes[0].output == 224 * 224 * 3 * 100, runs[FC]
    assert runs["conv_param_count"].outcomes[0].output == 7
    assert list(tmp_path.iterdir()) == []


# Two processes, each filling up to 1,000 socket pairs: the data queued in a socket is kernel memory
# that no process maps, so no PSS counts it; where no control group bounds the exercise, 10,000 pairs
# in each of 8 processes held 15.7 GB under a 200 MB budget. Returns the MB it held.
SOCKET_BUFFERS = """
import os, socket
def hold():
    pairs, held = [], 0
    for _ in range(1000):
        try:
            a, b = socket.socketpair()
        except OSError:  # out of descriptors
            break
        for end in (a, b):
            end.setblocking(False)
            try:
                while True:
                    held += end.send(b"x" * 65536)
            except BlockingIOError:
                pass
        pairs.append((a, b))
    return pairs, held

def fc_param_count(h, w, c, u):
    report, wait = os.pipe(), os.pipe()
    if os.fork() == 0:
        pairs, held = hold()
        os.write(report[1], held.to_bytes(8, "big"))
        os.read(wait[0], 1)  # held until the exercise ends
    pairs, held = hold()
    return (held + int.from_bytes(os.read(report[0], 8), "big")) // 2**20
"""


@pytest.mark.parametrize("mode", MODES)
def test_memory_queued_in_sockets_is_bounded_without_groups(mode, monkeypatch):
    monkeypatch.setattr(cgroup, "_bases", lambda: None)  # as on a machine without control groups
    run, _ = _run(SOCKET_BUFFERS, mode)
    assert run.status == "exited 0" and run.outcomes[0].output <= 40, (run.status, run.outcomes)


# The kernel's keyrings outlive the processes that fill them: a key added to the user's keyring stays
# there after the exercise, the student and the run (until it is unlinked), and a later process of the
# same uid finds and reads it. Student code that runs as root (no unprivileged uid can run the grader's
# Python) shares root's user keyring with the grader and every later student (root's quota: 25 MB).
# Here one exercise adds a key to the user's keyring, the session's and the user's session keyring;
# the next exercise searches them and reads what it finds.
KEY_NAME = f"course-grade-test-{os.getpid()}"
_KEY_CALLS = {"x86_64": (248, 250), "aarch64": (217, 219)}  # add_key, keyctl
KEYRINGS = f"""
import ctypes, platform
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ADD_KEY, KEYCTL = {_KEY_CALLS!r}[platform.machine()]
NAME = {KEY_NAME!r}.encode()
RINGS = (-4, -3, -5)  # KEY_SPEC_USER_KEYRING, _SESSION_, _USER_SESSION_
SEARCH, READ = 10, 11

def call(*args):
    result = libc.syscall(*(ctypes.c_long(a) if isinstance(a, int) else a for a in args))
    return result if result >= 0 else -ctypes.get_errno()

def leave():
    return [call(ADD_KEY, b"user", NAME, b"the answer", 10, ring) for ring in RINGS]

def find():
    found = []
    for ring in RINGS:
        key = call(KEYCTL, SEARCH, ring, b"user", NAME, 0)
        if key < 0:
            found.append(key)
            continue
        payload = ctypes.create_string_buffer(64)
        size = call(KEYCTL, READ, key, payload, 64)
        found.append(payload.raw[:size].decode() if size >= 0 else size)
    return found

def fc_param_count(h, w, c, u):
    return leave()

def conv_param_count(kh, kw, c, f):
    return find()
"""


def _remove_keys(name: str, uid: int | None) -> int:
    """Unlink the keys called `name` that a process of `uid` (None: this process's uid) finds from its
    keyrings, as the next student's code would find them; return how many there were."""
    found = os.pipe()
    pid = os.fork()
    if pid == 0:
        count = 0
        try:
            if uid is not None:
                os.setgroups([])
                os.setuid(uid)
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            keyctl = ctypes.c_long(_KEY_CALLS[platform.machine()][1])
            for _ in range(10):  # KEYCTL_SEARCH (10) the user's session keyring, then KEYCTL_INVALIDATE (21)
                key = libc.syscall(keyctl, ctypes.c_long(10), ctypes.c_long(-5), b"user", name.encode(), None)
                if key < 0 or libc.syscall(keyctl, ctypes.c_long(21), ctypes.c_long(key)) != 0:
                    break
                count += 1
            os.write(found[1], bytes([count]))
        finally:
            os._exit(0)
    os.close(found[1])
    os.waitpid(pid, 0)
    with os.fdopen(found[0], "rb") as f:
        return f.read(1)[0]


@pytest.mark.skipif(
    platform.machine() not in _KEY_CALLS, reason="the test knows the keyring calls of x86-64 and arm64 only"
)
@pytest.mark.parametrize("mode", MODES)
def test_a_key_an_exercise_adds_to_a_keyring_is_refused_and_not_found_later(mode):
    cases = {e: cases_for(EXERCISES[e], None)[:1] for e in (FC, "conv_param_count")}
    cells = {FC: KEYRINGS, "conv_param_count": KEYRINGS}
    uid = sandbox.student_uid(mode, 0)  # the uid of the next student of this worker
    try:
        runs = sandbox.run_notebook(None, cells, cases, LIMITS, mode)
        left = _remove_keys(KEY_NAME, uid)
        refused = [-errno.EPERM] * 3
        assert runs[FC].outcomes[0].output == refused, runs[FC]
        assert runs["conv_param_count"].outcomes[0].output == refused, runs["conv_param_count"]
        assert left == 0  # nothing left on the machine either
    finally:
        _remove_keys(KEY_NAME, uid)  # what a failing run left


# Ways around the filter, each adding a key named KEY_NAME; each returns add_key's result or -errno.
# A program started by student code; a filter of its own that allows everything (filters stack); the
# x32 ABI's number for add_key (x86-64's plus 2**30); the i386 ABI's (286), through `int 0x80` from
# code written to memory below 4 GB, where x86-64 kernels run 32-bit calls (IA32 emulation).
AROUND = f"""
import ctypes, mmap, os, platform, struct, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = L = ctypes.c_long
ADD_KEY, KEYCTL = {_KEY_CALLS!r}[platform.machine()]
NAME = {KEY_NAME!r}.encode()
ADD = '''
import ctypes, platform
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
result = libc.syscall(ctypes.c_long(%d), b"user", b"%s", b"the answer", ctypes.c_long(10), ctypes.c_long(-4))
print(result if result >= 0 else -ctypes.get_errno())
'''

def add(number=None):
    number = ADD_KEY if number is None else number
    result = libc.syscall(L(number), b"user", NAME, b"the answer", L(10), L(-4))
    return result if result >= 0 else -ctypes.get_errno()

def in_a_program():
    program = [sys.executable, "-c", ADD % (ADD_KEY, NAME.decode())]
    done = subprocess.run(program, capture_output=True, text=True)
    return int(done.stdout or done.stderr[-200:])

def under_a_filter_that_allows_all():
    allow = struct.pack("=HBBI", 0x06, 0, 0, 0x7FFF0000)
    program = struct.pack("HxxxxxxP", 1, ctypes.cast(ctypes.c_char_p(allow), ctypes.c_void_p).value)
    seccomp = {{"x86_64": 317, "aarch64": 277}}[platform.machine()]
    if libc.syscall(L(seccomp), L(1), L(0), ctypes.c_char_p(program)) != 0:  # SECCOMP_SET_MODE_FILTER
        return "no filter of its own: " + os.strerror(ctypes.get_errno())
    return add()

def int80(number, *args):
    page = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x40, prot=7)  # MAP_32BIT
    base = ctypes.addressof(ctypes.c_char.from_buffer(page))
    code, end = b"\\x53\\xb8" + struct.pack("<I", number), 2048  # push rbx; mov eax, number
    for register, value in zip(b"\\xbb\\xb9\\xba\\xbe\\xbf", args):  # ebx, ecx, edx, esi, edi
        if isinstance(value, bytes):
            page[end : end + len(value) + 1] = value + b"\\0"
            value, end = base + end, end + len(value) + 1
        code += bytes([register]) + struct.pack("<I", value & 0xFFFFFFFF)
    code += b"\\xcd\\x80\\x5b\\xc3"  # int 0x80; pop rbx; ret
    page[: len(code)] = code
    return ctypes.CFUNCTYPE(ctypes.c_int)(base)()

def fc_param_count(h, w, c, u):
    tried = {{"program": in_a_program(), "own filter": under_a_filter_that_allows_all()}}
    if platform.machine() == "x86_64":
        tried["x32"] = add(0x40000000 | ADD_KEY)
        if IA32:
            tried["i386"] = int80(286, b"user", NAME, b"the answer", 10, -4)
    return tried
"""


def _ia32_works() -> bool:
    """Whether this x86-64 kernel runs i386 system calls (`int 0x80`): getpid (20) through it."""
    probe = AROUND.split("def fc_param_count")[0] + "print(int80(20) == os.getpid())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() == "True"


@pytest.mark.skipif(
    platform.machine() not in _KEY_CALLS, reason="the test knows the keyring calls of x86-64 and arm64 only"
)
@pytest.mark.parametrize("mode", MODES)
def test_no_way_around_the_filter_adds_a_key(mode):
    ia32 = platform.machine() == "x86_64" and _ia32_works()
    code = f"IA32 = {ia32}\n{AROUND}"
    uid = sandbox.student_uid(mode, 0)
    try:
        run, _ = _run(code, mode)
        left = _remove_keys(KEY_NAME, uid)
        tried = run.outcomes[0].output if run.outcomes[0] else run
        expected = {"program": -errno.EPERM, "own filter": -errno.EPERM}
        if platform.machine() == "x86_64":
            expected |= {"x32": -errno.EPERM, **({"i386": -errno.EPERM} if ia32 else {})}
        assert tried == expected
        assert left == 0
    finally:
        _remove_keys(KEY_NAME, uid)


# A thread that exists before the filter is installed (a library's, say OpenBLAS's or Numba's): the
# student's process is forked with one thread, but if it ever had more, each would have to be
# filtered too. Run in a process of its own: a filter, once installed, stays for good.
THREAD_BEFORE = f"""
import ctypes, platform, sys, threading
sys.path.insert(0, {str(REPO)!r})
from course.grader.sandbox import seccomp
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = L = ctypes.c_long
ADD_KEY = {_KEY_CALLS!r}[platform.machine()][0]
started, filtered, result = threading.Event(), threading.Event(), []

def add_later():
    started.set()
    filtered.wait()
    key = libc.syscall(L(ADD_KEY), b"user", {KEY_NAME!r}.encode(), b"the answer", L(10), L(-4))
    result.append(key if key >= 0 else -ctypes.get_errno())

thread = threading.Thread(target=add_later)
thread.start()
started.wait()
libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, as the runner sets it
seccomp.install()
filtered.set()
thread.join()
print(result[0])
"""


@pytest.mark.skipif(not seccomp.available(), reason="no seccomp filter for this machine or kernel")
def test_a_thread_started_before_the_filter_is_filtered_too():
    try:
        done = subprocess.run(
            [sys.executable, "-c", THREAD_BEFORE], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.strip() == str(-errno.EPERM), done.stdout + done.stderr
        assert _remove_keys(KEY_NAME, None) == 0
    finally:
        _remove_keys(KEY_NAME, None)


def test_where_the_machine_is_unknown_no_filter_is_installed_and_the_report_says_so(monkeypatch):
    """On another machine than x86-64 and arm64, the filter's numbers are unknown: nothing is installed
    (as where the kernel has no Landlock) and the report line says "no seccomp"."""
    monkeypatch.setattr(seccomp.platform, "machine", lambda: "riscv64")
    assert not seccomp.available()
    assert ", no seccomp, user " in describe("fallback")
    unknown = f"""
import platform, sys
sys.path.insert(0, {str(REPO)!r})
platform.machine = lambda: "riscv64"
from course.grader.sandbox import seccomp
seccomp.install()
print(open("/proc/self/status").read())
"""
    status = subprocess.run([sys.executable, "-c", unknown], capture_output=True, text=True, timeout=60)
    assert "\nSeccomp:\t0\n" in status.stdout, status.stderr


# Kernel code the course never uses, each a frequent way to a privilege escalation: an io_uring ring,
# a performance counter on itself (kernel.perf_event_paranoid 2 allows it), and namespaces of its own
# (in a new user namespace, every capability: over a network namespace of its own, nf_tables), made
# with unshare, clone or clone3, in a child (a namespace changes the process that makes it). Each
# returns a descriptor or a child for "made", else -errno.
KERNEL_CODE = """
import ctypes, os, platform, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = L = ctypes.c_long
IO_URING_SETUP, PERF_EVENT_OPEN, UNSHARE, CLONE, CLONE3 = {
    "x86_64": (425, 298, 272, 56, 435), "aarch64": (425, 241, 97, 220, 435)
}[platform.machine()]
NEWUSER, NEWNET, SIGCHLD = 0x10000000, 0x40000000, 17

def call(*args):
    result = libc.syscall(*(L(a) if isinstance(a, int) else a for a in args))
    return "made" if result >= 0 else -ctypes.get_errno()

def child(result):
    if result == 0:  # in the child: its user namespace made
        os._exit(0)
    if result < 0:
        return -ctypes.get_errno()
    os.waitpid(result, 0)
    return "made"

def unshare():
    pid = os.fork()
    if pid == 0:
        made = call(UNSHARE, NEWUSER | NEWNET)
        os._exit(0 if made == "made" else -made)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return -code if code else "made"

def fc_param_count(h, w, c, u):
    counter = bytearray(128)
    struct.pack_into("=IIQ", counter, 0, 1, 128, 0)  # PERF_TYPE_SOFTWARE, its size, CPU clock
    struct.pack_into("=Q", counter, 40, 1 << 5 | 1 << 6)  # no kernel, no hypervisor
    clone3 = struct.pack("=11Q", NEWUSER, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, 0)  # struct clone_args
    return {
        "io_uring_setup": call(IO_URING_SETUP, 4, ctypes.create_string_buffer(120)),
        "perf_event_open": call(PERF_EVENT_OPEN, ctypes.create_string_buffer(bytes(counter)), 0, -1, -1, 0),
        "unshare": unshare(),
        "clone": child(libc.syscall(L(CLONE), L(NEWUSER | SIGCHLD), L(0), L(0), L(0), L(0))),
        "clone3": child(libc.syscall(L(CLONE3), ctypes.create_string_buffer(clone3), L(len(clone3)))),
    }
"""


@pytest.mark.skipif(not seccomp.available(), reason="no seccomp filter for this machine or kernel")
@pytest.mark.parametrize("mode", MODES)
def test_kernel_code_the_course_never_uses_is_refused(mode):
    run, _ = _run(KERNEL_CODE, mode)
    refused = {"io_uring_setup": -errno.EPERM, "perf_event_open": -errno.EPERM, "unshare": -errno.EPERM}
    refused |= {"clone": -errno.EPERM, "clone3": -errno.ENOSYS}
    assert run.status == "exited 0" and run.outcomes[0].output == refused, run


# What the filter must leave alone: threads (the C library tries clone3, refused with ENOSYS, then
# clone), a Python program started with subprocess, fork, posix_spawn.
THREADS_AND_PROCESSES = """
import concurrent.futures, os, subprocess, sys, threading
def fc_param_count(h, w, c, u):
    found = []
    thread = threading.Thread(target=lambda: found.append(h * w))
    thread.start()
    thread.join()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        squares = list(pool.map(lambda n: n * n, range(4)))
    program = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    forked = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    spawned = os.waitstatus_to_exitcode(os.waitpid(os.posix_spawn("/bin/true", ["true"], {}), 0)[1])
    return [found, squares, program.stdout.strip(), forked, spawned]
"""


@pytest.mark.parametrize("mode", MODES)
def test_threads_and_processes_still_start(mode):
    run, _ = _run(THREADS_AND_PROCESSES, mode)
    assert run.status == "exited 0" and run.outcomes[0].output == [[224 * 224], [0, 1, 4, 9], "42", 3, 0], run
