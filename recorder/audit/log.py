"""Append-only audit log on disk: every entry fsynced before `append` returns."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from recorder.audit import chain
from recorder.durable import fsync_directory
from recorder.errors import AuditError, StorageError

log = structlog.get_logger()

_STATE_FORMAT = "{seq:020d} {key} {hash}\n"  # fixed length, so it is overwritten in place


class AuditLog:
    """Writer side of the audit log. Holds only the *current* MAC key (in `<log>.key`, overwritten
    in place on every entry), so an attacker who steals the device cannot re-MAC earlier entries.

    Several processes may append (the daemon, and `recorder purge|hold` run by an operator): each
    append holds an exclusive `flock` on the state file and re-reads the state under it. Within a
    process, only one thread (the daemon's control thread) appends.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._state_path = path.with_name(path.name + ".key")
        if not self._state_path.exists():
            raise AuditError(f"audit state missing: {self._state_path} (create the log first)")
        self._log_fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._state_fd = os.open(self._state_path, os.O_RDWR | os.O_CLOEXEC)
        with self._locked():
            self._load_state()  # fail at start, not at the first alarm, if the state is unreadable

    @staticmethod
    def create(path: Path, verify_key_path: Path) -> bytes:
        """Start a new log: write the initial key for the auditor and the writer state. Returns the key.

        Raises FileExistsError if a log or state already exists (never silently restart a chain).
        """
        if path.exists() or path.with_name(path.name + ".key").exists():
            raise FileExistsError(f"audit log already exists: {path}")
        initial = secrets.token_bytes(32)
        fd = os.open(verify_key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"# room-recorder audit verification key for {path.name}; give it to the auditor\n")
            handle.write(initial.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        state = path.with_name(path.name + ".key")
        fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(_STATE_FORMAT.format(seq=0, key=initial.hex(), hash=chain.GENESIS_HASH))
            handle.flush()
            os.fsync(handle.fileno())
        fsync_directory(path.parent)
        return initial

    def append(self, event: str, **data: Any) -> dict[str, Any]:
        """Write one entry durably (log fsynced, then key evolved). Raises StorageError."""
        try:
            with self._locked():
                return self._append_locked(event, data)
        except OSError as error:
            raise StorageError(f"audit log write failed: {error.strerror}") from error

    def _append_locked(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        seq, key, prev = self._load_state()
        body: dict[str, Any] = {
            "v": chain.FORMAT_VERSION,
            "seq": seq,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event,
            "data": data,
            "prev": prev,
        }
        digest = chain.entry_hash(body)
        entry = {**body, "hash": digest, "mac": chain.entry_mac(key, digest)}
        line = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        started = time.perf_counter()
        try:
            os.write(self._log_fd, line.encode())
            os.fsync(self._log_fd)
            self._advance(seq, key, digest)
        except OSError as error:
            raise StorageError(f"audit log write failed: {error.strerror}") from error
        log.info(
            "audit_appended",
            audit_event=event,
            seq=body["seq"],
            hash=digest,
            fsync_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return entry

    def close(self) -> None:
        os.close(self._log_fd)
        os.close(self._state_fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._state_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._state_fd, fcntl.LOCK_UN)

    def _advance(self, seq: int, key: bytes, digest: str) -> None:
        state = _STATE_FORMAT.format(seq=seq + 1, key=chain.evolve(key).hex(), hash=digest).encode()
        os.pwrite(self._state_fd, state, 0)  # same length every time: the old key is overwritten
        os.fsync(self._state_fd)

    def _load_state(self) -> tuple[int, bytes, str]:
        """(next seq, its key, previous hash), read under the lock."""
        try:
            seq_text, key_hex, prev = os.pread(self._state_fd, 4096, 0).decode().split()
            seq, key = int(seq_text), bytes.fromhex(key_hex)
        except (ValueError, UnicodeDecodeError):
            raise AuditError(f"audit state unreadable: {self._state_path}") from None
        last = _last_entry(self._log_fd)
        if last is not None and last.get("seq") == seq:
            # A crash came between the entry's fsync and the key update: finish that update.
            return seq + 1, chain.evolve(key), str(last["hash"])
        return seq, key, prev


def _last_entry(fd: int) -> dict[str, Any] | None:
    """Read through the descriptor the writer holds: an append needs no free descriptor."""
    size = os.fstat(fd).st_size
    start = max(0, size - 65536)
    lines = os.pread(fd, size - start, start).splitlines()
    for raw in reversed(lines):
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict):
            return entry
    return None
