"""Supervision is systemd's job: the daemon tells it READY, pets the watchdog and says STOPPING."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from recorder.clock import SystemClock
from recorder.demo import DemoRoom
from recorder.packet import Packet
from recorder.sources.test_pattern import TestPatternConfig, TestPatternSource
from recorder.supervision import Supervisor
from recorder.systemd_notify import Notifier
from tests.integration.media_servers import free_port
from tests.support import start_daemon


def _messages(sock: socket.socket, until: str, timeout_s: float = 10) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not any(until in m for m in seen):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return seen


def test_daemon_notifies_ready_watchdog_and_stopping(room: DemoRoom, tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        daemon = start_daemon(room, {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
        try:
            ready = _messages(sock, "READY=1")
            assert any(m.startswith("READY=1") and "STATUS=room demo-room" in m for m in ready)
            pets = [m for m in _messages(sock, "never", timeout_s=1.0) if m == "WATCHDOG=1"]
            assert len(pets) >= 3  # every WATCHDOG_USEC / 2 = 0.2 s
        finally:
            assert daemon.stop() == 0
        assert "STOPPING=1" in _messages(sock, "STOPPING=1", timeout_s=2)


def test_a_stuck_capture_thread_stops_the_watchdog_pets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real test-pattern thread whose packet hand-off blocks (as a hung driver call would): the
    control loop keeps turning, but the pets stop and the stall is reported; they resume after."""
    address = str(tmp_path / "notify.sock")
    unblock, blocked = threading.Event(), threading.Event()
    reports: list[tuple[str, bool, str]] = []

    def sink(packet: Packet) -> None:
        if packet.seq == 3:
            blocked.set()
            unblock.wait(10)

    source = TestPatternSource(TestPatternConfig(width=160, height=120, fps=30), SystemClock())
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        monkeypatch.setenv("WATCHDOG_USEC", "100000")
        supervisor = Supervisor(Notifier(), [source], 0.3, lambda *r: reports.append(r))
        source.start(sink)
        try:
            assert blocked.wait(5)
            pets_while_stuck = _pets(supervisor, sock, seconds=0.4)  # first 0.3 s: not yet a stall
            stalled = _pets(supervisor, sock, seconds=0.5)
            unblock.set()
            resumed = _pets(supervisor, sock, seconds=0.5)
        finally:
            unblock.set()
            source.stop()
    assert pets_while_stuck >= 2 and stalled == 0 and resumed >= 3, (pets_while_stuck, stalled, resumed)
    assert [(name, healthy) for name, healthy, _ in reports] == [
        ("test-pattern-stalled", False),
        ("test-pattern-stalled", True),
    ]


def _pets(supervisor: Supervisor, sock: socket.socket, seconds: float) -> int:
    """Run the control loop's supervision for `seconds`; count the pets systemd received."""
    sock.settimeout(0.001)
    pets, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        supervisor.tick({"room": "r", "state": "idle", "incident": None, "degraded": []})
        time.sleep(0.01)
        try:
            while True:
                pets += sock.recv(64) == b"WATCHDOG=1"
        except TimeoutError:
            pass
    return pets


def test_ready_waits_for_the_camera_and_tells_it_is_degraded(room: DemoRoom, tmp_path: Path) -> None:
    """READY comes once every source has delivered or failed: with an unreachable camera, the first
    STATUS systemd sees already names it."""
    text = room.config.read_text()
    camera = f'source = "camera"\ndevice = "http://127.0.0.1:{free_port()}/cam.mjpg"\nopen_timeout_s = 0.5'
    room.config.write_text(text.replace('source = "test-pattern"', camera, 1))
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        daemon = start_daemon(room, {"NOTIFY_SOCKET": address})
        try:
            ready = [m for m in _messages(sock, "READY=1") if m.startswith("READY=1")]
        finally:
            daemon.stop()
    assert len(ready) == 1 and ready[0].startswith(
        "READY=1\nSTATUS=room demo-room: idle; degraded: camera"
    ), ready
