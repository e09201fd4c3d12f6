"""The desk's model: row selection for the keyboard shortcut, change and bell signals."""

from __future__ import annotations

import pytest

from panic_button.desk_model import DeskModel
from panic_button.presenter import Look, RoomPresenter


def _desk(rooms: int) -> DeskModel:
    return DeskModel([RoomPresenter(f"Room {i}", 1.0, 0.0) for i in range(rooms)])


def test_selection_wraps_around() -> None:
    desk = _desk(3)
    desk.move(-1)
    assert desk.selected == 2
    desk.move(2)
    assert desk.selected == 1


def test_refresh_reports_changes_and_rings_once_when_contact_is_lost() -> None:
    desk = _desk(1)
    first = desk.refresh(0.0)[0]
    assert first.changed and not first.ring and first.view.look is Look.CONNECTING
    assert not desk.refresh(1.0)[0].changed
    lost = desk.refresh(3.0)[0]
    assert lost.view.look is Look.NO_CONTACT and lost.changed and lost.ring
    assert not desk.refresh(4.0)[0].ring


def test_a_desk_needs_a_room() -> None:
    with pytest.raises(ValueError, match="at least one room"):
        DeskModel([])
