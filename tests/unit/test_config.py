"""The room config model: recipients parsed for real, no silent coercion, every error located."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recorder.config import load_config, parse_config
from recorder.errors import ConfigError
from recorder.incident import bech32
from recorder.incident.age_keys import Identity

RECIPIENT = str(Identity.generate().recipient)

LOW_ORDER_POINTS = [  # X25519 public keys whose exchange yields all zeros (age refuses them)
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes(31) + b"\x80",  # zero with the (ignored) top bit set
]


def room(**sections: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "room": "r1",
        "control": {"server_secret_key": "keys/server.key_secret", "authorized_clients": "clients"},
        "storage": {"directory": "state", "recipients": [RECIPIENT]},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return data


def errors(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, Path("/etc/room"))
    return str(info.value)


def with_recipient(text: str) -> dict[str, Any]:
    return room(storage={"recipients": [RECIPIENT, text]})


def test_a_valid_recipient_is_kept_as_written() -> None:
    config = parse_config(room(), Path("/etc/room"))
    assert config.storage.recipients == [RECIPIENT]


def test_every_one_character_typo_in_a_recipient_is_refused() -> None:
    body = RECIPIENT[len("age1") :]
    typos = [
        f"age1{body[:i]}{c}{body[i + 1 :]}" for i in range(len(body)) for c in bech32.CHARSET if c != body[i]
    ]
    accepted = []
    for typo in typos:
        try:
            parse_config(with_recipient(typo), Path("/etc/room"))
            accepted.append(typo)
        except ConfigError:
            pass
    assert len(typos) == 58 * 31 and accepted == []


def test_a_typo_names_the_setting_and_the_cause() -> None:
    typo = RECIPIENT[:-1] + ("q" if RECIPIENT[-1] != "q" else "p")
    assert (
        "storage.recipients.1: Value error, not a valid age recipient (bech32: checksum mismatch)"
        in errors(with_recipient(typo))
    )


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=lambda p: p.hex()[:8])
def test_a_low_order_point_is_refused(point: bytes) -> None:
    assert "storage.recipients.1: Value error, a low-order X25519 point" in errors(
        with_recipient(bech32.encode("age", point))
    )


@pytest.mark.parametrize(
    "text",
    [
        RECIPIENT.upper(),  # age refuses upper case
        f" {RECIPIENT}",  # and surrounding blanks
        bech32.encode("age", bytes(range(1, 32))),  # 31 bytes
        bech32.encode("agf", bytes(range(1, 33))),  # another kind of key
        Identity.generate().export(),  # the officer's SECRET key pasted by mistake
    ],
    ids=["upper", "blank", "short", "hrp", "secret-key"],
)
def test_what_is_not_an_x25519_recipient_is_refused(text: str) -> None:
    assert "storage.recipients.1" in errors(with_recipient(text))


@pytest.mark.parametrize(
    ("section", "values", "where"),
    [
        ("video", {"fps": True}, "video.fps"),
        ("video", {"width": 1280.0}, "video.width"),
        ("video", {"fps": "15"}, "video.fps"),
        ("video", {"passthrough": 1}, "video.passthrough"),
        ("recording", {"pre_roll_s": float("nan")}, "recording.pre_roll_s"),
        ("control", {"rate_limit_per_s": float("inf")}, "control.rate_limit_per_s"),
        ("storage", {"retention_days": 14.5}, "storage.retention_days"),
        ("storage", {"directory": 7}, "storage.directory"),
        ("storage", {"directory": "a\0b"}, "storage.directory"),
        ("audio", {"enabled": "yes"}, "audio.enabled"),
    ],
)
def test_values_are_not_coerced(section: str, values: dict[str, Any], where: str) -> None:
    assert f"{where}:" in errors(room(**{section: values}))


def test_whole_numbers_are_fine_where_seconds_are_expected() -> None:
    config = parse_config(room(recording={"pre_roll_s": 30}, video={"fps": 15}), Path("/etc/room"))
    assert config.recording.pre_roll_s == 30.0 and config.video.fps == 15.0


def test_choices_and_paths_are_read_from_strings() -> None:
    config = parse_config(room(video={"source": "none"}, storage={"directory": "state"}), Path("/etc/room"))
    assert config.video.source.value == "none" and config.storage.directory == Path("/etc/room/state")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"room = " + b"[" * 2000 + b"]" * 2000, "nested too deeply"),
        (b"\xff\xfe room", "not UTF-8"),
        (b"room = ", "not valid TOML"),
    ],
    ids=["deep", "binary", "toml"],
)
def test_unreadable_config_files_are_config_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "room.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_directory_as_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)
