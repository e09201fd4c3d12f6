"""Key files are read strictly: a malformed key is ValueError naming the file, never another error."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq.auth

from recorder.control.keyfile import is_z85_key, load_key_file


def test_a_key_file_from_zmq_auth_loads(tmp_path: Path) -> None:
    public_file, secret_file = zmq.auth.create_certificates(str(tmp_path), "desk")
    public, secret = load_key_file(secret_file)
    assert (is_z85_key(public), is_z85_key(secret)) == (True, True)
    assert load_key_file(public_file) == (public, None)


@pytest.mark.parametrize(
    "line",
    [
        "public-key",  # pyzmq raised IndexError
        'public-key = "tooshort"',
        'public-key = ":1ucfldz0T5Ib3&$)6dB4F7truqT[Y28A4#61Lx$"',  # a group over 2**32 - 1: struct.error
        'public-key = "@6L6M-UbZWu168yWFXn}P:I!qT@lWzI:jGY%3r ~"',  # not Z85
    ],
)
def test_a_malformed_public_key_is_a_value_error_naming_the_file(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(f"curve\n    {line}\n")
    with pytest.raises(ValueError, match=r"bad\.key"):
        load_key_file(path)
