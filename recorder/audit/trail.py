"""Each incident's trail, folded from the audit log: who started it, why, its close, holds and deletion."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from recorder.audit.entry import Entry
from recorder.incident.ids import parse_incident_id

JUSTIFICATION_DUE = timedelta(hours=24)
CLOSING_EVENTS = ("incident_closed", "incident_interrupted")
"""`incident_interrupted` is start-up recovery's close of an incident whose run ended without one."""


def parse_time(text: str) -> datetime:
    """An entry's `time` (ISO 8601, `Z`). Raises ValueError."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def incident_start_from_id(incident: str) -> datetime | None:
    """The start time written into an incident id (`ROOM-YYYYMMDDTHHMMSSZ-xxxxxx`), or None."""
    parsed = parse_incident_id(incident)
    return parsed[1] if parsed else None


def room_from_id(incident: str) -> str | None:
    parsed = parse_incident_id(incident)
    return parsed[0] if parsed else None


@dataclass
class IncidentTrail:
    incident: str
    entries: list[Entry] = field(default_factory=list)

    def _events(self, *names: str) -> list[Entry]:
        return [entry for entry in self.entries if entry.event in names]

    def _first(self, name: str) -> Entry | None:
        found = self._events(name)
        return found[0] if found else None

    @property
    def started(self) -> Entry | None:
        return self._first("incident_started")

    @property
    def closed(self) -> Entry | None:
        found = self._events(*CLOSING_EVENTS)
        return found[-1] if found else None

    @property
    def deleted(self) -> Entry | None:
        return self._first("incident_deleted")

    @property
    def uploaded(self) -> Entry | None:
        """The last verified upload to the vault (`incident_uploaded`)."""
        found = self._events("incident_uploaded")
        return found[-1] if found else None

    @property
    def local_removed(self) -> Entry | None:
        """The local copy removed after a verified upload (`incident_local_removed`)."""
        return self._first("incident_local_removed")

    @property
    def holds(self) -> list[Entry]:
        return self._events("hold_placed", "hold_released")

    @property
    def on_hold(self) -> bool:
        """Held until a release is audited; a `.hold` file is never the authority."""
        holds = self.holds
        return bool(holds) and holds[-1].event == "hold_placed"

    @property
    def start_time(self) -> datetime | None:
        """From the audit's `incident_started`, else from the incident id; never from a file's mtime."""
        if self.started is not None:
            return parse_time(self.started.time)
        return incident_start_from_id(self.incident)

    @property
    def room(self) -> str | None:
        return room_from_id(self.incident)

    @property
    def triggered_by(self) -> str | None:
        return _text(self.started.data.get("client")) if self.started else None

    @property
    def reasons(self) -> list[str]:
        """The trigger's reason, then every annotation's text: the justification as given."""
        texts = [_text(e.data.get("reason")) for e in self._events("incident_started", "trigger_extended")]
        texts += [_text(e.data.get("text")) for e in self._events("annotation")]
        return [text for text in texts if text]

    def justification_missing(self, now: datetime) -> bool:
        """No reason given with the trigger and no annotation, 24 h or more after the start."""
        start = self.start_time
        return not self.reasons and start is not None and now - start >= JUSTIFICATION_DUE

    @property
    def duration_s(self) -> float | None:
        if self.closed is None:
            return None
        media_s = self.closed.data.get("media_s")
        if isinstance(media_s, int | float) and not isinstance(media_s, bool):
            return float(media_s)
        start = self.start_time
        return (parse_time(self.closed.time) - start).total_seconds() if start else None

    @property
    def crash_cut(self) -> bool:
        closed = self.closed
        return closed is not None and closed.event == "incident_interrupted"


def trails(entries: Iterable[Entry]) -> dict[str, IncidentTrail]:
    """Every incident named in the entries, in order of first mention."""
    result: dict[str, IncidentTrail] = {}
    for entry in entries:
        incident = entry.data.get("incident")
        if isinstance(incident, str) and incident:
            result.setdefault(incident, IncidentTrail(incident)).entries.append(entry)
    return result


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
