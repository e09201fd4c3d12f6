"""Front-end settings files: relative key paths, strict fields, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from panic_button.client import ButtonError
from panic_button.config import load_desk_file

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
