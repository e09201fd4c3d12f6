"""Enrolled clients: CURVE public keys in a directory, the file name being the client's name."""

from __future__ import annotations

from pathlib import Path

import structlog
import zmq.auth

log = structlog.get_logger()


def load_allowlist(directory: Path) -> dict[bytes, str]:
    """Map each enrolled Z85 public key to its name (the key file's stem). Unreadable files, and
    names that are not valid UTF-8 (the audit could not name the client exactly), are logged and
    skipped; a missing directory is an empty allowlist."""
    names: dict[bytes, str] = {}
    if not directory.is_dir():
        log.warning("allowlist_missing", directory=str(directory))
        return names
    for path in sorted(directory.glob("*.key")):
        if not path.stem.isprintable():  # undecodable bytes (surrogates) and control characters
            log.warning("allowlist_name_refused", file=repr(str(path)), reason="not printable UTF-8")
            continue
        try:
            public, _secret = zmq.auth.load_certificate(path)
        except (OSError, ValueError) as error:
            log.warning("allowlist_key_unreadable", file=str(path), error=str(error))
            continue
        names[public] = path.stem
    return names
