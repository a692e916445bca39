"""Submodules that load on first use: the module-level `__getattr__` (PEP 562) of a package.

Layering: the standard library only; used by `course`, `course.apps` and `course.widgets`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType

__all__ = ["lazy_submodules"]


def lazy_submodules(package: str, names: Iterable[str]) -> Callable[[str], ModuleType]:
    """A `__getattr__` for `package` that imports `package.<name>` the first time `name` (one of
    `names`) is looked up on it, and refuses any other name as Python would."""
    known = frozenset(names)

    def __getattr__(name: str) -> ModuleType:
        if name in known:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
