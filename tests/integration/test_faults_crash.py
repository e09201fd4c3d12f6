"""Crash recovery: every restart after kill -9 audits the unclean end and the incident it cut, the
log verifies after each, and SIGTERM during a recording closes it cleanly (no recovery needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from recorder.audit.verify import read_entries
from recorder.demo import DemoRoom, set_up_room
from recorder.incident.age_keys import load_identities
from recorder.incident.age_reader import decrypt
from tests.support import RunningDaemon, start_daemon

KILLS = 5


@dataclass
class CrashHistory:
    room: DemoRoom
    killed: list[tuple[str, int]]  # (incident, pid) of each kill -9
    verified_after_each_start: list[bool]
    sigterm_incident: str
    sigterm_returncode: int

    @property
    def audit_path(self) -> Path:
        return self.room.root / "state" / "audit.jsonl"

    def entries(self, event: str) -> list[dict[str, Any]]:
        return [e for _, e, _ in read_entries(self.audit_path) if e and e["event"] == event]


def _verifies(room: DemoRoom) -> bool:
    log = room.root / "state" / "audit.jsonl"
    command = [sys.executable, "-m", "recorder", "audit", "verify", str(log), "--key", f"{log}.verify-key"]
    return subprocess.run(command, capture_output=True, timeout=60).returncode == 0


def _trigger(daemon: RunningDaemon) -> str:
    client = daemon.client(timeout_s=5.0, retries=1)
    try:
        return str(client.trigger(reason="crash test")["incident"])
    finally:
        client.close()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> CrashHistory:
    room = set_up_room(tmp_path_factory.mktemp("crashes"), pre_roll_s=0.5, post_roll_s=0.2)
    killed, verified = [], []
    for _ in range(KILLS):
        daemon = start_daemon(room)
        verified.append(_verifies(room))  # the previous run's recovery entries are in a good log
        incident = _trigger(daemon)
        time.sleep(0.4)  # a few chunks on disk, the last one cut
        os.kill(daemon.process.pid, signal.SIGKILL)
        daemon.process.wait(timeout=10)
        killed.append((incident, daemon.process.pid))
    daemon = start_daemon(room)  # recovers the last kill, then records and is stopped cleanly
    verified.append(_verifies(room))
    incident = _trigger(daemon)
    time.sleep(0.4)
    returncode = daemon.stop()
    start_daemon(room).stop()  # a clean previous run: nothing to recover
    verified.append(_verifies(room))
    return CrashHistory(room, killed, verified, incident, returncode)


def test_every_restart_after_kill_9_audits_the_unclean_end(history: CrashHistory) -> None:
    recovered = history.entries("daemon_recovered")
    assert [e["data"]["previous_pid"] for e in recovered] == [pid for _, pid in history.killed]
    assert [e["data"]["interrupted"] for e in recovered] == [[incident] for incident, _ in history.killed]
    assert len(history.entries("daemon_started")) == KILLS + 2
    starts = [e["seq"] for e in history.entries("daemon_started")]
    assert all(starts[i] < r["seq"] < starts[i + 1] for i, r in enumerate(recovered))  # before each start


def test_every_killed_incident_is_audited_interrupted_with_what_its_file_holds(history: CrashHistory) -> None:
    identities = load_identities(history.room.officer_identity)
    interrupted = {e["data"]["incident"]: e["data"] for e in history.entries("incident_interrupted")}
    assert sorted(interrupted) == sorted(incident for incident, _ in history.killed)
    for incident, entry in interrupted.items():
        result = decrypt(history.room.root / "state" / entry["file"], identities)  # the officer's view
        assert entry["truncated"] is True and result.truncated is True, incident
        assert entry["chunks"] == result.chunks >= 1, incident
        assert entry["tail_bytes"] == result.dropped_tail_bytes, incident


def test_log_verifies_after_every_restart(history: CrashHistory) -> None:
    assert history.verified_after_each_start == [True] * (KILLS + 2)


def test_sigterm_during_recording_closes_the_incident_cleanly(history: CrashHistory) -> None:
    assert history.sigterm_returncode == 0
    closed = [
        e["data"]
        for e in history.entries("incident_closed")
        if e["data"]["incident"] == history.sigterm_incident
    ]
    assert len(closed) == 1 and closed[0]["why"] == "daemon_stopped" and closed[0]["error"] is None
    identities = load_identities(history.room.officer_identity)
    assert decrypt(history.room.root / "state" / closed[0]["file"], identities).truncated is False
    assert len(history.entries("daemon_stopped")) == 2
    assert len(history.entries("daemon_recovered")) == KILLS  # a clean stop leaves nothing to recover


def test_export_with_the_log_calls_a_killed_incident_truncated_and_the_clean_one_complete(
    history: CrashHistory, tmp_path: Path
) -> None:
    state = history.room.root / "state"
    killed = history.killed[0][0]
    for incident, verdict in ((killed, "TRUNCATED: cut by a crash"), (history.sigterm_incident, "COMPLETE")):
        command = [sys.executable, "-m", "recorder", "export", str(state / f"{incident}.age"), "--quiet"]
        command += ["--identity", str(history.room.officer_identity), "-o", str(tmp_path / f"{incident}.mkv")]
        command += ["--audit", str(state / "audit.jsonl")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and verdict in done.stdout, (incident, done.stdout, done.stderr)


def test_an_aborted_daemon_leaves_every_threads_stack_in_its_log(tmp_path: Path) -> None:
    """A hang in C code is ended by systemd's watchdog with SIGABRT: the daemon's own faulthandler
    (not Python's PYTHONFAULTHANDLER, switched off here) must leave the stacks for the journal."""
    room = set_up_room(tmp_path, pre_roll_s=0.5, post_roll_s=0.2)
    daemon = start_daemon(room, extra_env={"PYTHONFAULTHANDLER": ""})
    daemon.process.send_signal(signal.SIGABRT)
    assert daemon.process.wait(timeout=30) == -signal.SIGABRT
    log = daemon.log_text()
    assert "Fatal Python error: Aborted" in log
    assert log.count("most recent call first") >= 2, log[-3000:]  # the main thread and the others
