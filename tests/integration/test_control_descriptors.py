"""Descriptor pressure: silent TCP connections (no key needed) must not keep an enrolled button from
starting a recording. Real daemon processes, real connections, real RLIMIT_NOFILE limits."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recorder.control.server import HANDSHAKE_TIMEOUT_MS
from recorder.demo import set_up_room
from tests.support import RunningDaemon, start_daemon

COMMON_SOFT_LIMIT = 1024
SILENT = 1100


def _open_fds(daemon: RunningDaemon) -> int:
    return len(os.listdir(f"/proc/{daemon.process.pid}/fd"))


def _wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextlib.contextmanager
def _soft_limit(soft: int) -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE for the block (a child started in it inherits it)."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


@contextlib.contextmanager
def _silent_connections(endpoint: str, count: int, *, one_by_one: bool) -> Iterator[list[socket.socket]]:
    """`count` TCP connections to `endpoint` that never send a byte (no key, no handshake): one by one
    (each connect waits until it is established, and a pause lets the daemon accept it before its
    short listen backlog is full), or all at once without waiting."""
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.settimeout(2.0 if one_by_one else 0.0)
            with contextlib.suppress(BlockingIOError):
                sock.connect((host, int(port)))
            sockets.append(sock)
            if one_by_one:
                time.sleep(0.0001)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _audit_events(daemon: RunningDaemon) -> list[str]:
    lines = (daemon.state_dir / "audit.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


@pytest.mark.skipif(
    resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 4 * SILENT, reason="needs a hard RLIMIT_NOFILE of 4,400"
)
def test_silent_connections_at_the_common_soft_limit_do_not_block_an_enrolled_button(tmp_path: Path) -> None:
    room = set_up_room(tmp_path, pre_roll_s=1.0, post_roll_s=0.5)
    with _soft_limit(COMMON_SOFT_LIMIT):
        daemon = start_daemon(room)  # starts with a soft limit of 1,024 (systemd's default)
    try:
        connected = daemon.client(timeout_s=2.0, retries=1)
        connected.status()
        baseline = _open_fds(daemon)
        with (
            _soft_limit(resource.getrlimit(resource.RLIMIT_NOFILE)[1]),
            _silent_connections(room.endpoint, SILENT, one_by_one=True),
        ):
            assert _wait_until(
                lambda: _open_fds(daemon) > COMMON_SOFT_LIMIT, timeout_s=1
            )  # beyond the old limit
            assert connected.trigger("under load")["state"] == "recording"
            fresh = daemon.client(timeout_s=2.0, retries=1)
            assert fresh.status()["state"] == "recording"  # a new connection is answered too
            fresh.close()
            # Unauthenticated connections do not linger: closed after the handshake timeout.
            timeout_s = HANDSHAKE_TIMEOUT_MS / 1000
            assert _wait_until(lambda: _open_fds(daemon) < baseline + 10, timeout_s=timeout_s + 3)
        connected.close()
        assert "incident_started" in _audit_events(daemon)
    finally:
        daemon.stop()


def test_trigger_starts_a_recording_when_every_descriptor_is_taken(daemon: RunningDaemon) -> None:
    connected = daemon.client(timeout_s=2.0, retries=1)
    connected.status()  # connected and authenticated before the flood
    limit = _open_fds(daemon) + 32
    resource.prlimit(daemon.process.pid, resource.RLIMIT_NOFILE, (limit, limit))
    with _silent_connections(daemon.room.endpoint, 200, one_by_one=False):
        assert _wait_until(lambda: _open_fds(daemon) >= limit, timeout_s=5)  # not one descriptor left
        reply = connected.trigger("no descriptors left")
        assert reply["state"] == "recording" and reply["degraded"] == []
        assert (daemon.state_dir / f"{reply['incident']}.age").is_file()
        assert connected.clear("done")["state"] == "post_roll"
    connected.close()
    assert _audit_events(daemon)[-2:] == ["incident_started", "clear"]
