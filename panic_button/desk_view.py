"""`panic-button desk`: the Tk view of every room (state, alarm and clear buttons, F9); logic in DeskModel."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
import zmq

from panic_button.channel import RoomChannel, open_channel
from panic_button.config import DeskFile
from panic_button.desk_model import ALARM_KEY, DeskModel, RowUpdate
from panic_button.presenter import COLOURS, RoomPresenter
from panic_button.tk_app import run_tk

log = structlog.get_logger()

TITLE = "panic-button desk"
ALARM_BG, CLEAR_BG, PANEL_BG = "#b71c1c", "#1565c0", "#eceff1"  # no state has the alarm button's red
_BIG = ("DejaVu Sans", 18, "bold")
_NAME = ("DejaVu Sans", 15, "bold")
_SMALL = ("DejaVu Sans", 10)


@dataclass
class _Row:
    marker: tk.Label
    name: tk.Label
    state: tk.Label
    detail: tk.Label


class DeskWindow:
    def __init__(self, root: tk.Tk, model: DeskModel, channels: list[RoomChannel]) -> None:
        self._root, self._model, self._channels = root, model, channels
        root.title(TITLE)
        root.configure(bg=PANEL_BG)
        self._rows = [self._build_row(index) for index in range(len(channels))]
        hint = f"{ALARM_KEY}: alarm for the selected room (▶)   ↑ ↓: select a room"
        footer = tk.Label(root, text=hint, font=_SMALL, bg=PANEL_BG)
        footer.grid(row=2 * len(channels), column=0, columnspan=5, pady=4)
        root.bind(f"<{ALARM_KEY}>", lambda _event: self.press(self._model.selected, "trigger"))
        root.bind("<Up>", lambda _event: self._move(-1))
        root.bind("<Down>", lambda _event: self._move(1))

    def _build_row(self, index: int) -> _Row:
        root, presenter = self._root, self._model.rows[index]
        marker = tk.Label(root, text="", font=_BIG, width=2, bg=PANEL_BG)
        name = tk.Label(
            root, text=presenter.room, font=_NAME, width=13, anchor="w", bg=PANEL_BG, wraplength=200
        )
        state = tk.Label(root, font=_BIG, width=24, height=2)
        detail = tk.Label(root, font=_SMALL, anchor="w", justify="left", bg=PANEL_BG, wraplength=470)
        alarm = _button(root, "ALARM", ALARM_BG, lambda: self.press(index, "trigger"), big=True)
        clear = _button(root, "clear", CLEAR_BG, lambda: self.press(index, "clear"), big=False)
        row = 2 * index
        marker.grid(row=row, column=0, rowspan=2)
        name.grid(row=row, column=1, rowspan=2, padx=6)
        state.grid(row=row, column=2, pady=(8, 0), sticky="ew")
        detail.grid(row=row + 1, column=2, pady=(0, 8), sticky="ew")
        alarm.grid(row=row, column=3, rowspan=2, padx=6, pady=6)
        clear.grid(row=row, column=4, rowspan=2, padx=(0, 8))
        for widget in (name, state, detail):
            widget.bind("<Button-1>", lambda _event: self._select(index))
        return _Row(marker, name, state, detail)

    def press(self, index: int, kind: str) -> None:
        self._model.select(index)
        channel, presenter = self._channels[index], self._model.rows[index]
        sent = channel.press(presenter, kind)
        log.info("button_pressed", room=presenter.room, type=kind, sent=sent)
        self.tick()

    def tick(self) -> None:
        now, wall = time.monotonic(), time.time()
        for channel, presenter in zip(self._channels, self._model.rows, strict=True):
            channel.pump(presenter, now, wall)
        for index, update in enumerate(self._model.refresh(now)):
            self._paint(index, update)

    def _paint(self, index: int, update: RowUpdate) -> None:
        row, view = self._rows[index], update.view
        background, text = COLOURS[view.look]
        row.state.configure(text=view.headline, bg=background, fg=text)
        row.detail.configure(text=view.detail)
        row.marker.configure(text="▶" if index == self._model.selected else "")
        row.name.configure(text=self._model.rows[index].room)  # the room id, once known, if unnamed
        if update.changed:
            room = self._model.rows[index].room
            log.info("room_view_changed", room=room, look=view.look.value, headline=view.headline)
        if update.ring:
            self._root.bell()

    def _select(self, index: int) -> None:
        self._model.select(index)
        self.tick()

    def _move(self, delta: int) -> None:
        self._model.move(delta)
        self.tick()


def _button(root: tk.Tk, text: str, colour: str, command: Callable[[], None], big: bool) -> tk.Button:
    """A flat-coloured button that keeps its colour under the mouse (so it is found by colour, too)."""
    font, width, height = (_BIG, 7, 2) if big else (_NAME, 6, 1)
    return tk.Button(
        root, text=text, font=font, bg=colour, fg="#ffffff", activebackground=colour,
        activeforeground="#ffffff", command=command, width=width, height=height,
    )  # fmt: skip


def run_desk(desk: DeskFile) -> int:
    """Open every room's channel, show the window until it is closed or the process is signalled."""
    context: zmq.Context[Any] = zmq.Context.instance()
    channels: list[RoomChannel] = []
    try:
        for link in desk.links():
            channels.append(open_channel(context, link, desk, buttons=True, reason="desk alarm"))
        now = time.monotonic()
        model = DeskModel([RoomPresenter(link.name, desk.heartbeat_s, now) for link in desk.links()])
        root = tk.Tk()
        window = DeskWindow(root, model, channels)
        log.info("desk_started", rooms=[presenter.room for presenter in model.rows])
        run_tk(root, window.tick)
    finally:
        for channel in channels:
            channel.close()
    return 0
