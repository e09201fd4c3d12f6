"""Enrolled clients: CURVE public keys in a directory, the file name being the client's name."""

from __future__ import annotations

from pathlib import Path

import structlog
import zmq.auth

log = structlog.get_logger()


def load_allowlist(directory: Path) -> dict[bytes, str]:
    """Map each enrolled Z85 public key to its name (the key file's stem). Unreadable files are
    logged and skipped; a missing directory is an empty allowlist."""
    names: dict[bytes, str] = {}
    if not directory.is_dir():
        log.warning("allowlist_missing", directory=str(directory))
        return names
    for path in sorted(directory.glob("*.key")):
        try:
            public, _secret = zmq.auth.load_certificate(path)
        except (OSError, ValueError) as error:
            log.warning("allowlist_key_unreadable", file=str(path), error=str(error))
            continue
        names[public] = path.stem
    return names
