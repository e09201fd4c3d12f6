"""Reloading the enrolled keys (SIGHUP): removal revokes, damage keeps what was in force."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.control.allowlist import load_allowlist
from recorder.control.allowlist_reload import AllowlistUnreadable, reload_allowlist
from recorder.keygen import create_curve_keypair


@pytest.fixture
def clients(tmp_path: Path) -> Path:
    directory = tmp_path / "authorized_clients"
    directory.mkdir()
    for name in ("desk-1", "desk-2"):
        public, _secret = create_curve_keypair(tmp_path / "made", name)
        (directory / f"{name}.key").write_bytes(Path(public).read_bytes())
    return directory


def test_a_clean_reload_reads_what_load_allowlist_reads(clients: Path) -> None:
    assert reload_allowlist(clients, {}) == (load_allowlist(clients), [])


def test_a_cut_key_file_keeps_the_clients_previous_key(clients: Path) -> None:
    previous = load_allowlist(clients)
    cut = clients / "desk-1.key"
    cut.write_bytes(cut.read_bytes()[:-8])  # still parses, as a shorter key
    names, problems = reload_allowlist(clients, previous)
    assert names == previous
    assert problems == [
        "desk-1.key: no whole public key in it (being written?); desk-1 keeps its previous key"
    ]


@pytest.mark.parametrize("content", [b"", b"garbage", b"\xff\xfe"])
def test_an_unreadable_new_key_is_not_enrolled_and_said(clients: Path, content: bytes) -> None:
    previous = load_allowlist(clients)
    (clients / "new-desk.key").write_bytes(content)
    names, problems = reload_allowlist(clients, previous)
    assert names == previous and len(problems) == 1 and "new-desk.key" in problems[0]


def test_a_removed_key_is_revoked_and_a_missing_directory_changes_nothing(clients: Path) -> None:
    previous = load_allowlist(clients)
    (clients / "desk-2.key").unlink()
    names, problems = reload_allowlist(clients, previous)
    assert sorted(names.values()) == ["desk-1"] and problems == []
    with pytest.raises(AllowlistUnreadable, match="cannot list"):
        reload_allowlist(clients.with_name("gone"), previous)
