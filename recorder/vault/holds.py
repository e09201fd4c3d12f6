"""Legal holds on the vault's copy of an incident: set by `recorder hold`, and by the uploader for
every hold the audit log records (so a hold placed while the vault was down reaches it later)."""

from __future__ import annotations

from recorder.vault.client import S3Client


def set_legal_hold(client: S3Client, bucket: str, key: str, version_id: str | None, on: bool) -> None:
    """Place or lift the object's legal hold. Raises botocore errors (unreachable, refused)."""
    version = {"VersionId": version_id} if version_id else {}
    client.put_object_legal_hold(
        Bucket=bucket, Key=key, LegalHold={"Status": "ON" if on else "OFF"}, **version
    )
