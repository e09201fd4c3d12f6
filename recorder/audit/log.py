"""Append-only audit log on disk: every entry written whole and fsynced before `append` returns."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from recorder.audit import canonical, chain, reconcile
from recorder.audit.state import WriterState, initial_state, parse_state
from recorder.durable import fsync_directory
from recorder.errors import AuditError, StorageError

log = structlog.get_logger()

Echo = Callable[[dict[str, Any]], None]
"""Called with every entry after it is durable (e.g. to witness it in the system journal)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def state_path(path: Path) -> Path:
    return path.with_name(path.name + ".key")


class AuditLog:
    """Writer side of the audit log. Holds only the *current* MAC key (in `<log>.key`, overwritten
    in place on every entry), so an attacker who steals the device cannot re-MAC earlier entries.

    Opening reconciles log and state (see `recorder.audit.reconcile`); what that appended is in
    `repairs`. Several processes may append (the daemon, and `recorder purge|hold` run by an
    operator): each append holds an exclusive `flock` on the state file, re-reads the state under it
    and reconciles again if the log's length is not the one the state recorded. Within a process,
    only one thread (the daemon's control thread) appends to one AuditLog.
    """

    def __init__(self, path: Path, echo: Echo | None = None, now: Callable[[], datetime] = _utc_now) -> None:
        self.path = path
        self._now = now
        self._state_path = state_path(path)
        self._echo = echo
        self.repairs: list[dict[str, Any]] = []
        if not self._state_path.exists():
            raise AuditError(
                f"audit state missing: {self._state_path} (the log cannot be continued without it; "
                "keep the log for the auditor, move it aside and start a new one)"
            )
        try:
            self._state_fd = os.open(self._state_path, os.O_RDWR | os.O_CLOEXEC)
            with self._locked():
                log_exists = path.exists()
                self._log_fd = _open_log(path)
                self._reconcile(self._load_state(), log_exists)
        except OSError as error:
            raise StorageError(f"audit log unusable: {error.strerror}") from error

    @staticmethod
    def create(path: Path, verify_key_path: Path) -> bytes:
        """Start a new log: write the initial key for the auditor and the writer state. Returns the key.

        Raises FileExistsError if the log already exists and AuditError if only its state does
        (the log was deleted: never silently restart a chain).
        """
        if path.exists():
            raise FileExistsError(f"audit log already exists: {path}")
        if state_path(path).exists():
            raise AuditError(
                f"audit log {path} is missing but its state {state_path(path).name} remains: "
                "the log was deleted or moved"
            )
        initial = secrets.token_bytes(32)
        key_text = f"# room-recorder audit verification key for {path.name}; give it to the auditor\n"
        _write_new(verify_key_path, (key_text + initial.hex() + "\n").encode())
        _write_new(state_path(path), initial_state(initial).encode())
        fsync_directory(path.parent)
        return initial

    def append(self, event: str, **data: Any) -> dict[str, Any]:
        """Write one entry durably (log fsynced, then key evolved). Raises StorageError."""
        try:
            with self._locked():
                self._restore_state_file()
                log_exists = self._follow_log_file()
                state = self._load_state()
                if (
                    log_exists is not None
                    or state.size is None
                    or os.fstat(self._log_fd).st_size != state.size
                ):
                    state = self._reconcile(state, log_exists=log_exists is not False)
                entry, _ = self._write(state, event, data)
                return entry
        except OSError as error:
            raise StorageError(f"audit log write failed: {error.strerror}") from error

    def close(self) -> None:
        os.close(self._log_fd)
        os.close(self._state_fd)

    def _restore_state_file(self) -> None:
        """If the state file was deleted or replaced while open (a clean-up, a restored backup), write
        the state this log was continued with back under its name: without it the room could not
        start again. Call with the lock held; the lock moves to the new file. Raises OSError."""
        if _names(self._state_path, self._state_fd):
            return
        tmp = self._state_path.with_name(self._state_path.name + ".restore")
        tmp.unlink(missing_ok=True)
        _write_new(tmp, os.pread(self._state_fd, 4096, 0))
        fd = os.open(tmp, os.O_RDWR | os.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(tmp, self._state_path)
        fsync_directory(self._state_path.parent)
        old, self._state_fd = self._state_fd, fd
        os.close(old)  # releases the lock on the lost file
        log.error(
            "audit_state_restored", path=str(self._state_path), action="written again from the open file"
        )

    def _follow_log_file(self) -> bool | None:
        """If the log was deleted, moved or replaced while open (a clean-up, logrotate), append to what
        the path names now, creating it if need be, so that no entry goes to a file nobody will read.
        Returns None when nothing changed, else whether a file was there (the caller then reconciles,
        which records a `log_gap`). Call with the lock held. Raises OSError."""
        if _names(self.path, self._log_fd):
            return None
        existed = self.path.exists()
        fd = _open_log(self.path)
        fsync_directory(self.path.parent)
        old, self._log_fd = self._log_fd, fd
        os.close(old)
        log.error(
            "audit_log_replaced", path=str(self.path), found=existed, action="continued in the named file"
        )
        return existed

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._state_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._state_fd, fcntl.LOCK_UN)

    def _write(
        self, state: WriterState, event: str, data: dict[str, Any]
    ) -> tuple[dict[str, Any], WriterState]:
        body: dict[str, Any] = {
            "v": chain.FORMAT_VERSION,
            "seq": state.seq,
            "time": self._now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event,
            "data": canonical.normalize(data),
            "prev": state.prev,
        }
        line, digest, mac = chain.seal(body, state.key)
        started = time.perf_counter()
        _write_all(self._log_fd, line)  # a short write raises: the key is not advanced
        os.fsync(self._log_fd)
        state = state.advanced(digest, os.fstat(self._log_fd).st_size)
        self._store(state)
        entry = {**body, "hash": digest, "mac": mac}
        log.info(
            "audit_appended",
            audit_event=event,
            seq=body["seq"],
            hash=digest,
            fsync_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        if self._echo is not None:
            self._echo(entry)
        return entry, state

    def _reconcile(self, state: WriterState, log_exists: bool) -> WriterState:
        """Bring state and log into agreement, recording anything unexpected. Raises OSError."""
        size = os.fstat(self._log_fd).st_size
        start = max(0, size - reconcile.TAIL_WINDOW)
        tail = os.pread(self._log_fd, size - start, start)  # through the held descriptor: no new one
        decision = reconcile.plan(tail, start, state, log_exists)
        for rolled, end in decision.roll_forward:
            state = state.advanced(rolled.hash, end)
            log.warning("audit_state_completed", seq=rolled.seq, reason="crash before the key update")
        if decision.roll_forward and not tail[: decision.good_end - start].endswith(b"\n"):
            _write_all(self._log_fd, b"\n")  # the last entry was whole but for its newline: complete it
            os.fsync(self._log_fd)
            state = state.at_size(decision.good_end + 1)
            size += 1
        cut = tail[max(0, decision.good_end - start) :]
        if cut and not cut.endswith(b"\n"):
            _write_all(self._log_fd, b"\n")  # end the torn line, so the next entry starts on its own
            os.fsync(self._log_fd)
            cut += b"\n"
        if not cut and decision.gap is None:
            if state.size != size:
                state = state.at_size(size)
                self._store(state)
            return state
        data: dict[str, Any] = {"cut": reconcile.cut_record(cut, decision.good_end) if cut else None}
        event = "tail_sealed" if decision.gap is None else "log_gap"
        log.error("audit_log_repaired", repair=event, path=str(self.path), **data, **(decision.gap or {}))
        entry, state = self._write(state, event, {**data, **(decision.gap or {})})
        self.repairs.append(entry)
        return state

    def _store(self, state: WriterState) -> None:
        os.pwrite(self._state_fd, state.encode(), 0)  # same length every time: the old key is overwritten
        os.fsync(self._state_fd)

    def _load_state(self) -> WriterState:
        return parse_state(os.pread(self._state_fd, 4096, 0), self._state_path)


def _open_log(path: Path) -> int:
    """Open (or create) the log for appending. Raises OSError if the path is a symbolic link or not
    a regular file: entries must land in a file, never in /dev/null or wherever a link points."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, f"{path.name} is a symbolic link, not the log itself") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"{path.name} is not a regular file")
    return fd


def _names(path: Path, fd: int) -> bool:
    """Whether `path` still names the open file `fd` (not deleted, moved or replaced)."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (found.st_dev, found.st_ino) == (opened.st_dev, opened.st_ino)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte or raise OSError (a full disk gives a short write, then ENOSPC)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
