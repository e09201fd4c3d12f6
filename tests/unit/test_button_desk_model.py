"""The desk's model: keyboard selection, attention order, the summary line, change and bell signals."""

from __future__ import annotations

import pytest

from panic_button.desk_model import DeskModel
from panic_button.presenter import Look, RoomPresenter, wording


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


def _status(state: str, degraded: tuple[str, ...] = ()) -> dict[str, object]:
    return {"v": 1, "room": "r", "state": state, "incident": "i" if state != "idle" else None,
            "since": 1.0, "degraded": list(degraded)}  # fmt: skip


def _heard(desk: DeskModel, states: list[tuple[str, tuple[str, ...]] | None], now: float) -> None:
    for presenter, state in zip(desk.rows, states, strict=True):
        if state is not None:
            presenter.on_state(_status(*state), now)


def test_rooms_that_need_attention_come_first_most_urgent_first() -> None:
    desk = DeskModel([RoomPresenter(f"Room {i}", 1.0, 0.0, wording("en")) for i in range(5)])
    idle, degraded, recording = ("idle", ()), ("idle", ("camera",)), ("recording", ())
    _heard(desk, [idle, degraded, None, recording, idle], 2.5)  # room 2 is never heard: no contact
    desk.refresh(3.5)
    assert desk.order == [3, 2, 1, 0, 4]
    assert desk.summary(wording("en").translator, missing_justifications=1) == (
        "1 recording · 1 no contact · 1 degraded · 1 justification missing"
    )


def test_the_selection_stays_with_its_room_when_the_order_changes() -> None:
    desk = DeskModel([RoomPresenter(f"Room {i}", 1.0, 0.0, wording("en")) for i in range(3)])
    _heard(desk, [("idle", ())] * 3, 0.1)
    desk.refresh(0.2)
    desk.select(1)
    desk.rows[2].on_state(_status("recording"), 0.3)
    desk.refresh(0.4)
    assert desk.order == [2, 0, 1] and desk.selected == 1
    desk.move(-1)  # one place up in display order
    assert desk.selected == 0
    desk.select_end(last=False)
    assert desk.selected == 2


def test_a_quiet_desk_says_how_many_rooms_it_watches_in_the_staffs_language() -> None:
    desk = DeskModel([RoomPresenter(f"Room {i}", 1.0, 0.0) for i in range(40)])
    _heard(desk, [("idle", ())] * 40, 0.1)
    desk.refresh(0.2)
    assert desk.summary(wording("nl").translator) == "40 ruimtes, geen opname"
    assert desk.summary(wording("en").translator) == "40 rooms, none recording"
