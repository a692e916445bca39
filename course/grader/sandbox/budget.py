"""Inside the sandbox: the memory and process budget of one exercise, across all its processes.

`RLIMIT_AS` bounds each process and `RLIMIT_NPROC` a uid, but an exercise may fork: eight children of
100 MB each held 1.3 GB under a 100 MB limit. The sandbox's job process is a child subreaper, so every
process an exercise starts (double-forked, `setsid` or not) stays below it; `Budget` measures that
whole tree while the exercise runs (its proportional set size, PSS, so pages shared with the preloaded
job process count once, plus the memory-backed files it holds open, which no process maps) and says
when it is over its memory or process count, so the tree is killed then. Where the grader can make
control groups, the kernel holds the same limits (`cgroup`) and this budget is a second line;
elsewhere it is the only one, and it looks every PERIOD seconds, so a burst shorter than that is
bounded only by each process's own RLIMIT_AS (and the processes by RLIMIT_NPROC).
"""

from __future__ import annotations

import os

__all__ = ["OWN_PROCESSES", "PERIOD", "Budget", "descendants", "held_in_files", "pss"]

PERIOD = 0.2  # seconds between two measurements
OWN_PROCESSES = 2  # an exercise's relay and its student's process


class Budget:
    """The budget of the exercise run by the current process's children: `memory` bytes (PSS) beyond
    what the current process itself holds, and `processes` processes besides the exercise's own two
    (the relay and the student's process, see `relay`)."""

    def __init__(self, memory: int, processes: int):
        self.root = os.getpid()
        self.memory = memory + pss(self.root)
        self.processes = processes + OWN_PROCESSES

    def over(self) -> str:
        """ "" while the exercise's processes are within budget, else "memory" or "processes"."""
        tree = descendants(self.root)
        if len(tree) > self.processes:
            return "processes"
        if sum(pss(pid) for pid in tree) + held_in_files(tree) > self.memory:
            return "memory"
        return ""


def descendants(root: int) -> list[int]:
    """Every process below `root`, from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                parent = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def held_in_files(pids: list[int]) -> int:
    """The bytes of memory-backed files (memfd) that these processes hold open, each file once: such
    memory is mapped by no process, so no PSS counts it."""
    seen: dict[tuple[int, int], int] = {}
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in descriptors:
            path = f"/proc/{pid}/fd/{fd}"
            try:
                if os.readlink(path).startswith("/memfd:"):
                    info = os.stat(path)
                    seen[(info.st_dev, info.st_ino)] = info.st_blocks * 512
            except OSError:
                continue
    return sum(seen.values())


def pss(pid: int) -> int:
    """The proportional set size of process `pid` in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
