"""Inside the sandbox only: make the course's reference implementations uncallable by student code.

Every function of the reference modules (course.functional, naive, kernels, gradcheck, grading,
apps.boxes) and every exercise's `reference` is replaced, wherever a loaded `course` module holds it, by
a stand-in that records the call and raises ReferenceUsed. An import hook then refuses every `course`
module that is not loaded yet, and every reload: `importlib.reload` of any course module (say the one
that holds `iou`) would run its source again and give the originals back. (The sandbox loads every
course module a notebook's cells import before poisoning; Landlock keeps the source itself unreadable,
see `confine`, so it cannot be exec'd by hand either.) The runner reports a recorded call, and the
grader then scores the exercise 0. The questions' answers are withheld: the sandbox never needs them.
The notebooks' own `check` and `fallback` (QUIET) only do nothing, so a check call left in an
exercise's cell costs nothing.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from collections.abc import Callable

__all__ = ["ReferenceUsed", "plan", "poison_references", "used"]

REFERENCE_MODULES = (
    "course.functional",
    "course.naive",
    "course.kernels",
    "course.gradcheck",
    "course.grading",
    "course.apps.boxes",
)
_EXERCISES = "course.grading.exercises"  # only their `reference`s: helpers there may build the cases
# the notebooks' checking calls, often left in an exercise's cell: they do nothing during grading
# (they would judge with the references inside the sandbox), and do not count as using a reference
QUIET = ("course.grading.check", "course.grading.fallback")
_calls: list[str] = []


class ReferenceUsed(Exception):
    """Raised by a poisoned reference implementation."""


def used() -> list[str]:
    """The names of the poisoned functions that were called so far."""
    return list(_calls)


def plan(keep: Callable[[str], bool] = lambda name: False) -> list[tuple[object, str, str]]:
    """Where the references are: (module or class, attribute, reference's name) for each place a
    loaded `course` module or class holds one; `keep(module_name)` spares modules the runner itself
    needs (their functions are still found where a reference module re-exports them). Finding them
    takes tens of milliseconds, so the job's process plans once and each exercise's process applies
    the plan (`poison_references(planned=...)`) to the same modules, inherited by fork."""
    for name in REFERENCE_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    targets = _reference_functions(keep)
    places: list[tuple[object, str, str]] = []
    for module in [m for n, m in list(sys.modules.items()) if _is_course(n) and m is not None]:
        for attr, value in list(vars(module).items()):
            if id(value) in targets:
                places.append((module, attr, targets[id(value)]))
            elif isinstance(value, type) and _is_course(getattr(value, "__module__", "")):
                places += _class_places(value, targets)
    return places


def poison_references(
    keep: Callable[[str], bool] = lambda name: False, planned: list[tuple[object, str, str]] | None = None
) -> int:
    """Poison the reference implementations where `planned` (default: `plan(keep)`) says they are,
    refuse any further import of a course module, and withhold the questions' answers. Returns the
    number of places poisoned."""
    places = plan(keep) if planned is None else planned
    for owner, attr, name in places:
        stand_in = _stand_in(name)
        setattr(owner, attr, staticmethod(stand_in) if isinstance(owner, type) else stand_in)
    sys.meta_path.insert(0, _Refuse())
    _withhold_answers()
    return len(places)


def _withhold_answers() -> None:
    """A question's answer is data, not a function: the sandbox never needs it (answers are judged by
    the grader), so every loaded question holds a placeholder instead, which no judge accepts."""
    registry = sys.modules.get("course.grading.registry")
    for exercise in getattr(registry, "EXERCISES", {}).values():
        if hasattr(exercise, "answer"):
            exercise.answer = _WITHHELD


_WITHHELD = type("Withheld", (), {"__repr__": lambda self: "<withheld during grading>"})()


def _reference_functions(keep: Callable[[str], bool]) -> dict[int, str]:
    targets: dict[int, str] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not _is_reference(name) or keep(name) or name.startswith(_EXERCISES):
            continue
        for attr, value in vars(module).items():
            if callable(value) and not isinstance(value, type) and not attr.startswith("__"):
                if getattr(value, "__module__", "") == name or name.startswith("course.kernels"):
                    targets[id(value)] = f"{name}.{attr}"
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(_EXERCISES):
            continue
        for value in vars(module).values():
            reference = getattr(value, "reference", None) if isinstance(value, type) else None
            if callable(reference):
                inner = getattr(reference, "__func__", reference)
                targets.setdefault(id(inner), f"{name}.{value.__name__}.reference")
    return targets


def _class_places(cls: type, targets: dict[int, str]) -> list[tuple[object, str, str]]:
    places = []
    for attr, value in list(vars(cls).items()):
        inner = getattr(value, "__func__", value)
        if attr == "reference" or id(inner) in targets:
            places.append((cls, attr, targets.get(id(inner), f"{cls.__module__}.{cls.__name__}.{attr}")))
    return places


def _stand_in(name: str) -> Callable:
    if name in QUIET:
        return _quiet(name)

    def poisoned(*args, **kwargs):
        _calls.append(name)
        raise ReferenceUsed(
            f"{name} is the course's reference implementation and cannot be used during grading; "
            "write the exercise yourself"
        )

    poisoned.__name__ = name.rsplit(".", 1)[-1]
    return poisoned


def _is_course(name: str) -> bool:
    return name == "course" or name.startswith("course.")


def _is_reference(name: str) -> bool:
    return any(name == r or name.startswith(r + ".") for r in REFERENCE_MODULES)


class _Refuse(importlib.abc.MetaPathFinder):
    """Refuses to find any course module (an import after `del sys.modules[...]`, a reload, a module
    not loaded before the poisoning): what is loaded is all student code gets."""

    def find_spec(self, fullname, path=None, target=None):
        if _is_course(fullname):
            raise ImportError(
                f"{fullname} cannot be imported again during grading (import the course's modules in "
                "the setup cell)"
            )
        return None


def _quiet(name: str) -> Callable:
    def does_nothing(*args, **kwargs) -> None:
        return None

    does_nothing.__name__ = name.rsplit(".", 1)[-1]
    return does_nothing
