"""Builds the configured sources; the only place that chooses between test sources and devices."""

from __future__ import annotations

from recorder.clock import Clock
from recorder.config import AudioKind, RoomConfig, VideoKind
from recorder.sources.base import MediaSource, StatusSink
from recorder.sources.test_pattern import TestPatternConfig, TestPatternSource
from recorder.sources.test_tone import TestToneConfig, TestToneSource


def build_sources(config: RoomConfig, clock: Clock, status: StatusSink) -> list[MediaSource]:
    """Sources are constructed here but not started, and no device is opened yet: a camera or
    microphone is opened on its own thread, so a missing device degrades the room instead of
    stopping the daemon. Each source reports failure and recovery through `status` (the room audits
    it and publishes a degraded state). The device modules are imported only when configured, so a
    room without a microphone never loads PortAudio."""
    sources: list[MediaSource] = []
    video = config.video
    if video.source is VideoKind.TEST_PATTERN:
        sources.append(
            TestPatternSource(
                TestPatternConfig(
                    width=video.width, height=video.height, fps=video.fps, jpeg_quality=video.jpeg_quality
                ),
                clock,
                status=status,
            )
        )
    elif video.source is VideoKind.CAMERA:
        from recorder.sources.camera import CameraSource

        sources.append(CameraSource(video, clock, status=status))
    audio = config.audio
    if audio.active and audio.source is AudioKind.TEST_TONE:
        sources.append(TestToneSource(TestToneConfig(), clock, status=status))
    elif audio.active and audio.source is AudioKind.MICROPHONE:
        from recorder.sources.microphone import MicrophoneSource

        sources.append(MicrophoneSource(config.audio, clock, status=status))
    return sources
