"""The desk and the indicator as real processes with Tk windows on an Xvfb display started here, driven
with xdotool (keys and clicks), checked by screenshot pixels and by the daemon's own state.

(The screenshots in docs/ come from the in-process tests: test_frontends_languages.py and _desk.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from panic_button.desk_tile import CLEAR_BG
from panic_button.indicator_model import SIGN_COLOURS, Sign
from panic_button.presenter import COLOURS, Look
from recorder.demo import DemoRoom, free_tcp_port, set_up_room
from tests.integration.xscreen import Screen, wait, xvfb
from tests.support import RunningDaemon, start_daemon

HEARTBEAT_S = 0.2
SCREEN_W, SCREEN_H = 1024, 768


@dataclass
class FrontEnd:
    process: subprocess.Popen[bytes]
    log_path: Path

    def events(self, name: str) -> list[dict[str, Any]]:
        lines = (json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{"))
        return [line for line in lines if line.get("event") == name]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        return self.process.returncode


@pytest.fixture(scope="module")
def screen() -> Iterator[Screen]:
    with xvfb(f"{SCREEN_W}x{SCREEN_H}") as (only,):
        yield only


def _room(tmp_path: Path, post_roll_s: float) -> DemoRoom:
    room = set_up_room(tmp_path, pre_roll_s=1.0, post_roll_s=post_roll_s)
    text = room.config.read_text()
    room.config.write_text(text.replace("[control]\n", f"[control]\nheartbeat_s = {HEARTBEAT_S}\n", 1))
    return room


def _without_language(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment without tests/conftest.py's English pin: these front ends show their default,
    Dutch (the C locale of a kiosk)."""
    return {
        name: value
        for name, value in environ.items()
        if name not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
    }


def _start(screen: Screen, root: Path, *args: str) -> FrontEnd:
    log_path = root / f"{args[0]}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "panic_button", *args],
            env={**_without_language(os.environ), "DISPLAY": screen.display},
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return FrontEnd(process, log_path)


# -- desk -------------------------------------------------------------------------------------------


@pytest.fixture
def desk_setup(screen: Screen, tmp_path: Path) -> Iterator[tuple[RunningDaemon, FrontEnd, str]]:
    room = _room(tmp_path, post_roll_s=5.0)
    daemon = start_daemon(room)
    state_endpoint = room.config.read_text().split('state_endpoint = "')[1].split('"')[0]
    (tmp_path / "desk.toml").write_text(f"""key = "button/demo-button.key_secret"
heartbeat_s = {HEARTBEAT_S}
timeout_s = 0.3
retries = 2

[[room]]
name = "Interview 1"
endpoint = "{room.endpoint}"
state_endpoint = "{state_endpoint}"
server_key = "keys/server.key"

[[room]]
name = "Interview 2"
endpoint = "tcp://127.0.0.1:{free_tcp_port()}"
state_endpoint = "tcp://127.0.0.1:{free_tcp_port()}"
server_key = "keys/server.key"
""")
    desk = _start(screen, tmp_path, "desk", "--rooms", str(tmp_path / "desk.toml"))
    window = screen.find_window("panic-button balie")
    yield daemon, desk, window
    assert desk.stop() == 0  # SIGTERM closes the window cleanly
    daemon.stop()


def _look_pixels(screen: Screen, window: str, look: Look) -> int:
    return screen.shot(window).count(COLOURS[look][0])


def test_desk_alarm_key_triggers_and_is_acknowledged(
    screen: Screen, desk_setup: tuple[RunningDaemon, FrontEnd, str], tmp_path: Path
) -> None:
    daemon, desk, window = desk_setup
    assert wait(lambda: _look_pixels(screen, window, Look.IDLE) > 5000)
    assert wait(lambda: _look_pixels(screen, window, Look.NO_CONTACT) > 5000)  # the offline room
    assert _look_pixels(screen, window, Look.RECORDING) == 0
    screen.run("xdotool", "windowfocus", "--sync", window, "key", "F9")
    assert wait(lambda: _look_pixels(screen, window, Look.RECORDING) > 5000)
    assert daemon.client().status()["state"] == "recording"
    confirmed = desk.events("request_confirmed")
    assert [(e["type"], e["state"]) for e in confirmed] == [("trigger", "recording")]
    assert [e["look"] for e in desk.events("room_view_changed") if e["room"] == "Interview 1"][
        -1
    ] == "recording"
    screen.save(tmp_path / "desk.png", window)


def test_desk_clear_button_click_starts_the_post_roll(
    screen: Screen, desk_setup: tuple[RunningDaemon, FrontEnd, str]
) -> None:
    daemon, _desk, window = desk_setup
    daemon.client().trigger("from another button")
    assert wait(lambda: _look_pixels(screen, window, Look.RECORDING) > 5000)
    x, y = screen.shot(window).first_region_centre(CLEAR_BG)  # the first room's clear button
    screen.run("xdotool", "mousemove", "--window", window, str(x), str(y), "click", "1")
    assert wait(lambda: _look_pixels(screen, window, Look.POST_ROLL) > 5000)
    assert daemon.client().status()["state"] == "post_roll"
    assert _look_pixels(screen, window, Look.RECORDING) == 0


def test_desk_never_fails_silently_when_the_daemon_is_gone(
    screen: Screen, desk_setup: tuple[RunningDaemon, FrontEnd, str]
) -> None:
    daemon, desk, window = desk_setup
    assert wait(lambda: _look_pixels(screen, window, Look.IDLE) > 5000)
    single_row = _look_pixels(screen, window, Look.NO_CONTACT)  # the offline room only
    daemon.stop()
    assert wait(lambda: _look_pixels(screen, window, Look.NO_CONTACT) > 1.5 * single_row, 3 * HEARTBEAT_S + 2)
    screen.run("xdotool", "windowfocus", "--sync", window, "key", "F9")

    def last_change() -> tuple[str, str | None]:
        change = [e for e in desk.events("room_view_changed") if e["room"] == "Interview 1"][-1]
        return change["look"], change["failure"]

    assert wait(lambda: last_change() == ("no_contact", "no_contact"), 5), last_change()
    assert [e["failure"] for e in desk.events("request_not_done")] == ["no_contact"]
    assert _look_pixels(screen, window, Look.NO_CONTACT) > 1.5 * single_row


# -- indicator --------------------------------------------------------------------------------------


@pytest.fixture
def indicator_setup(screen: Screen, tmp_path: Path) -> Iterator[tuple[RunningDaemon, FrontEnd]]:
    room = _room(tmp_path, post_roll_s=2.0)
    daemon = start_daemon(room)
    state_endpoint = room.config.read_text().split('state_endpoint = "')[1].split('"')[0]
    (tmp_path / "sign.toml").write_text(NOTICE)
    indicator = _start(
        screen, tmp_path, "indicator", "--config", str(tmp_path / "sign.toml"), "--endpoint", room.endpoint,
        "--state-endpoint", state_endpoint, "--key", str(tmp_path / "button" / "demo-button.key_secret"),
        "--server-key", str(tmp_path / "keys" / "server.key"), "--heartbeat", str(HEARTBEAT_S),
        "--cue-interval", "0.3",
    )  # fmt: skip
    screen.find_window("panic-button bord")  # the title in the default language, Dutch
    yield daemon, indicator
    assert indicator.stop() == 0
    daemon.stop()


NOTICE = """[notice]
controller = "Gemeente Testdorp"
contact = "privacy@testdorp.nl"
privacy_url = "https://www.testdorp.nl/privacy"
"""


def _sign_share(screen: Screen, sign: Sign) -> float:
    return screen.shot().count(SIGN_COLOURS[sign][0]) / (SCREEN_W * SCREEN_H)


def test_indicator_shows_recording_only_while_the_room_records(
    screen: Screen, indicator_setup: tuple[RunningDaemon, FrontEnd], tmp_path: Path
) -> None:
    daemon, indicator = indicator_setup
    assert wait(lambda: _sign_share(screen, Sign.NOT_RECORDING) > 0.8)
    assert not indicator.events("audible_cue")
    client = daemon.client()
    client.trigger("test")
    assert wait(lambda: _sign_share(screen, Sign.RECORDING) > 0.8, 2)
    assert _sign_share(screen, Sign.NOT_RECORDING) == 0
    screen.save(tmp_path / "indicator.png", "root", "50%")
    assert wait(lambda: len(indicator.events("audible_cue")) >= 3, 3)  # at once, then every 0.3 s
    assert client.clear()["state"] == "post_roll"
    assert _sign_share(screen, Sign.RECORDING) > 0.8  # the post-roll is still recording
    assert wait(lambda: _sign_share(screen, Sign.NOT_RECORDING) > 0.8, 5)
    assert client.status()["state"] == "idle"
    cues = len(indicator.events("audible_cue"))
    time.sleep(0.7)
    assert len(indicator.events("audible_cue")) == cues  # no cue while not recording


def test_indicator_claims_nothing_when_contact_is_lost(
    screen: Screen, indicator_setup: tuple[RunningDaemon, FrontEnd]
) -> None:
    daemon, _indicator = indicator_setup
    assert wait(lambda: _sign_share(screen, Sign.NOT_RECORDING) > 0.8)
    daemon.stop()
    assert wait(lambda: _sign_share(screen, Sign.UNKNOWN) > 0.8, 3 * HEARTBEAT_S + 2)
