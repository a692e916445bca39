"""Finding the students and their files on disk without trusting what is there.

A class folder holds one folder per student. Nothing here follows a symbolic link: a student folder
that is a link gets a row of zeros with the note "this folder is a symbolic link: not graded", and a
linked file or folder inside is skipped with a note (a "submission" made of links to a classmate's
notebooks, or to the instructor's solutions, earns nothing). The walk is iterative (a folder 10,000
levels deep costs no recursion) and bounded: at most MAX_DEPTH levels, MAX_ENTRIES entries and
MAX_FILES files per student, each file at most MAX_FILE_BYTES and all of them at most MAX_STUDENT_BYTES;
what lies beyond a limit is not read, with a note saying which limit. Files are opened with O_NOFOLLOW,
so a file swapped for a link after the walk is not followed either.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LINKED_FOLDER",
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_STUDENT_BYTES",
    "Student",
    "read_files",
    "students",
]

MAX_DEPTH = 8  # folders below the student's own
MAX_ENTRIES = 2000  # names looked at in one student's folder tree
MAX_FILES = 50  # files read
MAX_FILE_BYTES = 20 * 2**20  # one notebook (a notebook of this course with its outputs is well below)
MAX_STUDENT_BYTES = 40 * 2**20  # all of one student's files
LINKED_FOLDER = "this folder is a symbolic link: not graded"


@dataclass(frozen=True)
class Student:
    """One entry of the class folder: the student id (the folder's name), its path, and why it is not
    graded ("" when it is)."""

    name: str
    path: Path
    refused: str = ""


def students(submissions: Path) -> list[Student]:
    """The class's student folders in name order, hidden ones (a leading dot) left out; a link to a
    folder is a student whose folder is refused."""
    found = []
    with os.scandir(submissions) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                if os.path.isdir(entry.path):
                    found.append(Student(entry.name, Path(entry.path), LINKED_FOLDER))
            elif entry.is_dir(follow_symlinks=False):
                found.append(Student(entry.name, Path(entry.path)))
    return sorted(found, key=lambda s: s.name)


def read_files(folder: Path) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The student's files as (path relative to the folder, bytes), in name order, and notes on what
    was skipped. Hidden files and folders (a leading dot: .ipynb_checkpoints holds stale copies) are
    skipped silently."""
    paths, notes = _walk(folder)
    files, total = [], 0
    for relative, size in paths:
        if len(files) == MAX_FILES:
            notes.append(f"more than {MAX_FILES} files: the others were not read")
            break
        if size > MAX_FILE_BYTES:
            notes.append(f"{relative}: {size} bytes, over the {MAX_FILE_BYTES} of a notebook: not read")
            continue
        if total + size > MAX_STUDENT_BYTES:
            notes.append(f"{relative}: not read: the files add up to more than {MAX_STUDENT_BYTES} bytes")
            continue
        data, problem = _read(folder / relative, MAX_FILE_BYTES)
        if problem:
            notes.append(f"{relative}: {problem}")
            continue
        files.append((relative, data))
        total += len(data)
    return files, notes


def _walk(folder: Path) -> tuple[list[tuple[str, int]], list[str]]:
    """(relative path, size) of the regular files below `folder`, sorted, and notes on what was skipped."""
    found, notes, seen = [], [], 0
    stack = [("", 0)]
    while stack:
        relative, depth = stack.pop()
        try:
            with os.scandir(folder / relative if relative else folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as error:
            notes.append(f"{relative or '.'}/: cannot be read ({error.strerror})")
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                notes.append(f"more than {MAX_ENTRIES} files and folders: the others were not looked at")
                return sorted(found), notes
            if entry.name.startswith("."):
                continue
            path = f"{relative}/{entry.name}" if relative else entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                notes.append(f"{path} is a symbolic link: not read")
            elif stat.S_ISDIR(info.st_mode):
                if depth + 1 > MAX_DEPTH:
                    notes.append(f"{path}/: more than {MAX_DEPTH} folders deep: not read")
                else:
                    stack.append((path, depth + 1))
            elif stat.S_ISREG(info.st_mode):
                found.append((path, info.st_size))
    return sorted(found), notes


def _read(path: Path, limit: int) -> tuple[bytes, str]:
    """At most `limit` bytes of the regular file at `path`, not following a link; or why not."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return b"", f"cannot be read ({error.strerror})"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b"", "not a regular file: not read"
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks), ""
            chunks.append(chunk)
            size += len(chunk)
        return b"", f"more than {limit} bytes: not read"
    except OSError as error:
        return b"", f"cannot be read ({error.strerror})"
    finally:
        os.close(fd)
