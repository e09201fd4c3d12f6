"""Pure functions of the audit format: canonical entry bytes, the hash chain and the key evolution."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64
_EVOLVE_LABEL = b"room-recorder/audit/v1/evolve"
_MAC_LABEL = b"room-recorder/audit/v1/mac"


def canonical(body: dict[str, Any]) -> bytes:
    """The exact bytes that are hashed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical body (which contains `prev`, the previous entry's hash)."""
    return hashlib.sha256(canonical(body)).hexdigest()


def entry_mac(key: bytes, digest_hex: str) -> str:
    """HMAC-SHA256 under the entry's key, over the entry's hash."""
    return hmac.new(key, _MAC_LABEL + bytes.fromhex(digest_hex), hashlib.sha256).hexdigest()


def evolve(key: bytes) -> bytes:
    """The next entry's key. One-way: holding key i+1 reveals nothing about key i."""
    return hashlib.sha256(_EVOLVE_LABEL + key).digest()


def key_at(initial_key: bytes, seq: int) -> bytes:
    key = initial_key
    for _ in range(seq):
        key = evolve(key)
    return key
