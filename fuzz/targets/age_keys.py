"""The identity and recipient parsers (`recorder.incident.age_keys`, `bech32`): an `age1…` recipient
as the config gives it, an `AGE-SECRET-KEY-1…` identity, and an identity file.

Contract: each parse returns or raises ValueError (what `recorder export` and the config loader turn
into one line); what parses is canonical: it encodes back to the same text, and a recipient that the
config accepts is one the writer can encrypt to."""

from __future__ import annotations

from pydantic import TypeAdapter

from fuzz.contract import expect, scratch
from fuzz.fixtures import OFFICER
from recorder.config import RecipientText
from recorder.incident import bech32
from recorder.incident.age_keys import Identity, Recipient, load_identities

SURFACE = "text → Recipient.parse, Identity.parse, bech32.decode, identity files, config recipients"
_ADAPTER: TypeAdapter[str] | None = None


def one_input(data: bytes) -> None:
    kind, text = (data[0] % 4, data[1:].decode("utf-8", "surrogateescape")) if data else (0, "")
    if kind == 0:
        _recipient(text)
    elif kind == 1:
        _identity(text)
    elif kind == 2:
        _identity_file(data[1:])
    else:
        try:
            hrp, payload = bech32.decode(text)
        except ValueError:
            return
        expect(bech32.encode(hrp, payload).lower() == text.lower(), f"bech32 round trip of {text!r}")


def _recipient(text: str) -> None:
    try:
        recipient = Recipient.parse(text)
    except ValueError:
        pass
    else:
        expect(str(recipient) == text.strip(), f"recipient {text!r} is not canonical")
    try:
        canonical = _config_recipient(text)
    except ValueError:
        return
    expect(canonical == text, f"the config accepted {text!r} as {canonical!r}")
    Recipient.parse(canonical).wrap(bytes(16))  # the writer can encrypt to it


def _identity(text: str) -> None:
    try:
        identity = Identity.parse(text)
    except ValueError:
        return
    expect(identity.export() == text.strip(), f"identity {text!r} is not canonical")


def _identity_file(raw: bytes) -> None:
    path = scratch() / "identity.txt"
    path.write_bytes(raw)
    try:
        identities = load_identities(path)
    except ValueError as error:
        expect(bool(str(error)), "a ValueError without a message")
        return
    expect(bool(identities), "an identity file with no identity was accepted")


def _config_recipient(text: str) -> str:
    """The config's check of one `storage.recipients` entry (pydantic's ValidationError is a ValueError)."""
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(RecipientText)
    return str(_ADAPTER.validate_python(text))


def seeds() -> list[bytes]:
    recipient, identity = str(OFFICER.recipient).encode(), OFFICER.export().encode()
    keygen_file = b"# created: 2026-01-01T00:00:00Z\n# public key: " + recipient + b"\n" + identity + b"\n"
    return [
        b"\x00" + recipient,
        b"\x00age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
        b"\x01" + identity,
        b"\x02" + keygen_file,
        b"\x03" + b"a12uel5l",
        b"\x03" + b"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    ]
