"""Pure functions of the audit format: the hash chain, the MAC and the forward-secure key evolution."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from recorder.audit import canonical

FORMAT_VERSION = 2
"""Version written by this code. Version 1 entries (hash over the re-encoded body) still verify."""

GENESIS_HASH = "0" * 64
_EVOLVE_LABEL = b"room-recorder/audit/v1/evolve"
_MAC_LABELS = {1: b"room-recorder/audit/v1/mac", 2: b"room-recorder/audit/v2/mac"}
BODY_FIELDS = frozenset({"v", "seq", "time", "event", "data", "prev"})


def entry_hash(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical body (which contains `prev`, the previous entry's hash)."""
    return hashlib.sha256(canonical.encode(body)).hexdigest()


def entry_mac(key: bytes, digest_hex: str, version: int = FORMAT_VERSION) -> str:
    """HMAC-SHA256 under the entry's key, over the version's label and the entry's raw hash."""
    return hmac.new(key, _MAC_LABELS[version] + bytes.fromhex(digest_hex), hashlib.sha256).hexdigest()


def seal(body: dict[str, Any], key: bytes) -> tuple[bytes, str, str]:
    """The line for a version 2 body (ending in LF), its hash and MAC: the canonical body with
    `,"hash":"…","mac":"…"` inserted before its closing brace; the hash covers the body's bytes."""
    encoded = canonical.encode(body)
    digest = hashlib.sha256(encoded).hexdigest()
    mac = entry_mac(key, digest, 2)
    return encoded[:-1] + f',"hash":"{digest}","mac":"{mac}"}}\n'.encode(), digest, mac


def evolve(key: bytes) -> bytes:
    """The next entry's key. One-way: holding key i+1 reveals nothing about key i."""
    return hashlib.sha256(_EVOLVE_LABEL + key).digest()


def key_at(initial_key: bytes, seq: int) -> bytes:
    key = initial_key
    for _ in range(seq):
        key = evolve(key)
    return key
