"""Keys and files the targets and their seeds share. TEST KEYS ONLY: derived from public labels, so
anyone can recompute them; they protect nothing."""

from __future__ import annotations

import hashlib
import io

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from recorder.incident.age_keys import Identity, Recipient
from recorder.incident.age_writer import AgeWriter


def _test_identity(label: bytes) -> Identity:
    return Identity(X25519PrivateKey.from_private_bytes(hashlib.sha256(label).digest()))


OFFICER = _test_identity(b"room-recorder fuzz officer (a public test key)")
OTHER_OFFICER = _test_identity(b"room-recorder fuzz second officer (a public test key)")


class _Kept(io.BytesIO):
    def close(self) -> None:  # the writer closes its output; keep the bytes readable
        pass


def age_file(plaintext: bytes, recipients: tuple[Recipient, ...] = (OFFICER.recipient,)) -> bytes:
    """A complete incident file written by our own writer (random file key and nonce)."""
    out = _Kept()
    with AgeWriter(out, recipients, fsync=False) as writer:
        writer.write(plaintext)
    return out.getvalue()
