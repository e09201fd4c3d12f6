"""A real camera and microphone with shared markers: JPEG bytes pass through unchanged, A/V within 40 ms.

Our own HTTP MJPEG server sends test-pattern frames (frame number, white square during the first
frame of every second) and, on the same schedule, writes the test tone (1 kHz burst at the start of
every second) into a PulseAudio pipe source. The daemon captures both through OpenCV and
sounddevice like any camera and microphone.
"""

from __future__ import annotations

import bisect
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from recorder.demo import set_up_room
from recorder.incident.export_incident import export_incident
from recorder.sources.test_pattern import has_sync_marker
from recorder.sources.test_tone import find_sync_onsets
from tests.integration.media_servers import (
    Demuxed,
    FifoTone,
    MarkerClock,
    MjpegServer,
    PulseAudio,
    configure_media,
    decoded_markers,
    decrypt_incident,
    demux,
    free_port,
    wait_for_log,
)
from tests.support import needs_tools, record_incident, start_daemon

PRE_ROLL_S = 2.0
RECORD_S = 4.0
MAX_AV_OFFSET_MS = 40

pytestmark = needs_tools("pulseaudio", "pactl", "age")


@dataclass
class Recorded:
    media: Demuxed
    served: dict[bytes, int]
    log: list[dict[str, object]]
    exported: Path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    root = tmp_path_factory.mktemp("passthrough_av")
    pulse = PulseAudio(root / "pulse", sine_hz=None, fifo=root / "pulse" / "tone.fifo")
    pulse.start()
    clock = MarkerClock()
    tone, camera = FifoTone(pulse.fifo, clock), MjpegServer(free_port(), clock)  # type: ignore[arg-type]
    tone.start()
    camera.start()
    room = set_up_room(root / "room", pre_roll_s=PRE_ROLL_S, post_roll_s=0.5)
    video = f'source = "camera"\ndevice = "{camera.url}"\nwidth = 640\nheight = 360'
    configure_media(room.config, video=video, audio='source = "microphone"')
    try:
        daemon = start_daemon(room, extra_env=pulse.env)
        try:
            wait_for_log(daemon.log_text, "source_up", 2)
            time.sleep(PRE_ROLL_S + 0.5)
            incident = record_incident(daemon, RECORD_S)
        finally:
            assert daemon.stop() == 0
    finally:
        camera.stop()
        tone.stop()
        pulse.stop()
    mkv = decrypt_incident(daemon.state_dir, incident, room.officer_identity, root)
    log = [json.loads(line) for line in daemon.log_text().splitlines() if line.startswith("{")]
    exported = root / "exported.mp4"
    export_incident(daemon.state_dir / f"{incident}.age", room.officer_identity, exported, progress=False)
    return Recorded(demux(mkv), dict(camera.served), log, exported)


def test_stored_jpegs_are_byte_for_byte_the_served_ones(recorded: Recorded) -> None:
    frames = [jpeg for _, jpeg in recorded.media.video]
    assert len(frames) >= (PRE_ROLL_S + RECORD_S) * 15 * 0.9
    assert all(jpeg in recorded.served for jpeg in frames)
    numbers = [recorded.served[jpeg] for jpeg in frames]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def _audio_onsets_ms(media: Demuxed) -> list[float]:
    """Marker onsets on the file's time axis, each placed by the timestamp of the block holding it."""
    starts = np.cumsum([0] + [samples.size for _, samples in media.audio])
    onsets = []
    for onset_s in find_sync_onsets(media.pcm()):
        sample = round(onset_s * 48_000)
        block = bisect.bisect_right(starts, sample) - 1
        onsets.append(media.audio[block][0] + (sample - starts[block]) / 48)
    return onsets


def test_audio_and_video_markers_line_up_within_40_ms(recorded: Recorded) -> None:
    audio = recorded.media.audio
    audio_start, audio_end = audio[0][0], audio[-1][0]
    video_markers = [
        pts
        for pts, jpeg in recorded.media.video
        if audio_start + 100 <= pts <= audio_end - 100 and has_sync_marker(jpeg)
    ]
    audio_markers = _audio_onsets_ms(recorded.media)
    offsets = [min(audio_markers, key=lambda a: abs(a - v)) - v for v in video_markers]
    assert len(offsets) >= PRE_ROLL_S + RECORD_S - 1
    assert max(abs(o) for o in offsets) <= MAX_AV_OFFSET_MS, offsets


def _paired_offsets(video: list[float], audio: list[float]) -> list[float]:
    inside = [v for v in video if audio and audio[0] - 500 <= v <= audio[-1] + 500]
    return [min(audio, key=lambda a: abs(a - v)) - v for v in inside]


def test_the_exported_mp4_keeps_the_markers_within_40_ms(recorded: Recorded) -> None:
    video, audio = decoded_markers(recorded.exported)
    offsets = _paired_offsets(video, audio)
    assert len(offsets) >= PRE_ROLL_S + RECORD_S - 2
    assert max(abs(o) for o in offsets) <= MAX_AV_OFFSET_MS, offsets


def test_microphone_was_stamped_with_its_adc_time(recorded: Recorded) -> None:
    modes = [e["mode"] for e in recorded.log if e.get("event") == "audio_timestamps_mode"]
    assert modes == ["adc"]
