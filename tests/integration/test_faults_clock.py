"""A forward step of the wall clock must not delete incidents early: the running daemon shows
`degraded: clock` and suspends retention; `recorder purge` beside it refuses with one line.

`recorder purge` runs under libfaketime (its wall clock 30 days ahead, its monotonic and boot clocks
untouched, as a real `date -s` leaves them); the daemon's step comes from its fault plan's
`wall_offset_s`. Neither moves the machine's clock, which other tests share."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from recorder.audit.verify import read_entries
from recorder.demo import DemoRoom, set_up_room
from tests.integration.faults_support import FaultyDaemon, start_faulty_daemon
from tests.support import RunningDaemon, record_incident

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
DAY_S = 86_400


@pytest.fixture
def room(tmp_path: Path) -> DemoRoom:
    """A short pre-roll and post-roll (conftest's `daemon` runs this room)."""
    return set_up_room(tmp_path, pre_roll_s=0.5, post_roll_s=0.2)


def _events(room: DemoRoom, event: str) -> list[dict[str, Any]]:
    entries = read_entries(room.root / "state" / "audit.jsonl")
    return [e for _, e, _ in entries if e and e["event"] == event]


def _purge_days_ahead(room: DemoRoom, days: int) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME": f"+{days}d",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # a clock step moves the wall clock only
    }
    command = [sys.executable, "-m", "recorder", "purge", "--config", str(room.config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.skipif(not LIBFAKETIME.exists(), reason="libfaketime not installed")
def test_purge_beside_the_daemon_refuses_after_the_wall_clock_stepped_forward(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    incident = record_incident(daemon, 0.3)
    result = _purge_days_ahead(room, 30)  # before: "deleted …": a 30 s old incident, gone
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "stepped 30.0 days forward" in result.stderr
    assert f"pid {daemon.process.pid}" in result.stderr and "Traceback" not in result.stderr
    assert (room.root / "state" / f"{incident}.age").is_file()
    assert not _events(room, "incident_deleted")


@pytest.mark.skipif(not LIBFAKETIME.exists(), reason="libfaketime not installed")
def test_purge_with_a_clock_that_did_not_step_still_runs(room: DemoRoom, daemon: RunningDaemon) -> None:
    record_incident(daemon, 0.3)
    result = _purge_days_ahead(room, 0)
    assert result.returncode == 0, result.stderr
    assert "0 incident(s) deleted" in result.stdout


@pytest.fixture
def faulty(room: DemoRoom) -> Iterator[FaultyDaemon]:
    context: zmq.Context[Any] = zmq.Context()
    try:
        yield from start_faulty_daemon(room, context)
    finally:
        context.term()


def test_a_forward_step_shows_degraded_clock_and_back_in_line_recovers(faulty: FaultyDaemon) -> None:
    faulty.arm(wall_offset_s=30 * DAY_S)
    stepped = faulty.wait_published(lambda m: "clock" in m["degraded"])  # before: never
    assert stepped["state"] == "idle"
    failed = [e for e in faulty.audit("source_failed") if e["data"]["source"] == "clock"]
    assert len(failed) == 1 and "stepped 30.0 days forward" in failed[0]["data"]["detail"]
    faulty.arm(wall_offset_s=0)
    faulty.wait_published(lambda m: "clock" not in m["degraded"])
    assert [e["data"]["source"] for e in faulty.audit("source_recovered")] == ["clock"]
    assert faulty.incident_files() == set() and not faulty.audit("incident_deleted")
