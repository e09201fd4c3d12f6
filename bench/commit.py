"""One alarm on a real daemon through the real client: acknowledgement time, and when the pre-roll it
handed to the disk was durable (the incident file's size covering every chunk that holds it)."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from recorder.audit.verify import read_entries
from recorder.incident.age_keys import Identity
from recorder.incident.age_reader import decrypt
from recorder.incident.age_writer import CHUNK_SIZE, PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE
from recorder.packet import AUDIO_SAMPLE_BYTES
from tests.support import RunningDaemon, wait_for_state

POLL_S = 0.002
BLOCK_HEADER_SLACK = 16  # a demuxed packet's pos is its block's start, a few header bytes before the data


@dataclass
class Commit:
    incident: str
    sent_at: float  # perf_counter when the trigger was sent
    ack_ms: float
    delivered_s: float
    video_frames: int
    audio_samples: int
    pre_roll_bytes: int  # Matroska plaintext up to the end of the pre-roll
    durable_ms: float | None  # trigger sent → every chunk holding the pre-roll on disk

    @property
    def mb_per_s(self) -> float | None:
        return self.pre_roll_bytes / 1e6 / (self.durable_ms / 1000) if self.durable_ms else None


class _SizePoller(threading.Thread):
    """Samples (perf_counter, size) of the first new `*.age` file in a directory every POLL_S."""

    def __init__(self, directory: Path) -> None:
        super().__init__(name="size-poller", daemon=True)
        self._directory = directory
        self._known = {p.name for p in directory.glob("*.age")}
        self.stop = threading.Event()
        self.path: Path | None = None
        self.samples: list[tuple[float, int]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.perf_counter()
            if self.path is None:
                fresh = [p for p in self._directory.glob("*.age") if p.name not in self._known]
                self.path = fresh[0] if fresh else None
            if self.path is not None:
                self.samples.append((now, self.path.stat().st_size))
            time.sleep(POLL_S)


def audit_entry(state_dir: Path, event: str, incident: str) -> dict[str, Any] | None:
    for _number, entry, _raw in read_entries(state_dir / "audit.jsonl"):
        if entry and entry.get("event") == event and entry.get("data", {}).get("incident") == incident:
            return entry
    return None


def trigger_and_commit(daemon: RunningDaemon, hold_s: float = 1.0) -> Commit:
    """Trigger, record `hold_s`, clear, wait until the incident is closed; then find when its
    pre-roll was durable. Raises AssertionError if the daemon does not behave."""
    state_dir = daemon.state_dir
    client = daemon.client(timeout_s=5.0, retries=1)
    try:
        client.status()  # a connected button: the CURVE handshake is not part of the press
        poller = _SizePoller(state_dir)
        poller.start()
        sent = time.perf_counter()
        reply = client.trigger(reason="benchmark")
        ack_ms = 1000 * (time.perf_counter() - sent)
        incident = str(reply["incident"])
        time.sleep(hold_s)
        client.clear(reason="benchmark done")
        wait_for_state(client, "idle", timeout_s=60)
    finally:
        client.close()
    deadline = time.monotonic() + 60
    while audit_entry(state_dir, "incident_closed", incident) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    poller.stop.set()
    poller.join()
    started = audit_entry(state_dir, "incident_started", incident)
    assert started is not None, f"no incident_started entry for {incident}"
    pre = started["data"]["pre_roll"]
    path = state_dir / f"{incident}.age"
    plaintext = decrypt(path, [Identity.load(daemon.room.officer_identity)]).plaintext or b""
    end = _pre_roll_end(plaintext, int(pre["video_frames"]), int(pre["audio_samples"]))
    needed = _age_header_bytes(path) + ((end - 1) // CHUNK_SIZE + 1) * SEALED_CHUNK_SIZE
    durable = next((t - sent for t, size in poller.samples if size >= needed), None)
    return Commit(
        incident,
        sent,
        ack_ms,
        float(pre["delivered_s"]),
        int(pre["video_frames"]),
        int(pre["audio_samples"]),
        end,
        None if durable is None else 1000 * durable,
    )


def _age_header_bytes(path: Path) -> int:
    """Bytes before the first payload chunk: the header through its MAC line, then the nonce."""
    with path.open("rb") as f:
        head = f.read(64 * 1024)
    mark = head.index(b"\n---") + 1
    return head.index(b"\n", mark) + 1 + PAYLOAD_NONCE_SIZE


def _pre_roll_end(plaintext: bytes, video_frames: int, audio_samples: int) -> int:
    """Offset in the Matroska stream just past the last pre-roll packet (the first `video_frames`
    video packets and the audio packets that hold the first `audio_samples` samples)."""
    end = 0
    video_left, audio_left = video_frames, audio_samples
    with av.open(io.BytesIO(plaintext), mode="r", format="matroska") as container:
        for packet in container.demux():
            if packet.size == 0 or packet.pos is None:
                continue
            if packet.stream.type == "video" and video_left > 0:
                video_left -= 1
            elif packet.stream.type == "audio" and audio_left > 0:
                audio_left -= packet.size // AUDIO_SAMPLE_BYTES
            elif video_left <= 0 and audio_left <= 0:
                break
            else:
                continue
            end = max(end, packet.pos + packet.size + BLOCK_HEADER_SLACK)
    return end
