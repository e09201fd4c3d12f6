"""Control protocol v1: request parsing and reply building (see docs/protocol.md)."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recorder.errors import ProtocolError

PROTOCOL_VERSION = 1
MIN_MESSAGE_BYTES = 8192
"""The smallest `control.max_message_bytes` a room may set: every valid request, encoded without
insignificant whitespace, fits in it (the worst case, every field at its longest in characters JSON
escapes as 12 bytes, is ~7.7 KB; tests/unit/test_protocol.py builds it)."""


class ErrorCode(enum.StrEnum):
    """Stable error codes. Clients may rely on these strings; new ones are only ever added."""

    BAD_JSON = "bad_json"  # not UTF-8 JSON, or not an object
    BAD_REQUEST = "bad_request"  # a field is missing, has the wrong type or is too long
    UNSUPPORTED_VERSION = "unsupported_version"  # "v" is an integer other than 1
    UNKNOWN_TYPE = "unknown_type"  # "type" is a string but not a known request
    TOO_MANY_FRAMES = "too_many_frames"  # the request was sent as more than one frame
    NOT_ENROLLED = "not_enrolled"  # the client's key was removed from the allowlist
    RATE_LIMITED = "rate_limited"  # too many requests from this client
    UNKNOWN_INCIDENT = "unknown_incident"  # annotate names no incident of this room
    STORAGE_FAILED = "storage_failed"  # the audit entry or incident file could not be written
    INTERNAL = "internal_error"  # a bug; the daemon keeps running


RequestType = Literal["trigger", "clear", "status", "annotate"]
REQUEST_TYPES: tuple[str, ...] = get_args(RequestType)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: int = Field(description="Protocol version; must be 1.")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$", description="Request id.")
    type: RequestType
    reason: str | None = Field(None, max_length=500, description="Why (trigger) or justification (annotate).")
    incident: str | None = Field(None, max_length=128, description="For annotate: which incident.")


def parse_request(raw: bytes) -> Request:
    """Decode one request. Raises ProtocolError with the code of the first problem, checked in the
    order docs/protocol.md gives: JSON, then `v`, then `type`, then every other field."""
    data = _decode_object(raw)
    version = data.get("v")
    if type(version) is not int:  # `true` and `1.0` compare equal to 1 but are not integers
        raise ProtocolError(ErrorCode.BAD_REQUEST, "v: required, an integer")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(ErrorCode.UNSUPPORTED_VERSION, f"protocol version must be {PROTOCOL_VERSION}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "type: required, a string")
    if kind not in REQUEST_TYPES:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"type must be one of {', '.join(REQUEST_TYPES)}")
    try:
        request = Request.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where}: {first['msg']}") from None
    if request.type == "annotate" and (not request.incident or not request.reason):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "annotate needs 'incident' and 'reason'")
    return request


def request_id_of(raw: bytes) -> str | None:
    """Best-effort id of a request that failed to parse, so the client can match the error reply."""
    try:
        data = _decode_object(raw)
    except ProtocolError:
        return None
    value = data.get("id")
    return value if isinstance(value, str) and len(value) <= 64 else None


def _decode_object(raw: bytes) -> dict[str, Any]:
    """Strict JSON: UTF-8, no duplicate names, no NaN/Infinity, an object. Raises ProtocolError
    (bad_json), also for nesting deeper than Python's recursion limit (RecursionError)."""
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_names, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(ErrorCode.BAD_JSON, "request is not UTF-8 JSON") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, "request is nested too deeply") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, "request must be a JSON object")
    return data


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("duplicate name in a JSON object")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def error_reply(
    request_id: str | None, code: ErrorCode, message: str, status: dict[str, Any]
) -> dict[str, Any]:
    error = {"code": code.value, "message": message}
    return {"v": PROTOCOL_VERSION, "id": request_id, "ok": False, **status, "error": error}


def ok_reply(request_id: str, status: dict[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": request_id, "ok": True, **status}
