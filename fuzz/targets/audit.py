"""The audit verifier (`recorder.audit.verify` over `reader` and `canonical`): arbitrary log bytes,
with or without the auditor's key and a copy of the device's state file.

Three kinds of input (the first byte says which):
- R: raw log and state bytes, and the key to check with (seeds: real logs by our writer);
- E: edits to a real log written at start-up (see fuzz.edits), verified with its key and state;
- S: raw state bytes beside that real log.
Contract: `verify` returns a report or raises AuditError, and `parse_state` parses or raises
AuditError; an edited log never verifies, and a state that verifies names the log's real end."""

from __future__ import annotations

import struct
from pathlib import Path

from fuzz import edits
from fuzz.contract import expect, fresh_dir, scratch, silence_logs
from recorder.audit.log import AuditLog
from recorder.audit.reader import read_entries
from recorder.audit.state import WriterState, parse_state
from recorder.audit.verify import verify
from recorder.errors import AuditError

SURFACE = "log and state bytes → audit.verify (reader, canonical parse, chain, MACs, state)"
_LEN = struct.Struct(">H")


class _RealLog:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "audit.jsonl"
        self.key = AuditLog.create(self.path, directory / "verify.key")
        writer = AuditLog(self.path)
        writer.append("daemon_started", room="fuzz", clients=["desk-1"])
        writer.append("incident_started", incident="20260101T000000Z-ab12", client="desk-1", reason='ü ∑ "')
        writer.append("annotation", incident="20260101T000000Z-ab12", reason="x" * 200, n=2**60, f=0.1)
        writer.append("incident_closed", incident="20260101T000000Z-ab12", nested={"a": [1, {"b": None}]})
        writer.close()
        self.log = self.path.read_bytes()
        self.state_bytes = Path(f"{self.path}.key").read_bytes()
        self.state = parse_state(self.state_bytes, self.path)


_real: _RealLog | None = None


def one_input(data: bytes) -> None:
    global _real
    silence_logs()
    if _real is None:
        _real = _RealLog(fresh_dir("real-log"))
    kind, body = data[:1], data[1:]
    if kind == b"E":
        edited = edits.apply(_real.log, body)
        report = _verify(edited, _real.key, _real.state)
        expect(report.ok == (edited == _real.log), f"edited log verified: ok={report.ok}")
    elif kind == b"S":
        state = _state(body)
        report = _verify(_real.log, _real.key, state)
        if state is not None and report.ok:
            real = _real.state
            expect((state.seq, state.key, state.prev) == (real.seq, real.key, real.prev), "forged state ok")
    else:
        flags, key, rest = body[:1], body[1:33], body[33:]
        size = _LEN.unpack(rest[:2])[0] if len(rest) >= 2 else 0
        state, log = _state(rest[2 : 2 + size]) if flags and flags[0] & 2 else None, rest[2 + size :]
        _verify(log, key if flags and flags[0] & 1 and len(key) == 32 else None, state)


def _state(raw: bytes) -> WriterState | None:
    try:
        state = parse_state(raw, Path("fuzzed.key"))
    except AuditError:
        return None
    expect(state.seq >= 0 and (state.size or 0) >= 0, f"a negative count in a parsed state {raw!r}")
    return state


def _verify(log: bytes, key: bytes | None, state: WriterState | None):  # type: ignore[no-untyped-def]
    path = scratch() / "fuzzed.jsonl"
    path.write_bytes(log)
    for _number, _entry, _raw in read_entries(path):  # what `audit list` reads
        pass
    report = verify(path, key, state=state)
    expect(report.ok or bool(report.problems), "a failed report without a problem")
    return report


def seeds() -> list[bytes]:
    real = _RealLog(fresh_dir("seed-log"))
    state = _LEN.pack(len(real.state_bytes)) + real.state_bytes
    return [
        b"R\x03" + real.key + state + real.log,
        b"R\x01" + real.key + _LEN.pack(0) + real.log,
        b"R\x00" + bytes(32) + _LEN.pack(0) + real.log,
        b"R\x03" + real.key + state + real.log[:-30],
        b"E",
        b"E" + edits.pack(0, 150, 1),
        b"E" + edits.pack(2, 0, 400),
        b"S" + real.state_bytes,
    ]
