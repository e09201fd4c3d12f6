"""An incident on disk: a Matroska stream (MJPEG + PCM) muxed straight into an age v1 file."""

from __future__ import annotations

from pathlib import Path

from recorder.config import AudioKind, RoomConfig, VideoKind
from recorder.errors import StorageError
from recorder.incident.age_keys import Recipient
from recorder.incident.age_writer import AgeWriter, open_incident_file
from recorder.incident.matroska import MatroskaMuxer, VideoParams
from recorder.packet import Packet


class AgeMatroskaOutput:
    """Plaintext only ever exists in memory: the muxer writes into the age writer, which seals
    64 KiB chunks and fsyncs each as it completes."""

    def __init__(self, age: AgeWriter, muxer: MatroskaMuxer) -> None:
        self._age = age
        self._muxer = muxer

    def write(self, packet: Packet) -> None:
        self._muxer.write(packet)

    def close(self) -> dict[str, int]:
        try:
            self._muxer.close()
        finally:
            self._age.close()
        return {
            "video_frames": self._muxer.video_frames,
            "audio_samples": self._muxer.audio_samples,
            "chunks": self._age.chunks_written,
            "plaintext_bytes": self._age.plaintext_bytes,
        }


def open_incident_output(config: RoomConfig, incident: str) -> tuple[AgeMatroskaOutput, Path]:
    """Create `<storage>/<incident>.age` (0600, O_EXCL) and its muxer. Raises StorageError."""
    path = config.storage.directory / f"{incident}.age"
    recipients = [Recipient.parse(text) for text in config.storage.recipients]
    try:
        age = open_incident_file(path, recipients)
    except OSError as error:
        raise StorageError(f"{path}: {error.strerror}") from error
    video = (
        VideoParams(width=config.video.width, height=config.video.height)
        if config.video.source is not VideoKind.NONE
        else None
    )
    muxer = MatroskaMuxer(age, video=video, audio=config.audio.source is not AudioKind.NONE)
    return AgeMatroskaOutput(age, muxer), path
