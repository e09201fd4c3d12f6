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
from recorder.control.protocol import MIN_MESSAGE_BYTES
from tests.support import RunningDaemon, wait_for_state

DEEP = b"[" * 1500 + b"]" * 1500  # 3 KB, nested deeper than Python's recursion limit


def _raw_exchange(
    daemon: RunningDaemon, payload: bytes | list[bytes], timeout_ms: int = 2000, kind: int = zmq.DEALER
) -> dict[str, Any] | None:
    """Send one request (a list: one frame each) and return the reply, which must be one frame."""
    context = zmq.Context.instance()
    sock = curve_socket(context, kind, daemon.room.client_keys)
    sock.connect(daemon.room.endpoint)
    try:
        sock.send_multipart(payload if isinstance(payload, list) else [payload])
        if not sock.poll(timeout_ms):
            return None
        frames = sock.recv_multipart()
        assert len(frames) == 1, frames  # nothing of the request is echoed back
        reply: dict[str, Any] = json.loads(frames[0])
        return reply
    finally:
        sock.close(linger=0)


def _audit_events(daemon: RunningDaemon) -> list[str]:
    lines = (daemon.state_dir / "audit.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


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


@pytest.mark.parametrize(
    "payload",
    [DEEP, b'{"v": 1, "id": "deep", "type": "trigger", "reason": ' + DEEP + b"}"],
    ids=["top-level", "in-reason"],
)
def test_deeply_nested_request_is_bad_json_and_the_recording_goes_on(
    daemon: RunningDaemon, payload: bytes
) -> None:
    client = daemon.client()
    incident = client.trigger("before")["incident"]
    reply = _raw_exchange(daemon, payload)
    assert reply is not None and reply["error"]["code"] == "bad_json"
    assert daemon.process.poll() is None
    status = client.status()
    assert (status["state"], status["incident"]) == ("recording", incident)


def test_request_of_exactly_max_message_bytes_is_answered_and_one_byte_more_is_dropped(
    daemon: RunningDaemon,
) -> None:
    status = b'{"v": 1, "id": "edge", "type": "status"}'
    at_limit = status.ljust(MIN_MESSAGE_BYTES)  # the demo room's limit is the default, the minimum
    reply = _raw_exchange(daemon, at_limit)
    assert reply is not None and reply["ok"] and reply["id"] == "edge"
    assert _raw_exchange(daemon, at_limit + b" ", timeout_ms=500) is None
    assert daemon.client().status()["state"] == "idle"


def test_request_split_over_several_frames_is_refused(daemon: RunningDaemon) -> None:
    frames = [b'{"v": 1, "id": "split", ', b'"type": "trigger", ', b'"reason": "x"}']
    reply = _raw_exchange(daemon, frames)
    assert reply is not None and reply["error"]["code"] == "too_many_frames"
    assert reply["state"] == "idle"
    assert daemon.client().status()["counters"]["malformed"] == 1


def test_req_client_is_answered_after_its_empty_delimiter(daemon: RunningDaemon) -> None:
    reply = _raw_exchange(daemon, b'{"v": 1, "id": "req", "type": "status"}', kind=zmq.REQ)
    assert reply is not None and reply["ok"] and reply["id"] == "req"


@pytest.mark.parametrize("where", ["absolute", "relative", "long"])
def test_annotate_names_only_this_rooms_incidents(daemon: RunningDaemon, where: str) -> None:
    outside = daemon.room.root / "elsewhere" / "secret.age"  # an age file outside the room's storage
    outside.parent.mkdir()
    outside.write_bytes(b"age-encryption.org/v1\n")
    incident = {
        "absolute": str(outside.with_suffix("")),
        "relative": "../elsewhere/secret",
        "long": "é" * 128,  # valid for the protocol, too long for a file name
    }[where]
    with pytest.raises(Refused) as refused:
        daemon.client().annotate(incident, "forged")
    assert refused.value.code == "unknown_incident"
    assert "annotation" not in _audit_events(daemon)


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
