"""The one module that imports boto3: S3 clients from a credentials file or the standard AWS
environment, and what a failed request means (the vault is unreachable, or it refused)."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recorder.errors import VaultError
from recorder.messages import _

CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 30.0
"""Short enough that a vault that went away is noticed, and the daemon's stop is never held long."""

S3Client = Any
"""A botocore S3 client (its type is generated at run time)."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(access_key={self.access_key!r})"


def read_credentials(path: Path) -> Credentials:
    """A credentials file in the AWS shared-credentials format (`[default]` with `aws_access_key_id`
    and `aws_secret_access_key`; the first section is used if there is no `[default]`). Raises
    VaultError for an unreadable or malformed file."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except OSError as error:
        raise VaultError(
            _("{path}: cannot read the vault credentials ({strerror})").format(
                path=path, strerror=error.strerror
            )
        ) from None
    except (configparser.Error, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0]
        raise VaultError(
            _("{path}: not a credentials file ({first})").format(path=path, first=first)
        ) from None
    sections = parser.sections()
    name = "default" if parser.has_section("default") else (sections[0] if sections else None)
    if name is None:
        raise VaultError(
            _("{path}: no [default] section with aws_access_key_id and aws_secret_access_key").format(
                path=path
            )
        )
    section = parser[name]
    access, secret = (
        section.get("aws_access_key_id", "").strip(),
        section.get("aws_secret_access_key", "").strip(),
    )
    if not access or not secret:
        raise VaultError(
            _("{path}: [{name}] needs aws_access_key_id and aws_secret_access_key").format(
                path=path, name=name
            )
        )
    return Credentials(access, secret)


def make_client(
    endpoint: str | None,
    credentials: Credentials | None,
    region: str = "us-east-1",
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> S3Client:
    """A kept S3 client (path-style addressing, short timeouts, no retries of its own: the callers
    retry with their own backoff). Without `credentials`, boto3's standard chain is used
    (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials); without `endpoint`,
    AWS_ENDPOINT_URL or AWS itself."""
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout_s,
        read_timeout=READ_TIMEOUT_S,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    keys: dict[str, str] = {}
    if credentials is not None:
        keys = {"aws_access_key_id": credentials.access_key, "aws_secret_access_key": credentials.secret_key}
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint or os.environ.get("AWS_ENDPOINT_URL"),
        region_name=region,
        config=config,
        **keys,
    )


REFUSALS = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket", "InvalidRequest",
     "InvalidBucketState", "AuthorizationHeaderMalformed", "ObjectLockConfigurationNotFoundError"}
)  # fmt: skip


def describe(error: BaseException) -> str:
    """One line saying what went wrong with a request, without secrets."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{info.get('Code', '?')} (HTTP {status}): {info.get('Message', '')}".strip()
    if isinstance(error, BotoCoreError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def error_code(error: BaseException) -> str | None:
    """The S3 error code of a refused request (`AccessDenied`, `NoSuchKey`, …), else None."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "")) or None
    return None


def is_missing(error: BaseException) -> bool:
    return error_code(error) in ("NoSuchKey", "404", "NotFound", "NoSuchUpload")


def as_vault_error(error: BaseException, what: str) -> VaultError:
    return VaultError(f"{what}: {describe(error)}")
