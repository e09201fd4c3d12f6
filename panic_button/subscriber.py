"""The room-state subscription (CURVE SUB, topic `state`) and heartbeat-based contact tracking."""

from __future__ import annotations

import enum
import json
from typing import Any

import structlog
import zmq

from panic_button.client import ClientKeys, curve_socket

log = structlog.get_logger()

STATE_TOPIC = b"state"
STATES = ("idle", "recording", "post_roll")
MISSED_HEARTBEATS = 3  # docs/protocol.md: no contact after three heartbeats without a message


class Contact(enum.Enum):
    CONNECTING = "connecting"  # nothing heard yet, and it is still early
    OK = "ok"
    LOST = "lost"  # nothing heard for MISSED_HEARTBEATS heartbeats


class ContactTracker:
    """Decides whether a daemon is in contact from when it was last heard. Pure: times are passed in
    (monotonic seconds)."""

    def __init__(self, heartbeat_s: float, started: float) -> None:
        self._limit_s = MISSED_HEARTBEATS * heartbeat_s
        self._started = started
        self._last_heard: float | None = None

    def heard(self, now: float) -> None:
        self._last_heard = now

    def contact(self, now: float) -> Contact:
        if self._last_heard is None:
            return Contact.CONNECTING if now - self._started < self._limit_s else Contact.LOST
        return Contact.OK if now - self._last_heard < self._limit_s else Contact.LOST

    def silent_s(self, now: float) -> float:
        """Seconds since the daemon was last heard (or since tracking started)."""
        return now - (self._last_heard if self._last_heard is not None else self._started)


def parse_state(frames: list[bytes]) -> dict[str, Any] | None:
    """The state message in `frames`, or None if it is not a valid protocol v1 state message."""
    if len(frames) != 2 or frames[0] != STATE_TOPIC:
        return None
    try:
        message = json.loads(frames[1].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(message, dict) or message.get("v") != 1 or message.get("state") not in STATES:
        return None
    return message


class StateSubscriber:
    """Receives a room's state messages without blocking. Not thread-safe: one owner thread."""

    def __init__(self, sock: zmq.Socket[Any], endpoint: str) -> None:
        self._sock = sock
        self._endpoint = endpoint
        self.ignored = 0

    def poll(self, timeout_ms: int = 0) -> list[dict[str, Any]]:
        """Every valid state message that arrives within `timeout_ms` (0: only those already queued)."""
        messages: list[dict[str, Any]] = []
        if not self._sock.poll(timeout_ms, zmq.POLLIN):
            return messages
        while True:
            try:
                frames = self._sock.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return messages
            message = parse_state(frames)
            if message is None:
                self.ignored += 1
                log.warning("state_message_ignored", endpoint=self._endpoint, frames=len(frames))
            else:
                messages.append(message)

    def close(self) -> None:
        self._sock.close(linger=0)


def open_subscriber(context: zmq.Context[Any], endpoint: str, keys: ClientKeys) -> StateSubscriber:
    """Connect a CURVE SUB to a daemon's state endpoint (it reconnects by itself when the daemon
    restarts)."""
    sock = curve_socket(context, zmq.SUB, keys)
    sock.setsockopt(zmq.SUBSCRIBE, STATE_TOPIC)
    sock.connect(endpoint)
    return StateSubscriber(sock, endpoint)
