"""State messages are validated before a front end believes them; contact follows heartbeats."""

from __future__ import annotations

import json

import pytest

from panic_button.subscriber import Contact, ContactTracker, parse_state

GOOD = {"v": 1, "seq": 3, "time": 1.0, "room": "r", "state": "recording", "incident": "i", "since": 1.0}


def test_a_valid_state_message_is_parsed() -> None:
    assert parse_state([b"state", json.dumps(GOOD).encode()]) == GOOD


@pytest.mark.parametrize(
    "frames",
    [
        [b"state"],
        [b"other", json.dumps(GOOD).encode()],
        [b"state", b"\xff not json"],
        [b"state", b"[1]"],
        [b"state", json.dumps({**GOOD, "v": 2}).encode()],
        [b"state", json.dumps({**GOOD, "state": "exploded"}).encode()],
    ],
)
def test_anything_else_is_ignored(frames: list[bytes]) -> None:
    assert parse_state(frames) is None


def test_contact_follows_the_last_message() -> None:
    tracker = ContactTracker(heartbeat_s=0.5, started=10.0)
    assert tracker.contact(11.4) is Contact.CONNECTING
    assert tracker.contact(11.5) is Contact.LOST
    tracker.heard(12.0)
    assert tracker.contact(13.4) is Contact.OK
    assert tracker.contact(13.5) is Contact.LOST
    assert tracker.silent_s(14.0) == pytest.approx(2.0)
