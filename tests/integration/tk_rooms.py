"""Fixtures' helpers for front ends run inside the test process: real daemons, real channels, Tk on Xvfb."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

from panic_button.config import Notice, RoomLink, Timing
from recorder.demo import set_up_room
from tests.integration.xscreen import wait
from tests.support import RunningDaemon, start_daemon

HEARTBEAT_S = 0.2
TIMING = Timing(heartbeat_s=HEARTBEAT_S, timeout_s=0.5, retries=2)
NOTICE = Notice(
    controller="Gemeente Testdorp",
    contact="privacy@testdorp.nl",
    privacy_url="https://www.testdorp.nl/privacyverklaring",
    retention_days=14,
)


def fast_daemon(root: Path, post_roll_s: float = 0.5) -> RunningDaemon:
    """A real daemon with a 0.2 s heartbeat."""
    room = set_up_room(root, pre_roll_s=1.0, post_roll_s=post_roll_s)
    text = room.config.read_text()
    room.config.write_text(text.replace("[control]\n", f"[control]\nheartbeat_s = {HEARTBEAT_S}\n", 1))
    return start_daemon(room)


def state_endpoint(daemon: RunningDaemon) -> str:
    return daemon.room.config.read_text().split('state_endpoint = "')[1].split('"')[0]


def link(daemon: RunningDaemon, name: str = "") -> RoomLink:
    root = daemon.room.root
    return RoomLink(
        name=name, endpoint=daemon.room.endpoint, state_endpoint=state_endpoint(daemon),
        key=root / "button" / "demo-button.key_secret", server_key=root / "keys" / "server.key",
    )  # fmt: skip


def desk_room(daemon: RunningDaemon, name: str) -> str:
    """One [[room]] table of a desk's rooms file, for a room served by `daemon`."""
    root = daemon.room.root
    return f"""
[[room]]
name = "{name}"
endpoint = "{daemon.room.endpoint}"
state_endpoint = "{state_endpoint(daemon)}"
server_key = "{root / "keys" / "server.key"}"
key = "{root / "button" / "demo-button.key_secret"}"
"""


def settle(root: tk.Tk, tick: Callable[[], None], seconds: float) -> None:
    """Run the window's tick and Tk's events for `seconds` (what run_tk does, for a while)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pump(root, tick)
        time.sleep(0.03)


def pump(root: tk.Tk, tick: Callable[[], None]) -> None:
    root.update()
    tick()
    root.update()


def until(
    root: tk.Tk, tick: Callable[[], None], condition: Callable[[], object], timeout_s: float = 5.0
) -> bool:
    return wait(condition, timeout_s, step=lambda: pump(root, tick))
