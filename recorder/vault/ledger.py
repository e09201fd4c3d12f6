"""What the vault should hold, folded from the audit log as it grows: incidents closed and not yet
uploaded, and legal holds changed since an upload. The log is the only authority (a restarted
daemon finds the same work again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from recorder.audit.entry import BadLine, Entry, decode
from recorder.audit.trail import incident_start_from_id, parse_time

CLOSING = frozenset({"incident_closed", "incident_interrupted"})
GONE = frozenset({"incident_deleted", "incident_local_removed"})
HOLDS = frozenset({"hold_placed", "hold_released"})
URGENT = CLOSING | GONE | HOLDS | {"incident_started", "incident_uploaded"}
"""Entries that make a checkpoint due at once ("at every incident"); others wait for the interval."""


@dataclass
class Incident:
    incident: str
    started: datetime | None = None
    closed: bool = False
    uploaded: dict[str, Any] | None = None  # the data of its incident_uploaded entry
    gone: bool = False
    on_hold: bool = False
    hold_unapplied: bool = False  # a hold changed after the upload; the vault must follow

    def retain_until(self, days: int) -> datetime | None:
        start = self.started or incident_start_from_id(self.incident)
        return start + timedelta(days=days) if start else None


class Ledger:
    """Only the uploader's thread uses it."""

    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}

    def feed(self, entry: Entry) -> None:
        name = entry.data.get("incident")
        if not isinstance(name, str) or not name:
            return
        item = self.incidents.setdefault(name, Incident(name))
        if entry.event == "incident_started":
            item.started = parse_time(entry.time)
        elif entry.event in CLOSING:
            item.closed = True
        elif entry.event == "incident_uploaded":
            item.uploaded = entry.data
            item.hold_unapplied = False  # uploaded with the hold as it stood
        elif entry.event in GONE:
            item.gone = True  # the local file: the vault's copy stays until its own retention
        elif entry.event in HOLDS:
            item.on_hold = entry.event == "hold_placed"
            item.hold_unapplied = item.uploaded is not None

    def to_upload(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.closed and i.uploaded is None and not i.gone]

    def holds_to_apply(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.hold_unapplied and i.uploaded is not None]


class Follower:
    """Reads the entries appended to the log since the last call (whole lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_entries(self) -> list[Entry]:
        """Raises OSError. A log that got shorter is read again from its start."""
        with self.path.open("rb") as handle:
            size = handle.seek(0, 2)
            if size < self.offset:
                self.offset = 0
            if size == self.offset:
                return []
            handle.seek(self.offset)
            data = handle.read(size - self.offset)
        end = data.rfind(b"\n") + 1
        self.offset += end
        found = []
        for raw in data[:end].splitlines(keepends=True):
            try:
                found.append(decode(raw))
            except BadLine:
                continue
        return found
