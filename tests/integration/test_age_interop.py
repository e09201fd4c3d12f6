"""Interop with the stock `age` 1.x binaries: files cross both ways and cut files are refused by age."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from recorder.errors import IncidentFormatError
from recorder.incident.age_keys import Identity, Recipient, load_identities, write_identity_file
from recorder.incident.age_reader import decrypt
from recorder.incident.age_writer import CHUNK_SIZE, SEALED_CHUNK_SIZE, open_incident_file
from tests.support import needs_tools

pytestmark = needs_tools("age", "age-keygen")


def run(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(a) for a in args], input=stdin, capture_output=True, timeout=60, check=False)


def keygen(path: Path) -> Path:
    assert run("age-keygen", "-o", path).returncode == 0
    return path


def stock_recipient(identity_file: Path) -> str:
    out = run("age-keygen", "-y", identity_file)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode().strip()


def write_ours(path: Path, data: bytes, recipients: list[Recipient]) -> Path:
    rng, pos = random.Random(len(data)), 0
    with open_incident_file(path, recipients) as writer:
        while pos < len(data):
            step = rng.randint(1, 90000)
            writer.write(data[pos : pos + step])
            pos += step
    return path


def payload_start(blob: bytes) -> int:
    return blob.index(b"\n", blob.index(b"\n--- ") + 1) + 1 + 16


@pytest.mark.parametrize("size", [0, 1, 65536, 200000])
def test_stock_age_decrypts_our_file(tmp_path: Path, size: int) -> None:
    key = keygen(tmp_path / "officer.txt")
    data = os.urandom(size)
    path = write_ours(tmp_path / "x.age", data, [Recipient.parse(stock_recipient(key))])
    out = run("age", "-d", "-i", key, path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == data


@pytest.mark.parametrize("size", [0, 1, 65536, 200000])
def test_we_decrypt_stock_age_file(tmp_path: Path, size: int) -> None:
    key = keygen(tmp_path / "officer.txt")
    data = os.urandom(size)
    made = run("age", "-r", stock_recipient(key), "-o", tmp_path / "x.age", stdin=data)
    assert made.returncode == 0, made.stderr
    result = decrypt(tmp_path / "x.age", load_identities(key))
    assert (result.plaintext, result.truncated) == (data, False)


def test_our_identity_file_works_with_stock_age(tmp_path: Path) -> None:
    identity = Identity.generate()
    write_identity_file(tmp_path / "officer.txt", identity)
    assert stock_recipient(tmp_path / "officer.txt") == str(identity.recipient)
    made = run("age", "-r", str(identity.recipient), "-o", tmp_path / "x.age", stdin=b"hello officer")
    assert made.returncode == 0, made.stderr
    out = run("age", "-d", "-i", tmp_path / "officer.txt", tmp_path / "x.age")
    assert (out.returncode, out.stdout) == (0, b"hello officer")


def test_we_parse_age_keygen_output_to_the_same_recipient(tmp_path: Path) -> None:
    key = keygen(tmp_path / "officer.txt")
    assert str(Identity.load(key).recipient) == stock_recipient(key)


def test_each_of_several_recipients_decrypts_with_stock_age(tmp_path: Path) -> None:
    keys = [keygen(tmp_path / f"officer{i}.txt") for i in range(3)]
    data = os.urandom(100000)
    path = write_ours(tmp_path / "x.age", data, [Recipient.parse(stock_recipient(k)) for k in keys])
    for key in keys:
        out = run("age", "-d", "-i", key, path)
        assert (out.returncode, out.stdout) == (0, data), out.stderr


def test_stock_multi_recipient_file_decrypts_with_each_of_our_identities(tmp_path: Path) -> None:
    identities = [Identity.generate() for _ in range(2)]
    args = [a for i in identities for a in ("-r", str(i.recipient))]
    made = run("age", *args, "-o", tmp_path / "x.age", stdin=b"both")
    assert made.returncode == 0, made.stderr
    for identity in identities:
        assert decrypt(tmp_path / "x.age", [identity]).plaintext == b"both"


@pytest.mark.parametrize(("chunks_kept", "extra"), [(1, 0), (2, 0), (1, 500), (3, 100)])
def test_cut_file_is_refused_by_stock_age_but_recovered_by_us(
    tmp_path: Path, chunks_kept: int, extra: int
) -> None:
    key = keygen(tmp_path / "officer.txt")
    data = os.urandom(200000)
    path = write_ours(tmp_path / "x.age", data, [Recipient.parse(stock_recipient(key))])
    blob = path.read_bytes()
    path.write_bytes(blob[: payload_start(blob) + chunks_kept * SEALED_CHUNK_SIZE + extra])
    assert run("age", "-d", "-i", key, path).returncode != 0
    result = decrypt(path, load_identities(key))
    assert (result.plaintext, result.truncated) == (data[: chunks_kept * CHUNK_SIZE], True)


def test_stock_age_refuses_a_forged_middle_chunk_as_we_do(tmp_path: Path) -> None:
    key = keygen(tmp_path / "officer.txt")
    path = write_ours(tmp_path / "x.age", os.urandom(200000), [Recipient.parse(stock_recipient(key))])
    blob = bytearray(path.read_bytes())
    blob[payload_start(bytes(blob)) + SEALED_CHUNK_SIZE + 7] ^= 1
    path.write_bytes(blob)
    assert run("age", "-d", "-i", key, path).returncode != 0
    with pytest.raises(IncidentFormatError, match="chunk 1"):
        decrypt(path, load_identities(key))


def test_wrong_identity_is_refused_by_both(tmp_path: Path) -> None:
    key, other = keygen(tmp_path / "officer.txt"), keygen(tmp_path / "other.txt")
    path = write_ours(tmp_path / "x.age", b"secret", [Recipient.parse(stock_recipient(key))])
    assert run("age", "-d", "-i", other, path).returncode != 0
    with pytest.raises(IncidentFormatError, match="no identity matches"):
        decrypt(path, load_identities(other))
