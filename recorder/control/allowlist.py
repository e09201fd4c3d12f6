"""Enrolled clients: CURVE public keys in a directory, the file name being the client's name."""

from __future__ import annotations

from pathlib import Path

import structlog

from recorder.control.keyfile import load_key_file

log = structlog.get_logger()


def load_allowlist(directory: Path) -> dict[bytes, str]:
    """Map each enrolled Z85 public key to its name (the key file's stem). Unreadable or malformed
    files (a key that is not 40 characters of Z85), and names that are not valid UTF-8 (the audit
    could not name the client exactly), are logged and skipped; a missing directory is an empty
    allowlist."""
    names: dict[bytes, str] = {}
    if not directory.is_dir():
        log.warning("allowlist_missing", directory=str(directory))
        return names
    for path in sorted(directory.glob("*.key")):
        if not path.stem.isprintable():  # undecodable bytes (surrogates) and control characters
            log.warning("allowlist_name_refused", file=repr(str(path)), reason="not printable UTF-8")
            continue
        try:
            public, _secret = load_key_file(path)
        except (OSError, ValueError) as error:
            log.warning("allowlist_key_unreadable", file=str(path), error=str(error))
            continue
        names[public] = path.stem
    return names
