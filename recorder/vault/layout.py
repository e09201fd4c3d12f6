"""Where things live in the bucket (docs/format.md, "The vault"): one folder per room with its
incidents, as they are on disk, and its audit log in checkpoint segments named by their last seq."""

from __future__ import annotations

import re
from dataclasses import dataclass

from recorder.errors import VaultError
from recorder.messages import _

INCIDENTS = "incidents/"
AUDIT = "audit/"
SEGMENT = re.compile(r"^(?P<seq>\d{20})\.jsonl$")


@dataclass(frozen=True)
class Location:
    """A bucket and a key prefix ending in `/` (or empty): a vault, or one room's part of it."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> Location:
        """`s3://BUCKET[/PREFIX]`. Raises VaultError."""
        if not url.startswith("s3://"):
            raise VaultError(_("{url!r}: expected s3://BUCKET[/PREFIX]").format(url=url))
        bucket, _slash, prefix = url.removeprefix("s3://").partition("/")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise VaultError(_("{url!r}: {bucket!r} is not a bucket name").format(url=url, bucket=bucket))
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    def child(self, name: str) -> Location:
        return Location(self.bucket, f"{self.prefix}{name.strip('/')}/")

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def room_location(bucket: str, prefix: str, room: str) -> Location:
    return Location(bucket, f"{prefix.strip('/')}/" if prefix.strip("/") else "").child(room)


def incident_key(room: Location, incident: str) -> str:
    return room.key(f"{INCIDENTS}{incident}.age")


def segment_key(room: Location, last_seq: int) -> str:
    return room.key(f"{AUDIT}{last_seq:020d}.jsonl")


def split_object_url(url: str) -> tuple[str, str]:
    """`s3://BUCKET/KEY` → (bucket, key). Raises VaultError."""
    location = Location.parse(url)
    key = location.prefix.rstrip("/")
    if not key:
        raise VaultError(_("{url!r}: expected s3://BUCKET/KEY of one object").format(url=url))
    return location.bucket, key
