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
from recorder.retention import file_facts, hold_marker, retention_due, room_trails


def incident_facts(config: RoomConfig, incident: str) -> dict[str, Any]:
    """Everything known about one incident. Raises RetentionError if neither log nor disk knows it."""
    if not is_incident_id(config.room, incident):  # before the name reaches the file system
        raise RetentionError(f"{incident!r} is not an incident id of room {config.room}")
    trail = room_trails(config).get(incident) or IncidentTrail(incident)
    path = config.storage.incident_path(incident)
    if not trail.entries and not path.exists():
        raise RetentionError(
            f"no incident {incident!r}: not in the audit log, no file in {config.storage.directory}"
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
    print(f"incident      {facts['incident']}")
    print(f"started       {facts['started'] or 'unknown'} by {facts['triggered_by'] or 'unknown'}")
    reasons = "; ".join(facts["reasons"]) or "none given"
    print(f"justification {reasons}{' (MISSING after 24 h)' if facts['justification_missing'] else ''}")
    duration = facts["duration_s"]
    closed = f"{facts['closed']}, {duration:.1f} s" if facts["closed"] else "not closed"
    print(f"closed        {closed}")
    print(f"file          {_file_line(facts)}")
    hold = "ON HOLD" if facts["legal_hold"] else "none"
    if facts["legal_hold"] != facts["hold_marker_file"]:
        hold += " (the .hold marker file disagrees; the audit log decides)"
    print(f"legal hold    {hold}")
    print(f"retention     due {facts['retention_due'] or 'unknown (undated)'}")
    print("trail")
    for entry in facts["trail"]:
        details = " ".join(
            f"{k}={show_value(v)}" for k, v in entry["data"].items() if v is not None and k != "incident"
        )
        print(f"  {entry['seq']:>6} {entry['time']:<24} {entry['event']:<18} {details}")
    return 0


def _file_line(facts: dict[str, Any]) -> str:
    if facts["file"] is not None:
        file = facts["file"]
        return f"{file['path']} ({file['size']} bytes, sha256 {file['sha256']})"
    if facts["deleted"] is not None:
        return f"deleted at seq {facts['deleted']['seq']} ({facts['deleted']['time']})"
    return "MISSING (no file and no deletion entry)"
