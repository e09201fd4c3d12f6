"""ZeroMQ CURVE key files (zmq.auth's certificate format), read strictly: a key that is not 40
characters of Z85 is an error, not a key that silently matches nobody."""

from __future__ import annotations

import os
import struct

import zmq.auth
from zmq.utils import z85


def load_key_file(path: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    """(public key, secret key or None) of a key file, each 40 characters of Z85.
    Raises OSError if unreadable, ValueError if a key is missing or malformed."""
    try:
        public, secret = zmq.auth.load_certificate(path)
    except IndexError:  # pyzmq splits a `public-key`/`secret-key` line on "=" and takes the second part
        raise ValueError(f"{path}: a key line without '='") from None
    for which, key in (("public", public), ("secret", secret)):
        if key is not None and not is_z85_key(key):
            raise ValueError(f"{path}: the {which} key is not 40 characters of Z85")
    return public, secret


def is_z85_key(key: bytes | None) -> bool:
    """Whether `key` is a CURVE key in Z85: 40 characters that decode to 32 bytes."""
    if key is None or len(key) != 40:
        return False
    try:
        return len(z85.decode(key)) == 32
    except (ValueError, KeyError, TypeError, IndexError, struct.error):  # struct: a group over 2**32 - 1
        return False
