"""`panic-button desk`: every room on one screen (Tk); logic in DeskModel, layout in desk_layout."""

from __future__ import annotations

import time
import tkinter as tk
from typing import Any

import structlog
import zmq

from panic_button.channel import RoomChannel, open_channel
from panic_button.config import DeskFile
from panic_button.desk_footer import Footer
from panic_button.desk_layout import DENSITIES, MARGIN, Layout, choose, position
from panic_button.desk_model import ALARM_KEY, DeskModel
from panic_button.desk_tile import FAMILY, PANEL_BG, Tile, TileSpec
from panic_button.justification import Justifications
from panic_button.presenter import RoomPresenter, Wording, wording
from panic_button.tk_app import run_tk
from panic_button.tk_text import visual
from panic_button.worker import Outcome

log = structlog.get_logger()

TILE_GAP = 1  # pixels above and below each tile


class DeskWindow:
    """The window fills the screen (or what the window manager gives it) and re-lays itself out when
    resized. Everything here runs on the Tk thread."""

    def __init__(self, root: tk.Tk, model: DeskModel, channels: list[RoomChannel], words: Wording) -> None:
        self._root, self._model, self._channels, self._words = root, model, channels, words
        t = words.translator
        self._rtl = t.right_to_left
        self.justifications = Justifications()
        root.title(t.gettext("panic-button desk"))
        root.configure(bg=PANEL_BG)
        self.summary = tk.Label(
            root, font=(FAMILY, -20, "bold"), bg=PANEL_BG, anchor="e" if self._rtl else "w"
        )
        self.summary.pack(side="top", fill="x", padx=MARGIN, pady=(MARGIN, 0))
        self.footer = Footer(root, t, self._answer, self._later)
        self.footer.frame.pack(side="bottom", fill="x")
        self._grid = tk.Frame(root, bg=PANEL_BG)
        self._grid.pack(side="top", fill="both", expand=True, padx=MARGIN)
        self.tiles: list[Tile] = []
        self.layout: Layout | None = None
        self._placed: list[int] = []
        self._bind_keys()
        root.bind("<Configure>", self._resized)

    def _bind_keys(self) -> None:
        root, back, forward = self._root, (1 if self._rtl else -1), (-1 if self._rtl else 1)
        root.bind(f"<{ALARM_KEY}>", lambda _e: self.press(self._model.selected, "trigger"))
        root.bind("<Up>", lambda _e: self._move(-self._columns()))
        root.bind("<Down>", lambda _e: self._move(self._columns()))
        root.bind("<Left>", lambda e: None if _typing(e) else self._move(back))
        root.bind("<Right>", lambda e: None if _typing(e) else self._move(forward))
        root.bind("<Home>", lambda e: None if _typing(e) else self._end(last=False))
        root.bind("<End>", lambda e: None if _typing(e) else self._end(last=True))

    def lay_out(self, width: int, height: int) -> None:
        """Build the tiles for a window of `width` x `height` (again only if the layout changes)."""
        layout = choose(len(self._model.rows), width, height, self._tile_heights(width))
        if layout == self.layout:
            return
        for tile in self.tiles:
            tile.frame.destroy()
        tile_w = (width - 2 * MARGIN) // layout.columns - 8
        spec = TileSpec(layout.density, tile_w, self._words.translator)
        self.tiles = [self._tile(index, spec) for index in range(len(self._model.rows))]
        for column in range(layout.columns):
            self._grid.columnconfigure(column, weight=1, uniform="tile")
        self.layout, self._placed = layout, []
        log.info("desk_layout", rooms=len(self.tiles), width=width, height=height,
                 density=layout.density.name, columns=layout.columns, fits=layout.fits)  # fmt: skip
        self.tick()

    def _tile_heights(self, width: int) -> dict[str, int]:
        """How tall a tile of each density is with this screen's fonts (plus the gap between tiles)."""
        heights = {}
        for density in DENSITIES:
            probe = Tile(self._grid, TileSpec(density, width, self._words.translator), _nothing, _nothing)
            probe.frame.update_idletasks()
            heights[density.name] = probe.frame.winfo_reqheight() + 2 * TILE_GAP
            probe.frame.destroy()
        return heights

    def _tile(self, index: int, spec: TileSpec) -> Tile:
        return Tile(self._grid, spec, lambda kind: self.press(index, kind), lambda: self._select(index))

    def press(self, index: int, kind: str) -> None:
        self._model.select(index)
        channel, presenter = self._channels[index], self._model.rows[index]
        sent = channel.press(presenter, kind)
        log.info("button_pressed", room=presenter.room, type=kind, sent=sent)
        self.tick()

    def tick(self) -> None:
        now, wall = time.monotonic(), time.time()
        for index, (channel, presenter) in enumerate(zip(self._channels, self._model.rows, strict=True)):
            for outcome in channel.pump(presenter, now, wall):
                self._after(index, outcome, now)
        updates = self._model.refresh(now)
        if self.layout is None:
            return
        for index, update in enumerate(updates):
            room = self._model.rows[index].room
            self.tiles[index].paint(update.view, room, index == self._model.selected)
            if update.changed:
                view = update.view
                log.info("room_view_changed", room=room, look=view.look.value, failure=view.failure)
            if update.ring:
                self._root.bell()
        self._place()
        missing = self.justifications.missing
        self.summary.configure(text=visual(self._model.summary(self._words.translator, missing), self._rtl))
        self._ask(now)

    def _place(self) -> None:
        if self._model.order == self._placed or self.layout is None:
            return
        for place, index in enumerate(self._model.order):
            row, column = position(place, self.layout, self._rtl)
            self.tiles[index].frame.grid(row=row, column=column, sticky="nsew", padx=4, pady=TILE_GAP)
        self._placed = list(self._model.order)

    def _after(self, index: int, outcome: Outcome, now: float) -> None:
        """A clear this desk sent was confirmed: ask why the alarm was raised. An answer arrived."""
        if outcome.kind == "clear" and outcome.ok and outcome.reply and outcome.reply.get("incident"):
            self.justifications.cleared(index, str(outcome.reply["incident"]), now)
        elif outcome.kind == "annotate" and outcome.incident is not None:
            self.justifications.answered(outcome.incident, outcome.failure, now)
            log.info("justification_answered", incident=outcome.incident, failure=outcome.failure)

    def _ask(self, now: float) -> None:
        question = self.justifications.due(now)
        if question is None:
            self.footer.show_hint()
        else:
            self.footer.ask(question, self._model.rows[question.room].room)

    def _answer(self, incident: str, text: str) -> None:
        if self._channels[self.justifications.find(incident).room].annotate(incident, text):
            self.justifications.sending(incident)
            log.info("justification_sent", incident=incident)
        self.footer.show_hint()
        self.tick()

    def _later(self, incident: str) -> None:
        self.justifications.later(incident, time.monotonic())
        log.info("justification_postponed", incident=incident)
        self.footer.show_hint()
        self.tick()

    def _columns(self) -> int:
        return self.layout.columns if self.layout else 1

    def _select(self, index: int) -> None:
        self._model.select(index)
        self.tick()

    def _move(self, delta: int) -> None:
        self._model.move(delta)
        self.tick()

    def _end(self, last: bool) -> None:
        self._model.select_end(last)
        self.tick()

    def _resized(self, event: tk.Event[Any]) -> None:
        if event.widget is self._root:
            self.lay_out(event.width, event.height)


def _nothing(*_args: object) -> None:
    pass


def _typing(event: tk.Event[Any]) -> bool:
    """The key went to a text field (the justification), where it moves the cursor instead."""
    return isinstance(event.widget, tk.Entry)


def open_desk(root: tk.Tk, desk: DeskFile, language: str, channels: list[RoomChannel]) -> DeskWindow:
    """The desk's window on `root`, filling its screen, for rooms whose channels are open."""
    words = wording(language, desk.timezone)
    now = time.monotonic()
    model = DeskModel([RoomPresenter(link.name, desk.heartbeat_s, now, words) for link in desk.links()])
    window = DeskWindow(root, model, channels, words)
    width, height = root.winfo_screenwidth(), root.winfo_screenheight()
    root.geometry(f"{width}x{height}+0+0")
    window.lay_out(width, height)
    log.info("desk_started", rooms=[presenter.room for presenter in model.rows], language=language)
    return window


def run_desk(desk: DeskFile, language: str) -> int:
    """Open every room's channel, show the window until it is closed or the process is signalled."""
    context: zmq.Context[Any] = zmq.Context.instance()
    channels: list[RoomChannel] = []
    try:
        for link in desk.links():
            channels.append(open_channel(context, link, desk, buttons=True, reason="desk alarm"))
        root = tk.Tk()
        window = open_desk(root, desk, language, channels)
        run_tk(root, window.tick)
    finally:
        for channel in channels:
            channel.close()
    return 0
