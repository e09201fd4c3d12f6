"""A reception's desk with 40 rooms on the common screens, fed by real daemons: every room on screen, an
alarm pinned to the top, the keyboard, and the justification asked for after a clear.

Rooms 1-39 are served by one daemon and room 40 by another (40 daemons would cost minutes and prove
nothing more about the window). Screenshot: docs/screenshots/desk-40-rooms.png.
"""

from __future__ import annotations

import json
import time
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from panic_button.channel import RoomChannel, open_channel
from panic_button.config import DeskFile, load_desk_file
from panic_button.desk_view import DeskWindow, open_desk
from panic_button.presenter import Look
from tests.integration.tk_rooms import HEARTBEAT_S, desk_room, fast_daemon, link, settle, until
from tests.integration.xscreen import Screen, shared_screens
from tests.support import RunningDaemon, needs_tools

pytestmark = [needs_tools("Xvfb", "xdotool"), pytest.mark.usefixtures("tk_garbage_on_main_thread")]

ROOMS = 40
LAST = ROOMS - 1


@pytest.fixture
def screens() -> list[Screen]:
    return shared_screens()


@pytest.fixture(scope="module")
def daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningDaemon, RunningDaemon]]:
    many, last = (fast_daemon(tmp_path_factory.mktemp(name), post_roll_s=30) for name in ("many", "last"))
    yield many, last
    many.stop()
    last.stop()


@pytest.fixture(scope="module")
def desk(daemons: tuple[RunningDaemon, RunningDaemon], tmp_path_factory: pytest.TempPathFactory) -> DeskFile:
    many, last = daemons
    rooms = "".join(desk_room(many if i < LAST else last, f"Spreekkamer {i + 1}") for i in range(ROOMS))
    path = tmp_path_factory.mktemp("desk") / "desk.toml"
    path.write_text(f'key = "{link(many).key}"\nheartbeat_s = {HEARTBEAT_S}\ntimeout_s = 0.5\n{rooms}')
    return load_desk_file(path, language="nl")


@pytest.fixture
def channels(desk: DeskFile) -> Iterator[list[RoomChannel]]:
    opened = [open_channel(zmq.Context.instance(), room, desk, buttons=True) for room in desk.links()]
    yield opened
    for channel in opened:
        channel.close()


def _open(screen: Screen, desk: DeskFile, channels: list[RoomChannel]) -> tuple[tk.Tk, DeskWindow]:
    root = tk.Tk(screenName=screen.display)
    window = open_desk(root, desk, "nl", channels)
    assert until(
        root, window.tick, lambda: all(v and v.look is not Look.CONNECTING for v in window._model.views)
    )
    return root, window


def _outside(root: tk.Tk, window: DeskWindow) -> list[int]:
    """The rooms whose tile is not wholly inside both the window and the screen (Tk geometry)."""
    right = min(root.winfo_rootx() + root.winfo_width(), root.winfo_screenwidth())
    bottom = min(root.winfo_rooty() + root.winfo_height(), root.winfo_screenheight())
    footer_top = window.footer.frame.winfo_rooty()
    return [
        index
        for index, tile in enumerate(window.tiles)
        if not tile.frame.winfo_ismapped()
        or tile.frame.winfo_rootx() < root.winfo_rootx()
        or tile.frame.winfo_rooty() < window.summary.winfo_rooty() + window.summary.winfo_height()
        or tile.frame.winfo_rootx() + tile.frame.winfo_width() > right
        or tile.frame.winfo_rooty() + tile.frame.winfo_height() > min(bottom, footer_top)
    ]


def _click(screen: Screen, widget: tk.Widget) -> None:
    widget.update()
    x, y = widget.winfo_rootx() + widget.winfo_width() // 2, widget.winfo_rooty() + widget.winfo_height() // 2
    screen.run("xdotool", "mousemove", str(x), str(y), "click", "1")
    time.sleep(0.1)
    widget.update()


def test_forty_rooms_fit_on_1280x800_and_an_alarm_in_the_last_room_is_pinned_to_the_top(
    screens: list[Screen], desk: DeskFile, channels: list[RoomChannel],
    daemons: tuple[RunningDaemon, RunningDaemon], tmp_path: Path,
) -> None:  # fmt: skip
    root, window = _open(screens[0], desk, channels)
    try:
        assert (root.winfo_width(), root.winfo_height()) == (1280, 800)
        assert _outside(root, window) == []
        daemons[1].client().trigger("room 40")
        assert until(root, window.tick, lambda: window.tiles[LAST].texts()[1] == "NEEMT OP")
        assert window._model.order[0] == LAST
        assert (
            window.tiles[LAST].frame.grid_info()["row"] == 0
            and window.tiles[LAST].frame.grid_info()["column"] == 0
        )
        assert window.summary.cget("text") == "1 neemt op"
        assert _outside(root, window) == []  # the question for a justification has room too (see below)
        screens[0].keep("desk-40-rooms.png", tmp_path)
    finally:
        root.destroy()


def test_forty_rooms_fit_on_1920x1080(
    screens: list[Screen], desk: DeskFile, channels: list[RoomChannel]
) -> None:
    root, window = _open(screens[1], desk, channels)
    try:
        assert (root.winfo_width(), root.winfo_height()) == (1920, 1080)
        assert window.layout is not None and window.layout.density.name != "compact"  # more room: bigger
        assert _outside(root, window) == []
    finally:
        root.destroy()


def test_the_keyboard_selects_and_f9_raises_the_alarm_among_forty_rooms(
    screens: list[Screen], desk: DeskFile, channels: list[RoomChannel],
    daemons: tuple[RunningDaemon, RunningDaemon],
) -> None:  # fmt: skip
    screen = screens[0]
    root, window = _open(screen, desk, channels)
    try:
        frame = root.wm_frame()
        screen.run("xdotool", "windowfocus", "--sync", frame, "key", "End", "Up", "Right", "Home", "Down")
        settle(root, window.tick, 0.3)
        columns = window.layout.columns if window.layout else 0
        assert window._model.selected == window._model.order[columns]  # Home, then one row down
        screen.run("xdotool", "windowfocus", "--sync", frame, "key", "F9")
        many = daemons[0].client()
        assert until(root, window.tick, lambda: many.status()["state"] == "recording", 5)
        assert until(root, window.tick, lambda: int(window.summary.cget("text").split()[0]) >= LAST)
        assert "nemen op" in window.summary.cget("text")
    finally:
        daemons[0].client().clear()
        root.destroy()


def test_after_a_clear_the_desk_asks_why_and_the_answer_is_audited(
    screens: list[Screen], desk: DeskFile, channels: list[RoomChannel],
    daemons: tuple[RunningDaemon, RunningDaemon],
) -> None:  # fmt: skip
    screen, last = screens[0], daemons[1]
    incident = str(last.client().trigger("room 40")["incident"])
    root, window = _open(screen, desk, channels)
    try:
        assert until(root, window.tick, lambda: window.tiles[LAST].texts()[1] == "NEEMT OP")
        window.press(LAST, "clear")
        assert until(root, window.tick, lambda: window.footer.asking == incident)
        assert "Spreekkamer 40: waarom is er alarm geslagen?" in window.footer.question.cget("text")
        assert _outside(root, window) == []
        _click(screen, window.footer.later)
        assert until(root, window.tick, lambda: window.footer.asking is None)
        assert "1 verantwoording ontbreekt" in window.summary.cget("text")
        window.justifications.find(incident).due = time.monotonic()  # as if the reminder time had passed
        assert until(root, window.tick, lambda: window.footer.asking == incident)
        window.footer.entry.focus_force()  # Xvfb has no window manager to give Tk the keyboard focus
        root.update()
        screen.run("xdotool", "type", "--delay", "5", "Bezoeker dreigde")
        screen.run("xdotool", "key", "Return")
        assert until(root, window.tick, lambda: window.justifications.missing == 0, 5)
    finally:
        root.destroy()
    entries = [json.loads(line) for line in (last.state_dir / "audit.jsonl").read_text().splitlines()]
    annotations = [e["data"] for e in entries if e["event"] == "annotation"]
    assert annotations == [{"incident": incident, "client": "demo-button", "text": "Bezoeker dreigde"}]
