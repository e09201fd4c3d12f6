"""Key generation for the operator: the daemon's CURVE key pair and the officer's age identity."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import zmq.auth

from recorder.incident.age_keys import Identity, write_identity_file
from recorder.messages import _

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_key_name(name: str) -> str:
    """Returns `name` if it is safe as a file name. Raises ValueError."""
    if not _NAME.match(name):
        raise ValueError(
            _("key name {name!r}: use letters, digits, '.', '_' or '-' (max 64)").format(name=name)
        )
    return name


def create_curve_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    """Write NAME.key (public) and NAME.key_secret (0600) into `directory` (created 0700).

    Raises FileExistsError rather than overwrite an existing key, ValueError for an unsafe name.
    """
    check_key_name(name)
    if os.path.lexists(directory) and not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    public, secret = directory / f"{name}.key", directory / f"{name}.key_secret"
    for path in (public, secret):
        if path.exists():
            raise FileExistsError(_("{path} already exists; refusing to overwrite a key").format(path=path))
    public_file, secret_file = zmq.auth.create_certificates(directory, name)
    Path(secret_file).chmod(0o600)
    return Path(public_file), Path(secret_file)


def create_officer_identity(path: Path) -> str:
    """Write a new age identity to `path` (0600, never overwritten); return its age1… recipient."""
    identity = Identity.generate()
    write_identity_file(path, identity)
    return str(identity.recipient)
