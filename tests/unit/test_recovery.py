"""Start-up recovery reads the audit log once and accounts for an unclean end exactly once."""

from __future__ import annotations

from pathlib import Path

from recorder.audit.log import AuditLog
from recorder.audit.verify import read_entries
from recorder.recovery import recover, scan_log
from recorder.room_audit import RoomAudit
from tests.unit.test_room import _config


def test_an_unclean_end_and_its_cut_incident_are_audited_once(tmp_path: Path) -> None:
    config = _config(tmp_path)
    config.storage.directory.mkdir()
    log_path = config.storage.audit_path
    AuditLog.create(log_path, tmp_path / "verify.key")
    log = AuditLog(log_path)
    log.append("daemon_started", pid=41)
    log.append("incident_started", incident="unit-a", file="unit-a.age")
    log.append("incident_started", incident="unit-b", file="../../etc/unit-b.age")
    log.append("incident_closed", incident="unit-b")
    with log_path.open("a") as handle:
        handle.write('{"seq": "not a number", "event": "x", "data": {}}\nnot json\n')  # skipped
    scan = scan_log(log_path)
    assert scan.unclean and list(scan.open_incidents) == ["unit-a"] and scan.last_seq == 3

    recover(config, RoomAudit(log))
    events = [(e["event"], e["data"]) for _, e, _ in read_entries(log_path) if e and e["event"] != "x"]
    assert events[-2][0] == "daemon_recovered" and events[-2][1]["previous_pid"] == 41
    assert events[-2][1]["interrupted"] == ["unit-a"]
    assert events[-1] == (
        "incident_interrupted",
        {
            "incident": "unit-a",
            "file": "unit-a.age",
            "exists": False,
            "bytes": 0,
            "chunks": 0,
            "tail_bytes": 0,
            "truncated": True,
        },
    )
    assert not scan_log(log_path).open_incidents  # a second start finds nothing to recover
