"""Issue 10 observation 1: verification checks the exact bytes on disk, and the encoding is canonical."""

import json
import math
from pathlib import Path

import pytest

from recorder.audit import canonical, chain
from recorder.audit.log import AuditLog
from recorder.audit.verify import read_entries, verify
from tests.unit.audit_logs import make_log, rewrite_line, v1_line


@pytest.fixture
def audit(tmp_path: Path) -> tuple[Path, bytes]:
    return make_log(tmp_path, 4)


@pytest.mark.parametrize(
    ("name", "edit", "why"),
    [
        ("crlf", lambda raw: raw.replace(b"\n", b"\r\n"), "carriage return"),
        ("space", lambda raw: raw.replace(b'"event":', b'"event": '), "not in canonical form"),
        ("u-escape", lambda raw: raw.replace(b"desk-1", b"\\u0064esk-1"), "not in canonical form"),
        ("slash-escape", lambda raw: raw.replace(b"desk-1", b"desk\\/1"), "not in canonical form"),
        (
            "duplicate data",
            lambda raw: raw.replace(b'{"data":', b'{"data":{"client":"x"},"data":'),
            "duplicate key 'data'",
        ),
        (
            "duplicate client",
            lambda raw: raw.replace(b'{"client":', b'{"client":"x","client":'),
            "duplicate key 'client'",
        ),
        ("nan", lambda raw: raw.replace(b'"n":2', b'"n":NaN'), "NaN is not a JSON number"),
        ("deep", lambda raw: raw.replace(b'"n":2', b'"n":' + b"[" * 5000 + b"]" * 5000), "nested too deeply"),
        ("bom", lambda raw: b"\xef\xbb\xbf" + raw, "not canonical"),
    ],
)
def test_a_line_not_in_canonical_form_fails_naming_it(
    audit: tuple[Path, bytes], name: str, edit: object, why: str
) -> None:
    path, key = audit
    rewrite_line(path, 2, edit)  # type: ignore[arg-type]
    problems = verify(path, key).problems
    assert problems and problems[0].startswith("line 3") and why in problems[0], (name, problems)


def test_crlf_line_ends_throughout_fail(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert "line 1" in verify(path, key).problems[0] and "carriage return" in verify(path, key).problems[0]


def test_an_empty_log_fails(audit: tuple[Path, bytes]) -> None:
    path, key = audit
    path.write_bytes(b"")
    assert verify(path, key).problems == [
        "the log is empty: no entries (a log is never empty after the daemon's first start)"
    ]


def test_a_deeply_nested_line_is_reported_not_raised(audit: tuple[Path, bytes]) -> None:
    path, _ = audit
    path.write_bytes(path.read_bytes() + b"[" * 100_000 + b"\n")
    rows = list(read_entries(path))
    assert rows[-1][1] is None and len(rows) == 5


def test_what_the_writer_cannot_store_canonically_is_normalized(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    key = AuditLog.create(path, tmp_path / "v.key")
    writer = AuditLog(path)
    writer.append("annotation", text="lone \ud800 surrogate", ratio=math.nan, big=2**60, slash="a/b\x01")
    writer.close()
    assert verify(path, key).ok
    data = next(read_entries(path))[1]["data"]  # type: ignore[index]
    assert data == {"text": "lone \ufffd surrogate", "ratio": None, "big": str(2**60), "slash": "a/b\x01"}
    assert b'"slash":"a/b\\u0001"' in path.read_bytes()


def test_non_ascii_is_written_as_utf8_not_escaped(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    key = AuditLog.create(path, tmp_path / "v.key")
    writer = AuditLog(path)
    writer.append("annotation", text="Bürger äußerte Drohung")
    writer.close()
    assert "Bürger äußerte".encode() in path.read_bytes() and verify(path, key).ok


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (30.0, "30.0"),
        (0.1, "0.1"),
        (1e16, "1e+16"),
        (1.5e-05, "1.5e-05"),
        (-0.0, "-0.0"),
        (123456789.125, "123456789.125"),
    ],
)
def test_float_spelling_matches_the_documented_rule(value: float, text: str) -> None:
    assert canonical.encode({"x": value}) == b'{"x":' + text.encode() + b"}"


def test_version_1_logs_still_verify_and_continue_in_version_2(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    key = AuditLog.create(path, tmp_path / "v.key")
    prev = chain.GENESIS_HASH
    lines = []
    for seq in range(3):
        body = {
            "v": 1,
            "seq": seq,
            "time": "2026-01-01T00:00:00.000Z",
            "event": "e",
            "data": {"n": seq},
            "prev": prev,
        }
        lines.append(v1_line(body, chain.key_at(key, seq)))
        prev = chain.entry_hash(body)
    path.write_bytes(b"".join(lines))
    Path(str(path) + ".key").write_text(f"{3:020d} {chain.key_at(key, 3).hex()} {prev}\n")  # version 1 state
    writer = AuditLog(path)
    writer.append("daemon_started")
    writer.close()
    report = verify(path, key)
    assert report.ok and report.entries == 4, report.problems
    assert json.loads(path.read_bytes().splitlines()[-1])["v"] == 2


def test_a_version_1_line_after_version_2_fails(tmp_path: Path) -> None:
    path, key = make_log(tmp_path, 2)
    prev = json.loads(path.read_bytes().splitlines()[-1])["hash"]
    body = {"v": 1, "seq": 2, "time": "2026-01-01T00:00:00.000Z", "event": "e", "data": {}, "prev": prev}
    path.write_bytes(path.read_bytes() + v1_line(body, chain.key_at(key, 2)))
    assert verify(path, key).problems == ["line 3 (seq 2): a version 1 entry after version 2"]


def test_a_version_1_line_with_whitespace_fails(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    key = bytes(32)
    body = {
        "v": 1,
        "seq": 0,
        "time": "t",
        "event": "e",
        "data": {"client": "desk-1"},
        "prev": chain.GENESIS_HASH,
    }
    path.write_bytes(v1_line(body, key).replace(b'"client":', b'"client": '))
    problems = verify(path, key).problems
    assert problems and problems[0].startswith("line 1") and "not in canonical form" in problems[0]
