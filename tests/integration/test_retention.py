"""Invariant 7: expired incidents are deleted unless on hold, every deletion is audited, and holds and
ages come from the audit log (issue 10 observations 4 and 5)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recorder.audit.verify import load_initial_key, read_entries, verify
from recorder.demo import DemoRoom
from tests.support import start_daemon

DAY_S = 86_400


def _incident_id(age_days: float, tag: str) -> str:
    start = datetime.now(UTC) - timedelta(days=age_days)
    return f"demo-room-{start:%Y%m%dT%H%M%SZ}-{tag}"


def _fake_incident(room: DemoRoom, age_days: float, tag: str = "0a0a0a", mtime_days: float = 0) -> Path:
    """An incident file dated by its id (as the daemon names them); its mtime is set apart on purpose."""
    state = room.root / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    path = state / f"{_incident_id(age_days, tag)}.age"
    path.write_bytes(b"age-encryption.org/v1\n" + tag.encode())  # content is irrelevant to retention
    stamp = time.time() - mtime_days * DAY_S
    os.utime(path, (stamp, stamp))
    return path


def _recorder(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def _hold(
    room: DemoRoom, incident: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return _recorder(
        "hold", incident, "--config", str(room.config), "--reason", "case 2026-17", *extra, env=env
    )


def _entries(room: DemoRoom) -> list[dict[str, object]]:
    return [e for _, e, _ in read_entries(room.root / "state" / "audit.jsonl") if e]


def test_daemon_purges_expired_incidents_at_start_and_audits_each(room: DemoRoom) -> None:
    old = _fake_incident(room, 15, "0b0b0b")
    fresh = _fake_incident(room, 13, "0c0c0c")
    digest, size = hashlib.sha256(old.read_bytes()).hexdigest(), old.stat().st_size
    daemon = start_daemon(room)
    try:
        deadline = time.monotonic() + 10
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        daemon.stop()
    assert not old.exists() and fresh.exists()
    deleted = [e["data"] for e in _entries(room) if e["event"] == "incident_deleted"]
    assert len(deleted) == 1
    assert deleted[0]["incident"] == old.stem  # type: ignore[index]
    assert deleted[0]["sha256"] == digest and deleted[0]["size"] == size  # type: ignore[index]
    assert deleted[0]["actor"]["uid"] == os.getuid() and deleted[0]["actor"]["command"] == "run"  # type: ignore[index]
    state = room.root / "state"
    assert verify(state / "audit.jsonl", load_initial_key(state / "audit.jsonl.verify-key")).ok


def test_retention_counts_from_the_incident_start_not_the_file_mtime(room: DemoRoom) -> None:
    start_daemon(room).stop()
    young_but_old_mtime = _fake_incident(room, 2, "0d0d0d", mtime_days=365)
    old_but_touched = _fake_incident(room, 20, "0e0e0e", mtime_days=0)
    purged = _recorder("purge", "--config", str(room.config))
    assert purged.returncode == 0, purged.stderr
    assert young_but_old_mtime.exists() and not old_but_touched.exists()


def test_legal_hold_keeps_an_expired_incident_until_released(room: DemoRoom) -> None:
    start_daemon(room).stop()  # creates the audit log as a real installation would
    held = _fake_incident(room, 30)
    placed = _hold(room, held.stem)
    assert placed.returncode == 0, placed.stderr
    purged = _recorder("purge", "--config", str(room.config))
    assert purged.returncode == 0 and held.exists()
    assert "on legal hold" in purged.stdout
    assert _hold(room, held.stem, "--release").returncode == 0
    assert _recorder("purge", "--config", str(room.config)).returncode == 0
    assert not held.exists()
    assert [e["event"] for e in _entries(room)][-3:] == ["hold_placed", "hold_released", "incident_deleted"]


def test_deleting_the_hold_file_does_not_lift_the_hold(room: DemoRoom) -> None:
    start_daemon(room).stop()
    held = _fake_incident(room, 30)
    assert _hold(room, held.stem).returncode == 0
    Path(str(held) + ".hold").unlink()
    purged = _recorder("purge", "--config", str(room.config))
    assert purged.returncode == 0 and held.exists() and "on legal hold" in purged.stdout


def test_releasing_an_incident_that_is_not_held_fails_and_logs_nothing(room: DemoRoom) -> None:
    start_daemon(room).stop()
    incident = _fake_incident(room, 3)
    before = len(_entries(room))
    result = _hold(room, incident.stem, "--release")
    assert result.returncode == 1
    assert result.stderr.strip() == f"recorder: {incident.stem} is not on legal hold: nothing to release"
    assert len(_entries(room)) == before


def test_hold_entries_name_the_actor_and_the_file_and_reach_the_journal(
    room: DemoRoom, tmp_path: Path
) -> None:
    start_daemon(room).stop()
    incident = _fake_incident(room, 3)
    address = str(tmp_path / "journal.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as journal:
        journal.bind(address)
        journal.settimeout(10)
        assert _hold(room, incident.stem, env={"RECORDER_JOURNAL_SOCKET": address}).returncode == 0
        fields = dict(line.split("=", 1) for line in journal.recv(65536).decode().splitlines())
    entry = _entries(room)[-1]
    data = entry["data"]
    assert entry["event"] == "hold_placed"
    assert data["sha256"] == hashlib.sha256(incident.read_bytes()).hexdigest()  # type: ignore[index]
    assert data["size"] == incident.stat().st_size and data["file"] == incident.name  # type: ignore[index]
    assert data["actor"]["uid"] == os.getuid() and data["actor"]["command"] == "hold"  # type: ignore[index]
    assert fields["AUDIT_SEQ"] == str(entry["seq"]) and fields["AUDIT_HASH"] == entry["hash"]
    assert fields["SYSLOG_IDENTIFIER"] == "recorder" and fields["AUDIT_EVENT"] == "hold_placed"


def test_purge_dry_run_deletes_nothing(room: DemoRoom) -> None:
    start_daemon(room).stop()
    old = _fake_incident(room, 20)
    dry = _recorder("purge", "--config", str(room.config), "--dry-run")
    assert dry.returncode == 0 and f"would delete {old.name}" in dry.stdout
    assert old.exists()


def test_hold_on_unknown_incident_is_a_clear_error(room: DemoRoom) -> None:
    start_daemon(room).stop()
    unknown = _incident_id(3, "0b0b0b")  # a well-formed id of this room, with no file and no entry
    result = _recorder("hold", unknown, "--config", str(room.config), "--reason", "x")
    assert result.returncode == 1 and f"no incident {unknown!r}" in result.stderr


def test_hold_and_show_refuse_a_name_that_is_not_this_rooms_incident_id(room: DemoRoom) -> None:
    start_daemon(room).stop()
    outside = room.root / "elsewhere.age"  # a file beside the storage directory, reachable by "../"
    outside.write_bytes(b"age-encryption.org/v1\n")
    for name in ("../elsewhere", str(outside.with_suffix("")), "nope"):
        held = _recorder("hold", name, "--config", str(room.config), "--reason", "x")
        shown = _recorder("incidents", "show", name, "--config", str(room.config))
        for result in (held, shown):
            assert result.returncode == 1 and "is not an incident id of room" in result.stderr, name
    assert not Path(str(outside) + ".hold").exists()
