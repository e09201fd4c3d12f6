"""age X25519 recipients and identities: parsing, identity files, and wrapping the file key in stanzas."""

from __future__ import annotations

import base64
import binascii
import datetime
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recorder.incident import bech32
from recorder.messages import _

RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
X25519_INFO = b"age-encryption.org/v1/X25519"
FILE_KEY_SIZE = 16
_ZERO_NONCE = bytes(12)
_RAW = serialization.Encoding.Raw


def hkdf_sha256(ikm: bytes | bytearray, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 (RFC 5869) with a 32-byte output, as every age derivation uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def b64encode(data: bytes) -> str:
    """Standard base64 without `=` padding (age's encoding)."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    """Decode unpadded base64, rejecting padding and non-canonical encodings. Raises ValueError."""
    if "=" in text or len(text) % 4 == 1:
        raise ValueError(_("base64: padding or impossible length"))
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(_("base64: {error}").format(error=exc)) from exc
    if b64encode(data) != text:
        raise ValueError(_("base64: non-canonical encoding"))
    return data


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza of an age header: its arguments (type first) and its decoded body."""

    args: tuple[str, ...]
    body: bytes


@dataclass(frozen=True)
class Recipient:
    """An X25519 public key that incident files are encrypted to (`age1…`)."""

    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise ValueError(_("an X25519 recipient is 32 bytes"))

    @classmethod
    def parse(cls, text: str) -> Recipient:
        """Parse an `age1…` string. Raises ValueError if it is not an X25519 age recipient."""
        hrp, data = bech32.decode(text.strip())
        if hrp != RECIPIENT_HRP or len(data) != 32:
            raise ValueError(_("not an age X25519 recipient (expected lowercase age1…)"))
        return cls(data)

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self.public_key)

    def wrap(self, file_key: bytes | bytearray) -> Stanza:
        """Wrap the file key for this recipient in a fresh `-> X25519` stanza."""
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
        secret = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.public_key))
        wrap_key = hkdf_sha256(secret, share + self.public_key, X25519_INFO)
        body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
        return Stanza(("X25519", b64encode(share)), body)


class Identity:
    """An X25519 private key (`AGE-SECRET-KEY-1…`). Its repr never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> Identity:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Parse an `AGE-SECRET-KEY-1…` string. Raises ValueError if malformed."""
        try:
            hrp, data = bech32.decode(text.strip())
        except ValueError:
            raise ValueError(_("not an age X25519 identity (bad bech32)")) from None
        if hrp != IDENTITY_HRP or len(data) != 32:
            raise ValueError(_("not an age X25519 identity (expected uppercase AGE-SECRET-KEY-1…)"))
        return cls(X25519PrivateKey.from_private_bytes(data))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Identity:
        """Read an identity file holding exactly one identity. Raises ValueError, OSError."""
        identities = load_identities(path)
        if len(identities) != 1:
            raise ValueError(
                _("{path}: expected one identity, found {count}").format(path=path, count=len(identities))
            )
        return identities[0]

    @property
    def recipient(self) -> Recipient:
        return Recipient(self._key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw))

    def export(self) -> str:
        """The secret `AGE-SECRET-KEY-1…` string. Never log it."""
        raw = self._key.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        return bech32.encode(IDENTITY_HRP, raw)

    def __repr__(self) -> str:
        return f"Identity(recipient={self.recipient})"

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """The file key if this X25519 stanza is for us, else None. Raises ValueError if malformed."""
        if not stanza.args or stanza.args[0] != "X25519":
            return None
        if len(stanza.args) != 2:
            raise ValueError(_("X25519 stanza must have exactly two arguments"))
        share = b64decode(stanza.args[1])
        if len(share) != 32 or len(stanza.body) != 32:
            raise ValueError(_("X25519 stanza share or body has the wrong length"))
        try:
            secret = self._key.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:
            raise ValueError(_("X25519 stanza share is a low-order point")) from None
        wrap_key = hkdf_sha256(secret, share + self.recipient.public_key, X25519_INFO)
        try:
            return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, stanza.body, None)
        except InvalidTag:
            return None


def load_identities(path: str | os.PathLike[str]) -> list[Identity]:
    """Read an age identity file: one key a line, `#` comments and blank lines skipped.

    Raises ValueError (with the line number) for any other line, and OSError if unreadable.
    """
    identities = []
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(Identity.parse(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
    if not identities:
        raise ValueError(_("{path}: no identities found").format(path=path))
    return identities


def write_identity_file(path: str | os.PathLike[str], identity: Identity) -> None:
    """Write `identity` like age-keygen does, mode 0600. Raises FileExistsError rather than overwrite."""
    created = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    text = (
        f"# created: {created.replace('+00:00', 'Z')}\n"
        f"# public key: {identity.recipient}\n"
        f"{identity.export()}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(text.encode("ascii"))
        out.flush()
        os.fsync(out.fileno())


_IDENTITY_MARK = IDENTITY_HRP.encode("ascii") + b"1"
_SCAN_MAX_BYTES = 1 << 20


def find_identity_files(directory: Path) -> list[Path]:
    """Files under `directory` (recursively, links not followed) that hold an age identity: a key
    that would decrypt incidents. Files over 1 MiB are not read (incidents; an identity file is tiny).
    Unreadable files and a missing directory are skipped."""
    files = (Path(root, name) for root, _, names in os.walk(directory) for name in names)
    return sorted(path for path in files if _holds_identity(path))


def _holds_identity(path: Path) -> bool:
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _SCAN_MAX_BYTES:
            return False
        return _IDENTITY_MARK in path.read_bytes().upper()
    except OSError:
        return False
