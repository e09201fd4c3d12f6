"""The indicator and the desk in Dutch, English and Arabic: real Tk windows on Xvfb, fed by a real daemon.

OCR-free: the text Tk holds in each widget is compared with the expected translation (written out
here, not taken from the catalogs), and pixels show on which side the text and the QR code are. The
QR code is decoded from the screenshot with zbarimg. Screenshots: docs/screenshots/{indicator,desk}-LANG.png.
"""

from __future__ import annotations

import subprocess
import time
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import arabic_reshaper
import numpy as np
import pytest
import zmq

from panic_button.channel import RoomChannel, open_channel
from panic_button.config import load_desk_file
from panic_button.desk_view import DeskWindow, open_desk
from panic_button.indicator_model import CueSchedule, Sign
from panic_button.indicator_view import Cue, IndicatorWindow, SignSettings, full_screen
from panic_button.presenter import RoomPresenter
from panic_button.tk_text import visual
from recorder.demo import free_tcp_port
from tests.integration.tk_rooms import HEARTBEAT_S, NOTICE, TIMING, desk_room, fast_daemon, link, until
from tests.integration.xscreen import Screen, shared_screens
from tests.support import RunningDaemon, needs_tools

pytestmark = [needs_tools("Xvfb", "zbarimg"), pytest.mark.usefixtures("tk_garbage_on_main_thread")]

W, H = 1280, 800
SIGN = {  # what the sign must say, written out by hand: (recording headline, sentence, idle headline)
    "nl": ("● OPNAME", "Dit gesprek wordt opgenomen.", "○ Er wordt niet opgenomen"),
    "en": ("● RECORDING", "This conversation is being recorded.", "○ Not recording"),
    "ar": ("● تسجيل جار", "يتم تسجيل هذه المحادثة.", "○ لا يوجد تسجيل"),
}
DESK = {  # the idle room's state, the unreachable room's state, the summary line
    "nl": ("RUST — neemt niet op", "GEEN CONTACT", "1 zonder contact"),
    "en": ("IDLE — not recording", "NO CONTACT", "1 no contact"),
    "ar": ("هادئ — لا تسجيل", "لا اتصال", "1 بلا اتصال"),
}
ARABIC_LETTERS = range(0x0621, 0x064B)  # base letters: after shaping, none may be left
PRESENTATION_FORMS = range(0xFE70, 0xFF00)


@pytest.fixture
def screen() -> Screen:
    return shared_screens()[0]  # 1280x800


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    running = fast_daemon(tmp_path_factory.mktemp("room"))
    yield running
    running.stop()


@pytest.fixture
def tk_root(screen: Screen) -> Iterator[tk.Tk]:
    root = tk.Tk(screenName=screen.display)
    yield root
    root.destroy()


def _shaped_and_reordered(shown: str, logical: str) -> None:
    """`shown` is `logical` (Arabic without digits or Latin) as Tk must draw it: the joined letter forms,
    and the first letter on the right, i.e. the shaped text reversed."""
    assert not any(ord(c) in ARABIC_LETTERS for c in shown), shown
    assert any(ord(c) in PRESENTATION_FORMS for c in shown), shown
    assert shown == arabic_reshaper.reshape(logical)[::-1]


def _line_edges(screen: Screen, widget: tk.Widget, ink: str) -> list[tuple[int, int]]:
    """(leftmost, rightmost) x of the pixels of colour `ink` in each line of text shown by `widget`."""
    x, y, w, h = widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(), widget.winfo_height()
    mask = screen.shot().mask(ink)[y : y + h, x : x + w]
    rows = np.flatnonzero(mask.any(axis=1))
    assert rows.size, f"no {ink} text in {widget}"
    lines = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    edges = []
    for line in lines:
        columns = np.flatnonzero(mask[line].any(axis=0))
        edges.append((int(columns[0]), int(columns[-1])))
    return edges


# -- indicator --------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "en", "ar"])
def test_indicator_speaks_the_rooms_language(
    language: str, screen: Screen, daemon: RunningDaemon, tk_root: tk.Tk, tmp_path: Path
) -> None:
    channel = open_channel(zmq.Context.instance(), link(daemon), TIMING, buttons=False)
    try:
        window = _indicator(tk_root, channel, language)
        recording, sentence, idle = SIGN[language]
        rtl = language == "ar"
        assert until(tk_root, window.tick, lambda: window.shown == (Sign.NOT_RECORDING, language))
        assert window.headline.cget("text") == visual(idle, rtl)
        assert not window.notice.winfo_ismapped() and not window.qr.winfo_ismapped()  # calm while idle
        daemon.client().trigger("language test")
        assert until(tk_root, window.tick, lambda: window.shown == (Sign.RECORDING, language))
        tk_root.update()
        assert window.headline.cget("text") == visual(recording, rtl)
        assert window.sentence.cget("text") == visual(sentence, rtl)
        notice = str(window.notice.cget("text"))
        assert NOTICE.controller in notice and "14" in notice and NOTICE.contact in notice
        if rtl:
            _shaped_and_reordered(str(window.headline.cget("text")), recording)
        _check_sides(screen, window, rtl)
        shot = screen.keep(
            f"indicator-{language}.png", tmp_path, resize="50%" if language != "nl" else "100%"
        )
        screen.save(tmp_path / "qr.png")  # full size, for the decoder
        decoded = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "qr.png")],
                                 capture_output=True, text=True, timeout=20, check=False)  # fmt: skip
        assert decoded.stdout.strip() == NOTICE.privacy_url, (decoded.stdout, decoded.stderr, shot)
    finally:
        daemon.client().clear()
        channel.close()


def _indicator(root: tk.Tk, channel: RoomChannel, language: str) -> IndicatorWindow:
    full_screen(root)
    presenter = RoomPresenter("", HEARTBEAT_S, time.monotonic())
    settings = SignSettings(NOTICE, [language], rotate_s=60)
    return IndicatorWindow(root, presenter, channel, (CueSchedule(120), Cue(root, ("true",))), settings)


def _check_sides(screen: Screen, window: IndicatorWindow, rtl: bool) -> None:
    """Left to right: lines flush left (ragged right), QR code on the right. Arabic: lines flush right
    (ragged left), QR code on the left."""
    edges = _line_edges(screen, window.notice, "#ffffff")
    assert len(edges) >= 4, edges
    lefts, rights = {left for left, _ in edges}, {right for _, right in edges}
    flush, ragged = (rights, lefts) if rtl else (lefts, rights)
    assert max(flush) - min(flush) <= 4 < max(ragged) - min(ragged), edges
    assert (window.qr.winfo_rootx() < window.notice.winfo_rootx()) is rtl


# -- desk -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "en", "ar"])
def test_desk_speaks_the_staffs_language(
    language: str, screen: Screen, daemon: RunningDaemon, tk_root: tk.Tk, tmp_path: Path
) -> None:
    rooms = (
        desk_room(daemon, "Spreekkamer 1")
        + f"""
[[room]]
name = "Spreekkamer 2"
endpoint = "tcp://127.0.0.1:{free_tcp_port()}"
state_endpoint = "tcp://127.0.0.1:{free_tcp_port()}"
server_key = "{daemon.room.root / "keys" / "server.key"}"
"""
    )
    (tmp_path / "desk.toml").write_text(f'key = "{link(daemon).key}"\nheartbeat_s = {HEARTBEAT_S}\n{rooms}')
    desk = load_desk_file(tmp_path / "desk.toml", language=language)
    channels = [open_channel(zmq.Context.instance(), room, desk, buttons=True) for room in desk.links()]
    try:
        window = open_desk(tk_root, desk, language, channels)
        idle, lost, summary = DESK[language]
        rtl = language == "ar"

        def states() -> tuple[str, str]:
            return window.tiles[0].texts()[1], window.tiles[1].texts()[1]

        assert until(tk_root, window.tick, lambda: states() == (visual(idle, rtl), visual(lost, rtl)), 5), (
            states()
        )
        assert window.summary.cget("text") == visual(summary, rtl)
        if rtl:
            _shaped_and_reordered(states()[0], idle)
        _check_tile_sides(window, rtl)
        screen.keep(f"desk-{language}.png", tmp_path, resize="60%")
    finally:
        for channel in channels:
            channel.close()


def _check_tile_sides(window: DeskWindow, rtl: bool) -> None:
    """The room's name is on the reading side: left in Dutch and English, right in Arabic."""
    name, state, _detail = window.tiles[0].labels()
    assert (name.winfo_rootx() > state.winfo_rootx()) is rtl
    anchor: Any = window.summary.cget("anchor")
    assert str(anchor) == ("e" if rtl else "w")
