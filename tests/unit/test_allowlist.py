"""The allowlist: enrolled names are exactly what the audit log can write."""

from __future__ import annotations

import os
from pathlib import Path

import zmq.auth
from structlog.testing import capture_logs

from recorder.control.allowlist import load_allowlist


def _enrol(directory: Path, name: bytes) -> None:
    public, _secret = zmq.auth.create_certificates(str(directory), "button")
    os.rename(public, os.path.join(os.fsencode(directory), name + b".key"))


def test_a_key_file_whose_name_is_not_utf8_is_not_enrolled(tmp_path: Path) -> None:
    _enrol(tmp_path, b"bad-\xff-name")  # the audit could only write a lossy name for it
    with capture_logs() as logs:
        assert load_allowlist(tmp_path) == {}
    assert [entry["event"] for entry in logs] == ["allowlist_name_refused"]


def test_a_printable_name_is_enrolled(tmp_path: Path) -> None:
    _enrol(tmp_path, "balie-één".encode())
    assert list(load_allowlist(tmp_path).values()) == ["balie-één"]


def test_a_key_file_with_a_malformed_key_is_skipped_with_a_warning(tmp_path: Path) -> None:
    # found by fuzz/targets/allowlist.py
    (tmp_path / "short.key").write_text('curve\n    public-key = "tooshort"\n')
    (tmp_path / "no-equals.key").write_text("curve\n    public-key\n")  # pyzmq raised IndexError here
    _enrol(tmp_path, b"good")
    with capture_logs() as logs:
        assert list(load_allowlist(tmp_path).values()) == ["good"]
    assert [entry["event"] for entry in logs] == ["allowlist_key_unreadable"] * 2
