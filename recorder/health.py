"""What is failing in the room now (`degraded`): each part's failure and recovery, audited once."""

from __future__ import annotations

import queue
from collections.abc import Callable

import structlog

from recorder.clock import Clock
from recorder.room_audit import RoomAudit

log = structlog.get_logger()

STORAGE = "storage"
"""Incident files cannot be written (full disk, read-only, I/O error). Recovers when a probe file
can be written and fsynced again, or when an incident opens."""
AUDIT = "audit"
"""The audit log cannot be written. Recovers when the recovery entry itself is written."""

PROBE_INTERVAL_S = 0.5


class Health:
    """The set of failing parts, shown as `degraded` in every reply and state message.

    Threads: capture threads only call `report` (a SimpleQueue put); everything else runs on the
    control thread, which alone touches `parts`.
    """

    def __init__(
        self,
        audit: RoomAudit,
        clock: Clock,
        probe_storage: Callable[[], None],
        incident: Callable[[], str | None],
    ) -> None:
        self._audit = audit
        self._clock = clock
        self._probe_storage = probe_storage
        self._incident = incident
        self.parts: dict[str, str] = {}
        self._reports: queue.SimpleQueue[tuple[str, bool, str, int]] = queue.SimpleQueue()
        self._next_probe_ns = 0
        audit.on_failure = self._audit_failed

    def _audit_failed(self, detail: str) -> None:
        self.fail(AUDIT, detail)

    def report(self, name: str, healthy: bool, detail: str, lost: int = 0) -> None:
        """A source failed or recovered, or lost `lost` packets. Any thread: only enqueues; `tick`
        applies it."""
        self._reports.put((name, healthy, detail, lost))

    def fail(self, name: str, detail: str) -> bool:
        """Mark `name` failing (audited once, or only logged when the audit is what failed)."""
        if name in self.parts:
            return False
        self.parts[name] = detail
        if name in (STORAGE, AUDIT):  # the first probe comes one interval after the failure
            self._next_probe_ns = self._clock.monotonic_ns() + int(PROBE_INTERVAL_S * 1e9)
        log.warning("source_failed", source=name, detail=detail)
        if name != AUDIT:
            self._audit.write_or_log("source_failed", source=name, detail=detail, incident=self._incident())
        return True

    def recover(self, name: str, detail: str) -> bool:
        if name not in self.parts:
            return False
        if name == AUDIT:
            if not self._audit.try_recover(detail, self._incident()):
                return False
        else:
            self._audit.write_or_log(
                "source_recovered", source=name, detail=detail, incident=self._incident()
            )
        del self.parts[name]
        log.info("source_recovered", source=name, detail=detail)
        return True

    def tick(self) -> bool:
        """Apply queued reports and, while storage or audit is failing, probe them once a second.
        Returns True if `degraded` changed."""
        changed = False
        while True:
            try:
                name, healthy, detail, lost = self._reports.get_nowait()
            except queue.Empty:
                break
            if lost:
                incident = self._incident()
                self._audit.write_or_log(
                    "capture_lost", source=name, lost=lost, detail=detail, incident=incident
                )
            elif healthy:
                changed |= self.recover(name, detail)
            else:
                changed |= self.fail(name, detail)
        now = self._clock.monotonic_ns()
        if (STORAGE in self.parts or AUDIT in self.parts) and now >= self._next_probe_ns:
            self._next_probe_ns = now + int(PROBE_INTERVAL_S * 1e9)
            changed |= self._probe()
        return changed

    def _probe(self) -> bool:
        changed = False
        if AUDIT in self.parts:
            changed |= self.recover(AUDIT, "audit log writable again")
        if STORAGE in self.parts:
            try:
                self._probe_storage()
            except Exception as error:  # any failure just means: still failing
                log.debug("storage_probe_failed", error=str(error))
            else:
                changed |= self.recover(STORAGE, "storage writable again (probe)")
        return changed
