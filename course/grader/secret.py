"""The grading secret: where each student's hidden cases come from, and what signs the grader's files.

A secret is the content of a small file: at least 16 bytes (a new one is 64 hex digits, 256 bits
from `secrets.token_hex`). It never appears on a
command line, in the environment or in a file student code can read: `course grade` keeps it in
OUT/.course-grade-secret (mode 0600, in an OUT folder of mode 0700 that bubblewrap also hides), or
reads it from a file the instructor names (`--secret-file`). Everything else is derived from it with
HMAC-SHA256, so nothing derived reveals the secret or another student's draws:

- `student_seed(secret, student, submission)`: the seed of one student's hidden cases, a 256-bit int
  (numpy's `default_rng` takes it as is). One leaked table of answers helps nobody else, and on
  Gradescope each submission (its id as `submission`) gets new hidden cases.
- `sign(secret, payload)` / `verify`: the MAC of a per-student results file, so a resumed run trusts
  only files this secret wrote (a forged or edited `<student>.json` is graded again).
- `fingerprint(secret)`: stored beside the results, so a run given another secret for the same OUT
  folder is refused instead of mixing two sets of hidden cases in one gradebook.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

__all__ = [
    "MIN_SECRET_BYTES",
    "SECRET_BYTES",
    "BadSecret",
    "fingerprint",
    "new_secret",
    "read_secret",
    "sign",
    "student_seed",
    "verify",
]

SECRET_BYTES = 32  # random bytes of a new secret (written as 64 hex digits)
MIN_SECRET_BYTES = 16  # 128 bits: less is refused


class BadSecret(ValueError):
    """A secret file that cannot be used; the message says why and how to make a good one."""


def new_secret() -> bytes:
    """A fresh secret: SECRET_BYTES random bytes, as hex digits (so it can be kept in a text file)."""
    return secrets.token_hex(SECRET_BYTES).encode()


def read_secret(path: Path) -> bytes:
    """The secret in the file at `path`: its bytes, without surrounding whitespace (a hex string written
    by `python -c "import secrets; print(secrets.token_hex(32))"` is fine). Raises BadSecret when the
    file cannot be read or holds fewer than MIN_SECRET_BYTES bytes."""
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as error:
        raise BadSecret(f"cannot read the secret file {path}: {error.strerror}") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise BadSecret(
            f"the secret file {path} holds {len(secret)} bytes, need at least {MIN_SECRET_BYTES}; make one "
            'with: python -c "import secrets; print(secrets.token_hex(32))" > FILE'
        )
    return secret


def student_seed(secret: bytes, student: str, submission: str = "") -> int:
    """The seed of `student`'s hidden cases (for one `submission`, when each gets its own):
    int(HMAC-SHA256(secret, "hidden cases" | student | submission)), in [0, 2**256)."""
    message = b"\0".join([b"hidden cases", student.encode("utf-8", "surrogateescape"), submission.encode()])
    return int.from_bytes(hmac.digest(secret, message, hashlib.sha256), "big")


def sign(secret: bytes, payload: bytes) -> str:
    """The hex MAC of `payload` (a results file's canonical bytes) under `secret`."""
    return hmac.new(secret, b"results\0" + payload, hashlib.sha256).hexdigest()


def verify(secret: bytes, payload: bytes, mac: object) -> bool:
    """Whether `mac` is sign(secret, payload); False for anything that is not a string."""
    return isinstance(mac, str) and hmac.compare_digest(sign(secret, payload), mac)


def fingerprint(secret: bytes) -> str:
    """A public name of the secret (an HMAC of a fixed message: reveals nothing about it), to tell two
    secrets apart."""
    return hmac.new(secret, b"fingerprint", hashlib.sha256).hexdigest()[:32]
