"""Inside the sandbox: confine the process that runs student code with Landlock (Linux 5.13 and later).

Landlock is a Linux security module any process may use on itself, without privileges, irreversibly,
for itself and every process it starts. `Confinement` builds the rules once (in the sandbox's job
process); `confine(workdir)` applies them in an exercise's process just before student code runs:

- files: read and execute only the system's libraries and programs, the Python installation and its
  packages, world-readable files of /etc, a few harmless files of /proc and /sys, and the data files
  of the course package (never its source: a cell cannot read and exec the course's references);
  read and write only the exercise's own working directory and /dev/null. So student code reads no
  submission, no gradebook, no secret, no other student's scratch, and no root-only file, even when
  it runs as root (bubblewrap's "root without capabilities", or the fallback as root);
- network (ABI 4): no TCP connect or bind;
- scopes (ABI 6): no signal to, and no abstract unix socket of, a process outside its own domain:
  student code cannot kill the grader or a classmate's exercise, even under the same uid; and Landlock
  never lets a confined process ptrace one outside its domain (nor read its /proc/<pid>/mem or environ).

Where the kernel has no Landlock, nothing is confined and `available()` says so (the grader reports it).
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys

__all__ = ["Confinement", "abi"]

_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # the same on x86-64 and arm64
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH = 1
_VERSION = 1  # landlock_create_ruleset flag: ask for the ABI version

_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
_READ = _EXECUTE | _READ_FILE | _READ_DIR
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV  # those a file rule may hold
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2

_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/opt")
_PROC = ("/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/sys/devices/system/cpu")
_DEVICES = ("/dev/urandom", "/dev/random", "/dev/zero")
_CODE = (".py", ".pyc", ".pyi")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi() -> int:
    """The kernel's Landlock ABI version (0: none)."""
    version = _libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    return max(int(version), 0)


def _handled(version: int) -> int:
    """Every filesystem right this ABI knows: 13 from ABI 1, then REFER, TRUNCATE and IOCTL_DEV."""
    rights = (1 << 13) - 1
    for since, right in ((2, _REFER), (3, _TRUNCATE), (5, _IOCTL_DEV)):
        rights |= right if version >= since else 0
    return rights


class Confinement:
    """The Landlock rules for one sandbox: built once from `course_root` (the folder holding the
    `course` package, whose source is not readable), applied by `confine` in each exercise's process."""

    def __init__(self, course_root: str):
        self.version = abi()
        self.fd = -1
        if self.version == 0:
            return
        self.handled = _handled(self.version)
        fields = [self.handled]
        if self.version >= 4:
            fields.append(_NET_BIND_TCP | _NET_CONNECT_TCP)
        if self.version >= 6:
            fields.append(_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL)
        attr = (ctypes.c_uint64 * len(fields))(*fields)
        fd = _libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0)
        if fd < 0:
            self.version = 0
            return
        self.fd = int(fd)
        course = os.path.realpath(os.path.join(course_root, "course"))
        for path in self._readable(course):
            self._allow(path, _READ)
        self._allow("/dev/null", _READ_FILE | _WRITE_FILE)

    @property
    def available(self) -> bool:
        return self.fd >= 0

    def confine(self, workdir: str) -> None:
        """Confine this process (and all it starts) for good: read the readable paths, write only
        `workdir`. Raises OSError if Landlock refuses (the exercise then does not run)."""
        if not self.available:
            return
        self._allow(workdir, self.handled)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if _libc.syscall(_SYS_RESTRICT, self.fd, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
        os.close(self.fd)
        self.fd = -1

    def _readable(self, course: str) -> list[str]:
        places = [*_SYSTEM, sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
        places += [p for p in sys.path if p and os.path.isdir(p)]
        places = [os.path.realpath(p) for p in places if os.path.exists(p)]
        # a folder that holds the course package (a source checkout on sys.path) is not readable whole
        paths = [p for p in places if not _inside(course, p) and not _inside(p, course)]
        paths += _world_readable("/etc", depth=3)
        paths += [p for p in (*_PROC, *_DEVICES) if os.path.exists(p)]
        paths += _course_data(course)
        return sorted(set(paths))

    def _allow(self, path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                rights &= _FILE_RIGHTS
            rule = _PathBeneath(rights & self.handled, fd)
            _libc.syscall(_SYS_ADD_RULE, self.fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        finally:
            os.close(fd)


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _world_readable(top: str, depth: int) -> list[str]:
    """The paths under `top` that everybody may read: a folder whose whole content is world-readable as
    one rule, else its world-readable entries one by one (so /etc/shadow stays out of reach)."""
    try:
        entries = list(os.scandir(top))
    except OSError:
        return []
    found, whole = [], True
    for entry in entries:
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError:
            whole = False
            continue
        if stat.S_ISLNK(mode):
            continue  # a link is followed to its target, which needs its own rule
        if not mode & stat.S_IROTH or (stat.S_ISDIR(mode) and not mode & stat.S_IXOTH):
            whole = False
            continue
        if stat.S_ISDIR(mode):
            inner = _world_readable(entry.path, depth - 1) if depth > 0 else []
            if inner == [entry.path]:
                found.append(entry.path)
            else:
                whole = False
                found += inner
        else:
            found.append(entry.path)
    return [top] if whole else found


def _course_data(course: str) -> list[str]:
    """The course package's files that are not code (weights, data sets): student code may load them."""
    found = []
    for folder, subfolders, files in os.walk(course):
        subfolders[:] = [s for s in subfolders if s != "__pycache__"]
        found += [os.path.join(folder, f) for f in files if not f.endswith(_CODE)]
    return found
