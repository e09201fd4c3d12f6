"""The config loaders: a room's TOML file (`recorder.config.load_config`) and the front ends' files
(`panic_button.config`: a single room's settings, the desk's rooms file).

Contract: a file is either loaded into its model or refused with ConfigError (the room) or
ButtonError (the front ends), naming the problem; nothing else escapes."""

from __future__ import annotations

from pathlib import Path

from fuzz.contract import expect, scratch, silence_logs
from panic_button.client import ButtonError
from panic_button.config import RoomFile, load_desk_file, read_toml, validate
from recorder.config import RoomConfig, load_config
from recorder.errors import ConfigError

SURFACE = "TOML bytes → recorder.config.load_config, panic_button.config (room file, desk file)"
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "room.example.toml"
_KINDS = ("room", "button", "desk")


def one_input(data: bytes) -> None:
    silence_logs()
    kind = _KINDS[data[0] % len(_KINDS)] if data else "room"
    path = scratch() / "fuzzed.toml"
    path.write_bytes(data[1:])
    if kind == "room":
        try:
            config = load_config(path)
        except ConfigError as error:
            expect(bool(str(error)), "a ConfigError without a message")
            return
        expect(isinstance(config, RoomConfig), f"load_config returned {type(config).__name__}")
        return
    try:
        if kind == "desk":
            load_desk_file(path)
        else:
            validate(RoomFile, read_toml(path), str(path))
    except ButtonError as error:
        expect(bool(str(error)), "a ButtonError without a message")


def seeds() -> list[bytes]:
    room = EXAMPLE.read_bytes()
    button = b"""endpoint = "tcp://10.0.0.11:5570"
state_endpoint = "tcp://10.0.0.11:5571"
key = "keys/button-1.key_secret"
server_key = "keys/interview-1.key"
heartbeat_s = 1.0
timeout_s = 1.0
retries = 3
language = "nl"
timezone = "Europe/Amsterdam"

[notice]
controller = "Gemeente Dronten"
contact = "privacy@dronten.nl"
privacy_url = "https://www.dronten.nl/privacy"
retention_days = 14

[indicator]
languages = ["nl", "ar", "tr"]
rotate_s = 8
"""
    desk = b"""key = "keys/reception.key_secret"
heartbeat_s = 1.0
language = "nl"
timezone = "Europe/Amsterdam"

[[room]]
name = "Interview 1"
endpoint = "tcp://10.0.0.11:5570"
state_endpoint = "tcp://10.0.0.11:5571"
server_key = "keys/interview-1.key"
"""
    return [b"\x00" + room, b"\x01" + button, b"\x02" + desk, b"\x00[a]\nb=1\n", b"\x02room = 5\n"]
