"""The grader's own files: a student's file name for any id, and private atomic writes.

Layering: standard library only; class_run, gradebook and export write through here.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["student_file_name", "write_private"]

_SHORTENED = re.compile(r"-[0-9a-f]{16}\Z")  # how a shortened id ends (`student_file_name`)
_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")  # those surrogateescape cannot write


def student_file_name(student: str, suffix: str) -> str:
    """<student><suffix>, or, for an id too long for a file name, its first characters and a hash of
    the whole id (student ids are folder names: up to 255 bytes, any characters but '/')."""
    name = f"{student}{suffix}"
    if len(os.fsencode(name)) <= 200 and not _SHORTENED.search(student):
        return name  # an id that ends like a shortened one is shortened too: else the two share a file
    digest = hashlib.sha256(os.fsencode(student)).hexdigest()[:16]
    return f"{os.fsdecode(os.fsencode(student)[:100]).rstrip()}-{digest}{suffix}"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` through a private (0600) temporary file of a short name in its folder."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # again: a submission may remove it
    data = _encoded(text)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _encoded(text: str) -> bytes:
    """`text` in UTF-8, a byte of a file name that is not UTF-8 (os.fsdecode's U+DC80-U+DCFF) as that
    byte, any other lone surrogate as its escape: one can come back from the sandbox (a student's
    `raise ValueError("\\ud800")`, JSON-escaped), and writing it raised UnicodeEncodeError, which ended
    `course grade` before the reports and summary of the class were written."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8", "surrogateescape")
