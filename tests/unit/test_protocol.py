"""Protocol v1 request parsing: each bad request gets the code docs/protocol.md gives it."""

from __future__ import annotations

import json

import pytest

from recorder.control.protocol import MIN_MESSAGE_BYTES, parse_request, request_id_of
from recorder.errors import ProtocolError

DEEP = b"[" * 1500 + b"]" * 1500  # ~3 KB, deeper than Python's recursion limit


def _code(raw: bytes) -> str:
    with pytest.raises(ProtocolError) as error:
        parse_request(raw)
    return error.value.code


def _request(**fields: object) -> bytes:
    return json.dumps({"v": 1, "id": "a", "type": "status", **fields}).encode()


@pytest.mark.parametrize(
    "raw",
    [
        DEEP,
        b'{"v": 1, "id": "a", "type": "trigger", "reason": ' + DEEP + b"}",
        b'{"v": 1, "id": "a", "type": "trigger", "extra": {"x": ' + DEEP + b"}}",
    ],
    ids=["top-level", "in-reason", "in-unknown-field"],
)
def test_deeply_nested_json_is_bad_json_and_its_id_is_not_read(raw: bytes) -> None:
    assert _code(raw) == "bad_json"
    assert request_id_of(raw) is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\xff\xfe", "bad_json"),
        (b"[1]", "bad_json"),
        (b'{"v": 1, "id": "a", "type": "status", "n": NaN}', "bad_json"),
        (b'{"v": 1, "id": "a", "type": "status", "type": "trigger"}', "bad_json"),  # duplicate name
        (b'{"id": "a", "type": "status"}', "bad_request"),  # v missing
        (_request(v=True), "bad_request"),
        (_request(v=1.0), "bad_request"),
        (_request(v="1"), "bad_request"),
        (_request(v=2), "unsupported_version"),
        (_request(v=0), "unsupported_version"),
        (b'{"v": 1, "id": "a"}', "bad_request"),  # type missing
        (_request(type=5), "bad_request"),
        (_request(type=None), "bad_request"),
        (_request(type="self_destruct"), "unknown_type"),
        (b'{"v": 1, "type": "status"}', "bad_request"),  # id missing
        (_request(id=7), "bad_request"),
        (_request(id=""), "bad_request"),
        (_request(id="x" * 65), "bad_request"),
        (_request(id="with space"), "bad_request"),
        (_request(reason="x" * 501), "bad_request"),
        (_request(reason=3), "bad_request"),
        (b'{"v": 1, "id": "a", "type": "trigger", "reason": "\\ud800"}', "bad_request"),  # lone surrogate
        (_request(colour="red"), "bad_request"),
        (_request(type="annotate", incident="x"), "bad_request"),  # reason missing
        (_request(type="annotate", reason="x"), "bad_request"),  # incident missing
    ],
)
def test_each_problem_gets_its_documented_code(raw: bytes, code: str) -> None:
    assert _code(raw) == code


def test_a_request_with_every_field_parses() -> None:
    request = parse_request(_request(type="annotate", incident="r-20260101T000000Z-abcdef", reason="why"))
    assert (request.v, request.type, request.incident, request.reason) == (
        1,
        "annotate",
        "r-20260101T000000Z-abcdef",
        "why",
    )


def test_the_largest_valid_request_fits_the_smallest_allowed_limit() -> None:
    """Every field at its longest, in the characters that cost the most bytes in JSON (an astral
    character escaped as a surrogate pair: 12 bytes; `"` escaped: 2 bytes)."""
    astral = "\U0001f600"
    fields = {"id": '"' * 64, "type": "annotate", "reason": astral * 500, "incident": astral * 128}
    raw = json.dumps({"v": 1, **fields}, separators=(",", ":")).encode()
    parse_request(raw)  # valid: raises nothing
    assert len(raw) <= MIN_MESSAGE_BYTES


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"v": 1.0, "id": "abc"}', "abc"),
        (b'{"id": "' + b"x" * 65 + b'"}', None),
        (b'{"id": 5}', None),
        (b"\xff", None),
        (b'{"id": "abc", "id": "def"}', None),
    ],
)
def test_request_id_of_reads_only_a_valid_id(raw: bytes, expected: str | None) -> None:
    assert request_id_of(raw) == expected
