"""The unit of media that flows from a source through the ring to an incident."""

from __future__ import annotations

import enum
from dataclasses import dataclass

AUDIO_SAMPLE_RATE = 48_000
AUDIO_CHANNELS = 1
AUDIO_SAMPLE_BYTES = 2  # signed 16-bit little-endian PCM


def samples_to_ns(samples: int) -> int:
    """Duration of `samples` audio samples at AUDIO_SAMPLE_RATE, in ns (rounded down)."""
    return samples * 1_000_000_000 // AUDIO_SAMPLE_RATE


class StreamKind(enum.Enum):
    VIDEO = "video"
    AUDIO = "audio"


@dataclass(frozen=True, slots=True)
class Packet:
    """One JPEG video frame or one block of s16le mono PCM audio.

    `pts_ns` is the capture time of the frame (or of the block's first sample) on the daemon's
    single monotonic clock; `wall_time` is the same instant in Unix seconds, for humans.
    `seq` counts packets per stream from 0 and lets readers spot gaps.
    """

    stream: StreamKind
    pts_ns: int
    wall_time: float
    seq: int
    payload: bytes
    width: int = 0
    height: int = 0

    @property
    def audio_samples(self) -> int:
        """Number of PCM samples in an audio packet (0 for video)."""
        if self.stream is not StreamKind.AUDIO:
            return 0
        return len(self.payload) // (AUDIO_SAMPLE_BYTES * AUDIO_CHANNELS)

    @property
    def duration_ns(self) -> int:
        """Duration of an audio block; video frames report 0 (their duration is the frame interval)."""
        return samples_to_ns(self.audio_samples)
