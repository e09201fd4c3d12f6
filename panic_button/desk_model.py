"""The desk's model: the rooms' presenters, attention order, summary, selected room, and when to ring."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from panic_button.presenter import Look, RoomPresenter, RoomView, alert_started
from recorder.i18n import Translator

ALARM_KEY = "F9"  # raises the alarm for the selected room; the arrow keys, Home and End select

# Rooms that need attention come first, most urgent first; within a rank, in the rooms file's order.
_RANK = {Look.SENDING: 0, Look.RECORDING: 0, Look.POST_ROLL: 0, Look.NO_CONTACT: 1, Look.FAILED: 1}
_DEGRADED, _QUIET = 2, 3


def rank(view: RoomView) -> int:
    """0 alarm or recording, 1 no contact or refused, 2 degraded, 3 nothing to see."""
    return _RANK.get(view.look, _DEGRADED if view.degraded else _QUIET)


def needs_attention(view: RoomView) -> bool:
    return rank(view) < _QUIET


@dataclass(frozen=True)
class RowUpdate:
    view: RoomView
    changed: bool  # the look differs from the last refresh (log it)
    ring: bool  # it has just become an alert (ring the bell once)


class DeskModel:
    """Pure: no Tk, no sockets. Times are monotonic seconds. Rooms are known by their index in the
    rooms file; `order` is the display order."""

    def __init__(self, presenters: list[RoomPresenter]) -> None:
        if not presenters:
            raise ValueError("a desk needs at least one room")
        self.rows = presenters
        self.selected = 0
        self.order = list(range(len(presenters)))
        self.views: list[RoomView | None] = [None] * len(presenters)

    def select(self, room: int) -> None:
        self.selected = room % len(self.rows)

    def move(self, delta: int) -> None:
        """Select the room `delta` places further in display order (wrapping around)."""
        position = self.order.index(self.selected)
        self.selected = self.order[(position + delta) % len(self.order)]

    def select_end(self, last: bool) -> None:
        self.selected = self.order[-1 if last else 0]

    def refresh(self, now: float) -> list[RowUpdate]:
        """Every room's view (in rooms-file order), and the display order that follows from them."""
        updates = []
        for index, presenter in enumerate(self.rows):
            view, last = presenter.view(now), self.views[index]
            changed = last is None or (last.look, last.headline) != (view.look, view.headline)
            updates.append(RowUpdate(view, changed, alert_started(last, view)))
            self.views[index] = view
        self.order = sorted(range(len(self.rows)), key=lambda i: (rank(updates[i].view), i))
        return updates

    def summary(self, words: Translator, missing_justifications: int = 0) -> str:
        """One line, e.g. "2 recording · 1 no contact"; the room count when nothing needs attention."""
        views = [view for view in self.views if view is not None]
        looks = Counter(view.look for view in views)
        sending, recording = looks[Look.SENDING], looks[Look.RECORDING] + looks[Look.POST_ROLL]
        lost, refused = looks[Look.NO_CONTACT], looks[Look.FAILED]
        degraded, missing = sum(1 for view in views if view.degraded), missing_justifications
        parts = [
            _count(sending, words.ngettext("{n} alarm on its way", "{n} alarms on their way", sending)),
            _count(recording, words.ngettext("{n} recording", "{n} recording", recording)),
            _count(lost, words.ngettext("{n} no contact", "{n} no contact", lost)),
            _count(refused, words.ngettext("{n} refused", "{n} refused", refused)),
            _count(degraded, words.ngettext("{n} degraded", "{n} degraded", degraded)),
            _count(
                missing, words.ngettext("{n} justification missing", "{n} justifications missing", missing)
            ),
        ]
        if any(parts):
            return " · ".join(part for part in parts if part)
        rooms = len(self.rows)
        return words.ngettext("{n} room, none recording", "{n} rooms, none recording", rooms).format(n=rooms)


def _count(count: int, text: str) -> str:
    return text.format(n=count) if count else ""
