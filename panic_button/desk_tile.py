"""One room's tile on the desk: name, state, detail, ALARM and clear, painted from a RoomView."""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from panic_button.desk_layout import Density
from panic_button.presenter import COLOURS, RoomView
from panic_button.tk_text import visual
from recorder.i18n import Translator

ALARM_BG, CLEAR_BG, PANEL_BG = "#b71c1c", "#1565c0", "#eceff1"  # no state has the alarm button's red
DEGRADED_TEXT = "#bf360c"  # the detail line of a room with a failing camera, microphone or disk
SELECTED = "#000000"  # the selected tile's frame (F9 raises its alarm)
FAMILY = "DejaVu Sans"  # has Latin, Arabic presentation forms, Turkish and Polish letters


@dataclass(frozen=True)
class TileSpec:
    density: Density
    width: int  # pixels the tile may take
    words: Translator


class Tile:
    """Built for one density and width; `paint` shows a view. Widgets are the Tk thread's only."""

    def __init__(
        self,
        parent: tk.Widget,
        spec: TileSpec,
        on_press: Callable[[str], None],
        on_select: Callable[[], None],
    ) -> None:
        density, _, rtl = spec.density, spec.words.gettext, spec.words.right_to_left
        self._rtl, self._two_lines = rtl, density.two_lines
        self.frame = tk.Frame(parent, bg=PANEL_BG, highlightthickness=2, highlightbackground=PANEL_BG)
        name_font, state_font = _font(density.name_px, bold=True), _font(density.state_px, bold=True)
        detail_font, button_font = _font(density.detail_px), _font(density.button_px, bold=True)
        alarm = _button(
            self.frame, visual(_("ALARM"), rtl), ALARM_BG, button_font, lambda: on_press("trigger")
        )
        clear = _button(self.frame, visual(_("clear"), rtl), CLEAR_BG, _font(density.detail_px + 1),
                        lambda: on_press("clear"))  # fmt: skip
        buttons_w = alarm.winfo_reqwidth() + clear.winfo_reqwidth() + 24
        name_w = int((spec.width - buttons_w) * 0.36)
        state_w = spec.width - buttons_w - name_w - 12
        anchor: Literal["e", "w"] = "e" if rtl else "w"
        self._name = tk.Label(self.frame, font=name_font, anchor=anchor, bg=PANEL_BG,
                              width=_chars(name_w, name_font))  # fmt: skip
        self._state = tk.Label(self.frame, font=state_font, width=_chars(state_w, state_font),
                               height=2 if density.two_lines else 1)  # fmt: skip
        self._detail = tk.Label(self.frame, font=detail_font, anchor=anchor, bg=PANEL_BG,
                                width=_chars(state_w, detail_font))  # fmt: skip
        columns = (clear, alarm, self._state, self._name) if rtl else (self._name, self._state, alarm, clear)
        for column, widget in enumerate(columns):
            padding = (2, 2) if widget in (alarm, clear) else (4, 4)
            widget.grid(row=0, column=column, rowspan=1 if widget is self._state else 2, padx=padding)
        self._detail.grid(row=1, column=columns.index(self._state), sticky="ew", padx=4)
        for label in (self._name, self._state, self._detail):
            label.configure(pady=0, borderwidth=0)
        for widget in (self.frame, self._name, self._state, self._detail):
            widget.bind("<Button-1>", lambda _event: on_select())

    def paint(self, view: RoomView, name: str, selected: bool) -> None:
        background, text = COLOURS[view.look]
        headline = view.headline if self._two_lines else " · ".join(view.headline.split("\n"))
        self._state.configure(text=visual(headline, self._rtl), bg=background, fg=text)
        self._detail.configure(
            text=visual(view.detail, self._rtl), fg=DEGRADED_TEXT if view.degraded else "#000000"
        )
        self._name.configure(text=visual(name, self._rtl))
        self.frame.configure(highlightbackground=SELECTED if selected else PANEL_BG)

    def labels(self) -> tuple[tk.Label, tk.Label, tk.Label]:
        """The name, state and detail labels (tests read their text and place from Tk)."""
        return self._name, self._state, self._detail

    def texts(self) -> tuple[str, str, str]:
        """What the tile shows now (name, state, detail), as Tk has it."""
        name, state, detail = (str(label.cget("text")) for label in self.labels())
        return name, state, detail


def _font(pixels: int, bold: bool = False) -> tkfont.Font:
    return tkfont.Font(family=FAMILY, size=-pixels, weight="bold" if bold else "normal")


def _chars(pixels: int, font: tkfont.Font) -> int:
    """A label `pixels` wide in `font`, in Tk's width unit (the width of "0")."""
    return max(4, pixels // max(1, font.measure("0")))


def _button(
    parent: tk.Widget, text: str, colour: str, font: tkfont.Font, command: Callable[[], None]
) -> tk.Button:
    """A flat-coloured button that keeps its colour under the mouse (so it is found by colour, too)."""
    return tk.Button(
        parent, text=text, font=font, bg=colour, fg="#ffffff", activebackground=colour,
        activeforeground="#ffffff", command=command, padx=6, pady=0,
    )  # fmt: skip
