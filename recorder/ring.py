"""The pre-roll: an in-memory ring of packets, each sealed under a short-lived epoch key.

Bounded by age (`pre_roll_s`) and by bytes, whichever is hit first. Keys rotate every
`key_rotation_s`; a key is wiped as soon as no buffered packet uses it, so an evicted packet's
ciphertext, wherever stale copies of it linger in memory, can no longer be decrypted.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from recorder.packet import Packet, StreamKind
from recorder.secure_memory import KEY_BYTES, KeySlot, KeyVault

_AAD = struct.Struct(">BqdqII")  # stream, pts_ns, wall_time, seq, width, height


def _aad(packet: Packet) -> bytes:
    stream = 0 if packet.stream is StreamKind.VIDEO else 1
    return _AAD.pack(stream, packet.pts_ns, packet.wall_time, packet.seq, packet.width, packet.height)


class EpochKey:
    """One rotation period's key. Lives in a locked slot; `destroy()` wipes it and drops the cipher."""

    def __init__(self, vault: KeyVault, epoch: int, created_ns: int) -> None:
        self.epoch = epoch
        self.created_ns = created_ns
        self.users = 0
        self._slot: KeySlot | None = vault.allocate()
        assert self._slot.view is not None
        self._slot.view[:] = os.urandom(KEY_BYTES)
        self._aead: ChaCha20Poly1305 | None = ChaCha20Poly1305(self._slot.view)
        self._counter = 0

    @property
    def alive(self) -> bool:
        return self._aead is not None

    def seal(self, packet: Packet) -> tuple[bytes, bytes]:
        assert self._aead is not None, "sealing with a destroyed key"
        self._counter += 1
        nonce = self._counter.to_bytes(12, "big")
        return nonce, self._aead.encrypt(nonce, packet.payload, _aad(packet))

    def open(self, sealed: SealedPacket) -> bytes:
        assert self._aead is not None, "opening with a destroyed key"
        return self._aead.decrypt(sealed.nonce, sealed.ciphertext, _aad(sealed.header))

    def destroy(self) -> None:
        self._aead = None
        if self._slot is not None:
            self._slot.wipe()
            self._slot = None


@dataclass(frozen=True, slots=True)
class SealedPacket:
    header: Packet  # the packet with an empty payload: timing and sequence stay in the clear
    key: EpochKey
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class PreRollStats:
    """What the ring delivered at hand-over, for the incident's first audit entry."""

    configured_s: float
    delivered_s: float
    video_frames: int
    audio_samples: int
    cut_by_byte_cap: bool


class EncryptedRing:
    """Not thread-safe: the PacketRouter's lock serialises every call (sources and control thread)."""

    def __init__(self, vault: KeyVault, pre_roll_s: float, max_bytes: int, key_rotation_s: float) -> None:
        self._vault = vault
        self._pre_roll_ns = int(pre_roll_s * 1e9)
        self._max_bytes = max_bytes
        self._rotation_ns = int(key_rotation_s * 1e9)
        self._entries: deque[SealedPacket] = deque()
        self._bytes = 0
        self._epoch = 0
        self._current: EpochKey | None = None
        self._last_byte_eviction_ns = -(2**62)
        self.evicted_packets = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def live_keys(self) -> int:
        """Keys not yet destroyed (the current one plus any still used by buffered packets)."""
        keys = {id(entry.key) for entry in self._entries if entry.key.alive}
        if self._current is not None:
            keys.add(id(self._current))
        return len(keys)

    def append(self, packet: Packet, now_ns: int) -> None:
        if self._pre_roll_ns == 0:
            return
        key = self._key_for(now_ns)
        nonce, ciphertext = key.seal(packet)
        header = Packet(
            packet.stream, packet.pts_ns, packet.wall_time, packet.seq, b"", packet.width, packet.height
        )
        self._entries.append(SealedPacket(header, key, nonce, ciphertext))
        key.users += 1
        self._bytes += len(ciphertext)
        self.evict(now_ns)

    def evict(self, now_ns: int) -> None:
        """Drop packets older than the pre-roll, then oldest-first until under the byte cap."""
        oldest_allowed = now_ns - self._pre_roll_ns
        while self._entries and self._entries[0].header.pts_ns < oldest_allowed:
            self._pop_oldest()
        while self._entries and self._bytes > self._max_bytes:
            self._last_byte_eviction_ns = self._entries[0].header.pts_ns
            self._pop_oldest()
        if self._current is not None and now_ns - self._current.created_ns >= self._rotation_ns:
            self._retire_current()

    def hand_over(self, now_ns: int) -> RingSnapshot:
        """Move every buffered packet (and its keys) into a snapshot; the ring starts empty again."""
        self.evict(now_ns)
        entries, self._entries = self._entries, deque()
        self._bytes = 0
        current, self._current = self._current, None
        stats = self._stats(entries, now_ns)
        self._last_byte_eviction_ns = -(2**62)  # the next pre-roll starts empty: not cut by the cap
        return RingSnapshot(entries, current, stats)

    def clear(self) -> None:
        """Destroy everything (daemon shutdown)."""
        for entry in self._entries:
            entry.key.destroy()
        self._entries.clear()
        self._bytes = 0
        if self._current is not None:
            self._current.destroy()
            self._current = None

    def _key_for(self, now_ns: int) -> EpochKey:
        if self._current is None:
            self._epoch += 1
            self._current = EpochKey(self._vault, self._epoch, now_ns)
        return self._current

    def _retire_current(self) -> None:
        assert self._current is not None
        if self._current.users == 0:
            self._current.destroy()
        self._current = None

    def _pop_oldest(self) -> None:
        entry = self._entries.popleft()
        self._bytes -= len(entry.ciphertext)
        self.evicted_packets += 1
        entry.key.users -= 1
        if entry.key.users == 0 and entry.key is not self._current:
            entry.key.destroy()

    def _stats(self, entries: deque[SealedPacket], now_ns: int) -> PreRollStats:
        video = [e for e in entries if e.header.stream is StreamKind.VIDEO]
        samples = sum(len(e.ciphertext) - 16 for e in entries if e.header.stream is StreamKind.AUDIO) // 2
        oldest = min((e.header.pts_ns for e in entries), default=now_ns)
        return PreRollStats(
            configured_s=self._pre_roll_ns / 1e9,
            delivered_s=round((now_ns - oldest) / 1e9, 3),
            video_frames=len(video),
            audio_samples=samples,
            cut_by_byte_cap=self._last_byte_eviction_ns >= now_ns - self._pre_roll_ns,
        )


class RingSnapshot:
    """The pre-roll taken at a trigger. Iterating decrypts in capture order and wipes each key
    as soon as its last packet has been opened; the incident writer never sees a key."""

    def __init__(self, entries: deque[SealedPacket], current: EpochKey | None, stats: PreRollStats) -> None:
        self._entries = entries
        self._current = current
        self.stats = stats

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Packet]:
        try:
            while self._entries:
                entry = self._entries.popleft()
                payload = entry.key.open(entry)
                entry.key.users -= 1
                if entry.key.users == 0:
                    entry.key.destroy()
                h = entry.header
                yield Packet(h.stream, h.pts_ns, h.wall_time, h.seq, payload, h.width, h.height)
        finally:
            self.discard()

    def discard(self) -> None:
        """Destroy whatever was not consumed (and the last current key)."""
        for entry in self._entries:
            entry.key.destroy()
        self._entries.clear()
        if self._current is not None:
            self._current.destroy()
            self._current = None
