"""Uploading one sealed incident file as it is, with Object Lock COMPLIANCE retention until its
due date: one PUT when it fits in a part, else a multipart upload that resumes after a crash (its
upload id is kept beside the file), and a verification that reads the object back (size, SHA-256)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from recorder.durable import fsync_directory
from recorder.errors import VaultError
from recorder.vault.client import S3Client, describe, error_code, is_missing

UPLOAD_SUFFIX = ".upload"
READ_BLOCK = 1 << 20


class Stopped(Exception):
    """The owner asked the upload to stop between two parts; it resumes next time."""


@dataclass(frozen=True)
class IncidentUpload:
    incident: str
    room: str
    path: Path
    bucket: str
    key: str
    retain_until: datetime
    legal_hold: bool


@dataclass(frozen=True)
class Uploaded:
    """What the vault holds, read back: the facts `incident_uploaded` records."""

    key: str
    version_id: str | None
    size: int
    sha256: str
    retain_until: str
    legal_hold: bool
    parts: int  # 0: a single PUT
    resumed_parts: int  # parts a previous attempt had already uploaded
    already_there: bool  # a previous attempt had completed it


@dataclass(frozen=True)
class _Sidecar:
    key: str
    upload_id: str
    part_size: int
    size: int
    sha256: str


Progress = Callable[[], None]
"""Called between parts: the owner checkpoints meanwhile, and raises Stopped to stop."""


def upload_incident(
    client: S3Client, job: IncidentUpload, part_size: int, between_parts: Progress
) -> Uploaded:
    """Upload and verify. Raises VaultError (refused, or the vault holds other bytes under that key),
    Stopped, botocore errors (unreachable), OSError (the local file)."""
    size, sha256 = file_digest(job.path)
    parts = resumed = 0
    already_there = _head(client, job) is not None
    if not already_there:
        if size <= part_size:
            with job.path.open("rb") as body:
                _put(client, job, body, sha256)
        else:
            parts, resumed = _multipart(client, job, part_size, size, sha256, between_parts)
    return _verify(client, job, (size, sha256), (parts, resumed), already_there)


def file_digest(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _lock(job: IncidentUpload, sha256: str) -> dict[str, Any]:
    return {
        "Bucket": job.bucket,
        "Key": job.key,
        "ObjectLockMode": "COMPLIANCE",
        "ObjectLockRetainUntilDate": job.retain_until,
        "ObjectLockLegalHoldStatus": "ON" if job.legal_hold else "OFF",
        "ContentType": "application/octet-stream",
        "Metadata": {"sha256": sha256, "incident": job.incident, "room": job.room},
    }


def _head(client: S3Client, job: IncidentUpload) -> dict[str, Any] | None:
    try:
        return dict(client.head_object(Bucket=job.bucket, Key=job.key))
    except Exception as error:
        if is_missing(error):
            return None
        raise


def _put(client: S3Client, job: IncidentUpload, body: BinaryIO, sha256: str) -> None:
    try:
        client.put_object(Body=body, IfNoneMatch="*", **_lock(job, sha256))
    except Exception as error:
        if error_code(error) != "PreconditionFailed":  # else: there already; verified next
            raise _refused(error, job) from error


def _multipart(
    client: S3Client, job: IncidentUpload, part_size: int, size: int, sha256: str, between_parts: Progress
) -> tuple[int, int]:
    sidecar_path = job.path.with_name(job.path.name + UPLOAD_SUFFIX)
    sidecar = _read_sidecar(sidecar_path)
    done: dict[int, str] | None = None
    if sidecar and (sidecar.key, sidecar.size, sidecar.sha256, sidecar.part_size) == (
        job.key,
        size,
        sha256,
        part_size,
    ):
        done = _uploaded_parts(client, job, sidecar.upload_id, part_size)
    if sidecar is None or done is None:  # nothing to resume: the upload is gone or was another file's
        try:
            upload_id = client.create_multipart_upload(**_lock(job, sha256))["UploadId"]
        except Exception as error:
            raise _refused(error, job) from error
        sidecar = _Sidecar(job.key, upload_id, part_size, size, sha256)
        _write_sidecar(sidecar_path, sidecar)
        done = {}
    resumed = len(done)
    total = (size + part_size - 1) // part_size
    with job.path.open("rb") as handle:
        for number in range(1, total + 1):
            if number in done:
                continue
            between_parts()
            handle.seek((number - 1) * part_size)
            data = handle.read(part_size)
            reply = client.upload_part(
                Bucket=job.bucket, Key=job.key, UploadId=sidecar.upload_id, PartNumber=number, Body=data
            )
            done[number] = reply["ETag"]
    try:
        client.complete_multipart_upload(
            Bucket=job.bucket,
            Key=job.key,
            UploadId=sidecar.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": done[n]} for n in sorted(done)]},
        )
    except Exception as error:
        if not is_missing(error) or _head(client, job) is None:  # NoSuchUpload: completed before
            raise
    sidecar_path.unlink(missing_ok=True)
    return total, resumed


def _uploaded_parts(
    client: S3Client, job: IncidentUpload, upload_id: str, part_size: int
) -> dict[int, str] | None:
    """The parts a previous attempt uploaded whole (their size and ETag, the MD5 of our bytes, must
    match: a part cut by a crash is uploaded again); None when that upload no longer exists."""
    found: dict[int, str] = {}
    marker = 0
    with job.path.open("rb") as handle:
        while True:
            try:
                page = client.list_parts(
                    Bucket=job.bucket, Key=job.key, UploadId=upload_id, PartNumberMarker=marker
                )
            except Exception as error:
                if is_missing(error):
                    return None
                raise
            for part in page.get("Parts", []):
                number, etag = int(part["PartNumber"]), str(part["ETag"])
                handle.seek((number - 1) * part_size)
                expected = handle.read(part_size)
                if part.get("Size") == len(expected) and etag.strip('"') == hashlib.md5(expected).hexdigest():
                    found[number] = etag
            if not page.get("IsTruncated"):
                return found
            marker = int(page.get("NextPartNumberMarker", 0))


def _verify(
    client: S3Client,
    job: IncidentUpload,
    facts: tuple[int, str],
    counts: tuple[int, int],
    already_there: bool,
) -> Uploaded:
    """Read the object back: its size and SHA-256 must be those of the local file, and it must be
    locked in COMPLIANCE mode. Raises VaultError otherwise."""
    (size, sha256), (parts, resumed) = facts, counts
    head = _head(client, job)
    if head is None:
        raise VaultError(f"{job.key}: not in the vault after its upload")
    version = head.get("VersionId")
    digest, length = hashlib.sha256(), 0
    body = client.get_object(Bucket=job.bucket, Key=job.key, **({"VersionId": version} if version else {}))[
        "Body"
    ]
    with contextlib.closing(body):
        for block in body.iter_chunks(READ_BLOCK):
            digest.update(block)
            length += len(block)
    if (length, digest.hexdigest()) != (size, sha256):
        raise VaultError(
            f"{job.key}: the vault holds {length} bytes with SHA-256 {digest.hexdigest()[:16]}…, "
            f"not this incident's {size} bytes ({sha256[:16]}…); the local file is kept"
        )
    if head.get("ObjectLockMode") != "COMPLIANCE":
        raise VaultError(
            f"{job.key}: stored without COMPLIANCE retention (is Object Lock enabled on the bucket?)"
        )
    until = head.get("ObjectLockRetainUntilDate")
    return Uploaded(
        key=job.key,
        version_id=str(version) if version else None,
        size=size,
        sha256=sha256,
        retain_until=until.isoformat().replace("+00:00", "Z") if isinstance(until, datetime) else str(until),
        legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        parts=parts,
        resumed_parts=resumed,
        already_there=already_there,
    )


def _refused(error: BaseException, job: IncidentUpload) -> BaseException:
    """A refusal the vault will repeat (no Object Lock, no permission) as a VaultError; a network
    failure is passed on as it is (it is retried the same way, but reads as 'unreachable')."""
    code = error_code(error)
    if code is None:
        return error
    hint = (
        " (a bucket without Object Lock refuses retention)"
        if code in ("InvalidRequest", "InvalidBucketState")
        else ""
    )
    return VaultError(f"{job.key}: {describe(error)}{hint}")


def _read_sidecar(path: Path) -> _Sidecar | None:
    try:
        return _Sidecar(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        path.unlink(missing_ok=True)  # unreadable: start the upload again
        return None


def _write_sidecar(path: Path, sidecar: _Sidecar) -> None:
    """Written before the first part, so that a crash resumes this upload instead of leaving it."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(sidecar), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)
