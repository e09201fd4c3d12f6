"""The desk's model: its rooms' presenters, the row the keyboard shortcut acts on, and when to ring."""

from __future__ import annotations

from dataclasses import dataclass

from panic_button.presenter import RoomPresenter, RoomView, alert_started

ALARM_KEY = "F9"  # raises the alarm for the selected room; Up/Down select


@dataclass(frozen=True)
class RowUpdate:
    view: RoomView
    changed: bool  # the look differs from the last refresh (log it)
    ring: bool  # it has just become an alert (ring the bell once)


class DeskModel:
    """Pure: no Tk, no sockets. Times are monotonic seconds."""

    def __init__(self, presenters: list[RoomPresenter]) -> None:
        if not presenters:
            raise ValueError("a desk needs at least one room")
        self.rows = presenters
        self.selected = 0
        self._last: list[RoomView | None] = [None] * len(presenters)

    def select(self, index: int) -> None:
        self.selected = index % len(self.rows)

    def move(self, delta: int) -> None:
        self.select(self.selected + delta)

    def refresh(self, now: float) -> list[RowUpdate]:
        updates = []
        for index, presenter in enumerate(self.rows):
            view, last = presenter.view(now), self._last[index]
            changed = last is None or (last.look, last.headline) != (view.look, view.headline)
            updates.append(RowUpdate(view, changed, alert_started(last, view)))
            self._last[index] = view
        return updates
