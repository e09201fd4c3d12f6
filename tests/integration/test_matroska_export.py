"""Incidents as Matroska: pass-through muxing into a write-only stream, probing and export."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from recorder.errors import IncidentFormatError
from recorder.incident.age_keys import Identity, write_identity_file
from recorder.incident.age_writer import open_incident_file
from recorder.incident.export import ExportResult, export, probe
from recorder.incident.matroska import MatroskaMuxer, VideoParams, is_truncated
from recorder.incident.output import T0_MARGIN_NS, AgeMatroskaOutput
from recorder.packet import Packet, StreamKind
from recorder.sources.test_pattern import TestPatternConfig, decode_frame_number, frames_from, has_sync_marker
from recorder.sources.test_tone import TestToneConfig, blocks_from, find_sync_onsets
from tests.support import needs_tools

T0 = 42_000_000_000
SECONDS = 10
PATTERN = TestPatternConfig(width=320, height=240, fps=15.0)
VIDEO = VideoParams(width=320, height=240, fps=15.0)


class WriteOnly:
    """The shape of an age stream writer: write, flush, not seekable; no seek/tell at all."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.data += data
        self.writes += 1
        return len(data)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


@dataclass
class Muxed:
    packets: list[Packet]
    out: WriteOnly
    writes_before_close: int
    bytes_before_close: int
    muxer: MatroskaMuxer
    path: Path


def _packets(seconds: int = SECONDS) -> list[Packet]:
    video = frames_from(PATTERN, T0, int(seconds * PATTERN.fps))
    audio = blocks_from(TestToneConfig(), T0, seconds * 50)
    return sorted([*video, *audio], key=lambda p: (p.pts_ns, p.stream.value))


@pytest.fixture(scope="module")
def muxed(tmp_path_factory: pytest.TempPathFactory) -> Muxed:
    packets = _packets()
    out = WriteOnly()
    muxer = MatroskaMuxer(out, VIDEO, audio=True)
    for packet in packets:
        muxer.write(packet)
    writes, size = out.writes, len(out.data)
    muxer.close()
    path = tmp_path_factory.mktemp("mkv") / "incident.mkv"
    path.write_bytes(out.data)
    return Muxed(packets, out, writes, size, muxer, path)


@pytest.fixture(scope="module")
def mp4(muxed: Muxed, tmp_path_factory: pytest.TempPathFactory) -> tuple[ExportResult, list[float]]:
    progress: list[float] = []
    result = export(muxed.path, tmp_path_factory.mktemp("mp4") / "incident.mp4", on_progress=progress.append)
    return result, progress


def _ffprobe(path: Path) -> dict[str, list[dict[str, Any]]]:
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe not installed")
    cmd = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)]
    result: dict[str, list[dict[str, Any]]] = json.loads(
        subprocess.run(cmd, capture_output=True, check=True).stdout
    )
    return result


def _decoded_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [(float(f.time or 0.0), f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]


def _audio_onsets(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    start = float(frames[0].time or 0.0)
    return [start + t for t in find_sync_onsets(pcm, frames[0].sample_rate)]


def test_ffprobe_sees_one_mjpeg_and_one_pcm_stream_with_all_frames(muxed: Muxed) -> None:
    streams = _ffprobe(muxed.path)["streams"]
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [
        ("video", "mjpeg"),
        ("audio", "pcm_s16le"),
    ]
    assert int(streams[0]["nb_read_frames"]) == SECONDS * 15
    assert (streams[1]["sample_rate"], streams[1]["channels"]) == ("48000", 1)


def test_frame_and_sample_counts_match_what_was_written(muxed: Muxed) -> None:
    info = probe(muxed.path)
    assert (info.video_frames, info.audio_samples) == (SECONDS * 15, SECONDS * 48_000)
    assert (muxed.muxer.video_frames, muxed.muxer.audio_samples) == (SECONDS * 15, SECONDS * 48_000)
    assert (muxed.muxer.first_pts_ns, muxed.muxer.t0_ns) == (T0, T0)
    assert info.duration_s == pytest.approx(SECONDS, abs=0.02)
    assert not info.truncated


def test_decoded_frame_numbers_are_contiguous(muxed: Muxed) -> None:
    numbers = [decode_frame_number(img) for _, img in _decoded_frames(muxed.path)]
    assert numbers == list(range(SECONDS * 15))


def test_jpeg_and_pcm_bytes_pass_through_unchanged(muxed: Muxed) -> None:
    with av.open(str(muxed.path)) as container:
        read = {0: [], 1: []}  # type: dict[int, list[bytes]]
        for packet in container.demux():
            if packet.size:
                read[packet.stream.index].append(bytes(packet))
    assert read[0] == [p.payload for p in muxed.packets if p.stream is StreamKind.VIDEO]
    assert b"".join(read[1]) == b"".join(p.payload for p in muxed.packets if p.stream is StreamKind.AUDIO)


def test_data_reaches_write_as_it_is_muxed_not_at_close(muxed: Muxed) -> None:
    assert muxed.writes_before_close >= SECONDS * 4  # at least every 250 ms
    assert muxed.bytes_before_close >= 0.95 * len(muxed.out.data)
    assert not muxed.out.closed  # the caller owns `out`


def test_audio_still_reaches_write_when_the_video_stalls() -> None:
    out = WriteOnly()
    muxer = MatroskaMuxer(out, VIDEO, audio=True)
    for packet in blocks_from(TestToneConfig(), T0, 150):  # 3 s of audio, no video at all
        muxer.write(packet)
    assert len(out.data) > 1.5 * 96_000  # held back by at most ~1 s (max_interleave_delta)
    muxer.close()


def test_packets_before_t0_or_going_back_are_rejected() -> None:
    first, second = list(frames_from(PATTERN, T0, 2))
    muxer = MatroskaMuxer(WriteOnly(), VIDEO, audio=True, t0_ns=first.pts_ns)
    with pytest.raises(ValueError, match="before t0"):
        muxer.write(Packet(StreamKind.AUDIO, first.pts_ns - 1, 0.0, 0, b"\0\0"))
    muxer.write(second)
    with pytest.raises(ValueError, match="goes back"):
        muxer.write(first)
    muxer.close()
    with pytest.raises(RuntimeError):
        muxer.write(second)


def test_packets_without_a_track_or_with_the_wrong_shape_are_rejected() -> None:
    frame = next(frames_from(PATTERN, T0, 1))
    audio_only = MatroskaMuxer(WriteOnly(), None, audio=True)
    with pytest.raises(ValueError, match="no video track"):
        audio_only.write(frame)
    with pytest.raises(ValueError, match="whole samples"):
        audio_only.write(Packet(StreamKind.AUDIO, T0, 0.0, 0, b"\0\0\0"))
    video_only = MatroskaMuxer(WriteOnly(), VideoParams(640, 480), audio=False)
    with pytest.raises(ValueError, match="320x240"):
        video_only.write(frame)
    with pytest.raises(ValueError):
        MatroskaMuxer(WriteOnly(), None, audio=False)


def test_audio_only_incident_muxes_and_probes(tmp_path: Path) -> None:
    out = WriteOnly()
    with MatroskaMuxer(out, None, audio=True) as muxer:
        for packet in blocks_from(TestToneConfig(), T0, 50):
            muxer.write(packet)
    path = tmp_path / "audio.mkv"
    path.write_bytes(out.data)
    info = probe(path)
    assert [s.codec for s in info.streams] == ["pcm_s16le"]
    assert info.audio_samples == 48_000


def test_export_to_mkv_copies_every_packet(muxed: Muxed, tmp_path: Path) -> None:
    result = export(io.BytesIO(bytes(muxed.out.data)), tmp_path / "copy.mkv")
    assert (result.video_frames, result.audio_samples, result.truncated) == (
        SECONDS * 15,
        SECONDS * 48_000,
        False,
    )
    with av.open(str(result.path)) as container:
        jpegs = [bytes(p) for p in container.demux(video=0) if p.size]
    assert jpegs == [p.payload for p in muxed.packets if p.stream is StreamKind.VIDEO]
    assert not (tmp_path / "copy.mkv.part").exists()


def test_export_to_mp4_is_h264_and_aac_of_the_same_duration(mp4: tuple[ExportResult, list[float]]) -> None:
    result, progress = mp4
    streams = _ffprobe(result.path)["streams"]
    assert [(s["codec_name"], s.get("pix_fmt")) for s in streams] == [("h264", "yuv420p"), ("aac", None)]
    info = probe(result.path)
    assert info.duration_s == pytest.approx(SECONDS, abs=0.1)
    assert info.video_frames == SECONDS * 15
    assert not result.truncated
    assert progress[0] == 0.0
    assert progress[-1] == pytest.approx(SECONDS, abs=0.1)
    assert len(progress) >= SECONDS


def test_mp4_frames_keep_their_numbers(mp4: tuple[ExportResult, list[float]]) -> None:
    frames = _decoded_frames(mp4[0].path)
    assert decode_frame_number(frames[0][1]) == 0
    assert [decode_frame_number(img) for _, img in frames] == list(range(SECONDS * 15))


def test_mp4_keeps_the_colours_of_the_jpeg_frames(
    muxed: Muxed, mp4: tuple[ExportResult, list[float]]
) -> None:
    original = _decoded_frames(muxed.path)[7][1].astype(int)
    shared = _decoded_frames(mp4[0].path)[7][1].astype(int)
    assert np.abs(original - shared).mean() < 2.5  # full-range JPEG mapped to limited-range H.264


def test_mp4_keeps_audio_and_video_in_sync(mp4: tuple[ExportResult, list[float]]) -> None:
    frames = _decoded_frames(mp4[0].path)
    marked = [has_sync_marker(img) for _, img in frames]
    video_marks = [t for i, (t, _) in enumerate(frames) if marked[i] and (i == 0 or not marked[i - 1])]
    audio_marks = _audio_onsets(mp4[0].path)
    assert len(video_marks) == len(audio_marks) == SECONDS
    for video_t, audio_t in zip(video_marks, audio_marks, strict=True):
        assert abs(video_t - audio_t) < 0.040


def test_mp4_keeps_a_late_audio_start_and_an_audio_gap_in_place(tmp_path: Path) -> None:
    video = list(frames_from(PATTERN, T0, 90))
    audio_t0 = T0 + 300_000_000  # audio starts 0.3 s after video; blocks 100-149 (2.3-3.3 s) are lost
    audio = [p for p in blocks_from(TestToneConfig(), audio_t0, 250) if not 100 <= p.seq < 150]
    out = WriteOnly()
    with MatroskaMuxer(out, VIDEO, audio=True, t0_ns=T0) as muxer:
        for packet in sorted([*video, *audio], key=lambda p: p.pts_ns):
            muxer.write(packet)
    src = tmp_path / "gap.mkv"
    src.write_bytes(out.data)
    result = export(src, tmp_path / "gap.mp4")
    onsets = _audio_onsets(result.path)  # decoded audio laid end to end from its first timestamp
    assert onsets == pytest.approx([0.3, 1.3, 3.3, 4.3], abs=0.005)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_truncated_incident_exports_what_demuxes(muxed: Muxed, tmp_path: Path, suffix: str) -> None:
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(muxed.out.data[: len(muxed.out.data) * 6 // 10])
    assert probe(cut).truncated
    result = export(cut, tmp_path / f"cut{suffix}")
    assert result.truncated
    assert 0.5 * SECONDS < result.duration_s < 0.7 * SECONDS
    assert 0.5 * SECONDS * 15 < result.video_frames < 0.7 * SECONDS * 15


def test_complete_file_is_not_reported_truncated(muxed: Muxed) -> None:
    with muxed.path.open("rb") as f:
        assert not is_truncated(f)
        assert f.tell() == 0


def test_export_refuses_unknown_formats_and_unreadable_input(muxed: Muxed, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.avi"):
        export(muxed.path, tmp_path / "x.avi")
    garbage = tmp_path / "garbage.mkv"
    garbage.write_bytes(b"\x00" * 1000)
    with pytest.raises(IncidentFormatError):
        export(garbage, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_mp4_audio_keeps_its_samples_when_timestamps_jitter(tmp_path: Path) -> None:
    """A microphone's steered timestamps jitter by a few ms around the sample count; the MP4's
    audio must stay contiguous (no samples dropped or silence inserted) and keep its markers."""
    import random

    rng = random.Random(7)
    src, dst = tmp_path / "jitter.mkv", tmp_path / "jitter.mp4"
    with src.open("wb") as out:
        muxer = MatroskaMuxer(out, None, True, t0_ns=0)
        for block in blocks_from(TestToneConfig(), 0, 50 * 20):
            pts = block.pts_ns + 10_000_000 + rng.randint(-3_000_000, 3_000_000)
            muxer.write(Packet(block.stream, pts, block.wall_time, block.seq, block.payload))
        muxer.close()
    export(src, dst)
    mkv_onsets, mp4_onsets = _audio_onsets(src), _audio_onsets(dst)
    assert len(mp4_onsets) == len(mkv_onsets) == 20
    assert max(abs(a - b) for a, b in zip(mkv_onsets, mp4_onsets, strict=True)) < 0.005


def _stock_age_incident(tmp_path: Path, packets: list[Packet], video: VideoParams | None) -> Path:
    """An incident written as the daemon writes it, decrypted with the stock `age -d`."""
    identity = Identity.generate()
    write_identity_file(tmp_path / "officer.txt", identity)
    output = AgeMatroskaOutput(
        open_incident_file(tmp_path / "incident.age", [identity.recipient]), video, audio=True
    )
    for packet in packets:
        output.write(packet)
    output.close()
    mkv = tmp_path / "incident.mkv"
    cmd = ["age", "-d", "-i", str(tmp_path / "officer.txt"), "-o", str(mkv), str(tmp_path / "incident.age")]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return mkv


def _ffprobe_durations(path: Path) -> list[float | None]:
    """The file's declared duration, then each stream's, as ffprobe reports them (None: none)."""
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=duration", "-of", "json"]
    found = json.loads(subprocess.run([*cmd, str(path)], capture_output=True, check=True).stdout)
    entries = [found["format"], *found["streams"]]
    return [float(e["duration"]) if "duration" in e else None for e in entries]


@needs_tools("age", "ffprobe")
@pytest.mark.parametrize("with_video", [True, False], ids=["video+audio", "audio-only"])
def test_stock_age_decrypted_incident_declares_no_wrong_duration(tmp_path: Path, with_video: bool) -> None:
    """The Matroska inside an incident is written front to back and cannot hold its duration; a
    player must then see no duration rather than one guessed from the PCM track's bit rate (the
    JPEG frames made a 90 s incident declare 1,020 s)."""
    packets = _packets() if with_video else list(blocks_from(TestToneConfig(), T0, SECONDS * 50))
    mkv = _stock_age_incident(tmp_path, packets, VIDEO if with_video else None)
    span_s = SECONDS + T0_MARGIN_NS / 1e9  # the file's time 0 lies T0_MARGIN_NS before the first packet
    for declared in _ffprobe_durations(mkv):
        assert declared is None or declared == pytest.approx(span_s, rel=0.01)
    assert probe(mkv).video_frames == (SECONDS * 15 if with_video else 0)
