"""Front-end settings files: relative key paths, strict fields, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from panic_button.client import ButtonError
from panic_button.config import RoomFile, load_desk_file, read_toml, validate

DESK = """key = "keys/desk.key_secret"
heartbeat_s = 0.5

[[room]]
name = "Interview 1"
endpoint = "tcp://10.0.0.11:5570"
state_endpoint = "tcp://10.0.0.11:5571"
server_key = "keys/interview-1.key"

[[room]]
endpoint = "tcp://10.0.0.12:5570"
state_endpoint = "tcp://10.0.0.12:5571"
server_key = "/etc/room-recorder/interview-2.key"
key = "other.key_secret"
"""


def test_desk_file_resolves_key_paths_next_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "desk.toml"
    path.write_text(DESK)
    desk = load_desk_file(path)
    first, second = desk.links()
    assert desk.heartbeat_s == 0.5 and first.name == "Interview 1"
    assert first.key == tmp_path / "keys" / "desk.key_secret"
    assert first.server_key == tmp_path / "keys" / "interview-1.key"
    assert second.server_key == Path("/etc/room-recorder/interview-2.key")
    assert second.key == tmp_path / "other.key_secret"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (DESK.replace("heartbeat_s", "heartbeat"), "heartbeat: Extra inputs"),
        (DESK.replace('"tcp://10.0.0.11:5570"', '"10.0.0.11"'), "room.0.endpoint"),
        ('key = "k"\n', "room: Field required"),
        ("key = \n", "desk.toml"),
    ],
)
def test_desk_file_errors_name_the_field(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "desk.toml"
    path.write_text(text)
    with pytest.raises(ButtonError, match=problem):
        load_desk_file(path)


ROOM = """endpoint = "tcp://10.0.0.11:5570"
state_endpoint = "tcp://10.0.0.11:5571"
key = "keys/button.key_secret"
server_key = "keys/interview-1.key"
"""
NOTICE = """
[notice]
controller = "Gemeente Dronten"
contact = "privacy@dronten.nl"
privacy_url = "https://www.dronten.nl/privacy"
"""


def _room_file(tmp_path: Path, text: str) -> RoomFile:
    path = tmp_path / "room.toml"
    path.write_text(text)
    return validate(RoomFile, read_toml(path), str(path))


def test_a_room_file_sets_language_time_zone_notice_and_the_signs_languages(tmp_path: Path) -> None:
    room = _room_file(
        tmp_path, 'language = "ar"\n' + ROOM + NOTICE + '[indicator]\nlanguages = ["nl", "ar"]\n'
    )
    assert (room.language, room.timezone) == ("ar", "Europe/Amsterdam")
    assert room.require_notice().retention_days == 14
    assert room.sign_languages("ar") == ["nl", "ar"]
    assert _room_file(tmp_path, ROOM).sign_languages("nl") == ["nl"]


def test_the_indicator_refuses_to_run_without_a_notice(tmp_path: Path) -> None:
    with pytest.raises(ButtonError, match="notice"):
        _room_file(tmp_path, ROOM).require_notice()


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('language = "xx"\n', "language: .*xx"),
        ('timezone = "Mars/Olympus"\n', "timezone: .*Mars/Olympus"),
        (NOTICE.replace("https://www.dronten.nl/privacy", "dronten.nl"), "notice.privacy_url"),
        ('[indicator]\nlanguages = ["nl", "ti"]\n', "indicator.languages"),
    ],
)
def test_room_file_errors_name_the_field(tmp_path: Path, extra: str, problem: str) -> None:
    with pytest.raises(ButtonError, match=problem):
        _room_file(tmp_path, ROOM + extra if extra.startswith("[") else extra + ROOM)


def test_the_desk_speaks_only_languages_complete_for_staff(tmp_path: Path) -> None:
    path = tmp_path / "desk.toml"
    path.write_text(DESK)
    assert load_desk_file(path, language="ar").language == "ar"
    with pytest.raises(ButtonError, match=r"language: .*tr"):
        load_desk_file(path, language="tr")
