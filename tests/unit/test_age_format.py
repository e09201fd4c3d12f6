"""The age v1 incident format: round trips, truncation recovery, tamper detection, keys and fsync."""

from __future__ import annotations

import errno
import io
import os
import random
import stat
from pathlib import Path
from typing import cast

import pytest

from recorder.errors import IncidentFormatError, StorageError
from recorder.incident import bech32
from recorder.incident.age_keys import Identity, Recipient, Stanza, load_identities, write_identity_file
from recorder.incident.age_reader import decrypt, decrypt_to_file, iter_plaintext
from recorder.incident.age_writer import CHUNK_SIZE, SEALED_CHUNK_SIZE, AgeWriter, open_incident_file

SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, 200000]


def write_in_random_pieces(writer: AgeWriter, data: bytes, seed: int) -> None:
    rng, pos = random.Random(seed), 0
    while pos < len(data):
        step = rng.choice([rng.randint(1, 100), rng.randint(1, 20000), rng.randint(60000, 150000)])
        assert writer.write(data[pos : pos + step]) == len(data[pos : pos + step])
        pos += step


def make_file(path: Path, data: bytes, recipients: list[Recipient], seed: int = 0) -> Path:
    with open_incident_file(path, recipients) as writer:
        write_in_random_pieces(writer, data, seed)
    return path


def payload_start(blob: bytes) -> int:
    """Offset of the first chunk: after the MAC line and the 16-byte payload nonce."""
    return blob.index(b"\n", blob.index(b"\n--- ") + 1) + 1 + 16


@pytest.fixture
def identity() -> Identity:
    return Identity.generate()


@pytest.fixture
def file_200k(tmp_path: Path, identity: Identity) -> tuple[Path, bytes]:
    data = random.Random(7).randbytes(200000)  # 3 full chunks + a final chunk of 3392 bytes
    return make_file(tmp_path / "x.age", data, [identity.recipient]), data


def cut(path: Path, offset: int) -> Path:
    blob = path.read_bytes()
    path.write_bytes(blob[:offset])
    return path


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_in_random_sized_writes(tmp_path: Path, identity: Identity, size: int) -> None:
    data = random.Random(size).randbytes(size)
    path = make_file(tmp_path / "x.age", data, [identity.recipient], seed=size)
    result = decrypt(path, [identity])
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert result.plaintext == data
    assert (result.truncated, result.chunks, result.plaintext_bytes) == (False, chunks, size)
    blob = path.read_bytes()
    assert len(blob) == payload_start(blob) + size + 16 * chunks


def test_writer_counts_chunks_and_bytes(tmp_path: Path, identity: Identity) -> None:
    with open_incident_file(tmp_path / "x.age", [identity.recipient]) as writer:
        writer.write(bytearray(CHUNK_SIZE))
        writer.write(memoryview(b"abc"))
        assert (writer.chunks_written, writer.plaintext_bytes, writer.tell()) == (1, CHUNK_SIZE + 3, 65539)
    assert writer.chunks_written == 2
    assert (writer.writable(), writer.seekable(), writer.closed) == (True, False, True)


def test_each_of_several_recipients_decrypts(tmp_path: Path) -> None:
    identities = [Identity.generate() for _ in range(3)]
    data = os.urandom(70000)
    path = make_file(tmp_path / "x.age", data, [i.recipient for i in identities])
    for one in identities:
        assert decrypt(path, [one]).plaintext == data


def test_wrong_identity_is_rejected(file_200k: tuple[Path, bytes]) -> None:
    with pytest.raises(IncidentFormatError, match="no identity matches"):
        decrypt(file_200k[0], [Identity.generate()])


def test_any_matching_identity_among_several_works(file_200k: tuple[Path, bytes], identity: Identity) -> None:
    assert decrypt(file_200k[0], [Identity.generate(), identity]).plaintext == file_200k[1]


def test_decrypt_to_file_streams_into_a_private_new_file(
    tmp_path: Path, file_200k: tuple[Path, bytes], identity: Identity
) -> None:
    dst = tmp_path / "out.bin"
    result = decrypt_to_file(file_200k[0], dst, [identity])
    assert dst.read_bytes() == file_200k[1]
    assert (result.chunks, result.truncated, result.plaintext) == (4, False, None)
    assert stat.S_IMODE(dst.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        decrypt_to_file(file_200k[0], dst, [identity])


def test_decrypt_to_file_removes_the_output_when_a_chunk_is_forged(
    tmp_path: Path, file_200k: tuple[Path, bytes], identity: Identity
) -> None:
    blob = bytearray(file_200k[0].read_bytes())
    blob[payload_start(bytes(blob)) + SEALED_CHUNK_SIZE + 5] ^= 1
    file_200k[0].write_bytes(blob)
    with pytest.raises(IncidentFormatError, match="chunk 1"):
        decrypt_to_file(file_200k[0], tmp_path / "out.bin", [identity])
    assert not (tmp_path / "out.bin").exists()


def test_iter_plaintext_result_is_only_known_at_the_end(
    file_200k: tuple[Path, bytes], identity: Identity
) -> None:
    with open(file_200k[0], "rb") as f:
        reader = iter_plaintext(f, [identity])
        first = next(reader)
        with pytest.raises(RuntimeError):
            reader.result()
        rest = b"".join(reader)
    assert first + rest == file_200k[1]
    assert reader.result().chunks == 4


# --- truncation (the crash case) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks_kept", "extra", "dropped"),
    [(0, 0, 0), (2, 1000, 1000), (3, 0, 0), (3, 16 + 3000, 3016), (1, SEALED_CHUNK_SIZE - 1, 65551)],
)
def test_cut_file_yields_the_complete_chunks_and_reports_truncation(
    file_200k: tuple[Path, bytes], identity: Identity, chunks_kept: int, extra: int, dropped: int
) -> None:
    path, data = file_200k
    start = payload_start(path.read_bytes())
    result = decrypt(cut(path, start + chunks_kept * SEALED_CHUNK_SIZE + extra), [identity])
    assert result.plaintext == data[: chunks_kept * CHUNK_SIZE]
    assert (result.truncated, result.chunks, result.dropped_tail_bytes) == (True, chunks_kept, dropped)


def test_cut_inside_a_full_sized_final_chunk_drops_it(tmp_path: Path, identity: Identity) -> None:
    path = make_file(tmp_path / "x.age", os.urandom(CHUNK_SIZE), [identity.recipient])
    result = decrypt(cut(path, path.stat().st_size - 1), [identity])
    assert (result.plaintext, result.truncated) == (b"", True)
    assert result.dropped_tail_bytes == SEALED_CHUNK_SIZE - 1


def test_forged_final_chunk_reads_as_truncated_not_as_data(
    file_200k: tuple[Path, bytes], identity: Identity
) -> None:
    path, data = file_200k
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(blob)
    result = decrypt(path, [identity])
    assert (result.plaintext, result.truncated) == (data[: 3 * CHUNK_SIZE], True)


@pytest.mark.parametrize("where", [10, 40, 90, -8])
def test_cut_inside_the_header_or_nonce_is_a_format_error(
    file_200k: tuple[Path, bytes], identity: Identity, where: int
) -> None:
    path = file_200k[0]
    offset = where if where > 0 else payload_start(path.read_bytes()) + where
    with pytest.raises(IncidentFormatError, match="ends inside"):
        decrypt(cut(path, offset), [identity])


# --- tampering ---------------------------------------------------------------------------------


def chunks_of(blob: bytes) -> tuple[bytes, list[bytes]]:
    start = payload_start(blob)
    body = blob[start:]
    return blob[:start], [body[i : i + SEALED_CHUNK_SIZE] for i in range(0, len(body), SEALED_CHUNK_SIZE)]


def test_flipped_byte_in_a_middle_chunk_fails(file_200k: tuple[Path, bytes], identity: Identity) -> None:
    head, chunks = chunks_of(file_200k[0].read_bytes())
    chunks[1] = chunks[1][:100] + bytes([chunks[1][100] ^ 0x80]) + chunks[1][101:]
    file_200k[0].write_bytes(head + b"".join(chunks))
    with pytest.raises(IncidentFormatError, match="chunk 1 fails authentication"):
        decrypt(file_200k[0], [identity])


def test_swapped_chunks_fail(file_200k: tuple[Path, bytes], identity: Identity) -> None:
    head, chunks = chunks_of(file_200k[0].read_bytes())
    chunks[0], chunks[1] = chunks[1], chunks[0]
    file_200k[0].write_bytes(head + b"".join(chunks))
    with pytest.raises(IncidentFormatError, match="chunk 0"):
        decrypt(file_200k[0], [identity])


def test_dropped_middle_chunk_fails(file_200k: tuple[Path, bytes], identity: Identity) -> None:
    head, chunks = chunks_of(file_200k[0].read_bytes())
    del chunks[1]
    file_200k[0].write_bytes(head + b"".join(chunks))
    with pytest.raises(IncidentFormatError, match="chunk 1"):
        decrypt(file_200k[0], [identity])


def test_chunk_appended_from_another_file_fails(tmp_path: Path, identity: Identity) -> None:
    path = make_file(tmp_path / "x.age", os.urandom(3 * CHUNK_SIZE), [identity.recipient])
    other = make_file(tmp_path / "other.age", os.urandom(1000), [identity.recipient])
    path.write_bytes(path.read_bytes() + chunks_of(other.read_bytes())[1][0])
    with pytest.raises(IncidentFormatError, match="chunk 2 is final but data follows it"):
        decrypt(path, [identity])


def test_bytes_appended_after_a_short_final_chunk_read_as_a_dropped_tail(
    tmp_path: Path, file_200k: tuple[Path, bytes], identity: Identity
) -> None:
    # Chunk boundaries are positional: the appended bytes merge with the short final chunk into
    # one tail that no longer authenticates, which looks exactly like a torn last write.
    other = make_file(tmp_path / "other.age", os.urandom(1000), [identity.recipient])
    file_200k[0].write_bytes(file_200k[0].read_bytes() + chunks_of(other.read_bytes())[1][0])
    result = decrypt(file_200k[0], [identity])
    assert (result.plaintext, result.truncated) == (file_200k[1][: 3 * CHUNK_SIZE], True)
    assert result.dropped_tail_bytes == 200000 - 3 * CHUNK_SIZE + 16 + 1016


def test_edited_stanza_fails(file_200k: tuple[Path, bytes], identity: Identity) -> None:
    blob = file_200k[0].read_bytes()
    share_at = blob.index(b"-> X25519 ") + 10
    other = b"A" if blob[share_at] != ord("A") else b"B"
    file_200k[0].write_bytes(blob[:share_at] + other + blob[share_at + 1 :])
    with pytest.raises(IncidentFormatError):
        decrypt(file_200k[0], [identity])


def test_added_stanza_breaks_the_header_mac(file_200k: tuple[Path, bytes], identity: Identity) -> None:
    blob = file_200k[0].read_bytes()
    file_200k[0].write_bytes(blob.replace(b"\n--- ", b"\n-> grease x\nAAAA\n--- ", 1))
    with pytest.raises(IncidentFormatError, match="header MAC does not verify"):
        decrypt(file_200k[0], [identity])


def test_edited_mac_fails(file_200k: tuple[Path, bytes], identity: Identity) -> None:
    blob = bytearray(file_200k[0].read_bytes())
    at = blob.index(b"\n--- ") + 5
    blob[at] = ord("A") if blob[at] != ord("A") else ord("B")
    file_200k[0].write_bytes(blob)
    with pytest.raises(IncidentFormatError, match="header MAC"):
        decrypt(file_200k[0], [identity])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"age-encryption.org/v1\n", b"age-encryption.org/v2\n"),
        (b"age-encryption.org/v1\n", b"AGE-ENCRYPTION.ORG/V1\n"),
        (b"-> X25519 ", b"-> X25519  "),
        (b"-> X25519 ", b"->X25519 "),
        (b"\n--- ", b"\n---"),
        (b"\n--- ", b"\n-- "),
        (b"\n--- ", b"\r\n--- "),
    ],
)
def test_malformed_header_is_rejected(
    file_200k: tuple[Path, bytes], identity: Identity, old: bytes, new: bytes
) -> None:
    blob = file_200k[0].read_bytes()
    file_200k[0].write_bytes(blob.replace(old, new, 1))
    with pytest.raises(IncidentFormatError):
        decrypt(file_200k[0], [identity])


def test_padded_or_non_canonical_base64_is_rejected(
    file_200k: tuple[Path, bytes], identity: Identity
) -> None:
    blob = file_200k[0].read_bytes()
    body_at = blob.index(b"\n", blob.index(b"-> X25519")) + 1
    body = blob[body_at : body_at + 43]
    for bad in (body + b"=", body[:42] + bytes([body[42] ^ 1])):  # 43rd char carries 2 unused bits
        file_200k[0].write_bytes(blob[:body_at] + bad + blob[body_at + 43 :])
        with pytest.raises(IncidentFormatError):
            decrypt(file_200k[0], [identity])


class GreaseRecipient:
    """A recipient of an unknown type whose stanza body is exactly 64 base64 columns."""

    def wrap(self, file_key: bytes | bytearray) -> Stanza:
        return Stanza(("example.org/grease", "x"), bytes(48))


def test_unknown_stanza_with_a_full_body_line_is_skipped(tmp_path: Path, identity: Identity) -> None:
    recipients = cast(list[Recipient], [GreaseRecipient(), identity.recipient])
    path = make_file(tmp_path / "x.age", b"payload", recipients)
    assert b"-> example.org/grease x\n" + b"A" * 64 + b"\n\n-> X25519" in path.read_bytes()
    assert decrypt(path, [identity]).plaintext == b"payload"


def test_empty_final_chunk_after_data_is_rejected(tmp_path: Path, identity: Identity) -> None:
    writer = open_incident_file(tmp_path / "x.age", [identity.recipient])
    writer.write(bytes(CHUNK_SIZE))
    writer._seal(last=False)  # forge what the spec forbids: data, then an empty final chunk
    writer.close()
    with pytest.raises(IncidentFormatError, match="chunk 1 is an empty final chunk"):
        decrypt(tmp_path / "x.age", [identity])


def test_non_age_file_is_rejected(tmp_path: Path, identity: Identity) -> None:
    (tmp_path / "x.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(1000))
    with pytest.raises(IncidentFormatError, match="not an age file"):
        decrypt(tmp_path / "x.mkv", [identity])


# --- fsync and storage errors ------------------------------------------------------------------


def test_sealed_chunks_reach_the_disk_before_close(tmp_path: Path, identity: Identity) -> None:
    path = tmp_path / "x.age"
    writer = open_incident_file(path, [identity.recipient])
    header_size = path.stat().st_size
    writer.write(os.urandom(3 * CHUNK_SIZE))
    assert path.stat().st_size == header_size + 2 * SEALED_CHUNK_SIZE  # the 3rd may still be final
    writer.write(b"x")
    assert path.stat().st_size == header_size + 3 * SEALED_CHUNK_SIZE
    result = decrypt(path, [identity])  # what a reader sees after a crash now
    assert (result.chunks, result.truncated) == (3, True)
    writer.close()
    assert decrypt(path, [identity]).plaintext_bytes == 3 * CHUNK_SIZE + 1


def test_header_and_every_write_that_seals_are_fsynced(
    tmp_path: Path, identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    writer = open_incident_file(tmp_path / "x.age", [identity.recipient])
    assert len(synced) == 2  # the header, then the directory entry
    writer.write(b"a" * 1000)
    assert len(synced) == 2
    writer.write(b"a" * CHUNK_SIZE)
    assert len(synced) == 3
    writer.close()
    assert len(synced) == 4


class FullDisk(io.BytesIO):
    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def write(self, data: object) -> int:
        if self.tell() + len(memoryview(data)) > self.capacity:  # type: ignore[arg-type]
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def test_disk_errors_surface_as_storage_error_and_break_the_writer(identity: Identity) -> None:
    writer = AgeWriter(FullDisk(1000), [identity.recipient], fsync=False)
    with pytest.raises(StorageError) as caught:
        writer.write(bytes(CHUNK_SIZE + 1))
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == errno.ENOSPC
    with pytest.raises(StorageError):
        writer.write(b"more")
    writer.close()
    assert writer.closed


def test_header_write_failure_is_a_storage_error(identity: Identity) -> None:
    with pytest.raises(StorageError):
        AgeWriter(FullDisk(10), [identity.recipient], fsync=False)


def test_incident_file_is_private_and_never_overwritten(tmp_path: Path, identity: Identity) -> None:
    path = make_file(tmp_path / "x.age", b"first", [identity.recipient])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(StorageError) as caught:
        open_incident_file(path, [identity.recipient])
    assert isinstance(caught.value.__cause__, FileExistsError)
    assert path.read_bytes() == before


def test_writer_needs_a_recipient() -> None:
    with pytest.raises(ValueError, match="recipient"):
        AgeWriter(io.BytesIO(), [], fsync=False)


def test_close_wipes_the_payload_key_and_refuses_more_writes(identity: Identity) -> None:
    writer = AgeWriter(io.BytesIO(), [identity.recipient], fsync=False)
    writer.write(b"data")
    writer.close()
    assert writer._key == bytearray(32)
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"late")


# --- keys --------------------------------------------------------------------------------------


def test_spec_identity_gives_spec_recipient() -> None:
    identity = Identity.parse(SPEC_IDENTITY)
    assert str(identity.recipient) == SPEC_RECIPIENT
    assert identity.export() == SPEC_IDENTITY
    assert Recipient.parse(SPEC_RECIPIENT) == identity.recipient


def test_identity_repr_hides_the_secret() -> None:
    identity = Identity.parse(SPEC_IDENTITY)
    assert SPEC_IDENTITY not in repr(identity) and SPEC_IDENTITY not in str(identity)
    assert SPEC_RECIPIENT in repr(identity)


@pytest.mark.parametrize(
    "text",
    [SPEC_RECIPIENT.upper(), SPEC_RECIPIENT[:-1] + "q", SPEC_IDENTITY, "age1qqqqqqqqqqqq", "age1" + "X" * 58],
)
def test_bad_recipients_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        Recipient.parse(text)


@pytest.mark.parametrize("text", [SPEC_IDENTITY.lower(), SPEC_IDENTITY[:-1] + "Q", SPEC_RECIPIENT])
def test_bad_identities_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        Identity.parse(text)


@pytest.mark.parametrize("text", ["A12UEL5L", "a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"])
def test_bip173_valid_vectors_decode(text: str) -> None:
    hrp, data = bech32.decode(text)
    assert bech32.encode(hrp, data) == text


@pytest.mark.parametrize("text", ["A1G7SGD8", "10a06t8", "1qzzfhee", "x1b4n0q5v", "li1dgmt3", "a12UEL5L"])
def test_bip173_invalid_vectors_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        bech32.decode(text)


def test_identity_file_round_trips_with_keygen_layout(tmp_path: Path) -> None:
    identity = Identity.generate()
    path = tmp_path / "officer.txt"
    write_identity_file(path, identity)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# created: ")
    assert lines[1:] == [f"# public key: {identity.recipient}", identity.export()]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identity.load(path).recipient == identity.recipient


def test_identity_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "officer.txt"
    write_identity_file(path, Identity.generate())
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        write_identity_file(path, Identity.generate())
    assert path.read_bytes() == before


def test_identity_file_with_comments_and_several_keys(tmp_path: Path) -> None:
    first, second = Identity.generate(), Identity.generate()
    path = tmp_path / "keys.txt"
    path.write_text(f"# two officers\n\n{first.export()}\n  \n# next\n{second.export()}\r\n")
    assert [i.recipient for i in load_identities(path)] == [first.recipient, second.recipient]
    with pytest.raises(ValueError, match="expected one identity"):
        Identity.load(path)


def test_identity_file_with_garbage_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(f"# ok\n{SPEC_IDENTITY}\nAGE-PLUGIN-YUBIKEY-1QQQ\n")
    with pytest.raises(ValueError, match=":3:"):
        load_identities(path)
