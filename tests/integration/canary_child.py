"""Child process for the crypto-shredding test: the real ring, fed by the real test pattern, sealing
one random canary frame. Prints the canary and its key (hex only: the raw bytes are never copied),
waits until both should be gone, then sleeps so that the parent can scan this process's memory."""

from __future__ import annotations

import os
import sys
import time

from recorder.clock import SystemClock
from recorder.hygiene import harden_process
from recorder.packet import Packet, StreamKind
from recorder.ring import EncryptedRing
from recorder.router import PacketRouter
from recorder.secure_memory import KeyVault
from recorder.sources.test_pattern import TestPatternConfig, TestPatternSource


def main() -> None:
    pre_roll_s, frame_bytes = float(sys.argv[1]), int(sys.argv[2])
    harden_process()  # exactly what the daemon does at start-up
    clock = SystemClock()
    vault = KeyVault()
    ring = EncryptedRing(vault, pre_roll_s=pre_roll_s, max_bytes=256 * 2**20, key_rotation_s=0.25)
    router = PacketRouter(ring, clock, audio_in_pre_roll=True)
    source = TestPatternSource(TestPatternConfig(width=640, height=360, fps=15), clock)
    source.start(router.on_packet)
    time.sleep(pre_roll_s + 0.5)

    canary = os.urandom(frame_bytes)
    router.on_packet(Packet(StreamKind.VIDEO, clock.monotonic_ns(), clock.wall_time(), 10**9, canary))
    sealed = ring._entries[-1]
    assert sealed.header.seq == 10**9
    key_hex = sealed.key._slot.view.hex()  # type: ignore[union-attr]
    print(f"canary {canary.hex()}", flush=True)
    print(f"key {key_hex}", flush=True)
    del canary, sealed, key_hex

    time.sleep(2 * pre_roll_s + 0.5)
    print(f"evicted live_keys={ring.live_keys()} vault_slots={vault.slots_in_use}", flush=True)
    time.sleep(600)
    source.stop()


if __name__ == "__main__":
    main()
