"""Files pulled from under a running daemon: the audit log or its state deleted or rotated away, and a
second daemon started on the same storage directory. Each case keeps the rule: every recording has
its audited start in the log the room will be verified from, and the room can start again."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from panic_button.client import Refused
from recorder.audit.verify import read_entries
from recorder.demo import DemoRoom, free_tcp_port, set_up_room
from tests.support import RunningDaemon, record_incident, start_daemon


@pytest.fixture
def room(tmp_path: Path) -> DemoRoom:
    """A short pre-roll and post-roll (conftest's `daemon` runs this room)."""
    return set_up_room(tmp_path, pre_roll_s=0.5, post_roll_s=0.2)


def _entries(path: Path) -> list[dict[str, Any]]:
    return [entry for _, entry, _ in read_entries(path) if entry]


def _wait_for_event(log: Path, event: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """The log's entries once one of them is `event` (the writer's close is audited after `idle`)."""
    deadline = time.monotonic() + timeout_s
    while True:
        entries = _entries(log)
        if any(e["event"] == event for e in entries):
            return entries
        assert time.monotonic() < deadline, f"no {event} in {log}"
        time.sleep(0.05)


def _verify(log: Path, key: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "recorder", "audit", "verify", str(log), "--key", str(key)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_an_audit_log_deleted_while_running_is_started_again_with_a_gap(daemon: RunningDaemon) -> None:
    log = daemon.state_dir / "audit.jsonl"
    log.unlink()  # a careless clean-up; before, every later entry went to the deleted file
    incident = record_incident(daemon, 0.3)
    assert log.exists(), "the audit log was not created again"
    entries = _wait_for_event(log, "incident_closed")
    assert entries[0]["event"] == "log_gap" and entries[0]["data"]["log_missing"] is True
    started = [e for e in entries if e["event"] == "incident_started"]
    assert [e["data"]["incident"] for e in started] == [incident]


def test_an_audit_log_rotated_away_while_running_goes_on_in_the_new_file(daemon: RunningDaemon) -> None:
    log = daemon.state_dir / "audit.jsonl"
    rotated = log.with_name("audit.jsonl.1")
    os.rename(log, rotated)  # logrotate with `create`: the old file moved, a new empty one made
    log.touch(mode=0o600)
    incident = record_incident(daemon, 0.3)
    assert not [e for e in _entries(rotated) if e["event"] == "incident_started"]
    entries = _entries(log)
    assert entries[0]["event"] == "log_gap" and entries[0]["data"]["log_missing"] is False
    assert [e["data"]["incident"] for e in entries if e["event"] == "incident_started"] == [incident]


def test_an_audit_state_deleted_while_running_is_restored_and_the_room_starts_again(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    log = daemon.state_dir / "audit.jsonl"
    state = log.with_name("audit.jsonl.key")
    state.unlink()
    record_incident(daemon, 0.3)
    assert state.is_file(), "the audit state was not written again"
    assert daemon.stop() == 0
    again = start_daemon(room)  # before: refused at start ('audit log present without its .key state')
    again.stop()
    result = _verify(log, log.with_name("audit.jsonl.verify-key"))
    assert result.returncode == 0, result.stdout + result.stderr


def _second_room_config(room: DemoRoom) -> Path:
    """Another room's config that names the same storage directory (copied, not fully edited)."""
    text = room.config.read_text().replace('room = "demo-room"', 'room = "demo-room-b"')
    for endpoint in re.findall(r'endpoint = "(tcp://[^"]+)"', text):
        text = text.replace(endpoint, f"tcp://127.0.0.1:{free_tcp_port()}")
    other = room.root / "room-b.toml"
    other.write_text(text)
    return other


def test_a_second_daemon_on_the_same_storage_directory_is_refused_with_one_line(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    client = daemon.client()
    try:
        incident = client.trigger(reason="first daemon records")["incident"]
        other = _second_room_config(room)
        for command in (["check-config", str(other)], ["run", "--config", str(other)]):
            result = subprocess.run(
                [sys.executable, "-m", "recorder", *command],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 2, (command, result.stdout, result.stderr)
            assert f"in use by another daemon (pid {daemon.process.pid}" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr
        status = client.status()
        assert status["state"] == "recording" and status["incident"] == incident
    finally:
        client.close()
    events = [e["event"] for e in _entries(daemon.state_dir / "audit.jsonl")]
    assert "daemon_recovered" not in events and "incident_interrupted" not in events
    assert events.count("daemon_started") == 1


def test_check_config_beside_the_rooms_own_daemon_warns_about_its_lock(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "recorder", "check-config", str(room.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"in use by this room's running daemon (pid {daemon.process.pid})" in result.stderr


def test_an_audit_log_replaced_by_a_link_refuses_presses_until_it_is_a_file_again(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    log = daemon.state_dir / "audit.jsonl"
    elsewhere = room.root / "elsewhere.jsonl"  # where someone wants the entries to go (or vanish)
    elsewhere.touch()
    os.rename(log, log.with_name("audit.jsonl.1"))
    os.symlink(elsewhere, log)
    client = daemon.client()
    try:
        with pytest.raises(Refused, match="storage_failed") as refused:  # before: recorded, audited there
            client.trigger(reason="audit led astray")
        assert "audit" in refused.value.reply["degraded"] and refused.value.reply["state"] == "idle"
        assert not list(daemon.state_dir.glob("*.age"))
        log.unlink()
        deadline = time.monotonic() + 10
        while "audit" in client.status()["degraded"]:
            assert time.monotonic() < deadline, "the audit log did not recover"
            time.sleep(0.1)
    finally:
        client.close()
    assert elsewhere.stat().st_size == 0
    events = [e["event"] for e in _entries(log)]
    assert events[:2] == ["log_gap", "source_recovered"] and "trigger_failed" in events


def test_a_storage_directory_removed_while_running_is_created_again_and_the_room_records(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    verify_key = room.root / "verify-key"  # the auditor's copy, kept off the device
    shutil.copy(daemon.state_dir / "audit.jsonl.verify-key", verify_key)
    shutil.rmtree(daemon.state_dir)  # `rm -rf` of the room's state directory
    incident = record_incident(daemon, 0.3)  # before: storage_failed, and every press after it
    assert (daemon.state_dir / f"{incident}.age").is_file()
    assert daemon.stop() == 0
    start_daemon(room).stop()  # the state was written back: the room starts again
    log = daemon.state_dir / "audit.jsonl"
    events = [e["event"] for e in _entries(log)]
    assert events[:2] == ["log_gap", "incident_started"] and "daemon_stopped" in events
    result = _verify(log, verify_key)  # the deleted entries are missing, said once, and nothing else
    problems = [
        line for line in (result.stdout + result.stderr).splitlines() if line.strip().startswith("line ")
    ]
    assert result.returncode == 1 and len(problems) == 1, result.stdout + result.stderr
    assert "missing from the log" in problems[0] and "recorded by log_gap" in problems[0]


LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


@pytest.mark.skipif(not LIBFAKETIME.exists(), reason="libfaketime not installed")
def test_a_held_incident_survives_retention_after_its_audit_history_was_rotated_away(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    incident = record_incident(daemon, 0.3)
    recorder = [sys.executable, "-m", "recorder"]
    held = subprocess.run(
        [*recorder, "hold", "--config", str(room.config), "--reason", "court order", incident],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert held.returncode == 0, held.stderr
    assert daemon.stop() == 0
    log = daemon.state_dir / "audit.jsonl"
    os.rename(log, log.with_name("audit.jsonl.1"))  # rotated (or lost): the hold is no longer in it
    month_later = {
        **os.environ,
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME": "+30d",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    purged = subprocess.run(
        [*recorder, "purge", "--config", str(room.config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=month_later,
    )
    assert purged.returncode == 0, purged.stderr
    assert (daemon.state_dir / f"{incident}.age").is_file(), purged.stdout  # before: deleted
    assert f"kept   {incident}.age" in purged.stdout
    assert not [e for e in _entries(log) if e["event"] == "incident_deleted"]
    released = subprocess.run(
        [*recorder, "hold", "--config", str(room.config), "--reason", "order lifted", "--release", incident],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert released.returncode == 0, released.stderr
    assert [e["event"] for e in _entries(log)][-1] == "hold_released"


def test_hold_run_as_root_does_not_write_through_a_link_planted_as_the_hold_marker(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    incident = record_incident(daemon, 0.3)
    victim = room.root / "victim"  # think /etc/passwd: the daemon's user plants, root writes
    victim.write_text("root:x:0:0:root:/root:/bin/bash\n")
    marker = daemon.state_dir / f"{incident}.age.hold"
    os.symlink(victim, marker)
    held = subprocess.run(
        [
            sys.executable,
            "-m",
            "recorder",
            "hold",
            "--config",
            str(room.config),
            "--reason",
            "pwned",
            incident,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert held.returncode == 0, held.stderr
    assert victim.read_text() == "root:x:0:0:root:/root:/bin/bash\n"  # before: "pwned"
    assert not marker.is_symlink() and marker.read_text() == "pwned\n"
