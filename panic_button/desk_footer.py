"""The desk's bottom line: the keyboard hint, or the question why an alarm was raised (after a clear)."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import Literal

from panic_button.desk_model import ALARM_KEY
from panic_button.desk_tile import CLEAR_BG, FAMILY, PANEL_BG
from panic_button.justification import MAX_REASON, Question
from panic_button.tk_text import visual
from recorder.i18n import Translator

ASK_BG = "#fff3e0"  # the question's background: noticeable, not an alarm


class Footer:
    """`on_answer(incident, text)` saves a justification; `on_later(incident)` postpones the question.
    Widgets are the Tk thread's only."""

    def __init__(
        self,
        parent: tk.Misc,
        words: Translator,
        on_answer: Callable[[str, str], None],
        on_later: Callable[[str], None],
    ) -> None:
        _, self._words, rtl = words.gettext, words, words.right_to_left
        self._on_answer, self._on_later = on_answer, on_later
        self.frame = tk.Frame(parent, bg=PANEL_BG)
        hint = _("{key}: alarm for the selected room   arrow keys, Home, End: select a room")
        self._hint = tk.Label(self.frame, text=visual(hint.format(key=ALARM_KEY), rtl), bg=PANEL_BG,
                              font=(FAMILY, -13))  # fmt: skip
        self._hint.pack(fill="x")
        self._ask = tk.Frame(self.frame, bg=ASK_BG)
        side: Literal["left", "right"] = "right" if rtl else "left"
        self.question = tk.Label(self._ask, bg=ASK_BG, font=(FAMILY, -13, "bold"), anchor="e" if rtl else "w")
        self.question.pack(side="top", fill="x", padx=4)
        answer = tk.Frame(self._ask, bg=ASK_BG)
        answer.pack(side="top", fill="x")
        self.save = tk.Button(
            answer, text=visual(_("Save"), rtl), command=self._save, bg=CLEAR_BG, fg="#ffffff"
        )
        self.later = tk.Button(answer, text=visual(_("Later"), rtl), command=self._later)
        self.entry = tk.Entry(answer, font=(FAMILY, -13), justify="right" if rtl else "left")
        for widget in (self.later, self.save):  # first, so that they always have room
            widget.pack(side="left" if rtl else "right", padx=4, pady=(0, 2))
        self.entry.pack(side=side, fill="x", expand=True, padx=4, pady=(0, 2))
        self.entry.bind("<Return>", lambda _event: self._save())
        self.entry.bind("<Escape>", lambda _event: self._later())
        self.asking: str | None = None  # the incident asked about
        self._shown: tuple[str, str | None] | None = None

    def ask(self, question: Question, room: str) -> None:
        """Show the question (what staff typed so far stays while it is shown)."""
        if self._shown == (question.incident, question.problem):
            return
        _ = self._words.gettext
        text = _("{room}: why was the alarm raised? (incident {incident})")
        if question.problem:
            text = _("{room}: NOT SAVED ({problem}), please try again (incident {incident})")
        words = text.format(room=room, incident=question.incident, problem=question.problem)
        self.question.configure(text=visual(words, self._words.right_to_left))
        self._hint.pack_forget()
        self._ask.pack(fill="x")
        self.entry.focus_set()
        self.asking, self._shown = question.incident, (question.incident, question.problem)

    def show_hint(self) -> None:
        if self.asking is None:
            return
        self._ask.pack_forget()
        self.entry.delete(0, "end")
        self._hint.pack(fill="x")
        self.asking = self._shown = None

    def _save(self) -> None:
        text = self.entry.get().strip()[:MAX_REASON]
        if self.asking is not None and text:
            self._on_answer(self.asking, text)

    def _later(self) -> None:
        if self.asking is not None:
            self._on_later(self.asking)
