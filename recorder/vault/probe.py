"""Can this room reach its vault now? One cheap request, with a short timeout, for the preflight."""

from __future__ import annotations

from recorder.config import VaultConfig
from recorder.vault.client import Credentials, describe, make_client
from recorder.vault.layout import room_location

PROBE_TIMEOUT_S = 2.0


def reach(vault: VaultConfig, room: str, credentials: Credentials) -> str | None:
    """None when a listing of the room's folder succeeds, else what went wrong (one line)."""
    client = make_client(vault.endpoint, credentials, vault.region, timeout_s=PROBE_TIMEOUT_S)
    where = room_location(vault.bucket, vault.prefix, room)
    try:
        client.list_objects_v2(Bucket=where.bucket, Prefix=where.prefix, MaxKeys=1)
    except Exception as error:  # any failure is only reported: the room starts anyway
        return f"cannot reach {vault.endpoint} bucket {vault.bucket} now: {describe(error)}"
    return None
