"""The citizen's sign: RECORDING while, and only while, the room records, with a periodic cue."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from panic_button.presenter import RoomView

DEFAULT_CUE_INTERVAL_S = 120.0  # like body-worn cameras: a beep every two minutes


@dataclass(frozen=True)
class IndicatorOptions:
    cue_interval_s: float = DEFAULT_CUE_INTERVAL_S
    cue_command: tuple[str, ...] | None = None  # None: the X bell
    windowed: bool = False  # for trying it out on a desktop; the default covers the screen


class Sign(enum.Enum):
    NOT_RECORDING = "not_recording"
    RECORDING = "recording"
    UNKNOWN = "unknown"  # no contact with the recorder: the sign claims nothing


SIGN_LOOK: dict[Sign, tuple[str, str, str, str]] = {  # headline, explanation, background, text colour
    Sign.RECORDING: ("● RECORDING", "This conversation is being recorded.", "#d50000", "#ffffff"),
    Sign.NOT_RECORDING: ("not recording", "This conversation is not being recorded.", "#102027", "#b0bec5"),
    Sign.UNKNOWN: (
        "recording status unknown",
        "This sign has lost contact with the recorder.",
        "#616161",
        "#ffffff",
    ),
}


def sign_for(view: RoomView) -> Sign:
    if view.recording is None:
        return Sign.UNKNOWN
    return Sign.RECORDING if view.recording else Sign.NOT_RECORDING


class CueSchedule:
    """When to sound the cue: as recording starts, then every `interval_s` while it goes on.
    Pure: times are monotonic seconds passed in."""

    def __init__(self, interval_s: float = DEFAULT_CUE_INTERVAL_S) -> None:
        if interval_s <= 0:
            raise ValueError("the cue interval must be positive")
        self._interval_s = interval_s
        self._next: float | None = None

    def due(self, sign: Sign, now: float) -> bool:
        if sign is not Sign.RECORDING:
            self._next = None
            return False
        if self._next is None or now >= self._next:
            self._next = now + self._interval_s
            return True
        return False
