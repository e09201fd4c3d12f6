"""Invariant 7: expired incidents are deleted unless on hold, and every deletion is audited."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from recorder.audit.verify import load_initial_key, read_entries, verify
from recorder.demo import DemoRoom
from tests.support import start_daemon

DAY_S = 86_400


def _fake_incident(room: DemoRoom, name: str, age_days: float) -> Path:
    state = room.root / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    path = state / f"{name}.age"
    path.write_bytes(b"age-encryption.org/v1\n")  # content is irrelevant to retention
    stamp = time.time() - age_days * DAY_S
    os.utime(path, (stamp, stamp))
    return path


def _recorder(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder", *args], capture_output=True, text=True, timeout=60
    )


def _events(room: DemoRoom) -> list[dict[str, object]]:
    return [e for _, e, _ in read_entries(room.root / "state" / "audit.jsonl") if e]


def test_daemon_purges_expired_incidents_at_start_and_audits_each(room: DemoRoom) -> None:
    old = _fake_incident(room, "demo-room-old", 15)
    fresh = _fake_incident(room, "demo-room-fresh", 13)
    daemon = start_daemon(room)
    try:
        deadline = time.monotonic() + 10
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        daemon.stop()
    assert not old.exists() and fresh.exists()
    deleted = [e for e in _events(room) if e["event"] == "incident_deleted"]
    assert [e["data"]["incident"] for e in deleted] == ["demo-room-old"]  # type: ignore[index]
    state = room.root / "state"
    assert verify(state / "audit.jsonl", load_initial_key(state / "audit.jsonl.verify-key")).ok


def test_legal_hold_keeps_an_expired_incident_until_released(room: DemoRoom) -> None:
    start_daemon(room).stop()  # creates the audit log as a real installation would
    held = _fake_incident(room, "demo-room-held", 30)
    placed = _recorder("hold", "demo-room-held", "--config", str(room.config), "--reason", "case 2026-17")
    assert placed.returncode == 0, placed.stderr
    purged = _recorder("purge", "--config", str(room.config))
    assert purged.returncode == 0 and held.exists()
    assert "on legal hold" in purged.stdout
    assert (
        _recorder(
            "hold", "demo-room-held", "--config", str(room.config), "--reason", "closed", "--release"
        ).returncode
        == 0
    )
    assert _recorder("purge", "--config", str(room.config)).returncode == 0
    assert not held.exists()
    assert [e["event"] for e in _events(room)][-3:] == ["hold_placed", "hold_released", "incident_deleted"]


def test_purge_dry_run_deletes_nothing(room: DemoRoom) -> None:
    start_daemon(room).stop()
    old = _fake_incident(room, "demo-room-old", 20)
    dry = _recorder("purge", "--config", str(room.config), "--dry-run")
    assert dry.returncode == 0 and "would delete demo-room-old.age" in dry.stdout
    assert old.exists()


def test_hold_on_unknown_incident_is_a_clear_error(room: DemoRoom) -> None:
    start_daemon(room).stop()
    result = _recorder("hold", "nope", "--config", str(room.config), "--reason", "x")
    assert result.returncode == 1 and "no incident 'nope'" in result.stderr
