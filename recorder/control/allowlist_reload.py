"""Re-reading the enrolled keys on SIGHUP without dropping a button by accident.

A reload happens while someone changes the directory: a deploy tool replacing it, `cp` writing a key
file. What was read then must not revoke a working button. So: a key file removed is a revocation;
a directory that cannot be listed keeps the whole previous allowlist; a key file that cannot be read
or holds no whole key keeps that client's previous key (a new client is not enrolled until it can be
read). Each such problem is reported, so the room shows `degraded: allowlist` until a reload succeeds.
"""

from __future__ import annotations

import os
from pathlib import Path

from recorder.control.keyfile import load_key_file
from recorder.errors import ConfigError


class AllowlistUnreadable(ConfigError):
    """The directory could not be listed: nothing was changed."""


def reload_allowlist(directory: Path, previous: dict[bytes, str]) -> tuple[dict[bytes, str], list[str]]:
    """The new allowlist (key -> name) and the problems met (empty if the reload was clean).
    Raises AllowlistUnreadable if the directory cannot be listed."""
    try:
        files = sorted(name for name in os.listdir(directory) if name.endswith(".key"))
    except OSError as error:
        raise AllowlistUnreadable(
            f"control.authorized_clients: cannot list {directory} ({error.strerror}); "
            "the previous allowlist stays in force"
        ) from None
    kept_keys = {name: key for key, name in previous.items()}
    names: dict[bytes, str] = {}
    problems: list[str] = []
    for file in files:
        stem = file.removesuffix(".key")
        if not stem.isprintable():  # undecodable bytes (surrogates) and control characters
            problems.append(f"{file!r}: name not printable UTF-8; not enrolled")
            continue
        key = _public_key(directory / file)
        if key is not None:
            names[key] = stem
        elif stem in kept_keys:
            names[kept_keys[stem]] = stem
            problems.append(
                f"{file}: no whole public key in it (being written?); {stem} keeps its previous key"
            )
        else:
            problems.append(f"{file}: no whole public key in it (being written?); not enrolled yet")
    return names, problems


def _public_key(path: Path) -> bytes | None:
    """The file's public key, or None if it cannot be read or holds no whole key (a file cut short
    can still parse, as a shorter key: `load_key_file` refuses that)."""
    try:
        public, _secret = load_key_file(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return public
