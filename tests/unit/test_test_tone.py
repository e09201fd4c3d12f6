"""The built-in test tone: block format, exact timestamps, 1 kHz sync bursts and their detection."""

from __future__ import annotations

import time

import numpy as np
import pytest

from recorder.clock import SystemClock
from recorder.packet import AUDIO_SAMPLE_RATE, Packet, StreamKind
from recorder.sources.test_tone import (
    TestToneConfig,
    TestToneSource,
    blocks_from,
    find_sync_onsets,
    render_block,
)

CONFIG = TestToneConfig()


def _pcm(packets: list[Packet]) -> np.ndarray:
    return np.concatenate([np.frombuffer(p.payload, dtype="<i2") for p in packets])


def test_blocks_are_20_ms_of_mono_s16() -> None:
    packets = list(blocks_from(CONFIG, t0_ns=0, count=3))
    assert [len(p.payload) for p in packets] == [1920, 1920, 1920]
    assert [p.audio_samples for p in packets] == [960, 960, 960]
    assert [p.seq for p in packets] == [0, 1, 2]
    assert all(p.stream is StreamKind.AUDIO for p in packets)


def test_pts_step_is_exactly_20_ms_even_after_hours() -> None:
    t0 = 123_456_789
    late = list(blocks_from(CONFIG, t0_ns=t0, count=3, first=180_000 * 3))  # after three hours
    early = list(blocks_from(CONFIG, t0_ns=t0, count=100))
    for packets in (early, late):
        assert set(np.diff([p.pts_ns for p in packets]).tolist()) == {20_000_000}
    assert late[0].pts_ns == t0 + 3 * 3600 * 1_000_000_000


def test_level_is_minus_12_dbfs() -> None:
    peak = int(np.abs(render_block(CONFIG, 10)).max())
    assert peak == pytest.approx(32767 * 10 ** (-12 / 20), abs=2)


def test_onsets_found_at_each_second_within_5_ms() -> None:
    pcm = _pcm(list(blocks_from(CONFIG, t0_ns=0, count=150)))
    onsets = find_sync_onsets(pcm, AUDIO_SAMPLE_RATE)
    assert len(onsets) == 3
    for found, expected in zip(onsets, [0.0, 1.0, 2.0], strict=True):
        assert abs(found - expected) < 0.005


def test_onsets_found_in_noisy_audio_starting_mid_second() -> None:
    pcm = _pcm(list(blocks_from(CONFIG, t0_ns=0, count=150, first=20)))  # starts at 0.4 s
    noisy = pcm / 32768 + np.random.default_rng(1).normal(0, 0.03, pcm.size)
    onsets = find_sync_onsets(noisy, AUDIO_SAMPLE_RATE)
    assert len(onsets) == 3
    for found, expected in zip(onsets, [0.6, 1.6, 2.6], strict=True):
        assert abs(found - expected) < 0.005


def test_no_onsets_in_silence_or_in_the_plain_tone() -> None:
    assert find_sync_onsets(np.zeros(AUDIO_SAMPLE_RATE, dtype=np.int16)) == []
    plain = _pcm(list(blocks_from(CONFIG, t0_ns=0, count=40, first=5)))  # 0.1 s .. 0.9 s
    assert find_sync_onsets(plain) == []
    assert find_sync_onsets(np.zeros(10, dtype=np.int16)) == []


def test_thread_paces_blocks_by_real_time_with_exact_pts() -> None:
    clock = SystemClock()
    source = TestToneSource(CONFIG, clock)
    got: list[Packet] = []
    started = clock.monotonic_ns()
    source.start(got.append, t0_ns=started)
    time.sleep(0.5)
    source.stop()
    assert 22 <= len(got) <= 26
    assert [p.seq for p in got] == list(range(len(got)))
    assert [p.pts_ns - started for p in got] == [k * 20_000_000 for k in range(len(got))]


def test_thread_catches_up_when_t0_is_in_the_past() -> None:
    clock = SystemClock()
    source = TestToneSource(CONFIG, clock)
    got: list[Packet] = []
    source.start(got.append, t0_ns=clock.monotonic_ns() - 200_000_000)
    time.sleep(0.1)
    source.stop()
    assert len(got) >= 10
    assert [p.seq for p in got] == list(range(len(got)))


@pytest.mark.parametrize("block_samples", [960, 700, 48_000])
def test_blocks_cut_from_the_cached_seconds_equal_the_rendered_blocks(block_samples: int) -> None:
    config = TestToneConfig(block_samples=block_samples)
    firsts = [0, 48_000 // block_samples - 1, 3 * 48_000 // block_samples + 1]  # incl. across a second
    for first in firsts:
        for packet in blocks_from(config, t0_ns=0, count=3, first=first):
            assert packet.payload == render_block(config, packet.seq).tobytes()
