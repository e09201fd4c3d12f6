"""Supervision is systemd's job: the daemon tells it READY, pets the watchdog and says STOPPING."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from recorder.demo import DemoRoom
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
