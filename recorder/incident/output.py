"""An incident on disk: a Matroska stream (MJPEG + PCM) muxed straight into an age v1 file."""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from recorder.config import RoomConfig, VideoKind
from recorder.durable import ensure_directory, fsync_directory
from recorder.errors import StorageError
from recorder.incident.age_keys import Recipient
from recorder.incident.age_writer import SEALED_CHUNK_SIZE, AgeWriter, open_incident_file
from recorder.incident.matroska import MatroskaMuxer, VideoParams
from recorder.packet import Packet, StreamKind

log = structlog.get_logger()

T0_MARGIN_NS = 100_000_000
"""The file's time 0 lies this long before the first packet, so that an audio block that began
just before the first frame (but was delivered after it) still fits."""


class AgeMatroskaOutput:
    """Plaintext only ever exists in memory: the muxer writes into the age writer, which seals
    64 KiB chunks and fsyncs each as it completes.

    The muxer is created at the first packet: its time 0 comes from that packet, and its frame size
    from it when it is a video frame (else from the config). A packet the muxer refuses (a frame of
    another size, a timestamp going back) is dropped and counted, never fatal to the incident.
    """

    def __init__(self, age: AgeWriter, video: VideoParams | None, audio: bool) -> None:
        self._age = age
        self._video = video
        self._audio = audio
        self._muxer: MatroskaMuxer | None = None
        self.rejected = 0

    def write(self, packet: Packet) -> None:
        """Raises StorageError when the disk fails; drops (and counts) packets the muxer refuses."""
        muxer = self._muxer or self._open_muxer(packet)
        try:
            muxer.write(packet)
        except ValueError as error:
            self.rejected += 1
            if self.rejected == 1 or self.rejected % 100 == 0:
                log.warning(
                    "packet_rejected", stream=packet.stream.value, error=str(error), total=self.rejected
                )

    def close(self) -> dict[str, int]:
        try:
            if self._muxer is not None:
                self._muxer.close()
        finally:
            self._age.close()
        muxer = self._muxer
        return {
            "video_frames": muxer.video_frames if muxer else 0,
            "audio_samples": muxer.audio_samples if muxer else 0,
            "rejected_packets": self.rejected,
            "chunks": self._age.chunks_written,
            "plaintext_bytes": self._age.plaintext_bytes,
        }

    def _open_muxer(self, first: Packet) -> MatroskaMuxer:
        video = self._video
        if video is not None and first.stream is StreamKind.VIDEO and first.width and first.height:
            video = VideoParams(first.width, first.height, video.fps)
        self._muxer = MatroskaMuxer(
            self._age, video=video, audio=self._audio, t0_ns=first.pts_ns - T0_MARGIN_NS
        )
        return self._muxer


PROBE_NAME = ".storage-probe"
"""Written (zeros, one sealed chunk's size), fsynced and removed to learn whether storage works again."""


def probe_storage(directory: Path) -> None:
    """Can an incident be written here again? Raises OSError if not. Holds no media."""
    _ensure_storage(directory)
    path = directory / PROBE_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, bytes(SEALED_CHUNK_SIZE))
        os.fsync(fd)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    fsync_directory(directory)


def _ensure_storage(directory: Path) -> None:
    """A storage directory removed or moved away while the daemon runs (a careless clean-up) is
    created again, so that the room records again at once; the audit log then continues in it after
    a `log_gap` (recorder/audit/log.py). Raises OSError."""
    if ensure_directory(directory):
        log.warning("storage_directory_created_again", directory=str(directory))


def open_incident_output(config: RoomConfig, incident: str) -> tuple[AgeMatroskaOutput, Path]:
    """Create `<storage>/<incident>.age` (0600, O_EXCL) for its recipients. Raises StorageError."""
    path = config.storage.incident_path(incident)
    recipients = [Recipient.parse(text) for text in config.storage.recipients]
    try:
        _ensure_storage(config.storage.directory)
    except OSError as error:
        raise StorageError(
            f"cannot create the storage directory {config.storage.directory}: {error}"
        ) from error
    age = open_incident_file(path, recipients)
    video = None
    if config.video.source is not VideoKind.NONE:
        video = VideoParams(width=config.video.width, height=config.video.height, fps=config.video.fps)
    return AgeMatroskaOutput(age, video, audio=config.audio.active), path
