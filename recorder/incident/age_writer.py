"""Write an age v1 file incrementally: each 64 KiB chunk is sealed, written and fsynced as it completes."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Sequence
from hashlib import sha256
from types import TracebackType
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recorder import faults
from recorder.durable import fsync_directory
from recorder.errors import StorageError
from recorder.incident.age_keys import FILE_KEY_SIZE, Recipient, Stanza, b64encode, hkdf_sha256

VERSION_LINE = b"age-encryption.org/v1\n"
MAC_MARK = b"---"
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
PAYLOAD_NONCE_SIZE = 16


def encode_stanza(stanza: Stanza) -> bytes:
    """`-> args…` then the base64 body wrapped at 64 columns, always ending with a line under 64."""
    body = b64encode(stanza.body)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    if len(body) % 64 == 0:
        lines.append("")
    return ("-> " + " ".join(stanza.args) + "\n" + "".join(line + "\n" for line in lines)).encode("ascii")


def header_mac(file_key: bytes | bytearray, header_up_to_mark: bytes) -> bytes:
    """HMAC-SHA-256 over the header through `---`, keyed with HKDF(file key, "", "header")."""
    key = hkdf_sha256(file_key, b"", b"header")
    return hmac.new(key, header_up_to_mark, sha256).digest()


def derive_payload_key(file_key: bytes | bytearray, nonce: bytes) -> bytearray:
    """HKDF(file key, salt = payload nonce, "payload"), derived straight into a wipeable buffer."""
    out = bytearray(32)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"payload")
    if hasattr(hkdf, "derive_into"):  # cryptography >= 47
        hkdf.derive_into(file_key, out)
    else:
        out[:] = hkdf.derive(file_key)
    return out


def chunk_nonce(counter: int, last: bool) -> bytes:
    """STREAM nonce: 11-byte big-endian chunk counter, then 0x01 for the final chunk else 0x00."""
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def wipe(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))


class AgeWriter:
    """A write-only, non-seekable binary stream that encrypts to `recipients` into `out`.

    Not thread-safe: one thread owns it. Before `write()` returns, every chunk it sealed is written
    and fsynced; the plaintext of an unsealed chunk (at most 64 KiB) lives only in memory until a
    later write or `close()`. After a StorageError the writer is broken: writes raise StorageError
    and `close()` only closes `out`, leaving the file visibly truncated.
    """

    def __init__(self, out: BinaryIO, recipients: Sequence[Recipient], *, fsync: bool = True) -> None:
        """Write and fsync the header. Raises ValueError without recipients, StorageError on I/O."""
        if not recipients:
            raise ValueError("an age file needs at least one recipient")
        self._out = out
        self._fsync = fsync
        self._buffer = bytearray()
        self._closed = False
        self._broken = False
        self.chunks_written = 0
        self.plaintext_bytes = 0
        file_key = bytearray(os.urandom(FILE_KEY_SIZE))
        nonce = os.urandom(PAYLOAD_NONCE_SIZE)
        try:
            header = self._header(file_key, recipients)
            self._key = derive_payload_key(file_key, nonce)
        finally:
            wipe(file_key)
        self._io(lambda: self._write_all(header + nonce))
        self._io(self._sync)

    @staticmethod
    def _header(file_key: bytearray, recipients: Sequence[Recipient]) -> bytes:
        stanzas = b"".join(encode_stanza(r.wrap(file_key)) for r in recipients)
        up_to_mark = VERSION_LINE + stanzas + MAC_MARK
        return up_to_mark + b" " + b64encode(header_mac(file_key, up_to_mark)).encode("ascii") + b"\n"

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer `data`, sealing each full chunk once more data follows it. Raises StorageError."""
        self._check_writable()
        view = memoryview(data).cast("B")
        size, sealed = view.nbytes, False
        while view:
            if len(self._buffer) == CHUNK_SIZE:
                self._seal(last=False)
                sealed = True
            take = CHUNK_SIZE - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
        if sealed:
            self._io(self._sync)
        self.plaintext_bytes += size
        return size

    def _seal(self, last: bool) -> None:
        # A fresh AEAD object per chunk, so no long-lived object holds a copy of the payload key.
        nonce = chunk_nonce(self.chunks_written, last)
        sealed = ChaCha20Poly1305(self._key).encrypt(nonce, self._buffer, None)
        self._io(lambda: self._write_chunk(sealed, last))
        self._buffer.clear()
        self.chunks_written += 1

    def flush(self) -> None:
        """Flush `out`. A partial chunk cannot be sealed early, so it stays buffered."""
        self._check_writable()
        self._io(self._out.flush)

    def close(self) -> None:
        """Seal the rest as the final chunk, fsync and close `out`; wipes the key. Raises StorageError."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._broken:
                self._seal(last=True)
                self._io(self._sync)
        finally:
            wipe(self._key)
            wipe(self._buffer)
            self._io(self._out.close)

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        """Plaintext bytes accepted so far."""
        return self.plaintext_bytes

    def __enter__(self) -> AgeWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_writable(self) -> None:
        if self._closed:
            raise ValueError("write to a closed AgeWriter")
        if self._broken:
            raise StorageError("the incident file failed earlier; it is truncated after the last chunk")

    def _write_chunk(self, sealed: bytes, last: bool) -> None:
        faults.point("incident.close" if last else "incident.seal")
        self._write_all(sealed)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._out.write(view)
            if not written:
                raise OSError("the output accepted no bytes")
            view = view[written:]

    def _sync(self) -> None:
        self._out.flush()
        faults.point("incident.fsync")
        if self._fsync:
            os.fsync(self._out.fileno())

    def _io(self, action: Callable[[], object]) -> None:
        try:
            action()
        except OSError as exc:
            self._broken = True
            raise StorageError(f"writing the incident file failed: {exc}") from exc


def open_incident_file(path: str | os.PathLike[str], recipients: Sequence[Recipient]) -> AgeWriter:
    """Create `path` (0600, never overwriting), write its header and fsync it and its directory.

    Raises StorageError (cause: the OSError, e.g. FileExistsError) and ValueError without recipients.
    """
    try:
        faults.point("incident.open")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot create incident file {os.fspath(path)}: {exc}") from exc
    out = os.fdopen(fd, "wb", buffering=0)
    try:
        writer = AgeWriter(out, recipients)
        _fsync_directory(os.path.dirname(os.path.abspath(path)))
    except BaseException:
        out.close()
        os.unlink(path)  # holds no media yet; a headerless file would only confuse `incidents list`
        raise
    return writer


def sealed_layout(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(complete sealed chunks, bytes after them) of an age file, from its layout alone: what the
    device can tell about an incident without a key. The bytes after the last complete chunk are a
    short final chunk or a torn one; only the officer's reader can tell which. Raises OSError, and
    ValueError when the file has no complete header."""
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
        size = os.fstat(handle.fileno()).st_size
    mark = head.find(b"\n" + MAC_MARK + b" ")
    end = head.find(b"\n", mark + 1) if mark >= 0 else -1
    if end < 0:
        raise ValueError(f"{os.fspath(path)}: no complete age header")
    payload = end + 1 + PAYLOAD_NONCE_SIZE
    return divmod(max(0, size - payload), SEALED_CHUNK_SIZE)


def _fsync_directory(directory: str) -> None:
    try:
        fsync_directory(directory)
    except OSError as exc:
        raise StorageError(f"cannot fsync directory {directory}: {exc}") from exc
