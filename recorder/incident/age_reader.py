"""Read an age v1 file strictly, recovering the authenticated prefix of a file cut short by a crash."""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import os
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from recorder.errors import IncidentFormatError
from recorder.incident.age_keys import Identity, Stanza, b64decode
from recorder.incident.age_writer import (
    MAC_MARK,
    PAYLOAD_NONCE_SIZE,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    VERSION_LINE,
    chunk_nonce,
    derive_payload_key,
    header_mac,
    wipe,
)
from recorder.messages import _

MAX_LINE = 16 * 1024
MAX_HEADER = 1024 * 1024
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

Source = str | os.PathLike[str] | BinaryIO


@dataclasses.dataclass(frozen=True)
class DecryptResult:
    """How a decryption went. `plaintext` is None when it was streamed elsewhere."""

    truncated: bool
    chunks: int
    plaintext_bytes: int
    dropped_tail_bytes: int = 0
    plaintext: bytes | None = None


class _Input:
    """Buffered reads over any binary file object, so the header can be read line by line."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._buf = bytearray()
        self.header = bytearray()

    def _fill(self, size: int) -> None:
        while len(self._buf) < size:
            block = self._raw.read(max(size - len(self._buf), 64 * 1024))
            if not block:
                return
            self._buf += block

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes, or fewer only at end of file."""
        self._fill(size)
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def peek(self, size: int) -> bytes:
        self._fill(size)
        return bytes(self._buf[:size])

    def at_eof(self) -> bool:
        self._fill(1)
        return not self._buf

    def header_line(self) -> bytes:
        """One header line including its LF. Raises IncidentFormatError at EOF or on an overlong line."""
        while b"\n" not in self._buf and len(self._buf) <= MAX_LINE:
            size = len(self._buf)
            self._fill(size + 1)
            if len(self._buf) == size:
                raise IncidentFormatError(_("the file ends inside the header"))
        end = self._buf.find(b"\n")
        if end < 0 or end >= MAX_LINE or len(self.header) + end >= MAX_HEADER:
            raise IncidentFormatError(_("header line or header too long"))
        line = self.read(end + 1)
        if any(not 0x20 <= c <= 0x7E for c in line[:-1]):
            raise IncidentFormatError(_("header line holds a non-printable character"))
        self.header += line
        return line


def _parse_stanza(arg_line: bytes, src: _Input) -> Stanza:
    args = arg_line[3:-1].split(b" ")
    if any(not arg for arg in args):
        raise IncidentFormatError(_("stanza has an empty argument"))
    lines = []
    while True:
        line = src.header_line()[:-1]
        if len(line) > 64 or not _B64.issuperset(line):
            raise IncidentFormatError(_("stanza body line is not 64-column base64"))
        lines.append(line)
        if len(line) < 64:
            break
    try:
        body = b64decode(b"".join(lines).decode("ascii"))
    except ValueError as exc:
        raise IncidentFormatError(_("stanza body: {error}").format(error=exc)) from None
    return Stanza(tuple(a.decode("ascii") for a in args), body)


def _parse_header(src: _Input) -> tuple[list[Stanza], bytes, bytes]:
    """Return (stanzas, header through `---`, MAC). Raises IncidentFormatError."""
    if not VERSION_LINE.startswith(src.peek(3)) or len(src.peek(3)) < 3:
        raise IncidentFormatError(_("not an age file"))
    version = src.header_line()
    if version != VERSION_LINE:
        known = version.startswith(b"age-encryption.org/")
        raise IncidentFormatError(_("unsupported age version") if known else _("not an age file"))
    stanzas = []
    while True:
        line = src.header_line()
        if line.startswith(b"-> "):
            stanzas.append(_parse_stanza(line, src))
        elif line.startswith(MAC_MARK):
            break
        else:
            raise IncidentFormatError(_("header line is neither a stanza nor the MAC line"))
    if not stanzas:
        raise IncidentFormatError(_("header has no recipient stanza"))
    encoded = line[4:-1]
    if not line.startswith(b"--- ") or len(encoded) != 43:
        raise IncidentFormatError(_("malformed header MAC line"))
    try:
        mac = b64decode(encoded.decode("ascii"))
    except ValueError as exc:
        raise IncidentFormatError(_("header MAC: {error}").format(error=exc)) from None
    return stanzas, bytes(src.header[: -len(line) + 3]), mac


def _unwrap(stanzas: list[Stanza], identities: Sequence[Identity]) -> bytes:
    for index, stanza in enumerate(stanzas):
        for identity in identities:
            try:
                file_key = identity.unwrap(stanza)
            except ValueError as exc:
                problem = _("stanza {index}: {error}").format(index=index, error=exc)
                raise IncidentFormatError(problem) from None
            if file_key is not None:
                return file_key
    raise IncidentFormatError(_("no identity matches"))


class PlaintextReader(Iterator[bytes]):
    """Iterates the plaintext chunk by chunk; `result()` tells how it ended once exhausted.

    The header is parsed and authenticated on construction. Iteration raises IncidentFormatError
    (with the chunk index) for a chunk that fails to authenticate while more data follows it.
    """

    def __init__(self, fileobj: BinaryIO, identities: Sequence[Identity]) -> None:
        self._src = _Input(fileobj)
        stanzas, up_to_mark, mac = _parse_header(self._src)
        file_key = _unwrap(stanzas, identities)
        if not hmac.compare_digest(header_mac(file_key, up_to_mark), mac):
            raise IncidentFormatError(_("header MAC does not verify (the header was edited)"))
        nonce = self._src.read(PAYLOAD_NONCE_SIZE)
        if len(nonce) != PAYLOAD_NONCE_SIZE:
            raise IncidentFormatError(_("the file ends inside the payload nonce"))
        self._key = derive_payload_key(file_key, nonce)
        self._result: DecryptResult | None = None
        self.chunks = 0
        self.plaintext_bytes = 0

    def __next__(self) -> bytes:
        if self._result is not None:
            raise StopIteration
        block = self._src.read(SEALED_CHUNK_SIZE)
        if not self._src.at_eof():
            return self._accept(self._open_middle(block))
        final = self._open(block, last=True)
        if final is not None:
            if not final and self.chunks:
                raise self._fail(_("chunk {number} is an empty final chunk"))
            return self._accept(final, finish=True)
        middle = self._open(block, last=False) if len(block) == SEALED_CHUNK_SIZE else None
        if middle is not None:
            return self._accept(middle, finish=True, truncated=True)
        self._finish(truncated=True, dropped=len(block))
        raise StopIteration

    def _open_middle(self, block: bytes) -> bytes:
        plain = self._open(block, last=False)
        if plain is None:
            final = self._open(block, last=True) is not None
            raise self._fail(
                _("chunk {number} is final but data follows it")
                if final
                else _("chunk {number} fails authentication")
            )
        return plain

    def _fail(self, why: str) -> IncidentFormatError:
        """`why` names the chunk as `{number}`."""
        wipe(self._key)
        return IncidentFormatError(why.format(number=self.chunks))

    def _open(self, block: bytes, last: bool) -> bytes | None:
        if len(block) < TAG_SIZE:
            return None
        try:
            return ChaCha20Poly1305(self._key).decrypt(chunk_nonce(self.chunks, last), block, None)
        except InvalidTag:
            return None

    def _accept(self, plain: bytes, finish: bool = False, truncated: bool = False) -> bytes:
        self.chunks += 1
        self.plaintext_bytes += len(plain)
        if finish:
            self._finish(truncated, dropped=0)
        return plain

    def _finish(self, truncated: bool, dropped: int) -> None:
        wipe(self._key)
        self._result = DecryptResult(truncated, self.chunks, self.plaintext_bytes, dropped)

    def result(self) -> DecryptResult:
        """How the payload ended. Raises RuntimeError before the iteration is exhausted."""
        if self._result is None:
            raise RuntimeError("the plaintext has not been read to the end yet")
        return self._result


def iter_plaintext(fileobj: BinaryIO, identities: Sequence[Identity]) -> PlaintextReader:
    """Stream the plaintext of an open age file. Raises IncidentFormatError (header now, chunks later)."""
    return PlaintextReader(fileobj, identities)


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            yield f
    else:
        yield source


def decrypt(source: Source, identities: Sequence[Identity]) -> DecryptResult:
    """Decrypt a whole file into memory (for small files and tests). Raises IncidentFormatError, OSError."""
    with _opened(source) as f:
        reader = iter_plaintext(f, identities)
        plaintext = b"".join(reader)
    return dataclasses.replace(reader.result(), plaintext=plaintext)


def decrypt_to_file(
    source: Source, dst: str | os.PathLike[str], identities: Sequence[Identity]
) -> DecryptResult:
    """Stream the plaintext into a new file `dst` (0600, never overwritten; removed if decryption fails).

    Raises IncidentFormatError, FileExistsError, OSError.
    """
    with _opened(source) as f:
        reader = iter_plaintext(f, identities)
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in reader:
                    out.write(chunk)
        except BaseException:
            os.unlink(dst)
            raise
    return reader.result()
