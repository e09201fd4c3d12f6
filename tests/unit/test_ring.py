"""Encrypted ring: bounds by time and bytes, key rotation and destruction, exact hand-over."""

import pytest

from recorder.packet import Packet, StreamKind
from recorder.ring import EncryptedRing
from recorder.secure_memory import KeyVault

SECOND = 1_000_000_000


def video(seq: int, t_ns: int, size: int = 1000) -> Packet:
    return Packet(StreamKind.VIDEO, t_ns, t_ns / 1e9, seq, bytes([seq % 256]) * size, 64, 48)


def fill(ring: EncryptedRing, seconds: float, fps: int = 10, size: int = 1000) -> int:
    frames = int(seconds * fps)
    for n in range(frames):
        ring.append(video(n, n * SECOND // fps, size), n * SECOND // fps)
    return frames


@pytest.fixture
def vault() -> KeyVault:
    return KeyVault()


def test_ring_keeps_exactly_the_pre_roll_window(vault: KeyVault) -> None:
    ring = EncryptedRing(vault, pre_roll_s=3, max_bytes=10**9, key_rotation_s=1)
    frames = fill(ring, 10)
    now = (frames - 1) * SECOND // 10
    snapshot = ring.hand_over(now)
    packets = list(snapshot)
    assert [p.seq for p in packets] == list(range(frames - 31, frames))
    assert packets[0].pts_ns >= now - 3 * SECOND
    assert snapshot.stats.delivered_s == pytest.approx(3.0)
    assert not snapshot.stats.cut_by_byte_cap


def test_payloads_are_sealed_not_stored_in_clear(vault: KeyVault) -> None:
    ring = EncryptedRing(vault, pre_roll_s=3, max_bytes=10**9, key_rotation_s=1)
    secret = b"CANARY-" * 50
    ring.append(Packet(StreamKind.VIDEO, 0, 0.0, 0, secret), 0)
    entry = ring._entries[0]
    assert secret not in entry.ciphertext
    assert entry.header.payload == b""


def test_byte_cap_is_never_exceeded_and_reported(vault: KeyVault) -> None:
    ring = EncryptedRing(vault, pre_roll_s=30, max_bytes=20_000, key_rotation_s=1)
    for n in range(300):
        ring.append(video(n, n * SECOND // 10), n * SECOND // 10)
        assert ring.size_bytes <= 20_000
    snapshot = ring.hand_over(299 * SECOND // 10)
    assert snapshot.stats.cut_by_byte_cap
    assert snapshot.stats.delivered_s < 30
    assert snapshot.stats.video_frames == len(list(snapshot))


def test_keys_rotate_and_evicted_keys_are_destroyed(vault: KeyVault) -> None:
    ring = EncryptedRing(vault, pre_roll_s=2, max_bytes=10**9, key_rotation_s=0.5)
    fill(ring, 20)
    # 2 s of pre-roll with 0.5 s epochs: at most 5 keys can still be needed (+1 current).
    assert ring.live_keys() <= 6
    assert vault.slots_in_use == ring.live_keys()


def test_destroyed_key_cannot_open_its_packets(vault: KeyVault) -> None:
    ring = EncryptedRing(vault, pre_roll_s=1, max_bytes=10**9, key_rotation_s=0.5)
    ring.append(video(0, 0), 0)
    old = ring._entries[0]
    fill_from = 1
    for n in range(fill_from, 40):
        ring.append(video(n, n * SECOND // 10), n * SECOND // 10)
    assert not old.key.alive
    with pytest.raises(AssertionError):
        old.key.open(old)


def test_hand_over_empties_ring_and_wipes_keys_after_reading(vault: KeyVault) -> None:
    ring = EncryptedRing(vault, pre_roll_s=3, max_bytes=10**9, key_rotation_s=1)
    fill(ring, 5)
    snapshot = ring.hand_over(5 * SECOND)
    assert len(ring) == 0
    list(snapshot)
    assert vault.slots_in_use == 0


def test_zero_pre_roll_buffers_nothing(vault: KeyVault) -> None:
    ring = EncryptedRing(vault, pre_roll_s=0, max_bytes=10**9, key_rotation_s=1)
    fill(ring, 2)
    assert len(ring) == 0 and vault.slots_in_use == 0


def test_tampered_ciphertext_is_refused(vault: KeyVault) -> None:
    from cryptography.exceptions import InvalidTag

    ring = EncryptedRing(vault, pre_roll_s=3, max_bytes=10**9, key_rotation_s=1)
    ring.append(video(0, 0), 0)
    entry = ring._entries[0]
    forged = type(entry)(
        entry.header, entry.key, entry.nonce, bytes([entry.ciphertext[0] ^ 1]) + entry.ciphertext[1:]
    )
    with pytest.raises(InvalidTag):
        entry.key.open(forged)
