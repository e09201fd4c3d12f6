"""`recorder export`: decrypt an incident with the officer's identity and write a playable file.

Decrypted media only ever lands in files that only the officer can read (0600), and the decrypted
Matroska never outlives the command: it is an unnamed file (O_TMPFILE) where the file system allows,
so it vanishes however the process ends, even on SIGKILL or a power cut; elsewhere it is a hidden
file beside the output. SIGTERM, SIGHUP and Ctrl-C remove it and any partial output.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from recorder.errors import IncidentFormatError, InputError, StorageError
from recorder.exit_codes import signals_raise
from recorder.incident.age_keys import Identity, load_identities
from recorder.incident.age_reader import DecryptResult, iter_plaintext
from recorder.incident.export import EXPORT_SUFFIXES, ExportResult, export
from recorder.messages import _

MAX_IDENTITY_BYTES = 1 << 20
"""An identity file is a few lines; a larger one is not an identity file (and is not read whole)."""


@dataclass(frozen=True)
class IncidentExport:
    source: Path
    decrypted: DecryptResult
    media: ExportResult

    def summary(self) -> str:
        cut = (
            " " + _("(TRUNCATED: the recording was cut short, e.g. by a power loss)")
            if self.truncated
            else ""
        )
        return (
            _("{path}: {seconds:.1f} s, {frames} video frames, {samples} audio samples").format(
                path=self.media.path,
                seconds=self.media.duration_s,
                frames=self.media.video_frames,
                samples=self.media.audio_samples,
            )
            + cut
        )

    @property
    def truncated(self) -> bool:
        return self.decrypted.truncated or self.media.truncated


def export_incident(
    incident: Path, identity_file: Path, output: Path, progress: bool = True, source: BinaryIO | None = None
) -> IncidentExport:
    """Decrypt `incident` (read from `source` when given, e.g. an object streamed from the vault)
    into a private temporary file beside `output`, then remux or transcode.

    Raises InputError (bad output name, not an identity file), IncidentFormatError (not an incident,
    wrong identity, tampered), FileExistsError, OSError (a missing or unreadable file), StorageError
    (the output cannot be written), and Terminated or KeyboardInterrupt after removing partial files.
    """
    if output.suffix.lower() not in EXPORT_SUFFIXES:
        raise InputError(_("{output}: the output must end in .mkv or .mp4").format(output=output))
    if os.path.lexists(output):
        raise FileExistsError(_("{output} already exists").format(output=output))
    identities = load_officer_identities(identity_file)
    with signals_raise(), _private_files(), _plaintext_beside(output) as (out, plaintext):
        try:
            decrypted = _decrypt(source or incident, out, identities)
            media = export(plaintext, output, on_progress=_print_progress if progress else None)
        except IncidentFormatError as error:  # its text may name the unnamed temporary file
            raise IncidentFormatError(
                f"{incident}: {str(error).replace(str(plaintext), 'the plaintext')}"
            ) from None
    if progress:
        print(file=sys.stderr)
    return IncidentExport(incident, decrypted, media)


def load_officer_identities(path: Path) -> list[Identity]:
    """The identities in an age identity file. Raises InputError, OSError (missing, unreadable)."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise InputError(_("{path}: not an age identity file (not a regular file)").format(path=path))
    if info.st_size > MAX_IDENTITY_BYTES:
        raise InputError(
            _("{path}: not an age identity file ({size} bytes)").format(path=path, size=info.st_size)
        )
    try:
        return load_identities(path)
    except UnicodeDecodeError:
        raise InputError(_("{path}: not an age identity file (not UTF-8 text)").format(path=path)) from None
    except ValueError as error:
        raise InputError(_("not an age identity file: {error}").format(error=error)) from None


@contextlib.contextmanager
def _private_files() -> Iterator[None]:
    """Files created within are 0600 (libav creates the output with the process's umask)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@contextlib.contextmanager
def _plaintext_beside(output: Path) -> Iterator[tuple[int, Path]]:
    """An open, empty file for the plaintext and a path that opens it again; removed on exit."""
    directory = output.parent
    try:
        fd = os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
    else:
        try:
            yield fd, Path(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    named = directory / f".{output.name}.decrypted.mkv"
    fd = os.open(named, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        yield fd, named
    finally:
        os.close(fd)
        named.unlink(missing_ok=True)


def _decrypt(incident: Path | BinaryIO, out_fd: int, identities: list[Identity]) -> DecryptResult:
    with contextlib.ExitStack() as stack, os.fdopen(os.dup(out_fd), "wb") as out:
        source = stack.enter_context(open(incident, "rb")) if isinstance(incident, Path) else incident
        reader = iter_plaintext(source, identities)
        for chunk in reader:
            try:
                out.write(chunk)
                out.flush()  # so that closing has nothing left to fail on
            except OSError as error:
                raise StorageError(
                    _("cannot write the decrypted incident: {strerror}").format(strerror=error.strerror)
                ) from None
    return reader.result()


def _print_progress(seconds: float) -> None:
    print(
        "\r    " + _("exported {seconds:6.1f} s of media").format(seconds=seconds),
        end="",
        file=sys.stderr,
        flush=True,
    )
