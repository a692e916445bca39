"""Limits the kernel enforces on one exercise across all its processes: a control group per exercise.

Where the grader may make control groups (cgroup v1 `memory` and `pids` hierarchies mounted writable,
as root), each sandbox gets a group of its own in both (`SandboxGroups`, made and removed by the
grader), and the sandbox's job process makes a group per exercise inside it (`ExerciseGroup`), which
the exercise's process joins before any student code runs. The kernel then bounds everything that
exercise starts, however briefly: its memory (the exercise's processes are killed past
`memory.limit_in_bytes`) and its processes and threads (a fork past `pids.max` fails). Student code
cannot lift the limits: the files are root's, and Landlock keeps it out of them. Elsewhere (a grader
that is not root, a container whose /sys/fs/cgroup is read-only, a cgroup v2 hierarchy that was not
delegated) `SandboxGroups.make` gives None and `budget.Budget`'s polling is all there is.

Layering: the standard library only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["CONTROLLERS", "ExerciseGroup", "SandboxGroups"]

CONTROLLERS = ("memory", "pids")
MOUNTINFO = "/proc/self/mountinfo"


@dataclass(frozen=True)
class SandboxGroups:
    """One sandbox's groups: controller -> its directory as the grader sees it."""

    paths: dict[str, str]

    @classmethod
    def make(cls, name: str) -> SandboxGroups | None:
        """New groups `name` ("course-grade-<pid of the grader>-<n>") below the grader's own, in every
        controller; None when they cannot be. Groups left by a grader that was killed are removed."""
        bases = _bases()
        if bases is None:
            return None
        for base in bases.values():
            for path in _subgroups(base):
                if _left_by_a_dead_grader(os.path.basename(path)):
                    SandboxGroups({"": path}).remove()
        made: dict[str, str] = {}
        try:
            for controller, base in bases.items():
                made[controller] = os.path.join(base, name)
                os.mkdir(made[controller], 0o755)
        except OSError:
            SandboxGroups(made).remove()
            return None
        return cls(made)

    def remove(self) -> None:
        """Remove the groups and the exercise groups left in them (their processes must be gone)."""
        for path in self.paths.values():
            for child in _subgroups(path):
                _rmdir(child)
            _rmdir(path)


class ExerciseGroup:
    """A group per controller, inside `paths` (controller -> a sandbox's group directory), for one
    exercise: at most `memory` bytes and `processes` processes or threads, the joining one included."""

    def __init__(self, paths: dict[str, str], name: str, memory: int, processes: int):
        self.paths = {c: os.path.join(p, name) for c, p in paths.items()}
        for path in self.paths.values():
            if os.path.isdir(path):  # left by a job process that was killed
                _rmdir(path)
            os.mkdir(path, 0o755)
        _write(self.paths["memory"], "memory.limit_in_bytes", str(memory))
        _write(self.paths["pids"], "pids.max", str(processes))

    def join(self) -> None:
        """Move the calling process into the groups (its children follow it there)."""
        for path in self.paths.values():
            _write(path, "cgroup.procs", str(os.getpid()))

    def over(self) -> str:
        """ "memory" when the kernel killed a process of the exercise for its memory, "processes" when
        it refused one of its forks, else ""."""
        if _counter(self.paths["memory"], "memory.oom_control", "oom_kill"):
            return "memory"
        if _counter(self.paths["pids"], "pids.events", "max"):
            return "processes"
        return ""

    def remove(self) -> None:
        """Remove the groups (every process of the exercise must be gone)."""
        for path in self.paths.values():
            _rmdir(path)


@cache
def _bases() -> dict[str, str] | None:
    """The directory of this process's own group in each controller's v1 hierarchy, when every one
    is mounted and writable by this process; else None."""
    if os.geteuid() != 0:
        return None
    mounts: dict[str, str] = {}
    try:
        for line in Path(MOUNTINFO).read_text().splitlines():
            fields = line.split(" - ")
            if len(fields) != 2 or not fields[1].startswith("cgroup "):
                continue
            options = fields[1].split()[-1].split(",")
            for controller in CONTROLLERS:
                if controller in options and "ro" not in options:
                    mounts[controller] = fields[0].split()[4]
        own = dict(_own_groups())
    except (OSError, IndexError, ValueError):
        return None
    bases = {}
    for controller in CONTROLLERS:
        if controller not in mounts or controller not in own:
            return None
        base = os.path.join(mounts[controller], own[controller].lstrip("/"))
        if not os.path.isdir(base) or not os.access(base, os.W_OK):
            return None
        bases[controller] = base
    return bases


def _own_groups():
    """(controller, path of this process's group) for each v1 hierarchy in /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            yield controller, path


def _left_by_a_dead_grader(name: str) -> bool:
    parts = name.split("-")
    if len(parts) != 4 or parts[:2] != ["course", "grade"] or not parts[2].isdigit():
        return False
    return not os.path.exists(f"/proc/{parts[2]}")


def _write(directory: str, name: str, value: str) -> None:
    with open(os.path.join(directory, name), "w") as file:
        file.write(value)


def _counter(directory: str, name: str, key: str) -> int:
    try:
        for line in Path(directory, name).read_text().splitlines():
            field, _, count = line.partition(" ")
            if field == key:
                return int(count)
    except (OSError, ValueError):
        pass
    return 0


def _subgroups(path: str) -> list[str]:
    try:
        return [entry.path for entry in os.scandir(path) if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _rmdir(path: str) -> None:
    """Remove an empty group (its files go with it)."""
    try:
        os.rmdir(path)
    except OSError:
        pass
