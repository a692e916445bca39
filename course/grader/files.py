"""The grader's own files: a student's file name for any id, and private atomic writes.

Layering: standard library only; class_run, gradebook and export write through here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["student_file_name", "write_private"]


def student_file_name(student: str, suffix: str) -> str:
    """<student><suffix>, or, for an id too long for a file name, its first characters and a hash of
    the whole id (student ids are folder names: up to 255 bytes, any characters but '/')."""
    name = f"{student}{suffix}"
    if len(os.fsencode(name)) <= 200:
        return name
    digest = hashlib.sha256(os.fsencode(student)).hexdigest()[:16]
    return f"{os.fsdecode(os.fsencode(student)[:100]).rstrip()}-{digest}{suffix}"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` through a private (0600) temporary file of a short name in its folder."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # again: a submission may remove it
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with open(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
