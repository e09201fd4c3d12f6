"""The room rule under injected faults, in one real daemon with a re-armable fault plan.

At each step of the trigger, clear and close path, each class of failure (ENOSPC, EIO, EMFILE,
EACCES, an arbitrary exception) is injected once, and afterwards exactly one holds:
(a) the room records, the start is audited and `recording` is published; or
(b) nothing is recorded, the client has a documented error code, the failure is audited and
`degraded` names it (in the reply and on the PUB socket) until it recovers.
A step that fails while recording ends the incident, audited as truncated, and the room publishes
`idle` with `storage` degraded: the indicator never shows a recording that is not being made.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import zmq

from panic_button.client import Refused
from recorder.demo import set_up_room
from recorder.incident.age_writer import sealed_layout
from tests.integration.faults_support import FaultyDaemon, start_faulty_daemon

ERRORS = ("ENOSPC", "EIO", "EMFILE", "EACCES", "exception")
START_STEPS = {  # point -> (the part `degraded` names, the step the audit names)
    "incident.open": ("storage", "open_file"),
    "writer.start": ("storage", "writer_start"),
    "incident.fsync": ("storage", "open_file"),  # the header's fsync, inside opening the file
    "audit.append": ("audit", "audit_append"),
}
RECORDING_STEPS = {"incident.seal": 0, "incident.fsync": 1}  # the first chunk, its fsync
RECOVERY_S = 5.0


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyDaemon]:
    room = set_up_room(tmp_path_factory.mktemp("faults"), pre_roll_s=1.0, post_roll_s=0.2)
    context: zmq.Context[Any] = zmq.Context()
    try:
        yield from start_faulty_daemon(room, context)
    finally:
        context.term()


@pytest.fixture
def idle(faulty: FaultyDaemon) -> Iterator[FaultyDaemon]:
    """Each case starts from an idle, healthy room with nothing armed, and new PUB messages only."""
    faulty.arm()
    client = faulty.daemon.client(timeout_s=5.0, retries=1)
    try:
        deadline = time.monotonic() + RECOVERY_S
        while (status := client.status())["state"] != "idle" or status["degraded"]:
            assert time.monotonic() < deadline, f"the room did not return to idle and healthy: {status}"
            time.sleep(0.05)
    finally:
        client.close()
    faulty.forget()
    yield faulty


def _code(error: str) -> str:
    return "internal_error" if error == "exception" else "storage_failed"


@pytest.mark.parametrize("error", ERRORS)
@pytest.mark.parametrize("point", list(START_STEPS))
def test_failed_start_step_records_nothing_answers_a_code_audits_and_degrades(
    idle: FaultyDaemon, point: str, error: str
) -> None:
    part, step = START_STEPS[point]
    files = idle.incident_files()
    idle.arm({"point": point, "error": error, "times": 1})
    client = idle.daemon.client(timeout_s=5.0, retries=1)
    try:
        with pytest.raises(Refused) as refused:
            client.trigger(reason=f"{point} {error}")
    finally:
        client.close()
    reply = refused.value.reply
    assert refused.value.code == _code(error)
    assert reply["state"] == "idle" and reply["incident"] is None and part in reply["degraded"]
    assert idle.incident_files() == files  # nothing recorded, no file left behind
    idle.wait_published(lambda m: part in m["degraded"])
    idle.wait_published(lambda m: m["degraded"] == [], RECOVERY_S)  # it recovers by itself
    assert all(m["state"] == "idle" for m in idle.seen)  # the indicator never lit
    failed = [e["data"] for e in idle.audit("trigger_failed") if e["data"]["reason"] == f"{point} {error}"]
    assert len(failed) == 1 and failed[0]["step"] == step


@pytest.mark.parametrize("error", ERRORS)
@pytest.mark.parametrize("point", list(RECORDING_STEPS))
def test_failure_while_recording_ends_the_incident_audited_and_publishes_idle(
    idle: FaultyDaemon, point: str, error: str
) -> None:
    idle.arm({"point": point, "error": error, "after": RECORDING_STEPS[point], "times": 1})
    incident = _trigger(idle)
    stopped = idle.wait_published(lambda m: m["state"] == "idle")
    assert "storage" in stopped["degraded"]
    assert not any(m["state"] == "recording" and "storage" in m["degraded"] for m in idle.seen)
    _assert_closed_truncated(idle, incident, "write_failed")
    idle.wait_published(lambda m: m["degraded"] == [], RECOVERY_S)


@pytest.mark.parametrize("error", ERRORS)
def test_failure_sealing_the_final_chunk_is_audited_and_degrades_storage(
    idle: FaultyDaemon, error: str
) -> None:
    idle.arm({"point": "incident.close", "error": error, "times": 1})
    incident = _trigger(idle)
    client = idle.daemon.client(timeout_s=5.0, retries=1)
    try:
        assert client.clear(reason="done")["state"] == "post_roll"
    finally:
        client.close()
    idle.wait_published(lambda m: m["state"] == "idle")
    idle.wait_published(lambda m: "storage" in m["degraded"])
    _assert_closed_truncated(idle, incident, "post_roll_elapsed")
    idle.wait_published(lambda m: m["degraded"] == [], RECOVERY_S)


def _trigger(faulty: FaultyDaemon) -> str:
    """(a): the reply says recording, the start is audited, and `recording` is published."""
    client = faulty.daemon.client(timeout_s=5.0, retries=1)
    try:
        reply = client.trigger(reason="fault while recording")
    finally:
        client.close()
    incident = str(reply["incident"])
    assert reply["state"] == "recording"
    assert incident in {e["data"]["incident"] for e in faulty.audit("incident_started")}
    faulty.wait_published(lambda m: m["state"] == "recording" and m["incident"] == incident)
    return incident


def _assert_closed_truncated(faulty: FaultyDaemon, incident: str, why: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        closed = [e["data"] for e in faulty.audit("incident_closed") if e["data"]["incident"] == incident]
        if closed:
            break
        time.sleep(0.05)
    assert len(closed) == 1, f"incident_closed missing for {incident}"
    entry = closed[0]
    assert entry["why"] == why and entry["truncated"] is True and "injected" in entry["error"]
    chunks, _tail = sealed_layout(faulty.daemon.state_dir / entry["file"])
    assert entry["output"]["chunks"] == chunks  # the file is kept, and the audit says what it holds


@pytest.mark.parametrize("step", ["control", "allowlist", "room", "state_publisher"])
def test_exception_in_a_loop_step_is_logged_degraded_and_survived(idle: FaultyDaemon, step: str) -> None:
    idle.arm({"point": f"loop.{step}", "error": "exception", "times": 1 if step == "allowlist" else 3})
    deadline = time.monotonic() + 5
    if step == "allowlist":  # the first reload fails; once that is audited, the second succeeds
        idle.daemon.process.send_signal(signal.SIGHUP)
        while not [e for e in idle.audit("source_failed") if e["data"]["source"] == step]:
            assert time.monotonic() < deadline, "allowlist: the failed reload was not audited"
            time.sleep(0.05)
        idle.daemon.process.send_signal(signal.SIGHUP)
    while not [e for e in idle.audit("source_recovered") if e["data"]["source"] == step]:
        assert time.monotonic() < deadline, f"{step}: no failure and recovery audited"
        time.sleep(0.05)
    assert idle.daemon.process.poll() is None
    failed = [e["data"] for e in idle.audit("source_failed") if e["data"]["source"] == step]
    assert failed and "injected fault" in failed[-1]["detail"]
    assert f'"step": "{step}"' in idle.daemon.log_text()  # loop_step_failed, with its traceback


def test_wall_clock_jumps_move_neither_timers_nor_the_audit_order(idle: FaultyDaemon) -> None:
    incidents = []
    for offset_s in (-7200.0, 30 * 86400.0):  # back two hours, then forward a month
        idle.arm(wall_offset_s=offset_s)
        incident = _trigger(idle)
        stamp = datetime.strptime(incident.split("-")[-2], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        assert abs(stamp.timestamp() - (time.time() + offset_s)) < 60  # the jump reached the daemon
        time.sleep(0.5)  # timers run on the monotonic clock: max_incident_s is not "exceeded"
        client = idle.daemon.client(timeout_s=5.0, retries=1)
        try:
            assert client.status()["state"] == "recording"
            client.clear(reason="clock jump")
        finally:
            client.close()
        idle.wait_published(lambda m: m["state"] == "idle", 3.0)  # post_roll_s = 0.2 s, not a month
        incidents.append(incident)
    assert incidents[0] != incidents[1] and "T" in incidents[0]
    started = [e["data"]["incident"] for e in idle.audit("incident_started")]
    assert started.index(incidents[0]) < started.index(incidents[1])  # the log's order is seq, not time
    deadline = time.monotonic() + 5
    while len(closed := [e for e in idle.audit("incident_closed") if e["data"]["incident"] in incidents]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert all(e["data"]["error"] is None and e["data"]["media_s"] > 0.4 for e in closed)
