"""How big a GGUF model is, read from its header (no llama.cpp, no loading).

    parameter_count(path)   # 134_515_008 for SmolLM2-135M; None if unreadable

A GGUF file starts with key/value metadata, then one record per tensor with
its shape; the model's parameters are the sum of the tensors' element counts.
Only the header is read (a few MB at most: the tokenizer's vocabulary).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import BinaryIO

__all__ = ["parameter_count"]

_MAGIC = b"GGUF"
_STRING, _ARRAY = 8, 9
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
"""Value type -> size in bytes, for the types of fixed size (GGUF v2/v3)."""
_MAX_DIMS = 8


class _Unreadable(Exception):
    """The header is not a GGUF v2/v3 header this reader understands."""


def parameter_count(path: str | Path) -> int | None:
    """The model's parameters (the tensors' elements); None when the file cannot
    be read as GGUF v2 or v3 (the caller falls back to its size)."""
    try:
        with Path(path).open("rb") as file:
            return _count(file)
    except (OSError, _Unreadable, struct.error, OverflowError):
        return None


def _count(file: BinaryIO) -> int:
    if file.read(4) != _MAGIC:
        raise _Unreadable("not GGUF")
    (version,) = _read(file, "<I")
    if version not in (2, 3):
        raise _Unreadable(f"GGUF version {version}")
    tensors, entries = _read(file, "<QQ")
    for _ in range(entries):
        _skip_string(file)  # the key
        (kind,) = _read(file, "<I")
        _skip_value(file, kind)
    total = 0
    for _ in range(tensors):
        _skip_string(file)  # the tensor's name
        (dims,) = _read(file, "<I")
        if dims > _MAX_DIMS:
            raise _Unreadable(f"a tensor of {dims} dimensions")
        shape = _read(file, f"<{dims}Q")
        _read(file, "<IQ")  # its type and offset
        total += math.prod(shape)
    return total


def _read(file: BinaryIO, fmt: str) -> tuple[int, ...]:
    size = struct.calcsize(fmt)
    data = file.read(size)
    if len(data) != size:
        raise _Unreadable("the header ends early")
    return struct.unpack(fmt, data)


def _skip_string(file: BinaryIO) -> None:
    (length,) = _read(file, "<Q")
    file.seek(length, 1)


def _skip_value(file: BinaryIO, kind: int) -> None:
    if kind in _FIXED:
        file.seek(_FIXED[kind], 1)
    elif kind == _STRING:
        _skip_string(file)
    elif kind == _ARRAY:
        item, count = _read(file, "<IQ")
        if item in _FIXED:
            file.seek(_FIXED[item] * count, 1)
        else:
            for _ in range(count):
                _skip_value(file, item)
    else:
        raise _Unreadable(f"value type {kind}")
