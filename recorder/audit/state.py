"""The writer's state file (`audit.jsonl.key`): next seq, its key K[seq], the last hash, the log's length."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from recorder.audit import chain
from recorder.errors import AuditError
from recorder.messages import _

_FORMAT = "{seq:020d} {key} {prev} {size:020d}\n"  # fixed length, so it is overwritten in place


@dataclass(frozen=True)
class WriterState:
    seq: int  # the next entry's seq = the number of entries written
    key: bytes  # K[seq]
    prev: str  # hash of entry seq - 1 (64 zeros before the first)
    size: int | None  # the log's length after entry seq - 1; None in a state written by version 1

    def encode(self) -> bytes:
        return _FORMAT.format(seq=self.seq, key=self.key.hex(), prev=self.prev, size=self.size or 0).encode()

    def advanced(self, digest: str, size: int) -> WriterState:
        """The state after an entry with hash `digest` that made the log `size` bytes long."""
        return WriterState(self.seq + 1, chain.evolve(self.key), digest, size)

    def at_size(self, size: int) -> WriterState:
        return replace(self, size=size)


def initial_state(key: bytes) -> WriterState:
    return WriterState(0, key, chain.GENESIS_HASH, 0)


def parse_state(raw: bytes, where: Path) -> WriterState:
    """Parse a state file's bytes (3 fields from version 1, 4 from version 2). Raises AuditError."""
    try:
        fields = raw.decode("ascii").split()
        if len(fields) not in (3, 4) or len(fields[2]) != 64:
            raise ValueError
        if not all(count.isdigit() for count in (fields[0], *fields[3:])):  # int() also takes -1 and 1_0
            raise ValueError
        key = bytes.fromhex(fields[1])
        if len(key) != 32:
            raise ValueError
        size = int(fields[3]) if len(fields) == 4 else None
        return WriterState(int(fields[0]), key, fields[2], size)
    except (ValueError, UnicodeDecodeError):
        raise AuditError(_("audit state unreadable: {where}").format(where=where)) from None


def read_state_file(path: Path) -> WriterState:
    """Read a copy of the device's state file (for `audit verify --state`). Raises AuditError."""
    try:
        return parse_state(path.read_bytes()[:4096], path)
    except OSError as error:
        raise AuditError(
            _("{path}: cannot read the audit state ({strerror})").format(path=path, strerror=error.strerror)
        ) from None
