"""Property tests (hypothesis) for the parsers the fuzzer also drives (fuzz/targets/): what our own
writers produce reads back exactly, and any change to a valid file or message is refused with the
documented error, never accepted silently."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.fixtures import OFFICER, age_file
from recorder.audit import canonical
from recorder.audit.state import WriterState, parse_state
from recorder.control.protocol import REQUEST_TYPES, ErrorCode, Request, encode, parse_request
from recorder.errors import AuditError, IncidentFormatError, ProtocolError
from recorder.incident.age_keys import Identity, Recipient
from recorder.incident.age_reader import decrypt
from recorder.incident.age_writer import CHUNK_SIZE

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_CHUNKED = bytes(range(256)) * (CHUNK_SIZE * 2 // 256 + 3)  # two full chunks and a short final one
_CHUNKED_FILE = age_file(_CHUNKED)


@SETTINGS
@given(
    st.binary(max_size=3 * CHUNK_SIZE // 2) | st.sampled_from([b"", bytes(CHUNK_SIZE), bytes(CHUNK_SIZE + 1)])
)
def test_age_writer_output_reads_back_exactly(plaintext: bytes) -> None:
    result = decrypt(io.BytesIO(age_file(plaintext)), [OFFICER])
    assert (result.plaintext, result.truncated) == (plaintext, False)


@SETTINGS
@given(st.data())
def test_any_byte_change_to_an_age_file_is_refused_or_reads_short(data: st.DataObject) -> None:
    edited = bytearray(_CHUNKED_FILE)
    at = data.draw(st.integers(0, len(edited) - 1), label="offset")
    edited[at] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        result = decrypt(io.BytesIO(bytes(edited)), [OFFICER])
    except IncidentFormatError:
        return
    assert result.truncated and _CHUNKED.startswith(result.plaintext or b"")
    assert result.plaintext != _CHUNKED


@SETTINGS
@given(st.integers(1, len(_CHUNKED_FILE) - 1))
def test_a_cut_age_file_yields_a_prefix_reported_as_truncated(length: int) -> None:
    try:
        result = decrypt(io.BytesIO(_CHUNKED_FILE[:length]), [OFFICER])
    except IncidentFormatError:  # cut inside the header or the payload nonce
        return
    assert result.truncated and _CHUNKED.startswith(result.plaintext or b"")


@SETTINGS
@given(st.binary(min_size=32, max_size=32))
def test_recipients_and_identities_round_trip_through_their_text(key: bytes) -> None:
    assert Recipient.parse(str(Recipient(key))) == Recipient(key)
    identity = Identity.parse(OFFICER.export())
    assert identity.export() == OFFICER.export()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_encoding_parses_back_to_the_normalized_value(value: dict[str, Any]) -> None:
    normalized = canonical.normalize(value)
    try:
        encoded = canonical.encode(normalized)
    except ValueError:  # nested deeper than an entry may be is the writer's to refuse
        return
    if canonical._depth(normalized) <= canonical.MAX_DEPTH:
        assert canonical.parse(encoded) == normalized


@SETTINGS
@given(st.binary(max_size=200))
def test_canonical_parse_accepts_or_names_the_rule(raw: bytes) -> None:
    try:
        value = canonical.parse(raw)
    except canonical.NotCanonical as error:
        assert str(error)
        return
    assert canonical.encode(value) == raw


@SETTINGS
@given(st.integers(0, 2**62), st.binary(min_size=32, max_size=32), st.integers(0, 2**62))
def test_state_file_round_trips(seq: int, key: bytes, size: int) -> None:
    state = WriterState(seq, key, key[::-1].hex(), size)
    assert parse_state(state.encode(), Path("state")) == state


@SETTINGS
@given(st.binary(max_size=120))
def test_state_file_bytes_parse_or_raise_audit_error(raw: bytes) -> None:
    try:
        state = parse_state(raw, Path("state"))
    except AuditError:
        return
    assert state.seq >= 0 and len(state.key) == 32


ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)
requests = st.builds(
    Request,
    v=st.just(1),
    id=ids,
    type=st.sampled_from(REQUEST_TYPES).filter(lambda kind: kind != "annotate"),
    reason=st.none() | st.text(max_size=500),
    incident=st.none() | st.text(max_size=128),
)


@SETTINGS
@given(requests)
def test_protocol_requests_round_trip_through_their_encoding(request: Request) -> None:
    assert parse_request(encode(request.model_dump())) == request


@SETTINGS
@given(
    st.binary(max_size=300)
    | st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(st.text(), json_values))
)
def test_any_request_bytes_parse_or_get_a_documented_code(raw: bytes) -> None:
    try:
        parse_request(raw)
    except ProtocolError as error:
        assert error.code in {code.value for code in ErrorCode}


@pytest.mark.parametrize("field", ["v", "id", "type"])
@SETTINGS
@given(json_values)
def test_a_wrong_value_in_a_required_field_is_refused(field: str, value: Any) -> None:
    request = {"v": 1, "id": "r1", "type": "status", field: value}
    try:
        parsed = parse_request(json.dumps(request).encode())
    except ProtocolError:
        return
    assert parsed.model_dump()[field] == value  # accepted only as the very same valid value
