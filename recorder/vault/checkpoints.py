"""Audit checkpoints: the room's audit log, uploaded in Object-Locked segments of whole lines, each
named by the seq of its last entry. The vault's copy is the external witness of the device's log: a
log later cut short, rolled back or rewritten no longer contains the entries the vault holds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from recorder.audit.chain import GENESIS_HASH
from recorder.audit.entry import BadLine, Entry, decode
from recorder.errors import VaultError
from recorder.vault.client import S3Client, error_code
from recorder.vault.layout import AUDIT, SEGMENT, Location, segment_key

log = structlog.get_logger()

MAX_SEGMENT_BYTES = 4 << 20


@dataclass(frozen=True)
class Cursor:
    """How much of the log the vault holds: `offset` bytes, ending with entry `seq` of hash `hash`."""

    offset: int = 0
    seq: int = -1
    hash: str = GENESIS_HASH


@dataclass(frozen=True)
class Segment:
    offset: int
    data: bytes
    first_seq: int
    last_seq: int
    last_hash: str

    @property
    def end(self) -> Cursor:
        return Cursor(self.offset + len(self.data), self.last_seq, self.last_hash)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def metadata(self) -> dict[str, str]:
        return {
            "first-seq": str(self.first_seq),
            "last-seq": str(self.last_seq),
            "last-hash": self.last_hash,
            "offset": str(self.offset),
            "length": str(len(self.data)),
            "sha256": self.sha256,
        }


class Diverged(Exception):
    """The log no longer continues where the vault's copy ends (cut, rolled back or replaced)."""


def next_segment(path: Path, cursor: Cursor, limit: int = MAX_SEGMENT_BYTES) -> Segment | None:
    """The whole lines after `cursor` (at most `limit` bytes, at least one line), or None when no
    new entry is complete yet. Raises Diverged, OSError."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size < cursor.offset:
            raise Diverged(f"the log is {size} bytes, shorter than the {cursor.offset} the vault holds")
        handle.seek(cursor.offset)
        data = handle.read(limit)
    end = data.rfind(b"\n") + 1
    if end == 0:
        if len(data) == limit:  # one line longer than a segment: send it whole
            end = _whole_line_end(path, cursor.offset)
            data = path.read_bytes()[cursor.offset : end]
        else:
            return None
    data = data[:end]
    found = list(_entries(data))
    if not found:
        return None
    first = found[0]
    if first.seq != cursor.seq + 1 or first.prev != cursor.hash:
        raise Diverged(
            f"after seq {cursor.seq} the log continues with seq {first.seq} whose prev is {first.prev[:12]}…"
        )
    last = found[-1]
    return Segment(cursor.offset, data, first.seq, last.seq, last.hash)


def resync(path: Path, cursor: Cursor) -> Cursor:
    """Where to go on after a divergence: at the first line holding an entry newer than the vault's,
    so that nothing the device wrote since is left out. Raises OSError."""
    offset = 0
    with path.open("rb") as handle:
        for raw in handle:
            entry = _decode(raw)
            if entry is not None and entry.seq > cursor.seq:
                return Cursor(offset, entry.seq - 1, entry.prev)
            offset += len(raw)
    return Cursor(offset, cursor.seq, cursor.hash)


def upload_segment(client: S3Client, room: Location, segment: Segment, retain_until: datetime) -> str:
    """Put the segment, Object-Locked; never over another object. Returns its key. A key already
    holding other bytes (the same seq written twice: a rolled-back log) keeps both: the new one goes
    beside it under a name with its digest. Raises VaultError, botocore errors."""
    key = segment_key(room, segment.last_seq)
    for attempt in (key, key.replace(".jsonl", f".{segment.sha256[:12]}.jsonl")):
        try:
            client.put_object(
                Bucket=room.bucket,
                Key=attempt,
                Body=segment.data,
                IfNoneMatch="*",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=retain_until,
                ContentType="application/jsonl",
                Metadata=segment.metadata(),
            )
            return attempt
        except Exception as error:
            if error_code(error) != "PreconditionFailed":
                raise
        there = client.head_object(Bucket=room.bucket, Key=attempt).get("Metadata", {})
        if there.get("sha256") == segment.sha256:
            return attempt  # a previous attempt put it and its reply was lost
        log.error("vault_checkpoint_conflict", key=attempt, seq=segment.last_seq, action="kept beside it")
    raise VaultError(f"{key}: the vault already holds two other segments ending at seq {segment.last_seq}")


def segment_keys(client: S3Client, room: Location) -> list[str]:
    """The room's checkpoint segments, in order. Raises botocore errors."""
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=room.bucket, Prefix=room.key(AUDIT)):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(key for key in keys if SEGMENT.match(key.rsplit("/", 1)[-1]))


def vault_cursor(client: S3Client, room: Location) -> Cursor:
    """Where the vault's copy of the room's log ends (the start when it has none)."""
    keys = segment_keys(client, room)
    if not keys:
        return Cursor()
    meta = client.head_object(Bucket=room.bucket, Key=keys[-1]).get("Metadata", {})
    try:
        return Cursor(
            int(meta["offset"]) + int(meta["length"]), int(meta["last-seq"]), str(meta["last-hash"])
        )
    except (KeyError, ValueError):
        raise VaultError(f"{keys[-1]}: a checkpoint without its metadata") from None


def fetch_segments(client: S3Client, room: Location) -> Iterator[tuple[str, bytes]]:
    """Every segment's key and bytes, each checked against the SHA-256 it was stored with. Raises
    VaultError (a segment whose bytes changed), botocore errors."""
    for key in segment_keys(client, room):
        reply = client.get_object(Bucket=room.bucket, Key=key)
        data = reply["Body"].read()
        if reply.get("Metadata", {}).get("sha256") != hashlib.sha256(data).hexdigest():
            raise VaultError(f"{key}: its bytes do not match the SHA-256 it was stored with")
        yield key, data


def entries_of(data: bytes) -> Iterator[Entry]:
    """The well-formed entries among whole lines."""
    return _entries(data)


def _entries(data: bytes) -> Iterator[Entry]:
    for raw in data.splitlines(keepends=True):
        entry = _decode(raw)
        if entry is not None:
            yield entry


def _decode(raw: bytes) -> Entry | None:
    try:
        return decode(raw)
    except BadLine:
        return None


def _whole_line_end(path: Path, offset: int) -> int:
    with path.open("rb") as handle:
        handle.seek(offset)
        position = offset
        while block := handle.read(1 << 20):
            newline = block.find(b"\n")
            if newline >= 0:
                return position + newline + 1
            position += len(block)
    return offset
