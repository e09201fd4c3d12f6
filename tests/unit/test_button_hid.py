"""The HID reader, fed real `evdev.InputEvent` objects (this machine has no /dev/uinput)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

evdev = pytest.importorskip("evdev", reason="the hid extra (evdev) is not installed")

from evdev import InputEvent, ecodes  # noqa: E402

from panic_button.client import ButtonError  # noqa: E402
from panic_button.hid import KeyPressReader, grabbed, key_code  # noqa: E402
from recorder.i18n import process_language, set_language  # noqa: E402

F13 = ecodes.KEY_F13


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The messages below are checked in English (the process's language, default Dutch, is global)."""
    before = process_language()
    set_language("en")
    yield
    set_language(before)


def _key(code: int, value: int, sec: int = 1_800_000_000) -> InputEvent:
    return InputEvent(sec, 0, ecodes.EV_KEY, code, value)


def _syn() -> InputEvent:
    return InputEvent(1_800_000_000, 0, ecodes.EV_SYN, ecodes.SYN_REPORT, 0)


def test_only_key_down_of_the_configured_key_is_a_press() -> None:
    events = [
        _key(ecodes.KEY_A, 1), _syn(), _key(ecodes.KEY_A, 0),  # another key
        _key(F13, 1, sec=1), _syn(),  # press
        _key(F13, 2), _key(F13, 2), _syn(),  # held: autorepeat
        _key(F13, 0), _syn(),  # release
        InputEvent(1, 0, ecodes.EV_MSC, ecodes.MSC_SCAN, F13),  # the scan code that precedes a key event
        _key(F13, 1, sec=2), _key(F13, 0),  # a second press
    ]  # fmt: skip
    presses = list(KeyPressReader(F13).presses(events))
    assert [event.sec for event in presses] == [1, 2]


@pytest.mark.parametrize(
    ("name", "code"), [("KEY_F13", F13), ("f13", F13), ("183", 183), ("PAUSE", ecodes.KEY_PAUSE)]
)
def test_key_codes_by_name_or_number(name: str, code: int) -> None:
    assert key_code(name) == code


def test_an_unknown_key_name_is_a_clear_error() -> None:
    with pytest.raises(ButtonError, match="unknown key"):
        key_code("KEY_NOPE")


def test_a_missing_device_is_a_clear_error() -> None:
    with pytest.raises(ButtonError, match="cannot open"), grabbed("/dev/input/event-does-not-exist"):
        pass
