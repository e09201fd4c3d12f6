"""Incident ids, `{room}-{YYYYMMDDTHHMMSSZ}-{6 hex}`: made by the room, and checked before a name
from a client (or an operator) is allowed to name a file."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

_STAMP = "%Y%m%dT%H%M%SZ"
_SUFFIX = r"-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}"  # [0-9], not \d: \d also matches other scripts' digits
_ANY_ROOM = re.compile(r"(?P<room>.+)-(?P<stamp>[0-9]{8}T[0-9]{6}Z)-[0-9a-f]{6}")


def make_incident_id(room: str, wall_time: float) -> str:
    """A new id for an incident of `room` starting at `wall_time` (Unix seconds, UTC)."""
    return f"{room}-{time.strftime(_STAMP, time.gmtime(wall_time))}-{secrets.token_hex(3)}"


def is_incident_id(room: str, text: str) -> bool:
    """True only for a string `make_incident_id(room, …)` could have made: no path, no other room."""
    return re.fullmatch(re.escape(room) + _SUFFIX, text) is not None


def parse_incident_id(text: str) -> tuple[str, datetime] | None:
    """(room, start time in UTC) of any room's incident id, or None if `text` is not one."""
    match = _ANY_ROOM.fullmatch(text)
    if match is None:
        return None
    try:
        return match["room"], datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC)
    except ValueError:  # a month 13, say
        return None
