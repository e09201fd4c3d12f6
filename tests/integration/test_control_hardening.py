"""Control-plane hardening against a real daemon over real CURVE sockets: enrolment, refusals that are
counted and logged with the peer, and fairness under a flood."""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import zmq

from panic_button.client import ClientKeys, NoContact, RoomClient, curve_socket
from panic_button.subscriber import StateSubscriber, open_subscriber
from recorder.demo import DemoRoom, set_up_room
from recorder.keygen import create_curve_keypair
from tests.support import RunningDaemon, start_daemon

FLOOD_RATE, FLOOD_S = 1000, 2.0
T = TypeVar("T")


def _keys(room: DemoRoom, name: str, *, enrol: bool) -> ClientKeys:
    public, secret = create_curve_keypair(room.root / name, name)
    if enrol:
        shutil.copy(public, room.root / "authorized_clients" / f"{name}.key")
    return ClientKeys.load(secret, room.root / "keys" / "server.key")


def _log_events(daemon: RunningDaemon, event: str) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in daemon.log_text().splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("event") == event]


def _audit(daemon: RunningDaemon) -> list[dict[str, Any]]:
    text = (daemon.state_dir / "audit.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def second_client(tmp_path: Path) -> Iterator[tuple[RunningDaemon, ClientKeys]]:
    """A daemon, and the keys of a second enrolled client (besides the demo button)."""
    room = set_up_room(tmp_path, pre_roll_s=1.0, post_roll_s=1.0)
    keys = _keys(room, "second", enrol=True)
    daemon = start_daemon(room)
    yield daemon, keys
    daemon.stop()


def test_enrolled_client_triggers_and_the_audit_names_its_key(daemon: RunningDaemon) -> None:
    reply = daemon.client().trigger("threatened")
    assert reply["ok"] and reply["state"] == "recording" and reply["incident"]
    started = [e for e in _audit(daemon) if e["event"] == "incident_started"]
    assert [(e["data"]["client"], e["data"]["reason"]) for e in started] == [("demo-button", "threatened")]


def test_unknown_key_is_refused_at_the_handshake_and_never_reaches_the_state_machine(
    daemon: RunningDaemon,
) -> None:
    stranger = RoomClient(
        daemon.room.endpoint, _keys(daemon.room, "stranger", enrol=False), timeout_s=0.3, retries=2
    )
    with pytest.raises(NoContact):
        stranger.trigger("let me in")
    stranger.close()
    status = daemon.client().status()
    assert status["state"] == "idle"
    assert status["counters"]["unknown_key"] >= 1
    refused = _log_events(daemon, "client_refused")
    assert refused and refused[0]["reason"] == "unknown_key" and refused[0]["peer"].startswith("127.0.0.1")
    assert not _log_events(daemon, "request_received") or all(
        e["client"] == "demo-button" for e in _log_events(daemon, "request_received")
    )
    assert [e["event"] for e in _audit(daemon)] == ["daemon_started"]


def test_a_client_with_the_wrong_server_key_is_counted_as_a_failed_handshake(daemon: RunningDaemon) -> None:
    impostor_public, _ = create_curve_keypair(daemon.room.root / "impostor", "impostor-server")
    keys = ClientKeys.load(daemon.room.root / "button" / "demo-button.key_secret", impostor_public)
    client = RoomClient(daemon.room.endpoint, keys, timeout_s=0.3, retries=1)
    with pytest.raises(NoContact):
        client.status()
    client.close()
    counters = _wait_for(lambda: daemon.client().status()["counters"], lambda c: c["handshake_failed"] >= 1)
    assert counters["handshake_failed"] >= 1 and counters["unknown_key"] == 0
    assert _log_events(daemon, "client_handshake_failed")


def test_room_state_is_published_only_to_enrolled_keys(daemon: RunningDaemon) -> None:
    context = zmq.Context.instance()
    enrolled = open_subscriber(context, _state_endpoint(daemon), daemon.room.client_keys)
    stranger = open_subscriber(
        context, _state_endpoint(daemon), _keys(daemon.room, "eavesdropper", enrol=False)
    )
    try:
        deadline = time.monotonic() + 3
        heard: list[dict[str, Any]] = []
        while not heard and time.monotonic() < deadline:
            heard = enrolled.poll(100)
        assert heard and heard[0]["room"] == "demo-room"
        assert stranger.poll(1500) == []  # > one heartbeat: it would have had one by now
    finally:
        enrolled.close()
        stranger.close()


def test_oversized_message_is_counted_as_a_disconnect_with_the_peer(daemon: RunningDaemon) -> None:
    before = daemon.client().status()["counters"]["disconnects"]
    sock = curve_socket(zmq.Context.instance(), zmq.DEALER, daemon.room.client_keys)
    sock.connect(daemon.room.endpoint)
    sock.send(json.dumps({"v": 1, "id": "big", "type": "trigger", "reason": "x" * 10_000}).encode())
    assert sock.poll(1000) == 0  # dropped: no reply
    sock.close(linger=0)
    after = _wait_for(lambda: daemon.client().status()["counters"]["disconnects"], lambda n: n > before)
    assert after > before and daemon.client().status()["state"] == "idle"
    assert any(e["peer"].startswith("127.0.0.1:") for e in _log_events(daemon, "client_disconnected"))


def test_flood_from_one_client_does_not_delay_another_clients_trigger(
    second_client: tuple[RunningDaemon, ClientKeys],
) -> None:
    daemon, flooder_keys = second_client
    victim = daemon.client(timeout_s=2.0, retries=1)
    victim.trigger("warm up")
    unloaded = _trigger_latencies(victim, count=15)
    counts: dict[str, int] = {}
    flood = threading.Thread(target=_flood, args=(daemon.room.endpoint, flooder_keys, counts))
    flood.start()
    time.sleep(0.2)  # the flood is in full swing
    loaded = _trigger_latencies(victim, count=15)
    flood.join()
    victim.close()
    assert counts["sent"] >= FLOOD_RATE * FLOOD_S * 0.7, counts  # it really was a flood
    assert counts["rate_limited"] >= counts["sent"] / 2, counts  # and most of it was refused
    # Generous bounds: the point is "not starved", not a benchmark (see bench/bench_latency.py).
    assert statistics.median(loaded) < 5 * statistics.median(unloaded) + 0.020, (unloaded, loaded)
    assert max(loaded) < 0.5, loaded
    status = daemon.client().status()
    assert status["counters"]["rate_limited"] == counts["rate_limited"]
    assert len(_log_events(daemon, "client_rate_limited")) <= 25  # the journal is not flooded either


def _trigger_latencies(client: RoomClient, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        assert client.trigger("latency probe")["state"] == "recording"
        latencies.append(time.perf_counter() - started)
        time.sleep(0.06)  # stay under this client's own rate limit (20/s)
    return latencies


def _flood(endpoint: str, keys: ClientKeys, counts: dict[str, int]) -> None:
    """FLOOD_RATE triggers per second for FLOOD_S seconds, without waiting for replies."""
    sock = curve_socket(zmq.Context.instance(), zmq.DEALER, keys)
    sock.connect(endpoint)
    counts.update(sent=0, replies=0, rate_limited=0)
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < FLOOD_S:
            sock.send(
                json.dumps({"v": 1, "id": uuid.uuid4().hex, "type": "trigger", "reason": "flood"}).encode()
            )
            counts["sent"] += 1
            _drain(sock, counts)
            time.sleep(max(0.0, counts["sent"] / FLOOD_RATE - elapsed))
        deadline = time.monotonic() + 2
        while counts["replies"] < counts["sent"] and time.monotonic() < deadline:
            if sock.poll(100):
                _drain(sock, counts)
    finally:
        sock.close(linger=0)


def _drain(sock: zmq.Socket[Any], counts: dict[str, int]) -> None:
    while True:
        try:
            reply = json.loads(sock.recv(zmq.NOBLOCK))
        except zmq.Again:
            return
        counts["replies"] += 1
        if not reply["ok"] and reply["error"]["code"] == "rate_limited":
            counts["rate_limited"] += 1


def _state_endpoint(daemon: RunningDaemon) -> str:
    return daemon.room.config.read_text().split('state_endpoint = "')[1].split('"')[0]


def _wait_for(read: Callable[[], T], good: Callable[[T], bool], timeout_s: float = 3.0) -> T:
    deadline = time.monotonic() + timeout_s
    value = read()
    while not good(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def test_revoked_client_stops_receiving_state_on_its_live_subscription(
    second_client: tuple[RunningDaemon, ClientKeys],
) -> None:
    daemon, desk_keys = second_client
    context = zmq.Context.instance()
    revoked = open_subscriber(context, _state_endpoint(daemon), daemon.room.client_keys)
    desk = open_subscriber(context, _state_endpoint(daemon), desk_keys)
    try:
        assert _wait_for(lambda: revoked.poll(100), bool)  # both subscriptions are live
        assert _wait_for(lambda: desk.poll(100), bool)
        (daemon.room.root / "authorized_clients" / "demo-button.key").unlink()
        daemon.process.send_signal(signal.SIGHUP)
        assert _wait_for(lambda: _audit_logged(daemon, "allowlist_reloaded"), bool)
        revoked.poll(300)  # drop what was already on its way
        heard_by_revoked, heard_by_desk = _listen(revoked, desk, seconds=2.2)
        assert heard_by_revoked == [] and heard_by_desk  # > two heartbeats: the desk heard some
        refused = _log_events(daemon, "client_refused")
        assert refused and refused[-1]["key"] == daemon.room.client_keys.public.decode()
    finally:
        revoked.close()
        desk.close()


def test_unknown_key_handshakes_are_counted_exactly_but_logged_sparingly(daemon: RunningDaemon) -> None:
    stranger = _keys(daemon.room, "stranger", enrol=False)
    sockets = []
    for _ in range(300):
        sock = curve_socket(zmq.Context.instance(), zmq.DEALER, stranger)
        sock.reconnect_ivl = -1  # exactly one handshake each
        sock.connect(daemon.room.endpoint)
        sockets.append(sock)
    try:
        counters = _wait_for(
            lambda: daemon.client().status()["counters"], lambda c: c["unknown_key"] >= 300, timeout_s=10
        )
    finally:
        for sock in sockets:
            sock.close(linger=0)
    assert counters["unknown_key"] == 300
    refused = _log_events(daemon, "client_refused")
    assert 1 <= len(refused) <= 25, len(refused)  # 20 lines per 10 s, and these took far less
    assert [e["total"] for e in refused[:3]] == [1, 2, 3]


def _audit_logged(daemon: RunningDaemon, audit_event: str) -> bool:
    return any(e.get("audit_event") == audit_event for e in _log_events(daemon, "audit_appended"))


def _listen(*subscribers: StateSubscriber, seconds: float) -> list[list[dict[str, Any]]]:
    """What each subscriber hears in `seconds`. Each is polled all along: a SUB socket only sends its
    subscription again after a reconnect when its owner polls it, as every real client does."""
    heard: list[list[dict[str, Any]]] = [[] for _ in subscribers]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for messages, subscriber in zip(heard, subscribers, strict=True):
            messages += subscriber.poll(20)
    return heard
