"""Edits to a real file, encoded in the fuzzer's bytes: so the fuzzer works on a valid file's
structure (past its checksums and MACs) instead of guessing it."""

from __future__ import annotations

import struct

EDIT = struct.Struct(">BIH")  # kind (flip, cut, delete, duplicate, insert), offset, length


def pack(kind: int, offset: int, length: int) -> bytes:
    return EDIT.pack(kind, offset, length)


def apply(original: bytes, program: bytes) -> bytes:
    """`original` with each 7-byte edit of `program` applied in turn (offsets wrap around)."""
    out = bytearray(original)
    for start in range(0, len(program) - EDIT.size + 1, EDIT.size):
        kind, offset, length = EDIT.unpack_from(program, start)
        at = offset % (len(out) + 1)
        if kind % 5 == 0 and at < len(out):
            out[at] ^= length & 0xFF or 1
        elif kind % 5 == 1:
            del out[at:]
        elif kind % 5 == 2:
            del out[at : at + length]
        elif kind % 5 == 3:
            out[at:at] = out[at : at + length]
        else:
            out[at:at] = program[start : start + EDIT.size]
    return bytes(out)
