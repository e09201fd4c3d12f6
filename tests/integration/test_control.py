"""The control plane over real CURVE sockets against a real daemon process: bad input and replays."""

from __future__ import annotations

import json
import signal
import time
import uuid
from typing import Any

import pytest
import zmq

from panic_button.client import Refused, curve_socket
from tests.support import RunningDaemon, wait_for_state


def _raw_exchange(daemon: RunningDaemon, payload: bytes, timeout_ms: int = 2000) -> dict[str, Any] | None:
    context = zmq.Context.instance()
    sock = curve_socket(context, zmq.DEALER, daemon.room.client_keys)
    sock.connect(daemon.room.endpoint)
    try:
        sock.send(payload)
        if not sock.poll(timeout_ms):
            return None
        reply: dict[str, Any] = json.loads(sock.recv())
        return reply
    finally:
        sock.close(linger=0)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xff\xfe not json", "bad_json"),
        (b"[1, 2, 3]", "bad_json"),
        (b'{"v": 1, "id": "a", "type": "self_destruct"}', "unknown_type"),
        (b'{"v": 2, "id": "a", "type": "status"}', "unsupported_version"),
        (b'{"v": 1, "type": "trigger"}', "bad_request"),
        (b'{"v": 1, "id": "a", "type": "trigger", "colour": "red"}', "bad_request"),
        (b'{"v": 1, "id": "a", "type": "annotate", "incident": "nope", "reason": "x"}', "unknown_incident"),
    ],
)
def test_bad_request_gets_a_stable_error_code(daemon: RunningDaemon, payload: bytes, code: str) -> None:
    reply = _raw_exchange(daemon, payload)
    assert reply is not None
    assert reply["ok"] is False and reply["error"]["code"] == code
    assert daemon.client().status()["state"] == "idle"


def test_oversized_message_is_dropped_and_daemon_goes_on(daemon: RunningDaemon) -> None:
    huge = json.dumps({"v": 1, "id": "big", "type": "trigger", "reason": "x" * 10_000}).encode()
    assert _raw_exchange(daemon, huge, timeout_ms=1000) is None
    assert daemon.process.poll() is None
    assert daemon.client().status()["state"] == "idle"


def test_replayed_request_id_is_answered_but_not_executed_twice(daemon: RunningDaemon) -> None:
    request_id = uuid.uuid4().hex
    trigger = json.dumps({"v": 1, "id": request_id, "type": "trigger"}).encode()
    first = _raw_exchange(daemon, trigger)
    clear = daemon.client().clear()
    assert clear["state"] == "post_roll"
    again = _raw_exchange(daemon, trigger)
    assert first == again  # the same reply, replayed from the cache
    assert daemon.client().status()["state"] in ("post_roll", "idle")  # not re-triggered
    wait_for_state(daemon.client(), "idle")
    starts = [
        line
        for line in (daemon.state_dir / "audit.jsonl").read_text().splitlines()
        if '"event":"incident_started"' in line
    ]
    assert len(starts) == 1


def test_removed_key_is_refused_on_its_live_connection_after_sighup(daemon: RunningDaemon) -> None:
    client = daemon.client()
    assert client.status()["state"] == "idle"  # connection established and authenticated
    (daemon.room.root / "authorized_clients" / "demo-button.key").unlink()
    daemon.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    with pytest.raises(Refused) as refused:
        while time.monotonic() < deadline:
            client.trigger()
            time.sleep(0.1)
    assert refused.value.code == "not_enrolled"
    client.close()
    assert "allowlist_reloaded" in daemon.log_text()


def test_retrigger_extends_the_same_incident(daemon: RunningDaemon) -> None:
    client = daemon.client()
    first = client.trigger("one")
    client.clear()
    second = client.trigger("two")
    assert second["state"] == "recording"
    assert second["incident"] == first["incident"]
