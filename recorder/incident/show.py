"""`recorder incidents show ID`: one incident's whole audit trail, its file, retention and hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from recorder.audit.listing import show_value
from recorder.audit.trail import IncidentTrail
from recorder.config import RoomConfig
from recorder.errors import RetentionError
from recorder.incident.ids import is_incident_id
from recorder.incident.listing import room_times
from recorder.local_times import LocalTimes
from recorder.messages import _
from recorder.retention import file_facts, hold_marker, retention_due, room_trails


def incident_facts(config: RoomConfig, incident: str) -> dict[str, Any]:
    """Everything known about one incident. Raises RetentionError if neither log nor disk knows it."""
    if not is_incident_id(config.room, incident):  # before the name reaches the file system
        raise RetentionError(
            _("{incident!r} is not an incident id of room {room}").format(incident=incident, room=config.room)
        )
    trail = room_trails(config).get(incident) or IncidentTrail(incident)
    path = config.storage.incident_path(incident)
    if not trail.entries and not path.exists():
        raise RetentionError(
            _("no incident {incident!r}: not in the audit log, no file in {directory}").format(
                incident=incident, directory=config.storage.directory
            )
        )
    start, due = trail.start_time, retention_due(trail, config)
    deleted = trail.deleted
    return {
        "incident": incident,
        "started": start.isoformat() if start else None,
        "triggered_by": trail.triggered_by,
        "reasons": trail.reasons,
        "justification_missing": trail.justification_missing(datetime.now(UTC)),
        "duration_s": trail.duration_s,
        "closed": trail.closed.data.get("why") if trail.closed else None,
        "file": {**file_facts(path), "path": str(path)} if path.is_file() else None,
        "deleted": {"seq": deleted.seq, "time": deleted.time, **deleted.data} if deleted else None,
        "retention_due": due.isoformat() if due else None,
        "legal_hold": trail.on_hold,
        "hold_marker_file": hold_marker(path).exists(),
        "trail": [entry.as_dict() for entry in trail.entries],
    }


def show_incident(config: RoomConfig, incident: str, as_json: bool) -> int:
    facts = incident_facts(config, incident)
    if as_json:
        print(json.dumps(facts, ensure_ascii=False, indent=2))
        return 0
    times = room_times(config)
    unknown = _("unknown")
    started = _("{time} by {client}").format(
        time=times.table_text(facts["started"], unknown), client=facts["triggered_by"] or unknown
    )
    reasons = "; ".join(facts["reasons"]) or _("none given")
    if facts["justification_missing"]:
        reasons += " " + _("(MISSING after 24 h)")
    closed = _("not closed")
    if facts["closed"]:
        closed = _("{why}, {duration:.1f} s").format(why=facts["closed"], duration=facts["duration_s"])
    hold = _("ON HOLD") if facts["legal_hold"] else _("none")
    if facts["legal_hold"] != facts["hold_marker_file"]:
        hold += " " + _("(the .hold marker file disagrees; the audit log decides)")
    due = times.table_text(facts["retention_due"], _("unknown (undated)"))
    rows = [
        (_("incident"), facts["incident"]),
        (_("started"), started),
        (_("justification"), reasons),
        (_("closed"), closed),
        (_("file"), _file_line(facts, times)),
        (_("legal hold"), hold),
        (_("retention"), _("due {date}").format(date=due)),
    ]
    width = max(len(label) for label, _value in rows)
    for label, value in rows:
        print(f"{label:<{width}} {value}")
    print(_("trail"))
    for entry in facts["trail"]:
        details = " ".join(
            f"{k}={show_value(v)}" for k, v in entry["data"].items() if v is not None and k != "incident"
        )
        print(f"  {entry['seq']:>6} {times.table_text(entry['time']):<24} {entry['event']:<18} {details}")
    return 0


def _file_line(facts: dict[str, Any], times: LocalTimes) -> str:
    if facts["file"] is not None:
        file = facts["file"]
        return _("{path} ({size} bytes, sha256 {sha256})").format(
            path=file["path"], size=file["size"], sha256=file["sha256"]
        )
    if facts["deleted"] is not None:
        return _("deleted at seq {seq} ({time})").format(
            seq=facts["deleted"]["seq"], time=times.table_text(facts["deleted"]["time"])
        )
    return _("MISSING (no file and no deletion entry)")
