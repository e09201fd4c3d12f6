"""The control path: the frames a client sends, through the server's own receive code
(`ControlServer.answer`: envelope split, enrolment, rate limit, frame count, `parse_request`).

The room behind the server is a stub that answers every valid request with an idle status: the
surface fuzzed here is decoding and validation, not the room (tests/unit/test_room.py covers that).
Contract: every message gets exactly one reply, a JSON object of protocol v1 whose error, if any,
has a documented code other than `internal_error` (which would mean an exception was caught)."""

from __future__ import annotations

import json
from typing import Any

import zmq

from fuzz.contract import expect, silence_logs
from recorder.clock import ManualClock
from recorder.config import ControlConfig
from recorder.control.auth import AllowlistAuthenticator
from recorder.control.protocol import ErrorCode, Request
from recorder.control.server import ControlServer

SURFACE = "control frames → ControlServer.answer (envelope, enrolment, frames, parse_request)"
ENROLLED = b"rq:rw)Ek)lAdf3xnSC:b4=OZ4y[7=p3a{oM!dIv9"  # a Z85 public key (a test value, not a real key)
UNKNOWN = b"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
ROUTING_ID = b"\x00\x80\x00\x00\x29"
FRAME_BREAK = b"\n--frame--\n"
_CODES = {code.value for code in ErrorCode} - {ErrorCode.INTERNAL.value}


class _IdleRoom:
    def handle(self, client: str, request: Request) -> dict[str, Any]:
        return self.status()

    def status(self) -> dict[str, Any]:
        return {"state": "idle", "incident": None, "degraded": []}


class _Server:
    """One server on inproc sockets for the whole run (nothing is sent on them but the replies)."""

    def __init__(self) -> None:
        silence_logs()
        context: zmq.Context[Any] = zmq.Context.instance()
        self.router = context.socket(zmq.ROUTER)
        self.router.bind("inproc://fuzz-control")
        self.publisher = context.socket(zmq.PUB)
        self.publisher.bind("inproc://fuzz-state")
        config = ControlConfig.model_validate(
            {
                "endpoint": "ipc:///nonexistent/control",
                "state_endpoint": "ipc:///nonexistent/state",
                "server_secret_key": "unused",
                "authorized_clients": "unused",
            }
        )
        self.clock = ManualClock()
        auth = AllowlistAuthenticator(context, {ENROLLED: "desk-1"})
        self.server = ControlServer(self.router, self.publisher, auth, _IdleRoom(), self.clock, config)


_server: _Server | None = None


def one_input(data: bytes) -> None:
    global _server
    if _server is None:
        _server = _Server()
    _server.clock.advance(60.0)  # past the rate limit: every input reaches the parser
    flags, payload = (data[0], data[1:]) if data else (0, b"")
    key = UNKNOWN if flags & 0x07 == 0 else ENROLLED
    envelope = [ROUTING_ID, b""] if flags & 0x08 else [ROUTING_ID]
    parts = payload.split(FRAME_BREAK, 3) if flags & 0x10 else [payload]
    sent = [*envelope, *parts]
    if len(sent) > 2 and sent[1] == b"":  # docs/protocol.md: an empty first frame is a REQ's delimiter
        envelope, parts = sent[:2], sent[2:]
    reply_frames = _server.server.answer(key, "127.0.0.1", sent)
    expect(reply_frames[:-1] == envelope, f"reply envelope {reply_frames[:-1]!r} is not {envelope!r}")
    reply = json.loads(reply_frames[-1])
    expect(isinstance(reply, dict) and reply.get("v") == 1, f"reply is not protocol v1: {reply!r}")
    if reply["ok"] is True:
        expect(key == ENROLLED and len(parts) == 1, "a request was carried out for an unknown key")
        return
    code = reply["error"]["code"]
    expect(code in _CODES, f"undocumented or internal error code {code!r} for {data!r}")
    expect(reply["id"] is None or isinstance(reply["id"], str), f"reply id {reply['id']!r}")
    if key == UNKNOWN:
        expect(code == ErrorCode.NOT_ENROLLED, f"unknown key answered {code}")
    elif len(parts) > 1:
        expect(code == ErrorCode.TOO_MANY_FRAMES, f"{len(parts)} frames answered {code}")
    elif not _is_json_object(parts[0]):
        expect(code == ErrorCode.BAD_JSON, f"non-JSON request answered {code}")


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (ValueError, RecursionError):
        return False


def seeds() -> list[bytes]:
    requests = [
        {"v": 1, "id": "r1", "type": "trigger", "reason": "threat"},
        {"v": 1, "id": "r2", "type": "clear"},
        {"v": 1, "id": "r3", "type": "status"},
        {"v": 1, "id": "r4", "type": "annotate", "incident": "20260101T000000Z-ab12", "reason": "why"},
        {"v": 2, "id": "r5", "type": "status"},
        {"v": True, "id": "r6", "type": "status"},
        {"v": 1, "id": "r7", "type": "dance"},
    ]
    out = [b"\x01" + json.dumps(r).encode() for r in requests]
    out += [b"\x09" + json.dumps(requests[0]).encode(), b"\x00" + json.dumps(requests[2]).encode()]
    out += [b"\x11" + FRAME_BREAK.join([b"{}", b"{}"]), b"\x01" + b"[" * 40 + b"]" * 40, b"\x01\xff\xfe"]
    return out
