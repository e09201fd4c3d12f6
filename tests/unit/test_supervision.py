"""What systemd is told: the STATUS line, READY once capture runs, pets only while capture is alive."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recorder.sources.base import Liveness
from recorder.sources.reconnect import Backoff, Health, SourceFault, supervise
from recorder.supervision import Supervisor, clock_synchronized, status_line
from recorder.systemd_notify import Notifier

S = 1_000_000_000


def _status(
    state: str = "idle", incident: str | None = None, degraded: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {"room": "r1", "state": state, "incident": incident, "degraded": sorted(degraded)}


@pytest.mark.parametrize(
    ("status", "clock", "line"),
    [
        (_status(), True, "room r1: idle"),
        (_status("recording", "r1-x"), True, "room r1: recording incident r1-x"),
        (_status("post_roll", "r1-x"), None, "room r1: post-roll of incident r1-x"),
        (_status(degraded=("camera", "storage")), True, "room r1: idle; degraded: camera, storage"),
        (_status(), False, "room r1: idle; clock not synchronized"),
    ],
)
def test_status_line_names_state_incident_degraded_parts_and_clock(
    status: dict[str, Any], clock: bool | None, line: str
) -> None:
    assert status_line(status, clock) == line


class _Source:
    def __init__(self, name: str, now: list[int]) -> None:
        self.name = name
        self.liveness = Liveness(lambda: now[0])

    def start(self, sink: Any, t0_ns: int | None = None) -> None: ...

    def stop(self) -> None: ...


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(0.01)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # pet every 1 s
        yield sock


def _drain(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            return messages


def _supervisor(now: list[int], clock: bool | None = True) -> tuple[Supervisor, _Source, list[Any]]:
    reports: list[Any] = []
    camera = _Source("camera", now)
    supervisor = Supervisor(
        Notifier(),
        [camera],
        10.0,
        lambda *r: reports.append(r),
        now_ns=lambda: now[0],
        clock_synced=lambda: clock,
    )
    return supervisor, camera, reports


def test_ready_waits_until_every_source_delivered_or_is_degraded(notify_socket: socket.socket) -> None:
    now = [0]
    supervisor, camera, _ = _supervisor(now)
    supervisor.tick(_status())
    assert not any(m.startswith("READY=1") for m in _drain(notify_socket))
    camera.liveness.beat(delivered=True)
    supervisor.tick(_status())
    assert "READY=1\nSTATUS=room r1: idle" in _drain(notify_socket)

    other, _, _ = _supervisor(now)
    other.tick(_status(degraded=("camera",)))  # a camera that never came up: the room is degraded
    assert "READY=1\nSTATUS=room r1: idle; degraded: camera" in _drain(notify_socket)


def test_status_is_sent_once_per_change(notify_socket: socket.socket) -> None:
    now = [0]
    supervisor, camera, _ = _supervisor(now)
    camera.liveness.beat(delivered=True)
    for status in (_status(), _status(), _status("recording", "r1-a"), _status("recording", "r1-a")):
        supervisor.tick(status)
    statuses = [m for m in _drain(notify_socket) if m.startswith("STATUS=")]
    assert statuses == ["STATUS=room r1: recording incident r1-a"]


def test_a_stalled_capture_thread_stops_the_pets_and_is_reported(notify_socket: socket.socket) -> None:
    now = [0]
    supervisor, camera, reports = _supervisor(now)
    camera.liveness.beat(delivered=True)
    pets = 0
    for second in range(1, 25):
        now[0] = second * S
        if second <= 5:
            camera.liveness.beat(delivered=True)  # delivers until 5 s, then nothing
        if second == 20:
            camera.liveness.beat(delivered=True)  # un-stuck
        supervisor.tick(_status())
        sent = _drain(notify_socket).count("WATCHDOG=1")
        pets += sent
        if 16 <= second < 20:
            assert sent == 0, second  # silent for more than 10 s: no pets
    assert pets >= 15
    assert reports == [
        ("camera-stalled", False, "no progress for 11 s"),
        ("camera-stalled", True, "capture resumed"),
    ]


def test_a_backoff_wait_is_not_a_stall(notify_socket: socket.socket) -> None:
    now = [0]
    supervisor, camera, reports = _supervisor(now)
    camera.liveness.excuse(60.0)  # reconnecting: the next attempt is 60 s away
    now[0] = 65 * S
    supervisor.tick(_status(degraded=("camera",)))
    assert reports == []
    assert "WATCHDOG=1" in _drain(notify_socket)


def test_an_unsynchronized_clock_shows_in_the_status_line(notify_socket: socket.socket) -> None:
    now = [0]
    supervisor, camera, _ = _supervisor(now, clock=False)
    camera.liveness.beat(delivered=True)
    supervisor.tick(_status())
    assert "READY=1\nSTATUS=room r1: idle; clock not synchronized" in _drain(notify_socket)


def test_timesyncd_flag_file_decides_clock_synchronized(tmp_path: Path) -> None:
    assert clock_synchronized(tmp_path) is False
    (tmp_path / "synchronized").touch()
    assert clock_synchronized(tmp_path) is True


def test_a_reconnecting_source_excuses_its_backoff_wait() -> None:
    """`supervise` marks the wait before the next attempt as planned quiet, not a stall."""
    stop = threading.Event()
    liveness = Liveness()
    calls: list[int] = []

    def session() -> None:
        calls.append(1)
        if len(calls) > 1:
            stop.set()
            return
        raise SourceFault("gone")

    thread = threading.Thread(
        target=supervise, args=("cam", stop, Backoff(30.0, 60.0), Health("cam", None), session, liveness)
    )
    thread.start()
    deadline = time.monotonic() + 2
    while liveness.last_ns <= time.monotonic_ns() + 20 * S and time.monotonic() < deadline:
        time.sleep(0.01)
    assert liveness.silent_s(time.monotonic_ns() + 25 * S) == 0.0  # 25 s on: still within the 30 s wait
    stop.set()
    thread.join(2)
