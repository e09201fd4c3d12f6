"""The one client library every front end uses: Lazy Pirate request/reply over CURVE.

Poll with a timeout; on timeout close the socket with linger=0 (so a stale trigger is never
delivered minutes later from a queue), reconnect, resend with the same request id (the daemon
answers a repeated id without executing it twice), and give up after `retries` tries.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from panic_button.i18n import _
from recorder.control.keyfile import load_key_file


class ButtonError(Exception):
    """Base of the client's errors."""


class NoContact(ButtonError):
    """The daemon did not answer within the retries (down, unreachable, or this key not enrolled)."""


class Refused(ButtonError):
    """The daemon answered with an error; `code` is the protocol's stable error code."""

    def __init__(self, code: str, message: str, reply: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.reply = reply


@dataclass(frozen=True)
class ClientKeys:
    public: bytes
    secret: bytes
    server_public: bytes

    @staticmethod
    def load(client_secret_file: Path, server_public_file: Path) -> ClientKeys:
        """Raises ButtonError if a key file is missing or malformed."""
        try:
            public, secret = load_key_file(client_secret_file)
            server_public, _none = load_key_file(server_public_file)
        except (OSError, ValueError) as error:
            raise ButtonError(_("cannot load keys: {error}").format(error=error)) from None
        if not secret:
            raise ButtonError(_("{path} holds no secret key").format(path=client_secret_file))
        return ClientKeys(public, secret, server_public)


def curve_socket(context: zmq.Context[Any], kind: int, keys: ClientKeys) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = context.socket(kind)
    sock.linger = 0
    sock.curve_publickey = keys.public
    sock.curve_secretkey = keys.secret
    sock.curve_serverkey = keys.server_public
    return sock


class RoomClient:
    """Sends one request at a time to one room's daemon. Not thread-safe."""

    def __init__(
        self,
        endpoint: str,
        keys: ClientKeys,
        *,
        timeout_s: float = 1.0,
        retries: int = 3,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._keys = keys
        self._timeout_ms = int(timeout_s * 1000)
        self._retries = retries
        self._context = context or zmq.Context.instance()
        self._sock: zmq.Socket[Any] | None = None

    def trigger(self, reason: str | None = None) -> dict[str, Any]:
        return self.request("trigger", reason=reason)

    def clear(self, reason: str | None = None) -> dict[str, Any]:
        return self.request("clear", reason=reason)

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def annotate(self, incident: str, text: str) -> dict[str, Any]:
        return self.request("annotate", incident=incident, reason=text)

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a request and return the reply. Raises NoContact or Refused."""
        request_id = uuid.uuid4().hex
        body = json.dumps(
            {"v": 1, "id": request_id, "type": kind, **{k: v for k, v in fields.items() if v is not None}}
        ).encode()
        for _attempt in range(self._retries):
            reply = self._exchange(body, request_id)
            if reply is not None:
                if not reply.get("ok"):
                    error = reply.get("error") or {}
                    raise Refused(str(error.get("code")), str(error.get("message")), reply)
                return reply
        message = _("no reply from {endpoint} after {tries} tries")
        raise NoContact(message.format(endpoint=self._endpoint, tries=self._retries))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def _exchange(self, body: bytes, request_id: str) -> dict[str, Any] | None:
        sock = self._socket()
        sock.send(body)
        while sock.poll(self._timeout_ms, zmq.POLLIN):
            try:
                reply = json.loads(sock.recv())
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("id") in (request_id, None):
                return reply
        self.close()  # Lazy Pirate: drop the socket and whatever it still queues
        return None

    def _socket(self) -> zmq.Socket[Any]:
        if self._sock is None:
            self._sock = curve_socket(self._context, zmq.DEALER, self._keys)
            self._sock.connect(self._endpoint)
        return self._sock
