"""The headless front ends against a real daemon: the HID reader fed real `evdev.InputEvent` objects,
the GPIO button and LED on gpiozero's MockFactory, the action worker's coalescing, `panic-button annotate`
and the command line's language."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import zmq

from panic_button.channel import open_channel
from panic_button.client import RoomClient
from panic_button.config import RoomLink, Timing
from panic_button.presenter import Look, RoomPresenter
from panic_button.worker import NO_CONTACT, ActionWorker, Outcome
from recorder.demo import free_tcp_port, set_up_room
from tests.support import RunningDaemon, record_incident, start_daemon

if TYPE_CHECKING:
    from panic_button.gpio import GpioFrontEnd

HEARTBEAT_S = 0.2


@pytest.fixture
def fast_daemon(tmp_path: Path) -> Iterator[RunningDaemon]:
    """A daemon with a 0.2 s heartbeat and a 1 s post-roll."""
    room = set_up_room(tmp_path, pre_roll_s=1.0, post_roll_s=1.0)
    text = room.config.read_text()
    room.config.write_text(text.replace("[control]\n", f"[control]\nheartbeat_s = {HEARTBEAT_S}\n", 1))
    running = start_daemon(room)
    yield running
    running.stop()


def _link(daemon: RunningDaemon) -> RoomLink:
    root = daemon.room.root
    state_endpoint = daemon.room.config.read_text().split('state_endpoint = "')[1].split('"')[0]
    return RoomLink(
        endpoint=daemon.room.endpoint, state_endpoint=state_endpoint,
        key=root / "button" / "demo-button.key_secret", server_key=root / "keys" / "server.key",
    )  # fmt: skip


def _incident_reasons(daemon: RunningDaemon) -> list[str]:
    entries = [json.loads(line) for line in (daemon.state_dir / "audit.jsonl").read_text().splitlines()]
    return [e["data"]["reason"] for e in entries if e["event"] == "incident_started"]


def test_hid_key_press_triggers_the_room(daemon: RunningDaemon) -> None:
    evdev = pytest.importorskip("evdev", reason="the hid extra (evdev) is not installed")
    from panic_button.hid import KeyPressReader, serve

    ecodes, key = evdev.ecodes, evdev.ecodes.KEY_F13
    events = [
        evdev.InputEvent(1, 0, ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70068),
        evdev.InputEvent(1, 0, ecodes.EV_KEY, key, 1),  # down
        evdev.InputEvent(1, 0, ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
        evdev.InputEvent(1, 500_000, ecodes.EV_KEY, key, 2),  # held
        evdev.InputEvent(2, 0, ecodes.EV_KEY, key, 0),  # up
        evdev.InputEvent(2, 0, ecodes.EV_KEY, ecodes.KEY_A, 1),  # some other key
    ]
    outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
    worker = ActionWorker(daemon.client(), outcomes.put, reason="hid button").start()
    try:
        assert serve(events, KeyPressReader(key), worker) == 1
        outcome = outcomes.get(timeout=5)
    finally:
        worker.close()
    assert outcome.ok and outcome.reply is not None and outcome.reply["state"] == "recording"
    assert _incident_reasons(daemon) == ["hid button"]
    assert outcomes.empty()


def test_gpio_button_triggers_and_the_led_follows_the_room(fast_daemon: RunningDaemon) -> None:
    pytest.importorskip("gpiozero", reason="the gpio extra (gpiozero) is not installed")
    from gpiozero import LED, Button
    from gpiozero.pins.mock import MockFactory

    from panic_button.gpio import GpioFrontEnd

    factory = MockFactory()  # gpiozero's own mock pins: the one fake in these tests (no GPIO here)
    button, led = Button(17, pin_factory=factory), LED(27, pin_factory=factory)
    channel = open_channel(zmq.Context.instance(), _link(fast_daemon), Timing(heartbeat_s=HEARTBEAT_S),
                           buttons=True, reason="gpio button")  # fmt: skip
    front = GpioFrontEnd(button, led, channel, RoomPresenter("", HEARTBEAT_S, time.monotonic()))
    try:
        assert _step_until(front, lambda: _look(front) is Look.IDLE)
        assert not led.is_lit
        button.pin.drive_low()
        button.pin.drive_high()
        assert _step_until(front, lambda: _look(front) is Look.RECORDING)  # confirmed by the daemon
        assert led.is_lit and fast_daemon.client().status()["state"] == "recording"
        assert _incident_reasons(fast_daemon) == ["gpio button"]
        fast_daemon.client().clear()
        assert _step_until(front, lambda: _look(front) is Look.POST_ROLL)
        assert led.is_lit  # the post-roll is still recording
        assert _step_until(front, lambda: _look(front) is Look.IDLE, timeout_s=4)
        assert not led.is_lit and fast_daemon.client().status()["state"] == "idle"
        fast_daemon.stop()
        assert _step_until(front, lambda: _look(front) is Look.NO_CONTACT)
        changes = len(led.pin.states)
        _step_until(front, lambda: False, timeout_s=0.6)
        assert len(led.pin.states) - changes >= 4  # blinking: no contact is never silent
    finally:
        channel.close()
        button.close()
        led.close()


def _look(front: GpioFrontEnd) -> Look:
    return front.step(time.monotonic(), time.time()).look


def _step_until(front: GpioFrontEnd, condition: Callable[[], object], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        front.step(time.monotonic(), time.time())
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_presses_while_the_daemon_does_not_answer_are_coalesced(tmp_path: Path) -> None:
    room = set_up_room(tmp_path)  # keys only: no daemon listens on this port
    client = RoomClient(f"tcp://127.0.0.1:{free_tcp_port()}", room.client_keys, timeout_s=0.3, retries=1)
    outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
    worker = ActionWorker(client, outcomes.put).start()
    try:
        accepted = [worker.submit("trigger") for _ in range(5)]
        received = [outcomes.get(timeout=3) for _ in range(sum(accepted))]
        time.sleep(0.5)
    finally:
        worker.close()
    assert 1 <= sum(accepted) <= 2  # one in flight, at most one waiting: no backlog of stale alarms
    assert accepted[0] and not any(accepted[2:])
    assert [o.failure for o in received] == [NO_CONTACT] * len(received)
    assert outcomes.empty()


def _panic_button(daemon: RunningDaemon, *args: str) -> subprocess.CompletedProcess[str]:
    root = daemon.room.root
    keys = [
        "--endpoint", daemon.room.endpoint, "--key", str(root / "button" / "demo-button.key_secret"),
        "--server-key", str(root / "keys" / "server.key"), "--timeout", "0.5", "--retries", "2",
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LANG", "LC_"))}
    command = [sys.executable, "-m", "panic_button", *args, *keys]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, env=env, check=False)


def test_annotate_adds_the_justification_to_the_audit_log(daemon: RunningDaemon) -> None:
    incident = record_incident(daemon, record_s=0.2)
    done = _panic_button(daemon, "annotate", incident, "--reason", "Bezoeker werd agressief")
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout == f"demo-room: verantwoording opgeslagen bij incident {incident}\n"
    )  # Dutch by default
    entries = [json.loads(line) for line in (daemon.state_dir / "audit.jsonl").read_text().splitlines()]
    annotations = [e["data"] for e in entries if e["event"] == "annotation"]
    assert annotations == [{"incident": incident, "client": "demo-button", "text": "Bezoeker werd agressief"}]


def test_annotate_of_an_unknown_incident_is_refused_in_the_language_asked_for(daemon: RunningDaemon) -> None:
    done = _panic_button(
        daemon, "annotate", "demo-room-19990101T000000Z-000000", "--reason", "x", "--language", "en"
    )
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith("REFUSED: unknown_incident: ")


def test_annotate_needs_a_reason_that_says_something(daemon: RunningDaemon) -> None:
    done = _panic_button(daemon, "annotate", "demo-room-x", "--reason", "  ")
    assert done.returncode == 2
    assert done.stderr == "panic-button: --reason moet zeggen waarom, in 1 tot 500 tekens\n"


def test_status_speaks_the_settings_files_language(daemon: RunningDaemon, tmp_path: Path) -> None:
    (tmp_path / "ar.toml").write_text('language = "ar"\n')  # Arabic has no staff CLI texts: English then
    (tmp_path / "nl.toml").write_text('language = "nl"\n')
    assert (
        _panic_button(daemon, "status", "--config", str(tmp_path / "nl.toml")).stdout == "demo-room: RUST\n"
    )
    assert (
        _panic_button(daemon, "status", "--config", str(tmp_path / "ar.toml")).stdout == "demo-room: IDLE\n"
    )
    assert _panic_button(daemon, "status", "--language", "en").stdout == "demo-room: IDLE\n"
