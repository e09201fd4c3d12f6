"""What a vault holds, room by room: every incident object (each version, sizes, retention, legal
holds, whether a delete marker hides it) and how far each room's audit checkpoints reach."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from recorder.vault.client import S3Client
from recorder.vault.layout import AUDIT, INCIDENTS, SEGMENT, Location


@dataclass
class StoredIncident:
    room: str
    incident: str
    key: str
    version_id: str | None
    size: int
    retain_until: datetime | None = None
    mode: str | None = None
    legal_hold: bool = False
    sha256: str | None = None
    hidden: bool = False  # a delete marker is the latest version: a plain GET no longer finds it
    versions: int = 1


@dataclass
class StoredRoom:
    room: str
    incidents: list[StoredIncident] = field(default_factory=list)
    segments: int = 0
    audit_last_seq: int | None = None

    @property
    def bytes(self) -> int:
        return sum(item.size for item in self.incidents)


def inventory(client: S3Client, vault: Location) -> list[StoredRoom]:
    """Every room under the vault's prefix. Raises botocore errors."""
    rooms: dict[str, StoredRoom] = {}
    markers: set[str] = set()
    versions: dict[str, list[dict[str, object]]] = {}
    for kind, item in _versions(client, vault):
        key = str(item["Key"])
        room, _, rest = key.removeprefix(vault.prefix).partition("/")
        stored = rooms.setdefault(room, StoredRoom(room))
        if kind == "marker":
            if item.get("IsLatest"):
                markers.add(key)
        elif rest.startswith(INCIDENTS) and rest.endswith(".age"):
            versions.setdefault(key, []).append(item)
        elif rest.startswith(AUDIT) and (match := SEGMENT.match(rest.removeprefix(AUDIT))):
            stored.segments += 1
            stored.audit_last_seq = max(stored.audit_last_seq or 0, int(match["seq"]))
    for key, found in versions.items():
        room = key.removeprefix(vault.prefix).partition("/")[0]
        latest = next((v for v in found if v.get("IsLatest")), found[0])
        rooms[room].incidents.append(
            _describe(client, vault.bucket, room, key, latest, len(found), key in markers)
        )
    return sorted(rooms.values(), key=lambda r: r.room)


def _versions(client: S3Client, vault: Location) -> Iterator[tuple[str, dict[str, object]]]:
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=vault.bucket, Prefix=vault.prefix):
        for item in page.get("Versions", []):
            yield "version", item
        for item in page.get("DeleteMarkers", []):
            yield "marker", item


def _describe(
    client: S3Client, bucket: str, room: str, key: str, version: dict[str, object], count: int, hidden: bool
) -> StoredIncident:
    version_id = str(version["VersionId"]) if version.get("VersionId") not in (None, "null") else None
    head = client.head_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    until = head.get("ObjectLockRetainUntilDate")
    return StoredIncident(
        room=room,
        incident=key.rsplit("/", 1)[-1].removesuffix(".age"),
        key=key,
        version_id=version_id,
        size=int(head.get("ContentLength", 0)),
        retain_until=until if isinstance(until, datetime) else None,
        mode=head.get("ObjectLockMode"),
        legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        sha256=head.get("Metadata", {}).get("sha256"),
        hidden=hidden,
        versions=count,
    )
