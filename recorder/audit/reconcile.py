"""Start-up reconciliation of log and state: what a crash (or tampering) left, and what to record.

The writer's state names the entry the device wrote last (seq - 1 and its hash). Looking back from
the end of the log for that entry, exactly one of these holds:
- it is the last line: nothing to do;
- complete entries follow it whose MACs verify under the state's key: a crash came between an
  entry's fsync and the state update: the state is rolled forward over them;
- other bytes follow it (a torn line from a crash mid-append, or garbage): they stay in the file and
  are *sealed*: a `tail_sealed` entry records their offset, length, SHA-256 and a preview;
- it is not in the log (entries dropped, the log replaced or deleted): a `log_gap` entry records
  what the device expected and what it found, continuing the device's sequence and key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from recorder.audit import chain
from recorder.audit.entry import BadLine, Entry, decode
from recorder.audit.state import WriterState

TAIL_WINDOW = 1 << 20
"""How far back from the end the writer looks for its last entry."""
PREVIEW_BYTES = 256


@dataclass(frozen=True)
class Plan:
    roll_forward: list[tuple[Entry, int]]  # entries after the state's position, with their end offsets
    good_end: int  # offset after the last entry the device accounts for
    gap: dict[str, Any] | None  # what `log_gap` records, or None


def plan(tail: bytes, tail_offset: int, state: WriterState, log_exists: bool) -> Plan:
    """Decide what to do, from the last `len(tail)` bytes of the log starting at `tail_offset`."""
    lines = list(_lines(tail, tail_offset))
    if not log_exists and state.seq > 0:
        return Plan([], 0, _gap(state, None, log_missing=True))
    anchor = 0 if state.seq == 0 else _find_anchor(lines, state)
    if anchor is None:
        last = _last_entry(lines)
        good_end = last[1] if last else tail_offset
        return Plan([], good_end, _gap(state, last[0] if last else None, log_missing=False))
    rolled: list[tuple[Entry, int]] = []
    key, expected, prev = state.key, state.seq, state.prev
    for offset, raw in lines:
        if offset < anchor:
            continue
        entry = _decoded(raw if raw.endswith(b"\n") else raw + b"\n")  # whole but for its newline?
        if entry is None or entry.seq != expected or entry.prev != prev or not entry.mac_ok(key):
            break
        rolled.append((entry, offset + len(raw)))
        expected, prev, key = expected + 1, entry.hash, chain.evolve(key)
    return Plan(rolled, rolled[-1][1] if rolled else anchor, None)


def cut_record(cut: bytes, offset: int) -> dict[str, Any]:
    """What `tail_sealed` (or `log_gap`) records about bytes that are not entries."""
    return {
        "offset": offset,
        "length": len(cut),
        "sha256": hashlib.sha256(cut).hexdigest(),
        "preview_b64": base64.b64encode(cut[:PREVIEW_BYTES]).decode("ascii"),
    }


def _lines(tail: bytes, tail_offset: int) -> Iterator[tuple[int, bytes]]:
    start = 0
    if tail_offset > 0:  # the window may begin inside a line: skip to the next line
        start = tail.find(b"\n") + 1 or len(tail)
    while start < len(tail):
        end = tail.find(b"\n", start)
        end = len(tail) if end < 0 else end + 1
        yield tail_offset + start, tail[start:end]
        start = end


def _decoded(raw: bytes) -> Entry | None:
    try:
        return decode(raw)
    except BadLine:
        return None


def _find_anchor(lines: list[tuple[int, bytes]], state: WriterState) -> int | None:
    """End offset of the entry seq - 1 with the state's hash, searched from the end."""
    for offset, raw in reversed(lines):
        entry = _decoded(raw)
        if entry is not None and entry.seq == state.seq - 1 and entry.hash == state.prev:
            return offset + len(raw)
    return None


def _last_entry(lines: list[tuple[int, bytes]]) -> tuple[Entry, int] | None:
    for offset, raw in reversed(lines):
        entry = _decoded(raw)
        if entry is not None:
            return entry, offset + len(raw)
    return None


def _gap(state: WriterState, found: Entry | None, log_missing: bool) -> dict[str, Any]:
    return {
        "expected_last_seq": state.seq - 1,
        "expected_last_hash": state.prev,
        "found_last_seq": found.seq if found else None,
        "found_last_hash": found.hash if found else None,
        "log_missing": log_missing,
    }
