"""The daemon's side of the audit log: entries that must be durable before the room acts, and
entries that, when the log cannot be written, are logged and kept to be written once it recovers."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from recorder import faults
from recorder.audit.log import AuditLog
from recorder.errors import StorageError

log = structlog.get_logger()

MAX_BACKLOG = 1000
"""Entries kept in memory while the log cannot be written; beyond that they are only logged."""


class AuditFailed(StorageError):
    """An audit entry could not be written, for any reason (full disk, damaged key file, bad data)."""


class RoomAudit:
    """Only the control thread uses it (the daemon's loop, the room, its health)."""

    def __init__(self, audit: AuditLog) -> None:
        self._log = audit
        self.on_failure: Callable[[str], None] = lambda _detail: None
        self._backlog: deque[tuple[str, dict[str, Any], str]] = deque()
        self._lost = 0

    def write(self, event: str, **data: Any) -> dict[str, Any]:
        """Write one entry durably. Raises AuditFailed, whatever the cause, after reporting it."""
        try:
            faults.point("audit.append")
            return self._log.append(event, **data)
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"
            self.on_failure(detail)
            raise AuditFailed(detail) from error

    def write_or_log(self, event: str, **data: Any) -> None:
        """Write one entry; if that fails, log it and keep it to be written when the log recovers."""
        try:
            self.write(event, **data)
        except AuditFailed as failure:
            log.error("audit_failed", audit_event=event, error=str(failure), data=data)
            if len(self._backlog) < MAX_BACKLOG:
                self._backlog.append((event, data, _now()))
            else:
                self._lost += 1

    def try_recover(self, detail: str, incident: str | None) -> bool:
        """Write the audit's recovery entry, then every kept entry (marked with when it happened).
        Returns False (nothing written) while the log still fails."""
        try:
            faults.point("audit.append")
            self._log.append(
                "source_recovered",
                source="audit",
                detail=detail,
                incident=incident,
                late_entries=len(self._backlog),
                lost_entries=self._lost,
            )
        except Exception as error:
            log.debug("audit_probe_failed", error=str(error))
            return False
        self._lost = 0
        while self._backlog:
            event, data, happened = self._backlog.popleft()
            try:
                self._log.append(event, **data, happened_at=happened)
            except Exception as error:  # this entry's own content, or the log failed again
                log.error("audit_late_entry_lost", audit_event=event, error=str(error), data=data)
        return True

    def close(self) -> None:
        self._log.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
