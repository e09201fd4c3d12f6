"""The age reader (`recorder.incident.age_reader`): header, stanzas, header MAC, STREAM chunks, with a
real identity.

Two kinds of input (the first byte says which):
- raw bytes as a whole file (the seeds are real files by our writer, to this target's test identity);
- edits to a real 2.5-chunk incident written at start-up: the fuzzer's bytes are a list of edits
  (flip, cut, delete, duplicate, insert), so it reaches the chunk logic past the header's MAC.

Contract: `decrypt` returns or raises IncidentFormatError; what it returns is always a prefix of the
real plaintext, and an edited file is never returned whole and untruncated."""

from __future__ import annotations

import io

from fuzz import edits
from fuzz.contract import expect
from fuzz.fixtures import OFFICER, OTHER_OFFICER, age_file
from recorder.errors import IncidentFormatError
from recorder.incident.age_reader import decrypt
from recorder.incident.age_writer import CHUNK_SIZE

SURFACE = "age file bytes → age_reader.decrypt (header, stanzas, MAC, STREAM chunks)"
IDENTITIES = (OFFICER,)
_real: tuple[bytes, bytes] | None = None


def _real_file() -> tuple[bytes, bytes]:
    global _real
    if _real is None:
        plaintext = bytes(range(256)) * (CHUNK_SIZE * 5 // 2 // 256)
        _real = plaintext, age_file(plaintext)
    return _real


def one_input(data: bytes) -> None:
    if data[:1] == b"E":
        plaintext, original = _real_file()
        edited = edits.apply(original, data[1:])
    else:
        plaintext, original, edited = b"", b"", data[1:]
    try:
        result = decrypt(io.BytesIO(edited), IDENTITIES)
    except IncidentFormatError as error:
        expect(bool(str(error)), "an IncidentFormatError without a message")
        return
    text = result.plaintext or b""
    expect(len(text) == result.plaintext_bytes, "plaintext_bytes differs from what was returned")
    if original:
        expect(plaintext.startswith(text), "returned bytes that are not the file's plaintext")
        whole = text == plaintext and not result.truncated
        expect(not whole or edited == original, "an edited file was read whole, as if untouched")


def seeds() -> list[bytes]:
    files = [
        age_file(b""),
        age_file(b"x"),
        age_file(b"incident plaintext " * 20),
        age_file(b"two officers", (OFFICER.recipient, OTHER_OFFICER.recipient)),
        age_file(b"not ours", (OTHER_OFFICER.recipient,)),
    ]
    cut = age_file(b"crash-cut" * 100)
    raw = [b"R" + f for f in files] + [b"R" + cut[: len(cut) - 40]]
    edited = [b"E", b"E" + edits.pack(0, 300, 1), b"E" + edits.pack(1, CHUNK_SIZE + 250, 0)]
    edited.append(b"E" + edits.pack(2, CHUNK_SIZE + 200, 16) + edits.pack(3, 500, 40))
    return raw + edited
