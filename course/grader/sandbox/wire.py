"""The only form in which results leave the sandbox: plain data as JSON plus raw array buffers.

Nothing that crosses back is unpickled. A frame is a 4-byte big-endian header length, a JSON header,
then the raw bytes of the arrays the header describes (numbers and booleans only, C order). Student
code writes the replies the relay decodes (`relay`), so every frame is treated as hostile: before the
JSON parser sees a header, its size (MAX_HEADER_BYTES) and bracket nesting (MAX_NESTING) are checked
in linear time; then every length, dtype and shape is checked (in exact integers) against the bytes
actually present, and at most `max_frames` frames are decoded. A garbled or hostile frame gives a
ValueError, never another exception, code execution, deep recursion or an oversized allocation.
`read_exact` and `write_all` carry bytes over the sandbox's pipes.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from typing import Any

import numpy as np

from course.grading.exercise import Outcome

__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_NESTING",
    "decode_frames",
    "decode_outcome",
    "encode_frame",
    "encode_outcome",
    "read_exact",
    "write_all",
]

MAX_FRAME_BYTES = 16 * 2**20
MAX_HEADER_BYTES = 4 * 2**20
MAX_NESTING = 40  # brackets in a header: an output nested 10 deep (see _from_json) needs about 25
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')  # a JSON string (disjoint alternatives: linear)
_DTYPES = {
    "|b1",
    "|i1",
    "|u1",
    "<i2",
    "<i4",
    "<i8",
    "<u2",
    "<u4",
    "<u8",
    "<f2",
    "<f4",
    "<f8",
}
_HEADER = struct.Struct(">I")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # how JSON writes half of a UTF-16 pair
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode_frame(header: dict, arrays: list[np.ndarray] = ()) -> bytes:
    """One frame: `header` (JSON-able, arrays referenced by index) followed by the arrays' bytes."""
    header = dict(header, buffers=[{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays])
    head = json.dumps(header).encode()
    body = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    return _HEADER.pack(len(head)) + head + body


def decode_frames(data: bytes, max_frames: int = 1000) -> tuple[list[tuple[dict, list[np.ndarray]]], str]:
    """Split a byte stream into at most `max_frames` (header, arrays) frames; also say why decoding
    stopped early, if it did."""
    frames, offset = [], 0
    while offset < len(data):
        if len(frames) == max_frames:
            return frames, f"more than {max_frames} results: the rest was ignored"
        try:
            header, arrays, offset = _decode_one(data, offset)
        except ValueError as error:
            return frames, f"unreadable results after {len(frames)} frames: {error}"
        frames.append((header, arrays))
    return frames, ""


def _nesting(text: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings left out; linear time, no recursion."""
    brackets = np.frombuffer(_STRING.sub(b"", text), dtype=np.uint8)
    steps = np.isin(brackets, (91, 123)).astype(np.int64) - np.isin(brackets, (93, 125))  # [{ and ]}
    return int(np.cumsum(steps).max(initial=0))


def _decode_one(data: bytes, offset: int) -> tuple[dict, list[np.ndarray], int]:
    if offset + _HEADER.size > len(data):
        raise ValueError("truncated frame header")
    (length,) = _HEADER.unpack_from(data, offset)
    offset += _HEADER.size
    if length > MAX_HEADER_BYTES or offset + length > len(data):
        raise ValueError("truncated or oversized header")
    text = data[offset : offset + length]
    if _nesting(text) > MAX_NESTING:
        raise ValueError(f"header nested more than {MAX_NESTING} deep")
    try:
        header = json.loads(text.decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # ValueError: a 5,000-digit int
        raise ValueError(f"header is not JSON ({error})"[:200]) from None
    if _ESCAPED_SURROGATE.search(text):  # rare: only then are its strings walked (nesting is bounded)
        header = _whole_characters(header)
    offset += length
    if not isinstance(header, dict) or not isinstance(header.get("buffers"), list):
        raise ValueError("header is not a frame header")
    arrays = []
    for spec in header["buffers"]:
        dtype, shape = _array_spec(spec)
        size = dtype.itemsize * math.prod(shape)
        if offset + size > len(data):
            raise ValueError("truncated array data")
        flat = np.frombuffer(data, dtype=dtype, count=size // dtype.itemsize, offset=offset)
        arrays.append(flat.reshape(shape))
        offset += size
    return header, [a.copy() for a in arrays], offset


def _whole_characters(value: Any) -> Any:
    """`value` (parsed JSON) with every lone surrogate of its strings replaced by U+FFFD: JSON may
    escape half of a UTF-16 pair alone ("\\ud800"), which Python keeps in a str that no UTF-8 file,
    terminal or Gradescope can take (a report raised UnicodeEncodeError on a student's error message)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_whole_characters(v) for v in value]
    if isinstance(value, dict):
        return {_whole_characters(k): _whole_characters(v) for k, v in value.items()}
    return value


def _array_spec(spec: Any) -> tuple[np.dtype, tuple[int, ...]]:
    if not isinstance(spec, dict) or spec.get("dtype") not in _DTYPES:
        raise ValueError(f"bad array description {spec!r:.80}")
    if not isinstance(spec.get("shape"), list):
        raise ValueError(f"bad array description {spec!r:.80}")
    shape = spec["shape"]
    if len(shape) > 32 or not all(type(n) is int and 0 <= n <= MAX_FRAME_BYTES for n in shape):
        raise ValueError(f"bad array shape {shape!r:.80}")
    if math.prod(shape) > MAX_FRAME_BYTES:  # exact: [2**64, 0] is refused by the line above
        raise ValueError("array too large")
    return np.dtype(spec["dtype"]), tuple(shape)


def encode_outcome(index: int, outcome: Outcome) -> bytes:
    """The frame for case number `index`: its Outcome, whose output is already plain data."""
    arrays: list[np.ndarray] = []
    return encode_frame({"case": index, **_outcome_fields(outcome, arrays)}, arrays)


def _outcome_fields(outcome: Outcome, arrays: list[np.ndarray]) -> dict:
    return {
        "output": _to_json(outcome.output, arrays),
        "error": outcome.error,
        "not_attempted": outcome.not_attempted,
        "modified": list(outcome.modified),
        "again": None if outcome.again is None else _outcome_fields(outcome.again, arrays),
        "changed": outcome.changed,
    }


def decode_outcome(header: dict, arrays: list[np.ndarray], depth: int = 0) -> Outcome:
    """Rebuild an Outcome (and the Outcome of its second call, one level deep) from a frame; ValueError
    if any field is not what encode_outcome writes."""
    error, modified, again = header.get("error"), header.get("modified"), header.get("again")
    if error is not None and not isinstance(error, str):
        raise ValueError("error is not a string")
    if not isinstance(modified, list) or not all(isinstance(m, str) for m in modified):
        raise ValueError("modified is not a list of names")
    if again is not None and (depth > 0 or not isinstance(again, dict)):
        raise ValueError("again is not the outcome of one second call")
    return Outcome(
        output=_from_json(header.get("output"), arrays, 0),
        error=error[:4000] if error else error,
        not_attempted=header.get("not_attempted") is True,
        modified=tuple(m[:100] for m in modified[:20]),
        again=None if again is None else decode_outcome(again, arrays, depth + 1),
        changed=header.get("changed") is True,
    )


def _to_json(value: Any, arrays: list[np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        arrays.append(value.astype(value.dtype.newbyteorder("<"), copy=False))  # big-endian: same numbers
        return {"array": len(arrays) - 1}
    if isinstance(value, (tuple, list)):
        return {"tuple" if isinstance(value, tuple) else "list": [_to_json(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[str(k), _to_json(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"not plain data: {type(value).__name__}")


def _from_json(value: Any, arrays: list[np.ndarray], depth: int) -> Any:
    if depth > 10:
        raise ValueError("output nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((kind, content),) = value.items()
        if kind == "array" and isinstance(content, int) and 0 <= content < len(arrays):
            return arrays[content]
        if kind in ("tuple", "list") and isinstance(content, list):
            items = [_from_json(v, arrays, depth + 1) for v in content]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict" and isinstance(content, list):
            if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in content):
                raise ValueError("bad dict in output")
            return {k: _from_json(v, arrays, depth + 1) for k, v in content}
    raise ValueError(f"not plain data: {value!r:.80}")


def read_exact(fd: int, size: int) -> bytes | None:
    """Exactly `size` bytes from the (blocking) descriptor `fd`, or None at end of file."""
    chunks, got = [], 0
    while got < size:
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    """All of `data` to the (blocking) descriptor `fd`."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
