"""One audit line: decoded from its exact bytes, its hash checked against them (the MAC needs a key)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from recorder.audit import canonical, chain

_V2_SUFFIX = re.compile(rb',"hash":"([0-9a-f]{64})","mac":"([0-9a-f]{64})"\}\n\Z')
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


class BadLine(ValueError):
    """A line that is not a well-formed entry; the message says why."""


@dataclass(frozen=True)
class Entry:
    version: int
    seq: int
    time: str
    event: str
    data: dict[str, Any]
    prev: str
    hash: str
    mac: str

    def mac_ok(self, key: bytes) -> bool:
        """Whether `mac` verifies under `key` (the entry's K[seq])."""
        return hmac.compare_digest(self.mac, chain.entry_mac(key, self.hash, self.version))

    def as_dict(self) -> dict[str, Any]:
        """The entry as a JSON reader sees it."""
        return {
            "v": self.version,
            "seq": self.seq,
            "time": self.time,
            "event": self.event,
            "data": self.data,
            "prev": self.prev,
            "hash": self.hash,
            "mac": self.mac,
        }


def decode(raw: bytes) -> Entry:
    """Decode one line (with its LF). Raises BadLine: torn, not canonical, malformed, or edited
    (its hash does not match its bytes)."""
    if not raw.endswith(b"\n"):
        raise BadLine("the line has no end (cut off during a write?)")
    suffix = _V2_SUFFIX.search(raw)
    try:
        if suffix is not None:
            body_bytes = raw[: suffix.start()] + b"}"
            body = canonical.parse(body_bytes)
            digest, mac = suffix.group(1).decode(), suffix.group(2).decode()
            actual = hashlib.sha256(body_bytes).hexdigest()
        else:
            whole = canonical.parse(raw[:-1])
            body = {key: value for key, value in whole.items() if key not in ("hash", "mac")}
            digest, mac = str(whole.get("hash")), str(whole.get("mac"))
            actual = chain.entry_hash(body)
    except canonical.NotCanonical as error:
        raise BadLine(f"not canonical: {error}") from None
    entry = _from_body(body, digest, mac, expected_version=2 if suffix else 1)
    if actual != digest:
        raise BadLine("hash does not match the entry's bytes (entry edited)")
    return entry


def _from_body(body: dict[str, Any], digest: str, mac: str, expected_version: int) -> Entry:
    if set(body) != chain.BODY_FIELDS:
        raise BadLine(f"fields are {sorted(body)}, expected {sorted(chain.BODY_FIELDS)}")
    version, seq = body["v"], body["seq"]
    if version != expected_version or type(version) is not int:
        raise BadLine(f"version {version!r} in a version {expected_version} line")
    if type(seq) is not int or seq < 0:
        raise BadLine(f"seq {seq!r} is not a sequence number")
    if not isinstance(body["time"], str) or not isinstance(body["event"], str):
        raise BadLine("time and event must be strings")
    if not isinstance(body["data"], dict):
        raise BadLine("data must be an object")
    for name, value in (("prev", body["prev"]), ("hash", digest), ("mac", mac)):
        if not isinstance(value, str) or not _HEX64.match(value):
            raise BadLine(f"{name} is not 64 lowercase hex digits")
    return Entry(version, seq, body["time"], body["event"], body["data"], body["prev"], digest, mac)
