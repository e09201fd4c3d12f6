"""`recorder export`: decrypt an incident with the officer's identity and write a playable file."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from recorder.errors import IncidentFormatError
from recorder.incident.age_keys import load_identities
from recorder.incident.age_reader import DecryptResult, decrypt_to_file
from recorder.incident.export import EXPORT_SUFFIXES, ExportResult, export


@dataclass(frozen=True)
class IncidentExport:
    source: Path
    decrypted: DecryptResult
    media: ExportResult

    def summary(self) -> str:
        cut = " (TRUNCATED: the recording was cut short, e.g. by a power loss)" if self.truncated else ""
        return (
            f"{self.media.path}: {self.media.duration_s:.1f} s, {self.media.video_frames} video frames, "
            f"{self.media.audio_samples} audio samples{cut}"
        )

    @property
    def truncated(self) -> bool:
        return self.decrypted.truncated or self.media.truncated


def export_incident(
    incident: Path, identity_file: Path, output: Path, progress: bool = True
) -> IncidentExport:
    """Decrypt `incident` into a private temporary file beside `output`, then remux or transcode.

    Raises IncidentFormatError (not an incident, wrong identity, tampered), FileExistsError.
    """
    if output.suffix.lower() not in EXPORT_SUFFIXES:
        raise IncidentFormatError(f"{output}: the output must end in .mkv or .mp4")
    if output.exists():
        raise FileExistsError(f"{output} already exists")
    identities = load_identities(identity_file)
    plaintext = output.with_name(f".{output.name}.decrypted.mkv")
    try:
        decrypted = decrypt_to_file(incident, plaintext, identities)
        on_progress = _print_progress if progress else None
        media = export(plaintext, output, on_progress=on_progress)
    finally:
        if plaintext.exists():
            os.unlink(plaintext)
    if progress:
        print(file=sys.stderr)
    return IncidentExport(incident, decrypted, media)


def _print_progress(seconds: float) -> None:
    print(f"\r    exported {seconds:6.1f} s of media", end="", file=sys.stderr, flush=True)
