"""Inside the sandbox: the memory and process budget of one exercise, across all its processes.

`RLIMIT_AS` bounds each process and `RLIMIT_NPROC` a uid, but an exercise may fork: eight children of
100 MB each held 1.3 GB under a 100 MB limit. The sandbox's job process is a child subreaper, so every
process an exercise starts (double-forked, `setsid` or not) stays below it; `Budget` measures that
whole tree (its proportional set size, PSS, so pages shared with the preloaded job process count once)
while the exercise runs, and says when it is over its memory or process count, so the tree is killed
then. This is the process-tree budget used in every mode (no cgroup controller is available to an
unprivileged sandbox in either); it checks every PERIOD seconds, so a burst shorter than that is
bounded only by each process's own RLIMIT_AS.
"""

from __future__ import annotations

import os

__all__ = ["PERIOD", "Budget"]

PERIOD = 0.2  # seconds between two measurements


class Budget:
    """The budget of the exercise run by the current process's children: `memory` bytes (PSS) beyond
    what the current process itself holds, and `processes` processes besides the exercise's own."""

    def __init__(self, memory: int, processes: int):
        self.root = os.getpid()
        self.memory = memory + pss(self.root)
        self.processes = processes + 1

    def over(self) -> str:
        """ "" while the exercise's processes are within budget, else "memory" or "processes"."""
        tree = descendants(self.root)
        if len(tree) > self.processes:
            return "processes"
        if sum(pss(pid) for pid in tree) > self.memory:
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
