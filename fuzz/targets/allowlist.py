"""The allowlist (`recorder.control.allowlist.load_allowlist`): a directory of enrolled clients' key
files, their names and contents as anyone with write access to it (a careless technician) leaves them.

Contract: loading never raises (a file it cannot use is logged and skipped); every key it returns is
a CURVE public key (40 characters of Z85, 32 bytes) and every name a printable file stem."""

from __future__ import annotations

import os

import zmq

from fuzz.contract import expect, fresh_dir, silence_logs
from recorder.control.allowlist import load_allowlist

SURFACE = "key files in authorized_clients/ → control.allowlist.load_allowlist"
FILE_BREAK = b"\n==file==\n"
NAME_BREAK = b"\n==name==\n"


def one_input(data: bytes) -> None:
    silence_logs()
    directory = fresh_dir("authorized_clients")
    for number, part in enumerate(data.split(FILE_BREAK)[:4]):
        name, _, content = part.partition(NAME_BREAK) if NAME_BREAK in part else (b"", b"", part)
        stem = os.fsdecode(name.replace(b"/", b"_").replace(b"\0", b"_")[:200]) or f"client-{number}"
        (directory / f"{stem}.key").write_bytes(content)
    names = load_allowlist(directory)
    for key, stem in names.items():
        expect(len(key) == 40 and len(zmq.utils.z85.decode(key)) == 32, f"{key!r} is not a public key")
        expect(stem.isprintable() and bool(stem), f"{stem!r} is not a printable name")


def seeds() -> list[bytes]:
    public, secret = zmq.curve_keypair()
    public_file = (
        b'#   ZeroMQ CURVE Public Certificate\nmetadata\ncurve\n    public-key = "' + public + b'"\n'
    )
    secret_file = public_file.replace(b"Public", b"**Secret**") + b'    secret-key = "' + secret + b'"\n'
    return [
        b"desk-1" + NAME_BREAK + public_file,
        b"desk-1" + NAME_BREAK + public_file + FILE_BREAK + b"gpio" + NAME_BREAK + secret_file,
        b"caf\xc3\xa9" + NAME_BREAK + public_file,
        b"\xff\xfe" + NAME_BREAK + public_file,
    ]
