"""Start-up recovery: account in the audit log for what an unclean end of the previous run left.

Reads the log once with the auditor's reader (`recorder.audit.verify.read_entries`). If the last
`daemon_started` has no `daemon_stopped` after it (a crash, kill -9, power cut or watchdog restart),
it appends `daemon_recovered`; for every incident started but never closed, `incident_interrupted`
with what its file holds. Both run before this run's `daemon_started`, so a second start finds
nothing left to recover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from recorder.audit.verify import read_entries
from recorder.config import RoomConfig
from recorder.incident.age_writer import sealed_layout
from recorder.room_audit import RoomAudit

log = structlog.get_logger()

_CLOSING_EVENTS = ("incident_closed", "incident_interrupted", "incident_deleted")


@dataclass
class LogScan:
    """What the log says the previous run left behind."""

    last_seq: int = -1
    last_time: str | None = None
    previous_start: dict[str, Any] | None = None  # the last daemon_started entry, if not followed by a stop
    open_incidents: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> incident_started data

    @property
    def unclean(self) -> bool:
        return self.previous_start is not None


def scan_log(path: Path) -> LogScan:
    """One pass over the log. Unreadable lines are skipped (verifying is the auditor's job)."""
    scan = LogScan()
    if not path.exists():
        return scan
    for _number, entry, _raw in read_entries(path):
        if entry is None:
            continue
        event, data = entry.get("event"), entry.get("data")
        if not isinstance(data, dict):
            continue
        if isinstance(entry.get("seq"), int):
            scan.last_seq, scan.last_time = entry["seq"], entry.get("time")
        if event == "daemon_started":
            scan.previous_start = entry
        elif event == "daemon_stopped":
            scan.previous_start = None
        elif event == "incident_started":
            scan.open_incidents[str(data.get("incident"))] = data
        elif event in _CLOSING_EVENTS:
            scan.open_incidents.pop(str(data.get("incident")), None)
    return scan


def recover(config: RoomConfig, audit: RoomAudit) -> LogScan:
    """Audit an unclean end and every incident it cut. Raises AuditFailed if the log cannot be written
    (the daemon then refuses to start, as it does when it cannot audit its start)."""
    scan = scan_log(config.storage.audit_path)
    if scan.unclean:
        assert scan.previous_start is not None
        previous = scan.previous_start.get("data", {})
        audit.write(
            "daemon_recovered",
            previous_pid=previous.get("pid"),
            previous_start_seq=scan.previous_start.get("seq"),
            previous_start_time=scan.previous_start.get("time"),
            last_seq=scan.last_seq,
            last_time=scan.last_time,
            interrupted=sorted(scan.open_incidents),
        )
        log.warning(
            "daemon_recovered", previous_pid=previous.get("pid"), interrupted=len(scan.open_incidents)
        )
    for incident, started in sorted(scan.open_incidents.items()):
        file = Path(str(started.get("file") or f"{incident}.age")).name  # only ever in the storage directory
        facts = file_facts(config.storage.directory / file)
        audit.write("incident_interrupted", incident=incident, file=file, **facts)
        log.warning("incident_interrupted", incident=incident, **facts)
    return scan


def file_facts(path: Path) -> dict[str, Any]:
    """What an interrupted incident's file holds, without a key: its size, its complete sealed chunks
    (what the officer's reader recovers) and the bytes after them. `truncated` is true because the
    writer never confirmed the final chunk (see docs/reliability.md)."""
    try:
        size = path.stat().st_size
        chunks, tail = sealed_layout(path)
    except FileNotFoundError:
        return {"exists": False, "bytes": 0, "chunks": 0, "tail_bytes": 0, "truncated": True}
    except (OSError, ValueError) as error:
        return {
            "exists": True,
            "bytes": None,
            "chunks": 0,
            "tail_bytes": 0,
            "truncated": True,
            "error": str(error),
        }
    return {"exists": True, "bytes": size, "chunks": chunks, "tail_bytes": tail, "truncated": True}
