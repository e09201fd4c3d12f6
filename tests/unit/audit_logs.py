"""Helpers for audit tests: make a real log, and edit its lines the way an attacker would."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from recorder.audit import chain
from recorder.audit.log import AuditLog


def make_log(directory: Path, entries: int) -> tuple[Path, bytes]:
    """A log written by the real writer: `entries` alternating trigger/clear entries. Returns (log, K0)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "audit.jsonl"
    key = AuditLog.create(path, directory / "verify.key")
    writer = AuditLog(path)
    for n in range(entries):
        writer.append("trigger" if n % 2 else "clear", client="desk-1", n=n)
    writer.close()
    return path, key


def rewrite_line(path: Path, index: int, edit: Callable[[bytes], bytes]) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[index] = edit(lines[index])
    path.write_bytes(b"".join(lines))


def relink(raw: bytes, mac_key: bytes) -> bytes:
    """A version 2 line with its hash recomputed over its (edited) body and a MAC under `mac_key`:
    what an attacker holding `mac_key` would write."""
    head, _, _ = raw.rpartition(b',"hash":')
    body = head + b"}"
    digest = hashlib.sha256(body).hexdigest()
    return head + f',"hash":"{digest}","mac":"{chain.entry_mac(mac_key, digest, 2)}"}}\n'.encode()


def v1_line(body: dict[str, object], key: bytes) -> bytes:
    """A line as the version 1 writer wrote it (hash over the re-encoded body)."""
    digest = chain.entry_hash(body)
    entry = {**body, "hash": digest, "mac": chain.entry_mac(key, digest, 1)}
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
