"""Incident ids: the room makes them in one grammar and accepts only that grammar back."""

from __future__ import annotations

import pytest

from recorder.incident.ids import is_incident_id, make_incident_id


def test_a_made_id_is_valid_for_its_room_only() -> None:
    incident = make_incident_id("room-1", 1796032500.0)
    assert incident.startswith("room-1-20261130T095500Z-")
    assert is_incident_id("room-1", incident)
    assert not is_incident_id("room-2", incident)
    assert not is_incident_id("room", incident)


def test_two_ids_in_the_same_second_differ() -> None:
    assert make_incident_id("r", 0.0) != make_incident_id("r", 0.0)


@pytest.mark.parametrize(
    "text",
    [
        "/etc/room-1-20261129T101500Z-3fa2c1",
        "../room-1-20261129T101500Z-3fa2c1",
        "room-1-20261129T101500Z-3fa2c1/../../x",
        "room-1-20261129T101500Z-3fa2c1.age",
        "room-1-20261129T101500Z-3fa2c1\n",
        "room-1-20261129T101500Z-3FA2C1",  # the room writes lower-case hex
        "room-1-\uff120261129T101500Z-3fa2c1",  # a full-width digit matches \d, not [0-9]
        "room-1-20261129T101500Z-3fa2c",
        "é" * 128,
        "",
    ],
)
def test_anything_else_is_not_an_id(text: str) -> None:
    assert not is_incident_id("room-1", text)
