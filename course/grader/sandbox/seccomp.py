"""Inside the sandbox: a system-call filter (seccomp) on the process that runs student code.

Landlock rules files, sockets and signals; a few system calls reach what it does not, and the course
never makes them. `install()` refuses them to the process that runs student code and to every thread
and process it starts (Docker's default profile refuses the same calls for the same reasons):

- the kernel's keyrings: `add_key`, `request_key`, `keyctl` (EPERM). A key added to a uid's keyring
  outlives the process, the exercise and the run, until it is unlinked, and any later process of that
  uid finds and reads it: the next student graded under the same pool uid, or, where student code runs
  as a root without capabilities, every later student and the grader itself (root's quota allows 25
  MB of keys). `request_key` may also make the kernel start `/sbin/request-key` as root outside the
  sandbox;
- kernel code that no course code uses and that is a frequent way to a privilege escalation, each
  measured open to student code here: io_uring, `io_uring_setup`, `io_uring_enter`,
  `io_uring_register` (EPERM), whose operations also pass beside any system-call filter;
  `perf_event_open` (EPERM; a process's own counters, kernel.perf_event_paranoid 2); and namespaces of
  its own, `unshare` and a `clone` with a CLONE_NEW* flag (EPERM), where student code would hold every
  capability (over a network namespace of its own: nf_tables, traffic control), and `clone3`, whose
  flags a filter cannot read (ENOSYS: the C library then makes threads and processes with `clone`).

Left open, considered: `bpf` (refused without CAP_BPF here, kernel.unprivileged_bpf_disabled 2),
`userfaultfd` (without a capability it handles faults in user mode only, vm.unprivileged_userfaultfd
0, which takes away its use in exploits), `setns` (joining a namespace needs CAP_SYS_ADMIN over it:
student code holds none and can make none), System V IPC (`child` removes what an exercise leaves).

The filter is a classic BPF program the kernel runs on each system call, over `struct seccomp_data`:
the call's number `nr` (a 32-bit int at offset 0), its ABI `arch` (an AUDIT_ARCH_* value at offset 4),
then the instruction pointer and the six arguments. Each instruction is a `struct sock_filter`, 8 bytes
`=HBBI`: an opcode, the number of instructions skipped when a test holds (jt) and when it fails (jf),
and a constant k. The program, n calls of BLOCKED (x86-64: 2n + 13 instructions, arm64: 2n + 11):

    0       A = arch                     load the word at offset 4
    1       if A == NATIVE skip 1        AUDIT_ARCH_X86_64 (0xC000003E) or AUDIT_ARCH_AARCH64 (0xC00000B7)
    2       return ERRNO(EPERM)          another ABI (i386's `int 0x80` on x86-64, AArch32 on arm64)
                                         numbers its calls differently: refuse all of them
    3       A = nr                       load the word at offset 0
    4       if A < 0x40000000 skip 1     x86-64 only: the x32 ABI is x86-64's numbers plus 2**30
    5       return ERRNO(EPERM)
    6       if A != clone3 skip 1
    7       return ERRNO(ENOSYS)
    8 + 2i  if A != call[i] skip 1       for each call i of BLOCKED
    9 + 2i  return ERRNO(EPERM)
    m       if A != clone skip 3         m = 2n + 8
    m + 1   A = args[0]'s low word       load the word at offset 16: clone's flags (little-endian)
    m + 2   if !(A & 0x7E020000) skip 1  no CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
    m + 3   return ERRNO(EPERM)
    m + 4   return ALLOW

(on arm64 without 4 and 5), so every path ends in a return, every jump skips forward over three
instructions at most, and no call of the native ABI but those is touched. It is installed with
`seccomp(SET_MODE_FILTER, TSYNC)`: every thread of the process gets it at once. The student's process is
forked with one thread (counted in both modes, with numpy, numba and the course loaded), but a library's
thread started before the filter would otherwise keep none. The filter is inherited by every child,
across `execve`, and cannot be removed: a process may only add filters, the kernel runs them all and the
most restrictive answer wins (ERRNO before ALLOW). Installing one needs no privilege once the process
has no_new_privs (`runner` sets it before). On any other machine than x86-64 and arm64 (or a 32-bit
Python), whose numbers this module does not know, or on a kernel without seccomp filters, nothing is
installed and `available()` says so (the grader reports it).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

__all__ = ["BLOCKED", "available", "install", "program"]

BLOCKED = ("add_key", "request_key", "keyctl")  # and kernel code no course code uses:
BLOCKED += ("io_uring_setup", "io_uring_enter", "io_uring_register", "perf_event_open", "unshare")
_CALLS = (*BLOCKED, "clone", "clone3", "seccomp")  # "seccomp" installs the filter
_NUMBERS = {  # the kernel's numbers of _CALLS, by machine
    "x86_64": dict(zip(_CALLS, (248, 249, 250, 425, 426, 427, 298, 272, 56, 435, 317), strict=True)),
    "aarch64": dict(zip(_CALLS, (217, 218, 219, 425, 426, 427, 241, 97, 220, 435, 277), strict=True)),
}
_NEW_NAMESPACES = 0x7E020000  # CLONE_NEWNS | _NEWCGROUP | _NEWUTS | _NEWIPC | _NEWUSER | _NEWPID | _NEWNET
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32 = 0x40000000  # __X32_SYSCALL_BIT

# BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_JMP|BPF_JGE|BPF_K, BPF_JMP|BPF_JSET|BPF_K, BPF_RET|BPF_K
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO (| errno)
_SET_MODE_FILTER, _GET_ACTION_AVAIL, _TSYNC = 1, 2, 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]  # struct sock_fprog


def _machine() -> str | None:
    """The machine whose numbers this module knows, if this is a 64-bit Python on it, else None."""
    machine = platform.machine()
    return machine if machine in _NUMBERS and struct.calcsize("P") == 8 else None


def program(machine: str) -> bytes:
    """The filter for `machine` ("x86_64" or "aarch64"), as the kernel reads it (see the docstring)."""
    numbers, deny = _NUMBERS[machine], (_RET, 0, 0, _ERRNO | errno.EPERM)
    code = [(_LD_ABS, 0, 0, _ARCH), (_JEQ, 1, 0, _AUDIT_ARCH[machine]), deny, (_LD_ABS, 0, 0, _NR)]
    if machine == "x86_64":
        code += [(_JGE, 0, 1, _X32), deny]
    code += [(_JEQ, 0, 1, numbers["clone3"]), (_RET, 0, 0, _ERRNO | errno.ENOSYS)]
    for name in BLOCKED:
        code += [(_JEQ, 0, 1, numbers[name]), deny]
    code += [(_JEQ, 0, 3, numbers["clone"]), (_LD_ABS, 0, 0, _ARG0), (_JSET, 0, 1, _NEW_NAMESPACES), deny]
    code.append((_RET, 0, 0, _ALLOW))
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in code)


def available() -> bool:
    """Whether `install` filters here: a machine this module knows, and a kernel that runs filters
    returning an errno (seccomp's GET_ACTION_AVAIL, Linux 4.14)."""
    machine = _machine()
    if machine is None:
        return False
    action = ctypes.c_uint32(_ERRNO)
    return _libc.syscall(_NUMBERS[machine]["seccomp"], _GET_ACTION_AVAIL, 0, ctypes.byref(action)) == 0


def install() -> None:
    """Filter this process, all its threads and all it starts, for good (see the docstring); nothing
    where not `available()`. Needs no_new_privs (or CAP_SYS_ADMIN). Raises OSError if the kernel
    refuses (the exercise then does not run)."""
    if not available():
        return
    machine = _machine()
    code = program(machine)
    fprog = _Program(len(code) // 8, code)
    done = _libc.syscall(_NUMBERS[machine]["seccomp"], _SET_MODE_FILTER, _TSYNC, ctypes.byref(fprog))
    if done != 0:  # -1 and errno, or the id of a thread that could not take the filter
        raise OSError(ctypes.get_errno() if done < 0 else errno.ESRCH, "seccomp(SET_MODE_FILTER) failed")
