"""The citizen's sign: RECORDING while, and only while, the room records; its cue; its languages in turn."""

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


SIGN_COLOURS: dict[Sign, tuple[str, str]] = {  # background, text
    Sign.RECORDING: ("#d50000", "#ffffff"),
    Sign.NOT_RECORDING: ("#102027", "#90a4ae"),  # calm: nothing to read but "not recording"
    Sign.UNKNOWN: ("#616161", "#ffffff"),
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


class LanguageRotation:
    """Which language the sign shows: each for `period_s` in turn, starting again with the first
    whenever the sign changes (a new recording is announced in the room's own language first).
    Pure: times are monotonic seconds passed in."""

    def __init__(self, languages: list[str], period_s: float) -> None:
        if not languages or period_s <= 0:
            raise ValueError("need at least one language and a positive period")
        self._languages, self._period_s = languages, period_s
        self._sign: Sign | None = None
        self._since = 0.0

    def language(self, sign: Sign, now: float) -> str:
        if sign is not self._sign:
            self._sign, self._since = sign, now
        turn = int((now - self._since) // self._period_s)
        return self._languages[turn % len(self._languages)]
