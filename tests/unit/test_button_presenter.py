"""What a front end shows for a room: contact, pending presses, and acknowledgement only on confirmation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from panic_button.presenter import FAILURE_HOLD_S, Look, RoomPresenter, RoomView, alert_started, wording
from panic_button.worker import NO_CONTACT, Outcome

HEARTBEAT_S = 1.0


def _status(state: str, incident: str | None = None) -> dict[str, Any]:
    return {"v": 1, "room": "r1", "state": state, "incident": incident, "since": 1.0, "degraded": []}


def _presenter(now: float = 0.0) -> RoomPresenter:
    return RoomPresenter("Room 1", HEARTBEAT_S, now, wording("en"))


def test_connecting_until_three_heartbeats_pass_without_a_message() -> None:
    presenter = _presenter()
    assert presenter.view(2.9).look is Look.CONNECTING
    assert presenter.view(3.0).look is Look.NO_CONTACT


def test_contact_is_lost_three_heartbeats_after_the_last_message() -> None:
    presenter = _presenter()
    presenter.on_state(_status("idle"), 0.5)
    assert presenter.view(3.4).look is Look.IDLE
    lost = presenter.view(3.5)
    assert lost.look is Look.NO_CONTACT and lost.recording is None


def test_a_press_shows_sending_and_claims_nothing_about_recording() -> None:
    presenter = _presenter()
    presenter.on_state(_status("idle"), 0.1)
    presenter.on_sent("trigger")
    view = presenter.view(0.2)
    assert view.look is Look.SENDING and "ALARM" in view.headline
    assert view.recording is None and not view.acknowledged


def test_a_confirmed_trigger_is_acknowledged() -> None:
    presenter = _presenter()
    presenter.on_state(_status("idle"), 0.1)
    presenter.on_sent("trigger")
    presenter.on_outcome(Outcome("trigger", _status("recording", "i-1")), 0.3, wall=1_800_000_000.0)
    view = presenter.view(0.4)
    assert view.look is Look.RECORDING and view.acknowledged
    assert "CONFIRMED" in view.headline and "i-1" in view.detail


def test_someone_elses_trigger_shows_recording_without_acknowledgement() -> None:
    presenter = _presenter()
    presenter.on_state(_status("recording", "i-1"), 0.1)
    view = presenter.view(0.2)
    assert view.look is Look.RECORDING and not view.acknowledged and "CONFIRMED" not in view.headline


def test_the_acknowledgement_ends_with_the_recording() -> None:
    presenter = _presenter()
    presenter.on_sent("trigger")
    presenter.on_outcome(Outcome("trigger", _status("recording", "i-1")), 0.1, wall=0.0)
    presenter.on_state(_status("idle"), 0.2)
    presenter.on_state(_status("recording", "i-2"), 0.3)
    assert not presenter.view(0.4).acknowledged


def test_a_press_without_reply_says_not_delivered() -> None:
    presenter = _presenter()
    presenter.on_state(_status("idle"), 0.1)
    presenter.on_sent("trigger")
    presenter.on_outcome(Outcome("trigger", None, NO_CONTACT, "no reply"), 3.0, wall=0.0)
    view = presenter.view(3.1)
    assert view.look is Look.NO_CONTACT and "NOT DELIVERED" in view.headline


def test_a_refused_press_names_the_error_code() -> None:
    presenter = _presenter()
    presenter.on_sent("trigger")
    presenter.on_outcome(Outcome("trigger", _status("idle"), "storage_failed", "audit"), 0.1, wall=0.0)
    view = presenter.view(0.2)
    assert view.look is Look.FAILED and "storage_failed" in view.headline


def test_a_failure_stays_on_screen_for_the_hold_time_then_the_state_returns() -> None:
    presenter = _presenter()
    presenter.on_sent("trigger")
    presenter.on_outcome(Outcome("trigger", _status("idle"), "rate_limited", "slow down"), 1.0, wall=0.0)
    presenter.on_state(_status("idle"), 1.0 + FAILURE_HOLD_S - 0.5)
    assert presenter.view(1.0 + FAILURE_HOLD_S - 0.1).look is Look.FAILED
    assert presenter.view(1.0 + FAILURE_HOLD_S).look is Look.IDLE


def test_a_reply_counts_as_contact() -> None:
    presenter = _presenter()
    presenter.on_sent("clear")
    presenter.on_outcome(Outcome("clear", _status("post_roll", "i-1")), 2.9, wall=0.0)
    assert presenter.view(5.0).look is Look.POST_ROLL


def test_failing_sources_are_shown() -> None:
    presenter = _presenter()
    presenter.on_state({**_status("recording", "i-1"), "degraded": ["camera"]}, 0.1)
    assert "camera" in presenter.view(0.2).detail


@pytest.mark.parametrize(
    ("before", "after", "ring"),
    [
        (None, Look.NO_CONTACT, True),
        (Look.IDLE, Look.NO_CONTACT, True),
        (Look.NO_CONTACT, Look.NO_CONTACT, False),
        (Look.SENDING, Look.FAILED, True),
        (Look.NO_CONTACT, Look.IDLE, False),
    ],
)
def test_the_bell_rings_once_when_an_alert_starts(before: Look | None, after: Look, ring: bool) -> None:
    old = None if before is None else RoomView(before, "", "", None)
    assert alert_started(old, RoomView(after, "", "", None)) is ring


def test_views_are_written_in_the_wording_given() -> None:
    words = replace(wording("nl"), wall=lambda: 1_800_000_010.0)
    presenter = RoomPresenter("Kamer 1", HEARTBEAT_S, 0.0, words)
    presenter.on_sent("trigger")
    presenter.on_outcome(Outcome("trigger", _status("recording", "i-1")), 0.1, wall=1_800_000_000.0)
    view = presenter.view(0.2)
    assert view.headline == "ALARM BEVESTIGD\nNEEMT OP"
    assert view.detail == "bevestigd 09:00:00 · incident i-1"  # 08:00 UTC is 09:00 in Amsterdam in winter


def test_times_are_in_the_rooms_time_zone_with_the_date_when_not_today() -> None:
    words = wording("nl", "Europe/Amsterdam")
    summer = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC
    today, tomorrow = replace(words, wall=lambda: summer + 60), replace(words, wall=lambda: summer + 86_400)
    assert today.moment(summer) == "16:13:20"  # summer time: UTC+2
    assert tomorrow.moment(summer) == "21 sep 2026, 16:13:20"


def test_a_degraded_room_names_what_fails() -> None:
    presenter = _presenter()
    presenter.on_state({**_status("idle"), "degraded": ["camera", "storage"]}, 0.1)
    view = presenter.view(0.2)
    assert view.degraded == ("camera", "storage") and "FAILING: camera, storage" in view.detail
