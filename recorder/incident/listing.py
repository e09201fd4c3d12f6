"""`recorder incidents list`: the room's incident files; start, retention and hold from the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from recorder.audit.trail import IncidentTrail
from recorder.config import RoomConfig
from recorder.i18n import process_language
from recorder.local_times import LocalTimes
from recorder.messages import _
from recorder.retention import retention_due, room_trails


def list_incidents(config: RoomConfig, as_json: bool) -> int:
    """Raises AuditError if the audit log cannot be read (holds would be unknown)."""
    known = room_trails(config)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for path in config.storage.incident_files():
        trail = known.get(path.stem) or IncidentTrail(path.stem)
        start, due = trail.start_time, retention_due(trail, config)
        rows.append(
            {
                "incident": path.stem,
                "file": str(path),
                "bytes": path.stat().st_size,
                "started": start.isoformat(timespec="seconds") if start else None,
                "age_days": round((now - start).total_seconds() / 86400, 2) if start else None,
                "expires_in_days": round((due - now).total_seconds() / 86400, 2) if due else None,
                "legal_hold": trail.on_hold,
            }
        )
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not rows:
        print(_("no incidents in {directory}").format(directory=config.storage.directory))
        return 0
    times = room_times(config)
    incident, started, expires = _("incident"), _("started"), _("expires in")
    print(f"{incident:<40} {'MiB':>8} {started:<26} {expires:>10}")
    for row in rows:
        mib = float(row["bytes"]) / 2**20
        expires = (
            _("on hold")
            if row["legal_hold"]
            else _("undated")
            if row["expires_in_days"] is None
            else _("{days:>8.1f} d").format(days=row["expires_in_days"])
        )
        print(f"{row['incident']:<40} {mib:>8.1f} {times.table_text(row['started']):<26} {expires:>10}")
    return 0


def room_times(config: RoomConfig) -> LocalTimes:
    """The room's time zone ([locale] timezone), in the process's language."""
    return LocalTimes.named(config.locale.timezone, process_language())
