"""The vault's pure parts: its config table, credentials files, bucket locations, what the ledger
folds from the audit log, and the checkpoint segments cut from a real log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recorder.audit.chain import GENESIS_HASH
from recorder.audit.log import AuditLog
from recorder.audit.reader import entries
from recorder.config import parse_config
from recorder.errors import ConfigError, VaultError
from recorder.vault.checkpoints import Cursor, Diverged, next_segment, resync
from recorder.vault.client import read_credentials
from recorder.vault.layout import Location, split_object_url
from recorder.vault.ledger import Ledger

RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
BASE = {
    "room": "room-a",
    "control": {"server_secret_key": "k", "authorized_clients": "c"},
    "storage": {"directory": "s", "recipients": [RECIPIENT]},
}


def _config(vault: dict[str, object]) -> object:
    return parse_config({**BASE, "vault": vault}, Path("/etc/rr"))


def test_vault_table_resolves_its_credentials_relative_to_the_config() -> None:
    config = _config(
        {"endpoint": "http://127.0.0.1:8333/", "bucket": "evidence", "credentials": "vault.cred"}
    )
    assert config.vault.endpoint == "http://127.0.0.1:8333"  # type: ignore[attr-defined]
    assert config.vault.credentials == Path("/etc/rr/vault.cred")  # type: ignore[attr-defined]
    assert not config.vault.remove_local  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("endpoint", "ftp://host", "http(s)://HOST[:PORT]"),
        ("endpoint", "http://key:secret@host", "no path, query or credentials"),
        ("bucket", "Evidence_Bucket", "vault.bucket"),
        ("checkpoint_interval_s", 120, "less than or equal to 60"),
        ("remove_local", "yes", "vault.remove_local"),
        ("typo", 1, "vault.typo"),
    ],
)
def test_vault_table_refuses_what_would_silently_misbehave(field: str, value: object, message: str) -> None:
    vault = {"endpoint": "http://h:1", "bucket": "evidence", "credentials": "c", field: value}
    with pytest.raises(ConfigError, match=re.escape(message)):
        _config(vault)


def test_credentials_file_in_the_aws_format(tmp_path: Path) -> None:
    path = tmp_path / "c"
    path.write_text("[default]\naws_access_key_id = AK\naws_secret_access_key = S%cret\n")
    credentials = read_credentials(path)
    assert (credentials.access_key, credentials.secret_key) == ("AK", "S%cret")
    assert "S%cret" not in repr(credentials)
    path.write_text("[default]\naws_access_key_id = AK\n")
    with pytest.raises(VaultError, match="aws_secret_access_key"):
        read_credentials(path)
    with pytest.raises(VaultError, match="cannot read"):
        read_credentials(tmp_path / "missing")


def test_locations_parse_s3_urls() -> None:
    assert Location.parse("s3://evidence/rooms/") == Location("evidence", "rooms/")
    assert Location.parse("s3://evidence").child("room-a").key("x") == "room-a/x"
    assert split_object_url("s3://evidence/rooms/a/incidents/i.age") == (
        "evidence",
        "rooms/a/incidents/i.age",
    )
    for bad in ("http://evidence/x", "s3://E/x", "s3://evidence"):
        with pytest.raises(VaultError):
            split_object_url(bad)


def _log(tmp_path: Path) -> AuditLog:
    path = tmp_path / "audit.jsonl"
    AuditLog.create(path, tmp_path / "verify-key")
    return AuditLog(path)


def test_ledger_uploads_closed_incidents_once_and_follows_holds_after_the_upload(tmp_path: Path) -> None:
    audit = _log(tmp_path)
    audit.append("incident_started", incident="a-20261201T100000Z-000001")
    audit.append("incident_started", incident="a-20261201T100000Z-000002")
    audit.append("incident_closed", incident="a-20261201T100000Z-000001")
    audit.append("hold_placed", incident="a-20261201T100000Z-000001")
    ledger = Ledger()
    for entry in entries(audit.path):
        ledger.feed(entry)
    pending = ledger.to_upload()
    assert [i.incident for i in pending] == ["a-20261201T100000Z-000001"]  # the other is still open
    assert pending[0].on_hold and not ledger.holds_to_apply()  # uploaded with its hold
    audit.append("incident_uploaded", incident="a-20261201T100000Z-000001", key="k", version_id="v")
    audit.append("hold_released", incident="a-20261201T100000Z-000001")
    ledger = Ledger()
    for entry in entries(audit.path):
        ledger.feed(entry)
    assert not ledger.to_upload()
    assert [(i.incident, i.on_hold) for i in ledger.holds_to_apply()] == [
        ("a-20261201T100000Z-000001", False)
    ]


def test_checkpoint_segments_are_whole_lines_that_continue_the_vaults_copy(tmp_path: Path) -> None:
    audit = _log(tmp_path)
    for n in range(3):
        audit.append("annotation", n=n)
    first = next_segment(audit.path, Cursor())
    assert first is not None and (first.first_seq, first.last_seq) == (0, 2)
    assert first.end.offset == audit.path.stat().st_size
    assert next_segment(audit.path, first.end) is None
    with audit.path.open("ab") as torn:
        torn.write(b'{"half a line')
    assert next_segment(audit.path, first.end) is None  # not before its line is whole
    assert first.metadata()["last-hash"] == first.last_hash != GENESIS_HASH


def test_a_log_cut_below_the_vaults_copy_diverges_and_resyncs_after_it(tmp_path: Path) -> None:
    audit = _log(tmp_path)
    for n in range(4):
        audit.append("annotation", n=n)
    segment = next_segment(audit.path, Cursor())
    assert segment is not None
    lines = audit.path.read_bytes().splitlines(keepends=True)
    audit.path.write_bytes(b"".join(lines[:2]))  # the newest two entries dropped
    with pytest.raises(Diverged, match="shorter"):
        next_segment(audit.path, segment.end)
    audit.path.write_bytes(b"".join(lines[:2]) + lines[3])  # and one of them put back
    assert resync(audit.path, Cursor(0, 1, "x")).seq == 2
