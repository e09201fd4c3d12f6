"""The GPIO LED's meaning: lit while recording, fast blink on an alert, slow blink while sending."""

from __future__ import annotations

import pytest

pytest.importorskip("gpiozero", reason="the gpio extra (gpiozero) is not installed")

from panic_button.gpio import LedMode, led_mode
from panic_button.presenter import Look, RoomView


@pytest.mark.parametrize(
    ("look", "recording", "mode"),
    [
        (Look.RECORDING, True, LedMode.ON),
        (Look.POST_ROLL, True, LedMode.ON),
        (Look.IDLE, False, LedMode.OFF),
        (Look.CONNECTING, None, LedMode.OFF),
        (Look.NO_CONTACT, None, LedMode.BLINK_FAST),
        (Look.FAILED, None, LedMode.BLINK_FAST),
        (Look.SENDING, None, LedMode.BLINK_SLOW),
    ],
)
def test_led_mode(look: Look, recording: bool | None, mode: LedMode) -> None:
    assert led_mode(RoomView(look, "", "", recording)) is mode
