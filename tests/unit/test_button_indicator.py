"""The citizen's sign: RECORDING only while recording, nothing claimed without contact, periodic cue."""

from __future__ import annotations

import pytest

from panic_button.indicator_model import CueSchedule, Sign, sign_for
from panic_button.presenter import Look, RoomView


@pytest.mark.parametrize(
    ("look", "recording", "sign"),
    [
        (Look.RECORDING, True, Sign.RECORDING),
        (Look.POST_ROLL, True, Sign.RECORDING),
        (Look.IDLE, False, Sign.NOT_RECORDING),
        (Look.NO_CONTACT, None, Sign.UNKNOWN),
        (Look.CONNECTING, None, Sign.UNKNOWN),
    ],
)
def test_sign_follows_the_recording_state(look: Look, recording: bool | None, sign: Sign) -> None:
    assert sign_for(RoomView(look, "", "", recording)) is sign


def test_cue_sounds_as_recording_starts_and_then_every_interval() -> None:
    schedule = CueSchedule(interval_s=120)
    due = [t for t in (0.0, 0.1, 60.0, 119.9, 120.0, 200.0, 240.0) if schedule.due(Sign.RECORDING, t)]
    assert due == [0.0, 120.0, 240.0]


def test_no_cue_while_not_recording_and_a_new_recording_cues_at_once() -> None:
    schedule = CueSchedule(interval_s=120)
    assert schedule.due(Sign.RECORDING, 0.0)
    assert not schedule.due(Sign.NOT_RECORDING, 10.0)
    assert not schedule.due(Sign.UNKNOWN, 300.0)
    assert schedule.due(Sign.RECORDING, 301.0)


def test_cue_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        CueSchedule(interval_s=0)
