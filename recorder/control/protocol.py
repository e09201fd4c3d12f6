"""Control protocol v1: request parsing and reply building (see docs/protocol.md)."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recorder.errors import ProtocolError

PROTOCOL_VERSION = 1


class ErrorCode(enum.StrEnum):
    """Stable error codes. Clients may rely on these strings; new ones are only ever added."""

    BAD_JSON = "bad_json"  # not UTF-8 JSON, or not an object
    BAD_REQUEST = "bad_request"  # a field is missing, has the wrong type or is too long
    UNSUPPORTED_VERSION = "unsupported_version"  # "v" is not 1
    UNKNOWN_TYPE = "unknown_type"  # "type" is not a known request
    NOT_ENROLLED = "not_enrolled"  # the client's key was removed from the allowlist
    RATE_LIMITED = "rate_limited"  # too many requests from this client
    UNKNOWN_INCIDENT = "unknown_incident"  # annotate names no incident of this room
    STORAGE_FAILED = "storage_failed"  # the audit entry or incident file could not be written
    INTERNAL = "internal_error"  # a bug; the daemon keeps running


RequestType = Literal["trigger", "clear", "status", "annotate"]
REQUEST_TYPES: tuple[str, ...] = get_args(RequestType)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = Field(description="Protocol version; must be 1.")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$", description="Request id.")
    type: RequestType
    reason: str | None = Field(None, max_length=500, description="Why (trigger) or justification (annotate).")
    incident: str | None = Field(None, max_length=128, description="For annotate: which incident.")


def parse_request(raw: bytes) -> Request:
    """Decode one request. Raises ProtocolError with the stable code for the first problem."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(ErrorCode.BAD_JSON, "request is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, "request must be a JSON object")
    if data.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(ErrorCode.UNSUPPORTED_VERSION, f"protocol version must be {PROTOCOL_VERSION}")
    if data.get("type") not in REQUEST_TYPES:
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
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def error_reply(
    request_id: str | None, code: ErrorCode, message: str, status: dict[str, Any]
) -> dict[str, Any]:
    error = {"code": code.value, "message": message}
    return {"v": PROTOCOL_VERSION, "id": request_id, "ok": False, **status, "error": error}


def ok_reply(request_id: str, status: dict[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": request_id, "ok": True, **status}
