"""Invariant 8 and the ring bounds: no gap or duplicate at the trigger; the audited pre-roll is the file's."""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from recorder.audit.log import AuditLog
from recorder.audit.verify import read_entries
from recorder.clock import SystemClock
from recorder.config import RoomConfig, parse_config
from recorder.control.protocol import Request
from recorder.demo import set_up_room
from recorder.incident.age_keys import Identity, load_identities
from recorder.incident.output import open_incident_output
from recorder.packet import Packet, StreamKind
from recorder.ring import EncryptedRing, RingSnapshot
from recorder.room import Room
from recorder.router import PacketRouter
from recorder.secure_memory import KeySlot, KeyVault
from recorder.sources.test_pattern import TestPatternConfig, TestPatternSource
from recorder.sources.test_tone import TestToneConfig, TestToneSource
from recorder.state import State
from tests.integration.incident_media import (
    BLOCK_MS,
    BLOCK_SAMPLES,
    IncidentMedia,
    StartWindow,
    audio_problems,
    contiguity_problems,
    read_incident,
    skipped_frames,
    sources_start_window,
)
from tests.support import RunningDaemon, start_daemon, wait_for_state

SEED = int(os.environ.get("RECORDER_TEST_SEED", random.SystemRandom().randrange(2**32)))
TAG_BYTES = 16  # what sealing adds to each payload in the ring
NS = 1_000_000_000
ROTATION_S = 0.2
PRE_ROLL_S = 0.8


def _rng(name: str) -> random.Random:
    print(f"{name}: RECORDER_TEST_SEED={SEED}")
    return random.Random(f"{SEED}-{name}")


# -- observing the real ring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Appended:
    """A packet as the ring received it (the router calls `append` under its lock, so in ring order)."""

    stream: StreamKind
    seq: int
    pts_ns: int
    sealed_bytes: int
    now_ns: int


@dataclass(frozen=True)
class HandOver:
    now_ns: int
    appended_before: int  # how many packets the ring had received when it was handed over
    packets: int


class ObservedRing(EncryptedRing):
    """The real ring, plus a record of what went in and when it was handed over."""

    def __init__(self, vault: KeyVault, pre_roll_s: float, max_bytes: int, key_rotation_s: float) -> None:
        super().__init__(vault, pre_roll_s, max_bytes, key_rotation_s)
        self.appended: list[Appended] = []
        self.handovers: list[HandOver] = []
        self.max_size_bytes = 0

    def append(self, packet: Packet, now_ns: int) -> None:
        super().append(packet, now_ns)
        sealed = len(packet.payload) + TAG_BYTES
        self.appended.append(Appended(packet.stream, packet.seq, packet.pts_ns, sealed, now_ns))
        self.max_size_bytes = max(self.max_size_bytes, self.size_bytes)

    def hand_over(self, now_ns: int) -> RingSnapshot:
        snapshot = super().hand_over(now_ns)
        self.handovers.append(HandOver(now_ns, len(self.appended), len(snapshot)))
        return snapshot


class ObservedVault(KeyVault):
    """Records when each ring key is created, so triggers can be aimed at (and measured against) rotations."""

    def __init__(self) -> None:
        super().__init__()
        self.allocated_ns: list[int] = []

    def allocate(self) -> KeySlot:
        self.allocated_ns.append(time.monotonic_ns())
        return super().allocate()


def model_pre_roll(
    appended: list[Appended], handover_ns: int, pre_roll_ns: int, max_bytes: int
) -> tuple[list[Appended], bool]:
    """The documented rule, replayed: after each append drop the oldest packets while older than
    pre_roll_s, then while over the byte cap; the same at the hand-over. Returns what must be handed
    over, and whether the byte cap removed a packet that the age bound alone would have kept."""
    ring: deque[Appended] = deque()
    size = 0
    byte_evicted: list[int] = []

    def evict(now_ns: int) -> None:
        nonlocal size
        while ring and ring[0].pts_ns < now_ns - pre_roll_ns:
            size -= ring.popleft().sealed_bytes
        while ring and size > max_bytes:
            byte_evicted.append(ring[0].pts_ns)
            size -= ring.popleft().sealed_bytes

    for packet in appended:
        ring.append(packet)
        size += packet.sealed_bytes
        evict(packet.now_ns)
    evict(handover_ns)
    return list(ring), any(pts >= handover_ns - pre_roll_ns for pts in byte_evicted)


# -- the daemon's parts in this process -----------------------------------------------------------------


@dataclass
class Recorded:
    incident: str
    handover: HandOver
    previous_handover: HandOver | None
    aimed_at_rotation: bool
    requested_ns: int
    started: dict[str, Any] = field(default_factory=dict)
    closed: dict[str, Any] = field(default_factory=dict)
    media: IncidentMedia | None = None
    expected: list[Appended] = field(default_factory=list)
    expected_cut: bool = False

    @property
    def file_media(self) -> IncidentMedia:
        assert self.media is not None
        return self.media

    def expected_seqs(self, stream: StreamKind) -> list[int]:
        return [p.seq for p in self.expected if p.stream is stream]

    @property
    def ring_was_full(self) -> bool:
        """The ring held a full pre-roll: something since the last hand-over was evicted."""
        appended_since = self.handover.appended_before - (
            self.previous_handover.appended_before if self.previous_handover else 0
        )
        return len(self.expected) < appended_since


class LiveRoom:
    """Real sources on their threads (system clock), the real router, ring and room, real age files.

    This test's thread is the control thread: it alone calls into the Room, as the daemon's loop does.
    """

    def __init__(self, tmp_path: Path, fps: float, pre_roll_s: float, max_ring_bytes: int) -> None:
        self.identity = Identity.generate()
        self.config = _config(tmp_path, self.identity, fps, pre_roll_s)
        self.fps = fps
        self.pre_roll_ns = int(pre_roll_s * NS)
        self.max_ring_bytes = max_ring_bytes
        self.workdir = tmp_path / "plain"
        self.config.storage.directory.mkdir()
        AuditLog.create(self.config.storage.audit_path, tmp_path / "audit.verify-key")
        self.audit = AuditLog(self.config.storage.audit_path)
        clock = SystemClock()
        self.vault = ObservedVault()
        self.ring = ObservedRing(self.vault, pre_roll_s, max_ring_bytes, ROTATION_S)
        self.router = PacketRouter(self.ring, clock, audio_in_pre_roll=True)
        self.room = Room(
            self.config, clock, self.router, self.audit, lambda name: open_incident_output(self.config, name)
        )
        self.pattern = TestPatternSource(
            TestPatternConfig(width=320, height=240, fps=fps), clock, status=self.room.source_status
        )
        self.tone = TestToneSource(TestToneConfig(), clock, status=self.room.source_status)
        self.t0_ns = clock.monotonic_ns()
        self.recorded: list[Recorded] = []
        self.produced: list[int] = []  # frame numbers in the order the test pattern produced them

    def start(self) -> None:
        self.pattern.start(self._on_frame, self.t0_ns)
        self.tone.start(self.router.on_packet, self.t0_ns)

    def _on_frame(self, packet: Packet) -> None:
        self.produced.append(packet.seq)
        self.router.on_packet(packet)

    @property
    def skipped(self) -> set[int]:
        """Frames the test pattern skipped because this machine was too busy to render them in time."""
        return set(range(max(self.produced, default=-1) + 1)) - set(self.produced)

    def close(self) -> None:
        for source in (self.pattern, self.tone):
            source.stop()
        self.room.shutdown()
        self.router.shutdown()
        self.audit.close()

    def run_until(self, deadline_ns: int) -> None:
        while (left := deadline_ns - time.monotonic_ns()) > 0:
            self.room.tick()
            time.sleep(min(0.005, left / NS))

    def run(self, seconds: float) -> None:
        self.run_until(time.monotonic_ns() + int(seconds * NS))

    def run_until_rotation(self, lead_s: float) -> None:
        """Tick until `lead_s` before the current ring key is due to be retired."""
        deadline = time.monotonic_ns() + 5 * NS
        while time.monotonic_ns() < deadline:
            self.room.tick()
            due = self.vault.allocated_ns[-1] + int((ROTATION_S - lead_s) * NS)
            if time.monotonic_ns() >= due:
                return
            time.sleep(0.0005)
        raise AssertionError("no ring key was created for 5 s")

    def request(self, kind: str) -> dict[str, Any]:
        request = Request.model_validate({"v": 1, "id": uuid.uuid4().hex, "type": kind, "reason": "seam"})
        return self.room.handle("seam-test", request)

    def trigger_latency_s(self) -> float:
        """Typical time from a trigger request to the hand-over (the incident file is created first)."""
        latencies = sorted(rec.handover.now_ns - rec.requested_ns for rec in self.recorded)
        return latencies[len(latencies) // 2] / NS if latencies else 0.003

    def record(self, seconds: float, aimed_at_rotation: bool = False) -> Recorded:
        requested = time.monotonic_ns()
        reply = self.request("trigger")
        assert reply["state"] == "recording", reply
        previous = self.ring.handovers[-2] if len(self.ring.handovers) > 1 else None
        recorded = Recorded(
            str(reply["incident"]), self.ring.handovers[-1], previous, aimed_at_rotation, requested
        )
        self.run(seconds)
        self.request("clear")
        deadline = time.monotonic() + 10
        while self.room.state is not State.IDLE or not self._entry("incident_closed", recorded.incident):
            assert time.monotonic() < deadline, "the incident did not close within 10 s"
            self.room.tick()
            time.sleep(0.005)
        self.recorded.append(recorded)
        return recorded

    def read_back(self) -> None:
        """Read every incident's file and audit entries, and what the model says it must hold."""
        for rec in self.recorded:
            rec.started = self._entry("incident_started", rec.incident)
            rec.closed = self._entry("incident_closed", rec.incident)
            path = self.config.storage.directory / f"{rec.incident}.age"
            rec.media = read_incident(path, [self.identity], self.workdir, self.fps)
            since = rec.previous_handover.appended_before if rec.previous_handover else 0
            appended = self.ring.appended[since : rec.handover.appended_before]
            rec.expected, rec.expected_cut = model_pre_roll(
                appended, rec.handover.now_ns, self.pre_roll_ns, self.max_ring_bytes
            )

    def rotation_offsets_ms(self) -> list[float]:
        """Per incident: hand-over time minus the moment its ring key was due to be retired."""
        offsets = []
        for rec in self.recorded:
            created = max(t for t in self.vault.allocated_ns if t <= rec.handover.now_ns)
            offsets.append((rec.handover.now_ns - created) / 1e6 - ROTATION_S * 1000)
        return offsets

    def _entry(self, event: str, incident: str) -> dict[str, Any]:
        for _, entry, _ in read_entries(self.config.storage.audit_path):
            if entry and entry["event"] == event and entry["data"].get("incident") == incident:
                return dict(entry["data"])
        return {}


def _config(tmp_path: Path, identity: Identity, fps: float, pre_roll_s: float) -> RoomConfig:
    return parse_config(
        {
            "room": "seam",
            "video": {"width": 320, "height": 240, "fps": fps},
            "audio": {"source": "test-tone", "in_pre_roll": True},
            "recording": {
                "pre_roll_s": pre_roll_s,
                "post_roll_s": 0,
                "max_incident_s": 60,
                "key_rotation_s": ROTATION_S,
            },
            "control": {"server_secret_key": "k", "authorized_clients": "c"},
            "storage": {"directory": str(tmp_path / "state"), "recipients": [str(identity.recipient)]},
        },
        tmp_path,
    )


def _gap_s(kind: str, rng: random.Random) -> float:
    """Idle time before a trigger: shorter than the pre-roll (ring not full) or longer (full)."""
    if kind == "short":
        return rng.uniform(0.05, 0.7 * PRE_ROLL_S)
    if kind == "full":
        return rng.uniform(PRE_ROLL_S + 0.15, PRE_ROLL_S + 0.6)
    return rng.uniform(0.05, PRE_ROLL_S + 0.6)


@pytest.fixture(scope="module", params=[15.0, 30.0], ids=["15fps", "30fps"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRoom]:
    """Several incidents at random moments: right after start, soon after the last incident (ring
    not full), with a full ring, and aimed at the instant a ring key is due to rotate."""
    fps = float(request.param)
    rng = _rng(f"live-{fps:g}")
    room = LiveRoom(tmp_path_factory.mktemp(f"seam-{fps:g}"), fps, PRE_ROLL_S, 10**9)
    kinds = ["short", "short", "full", "full", "rotation", "rotation"]
    rng.shuffle(kinds)
    room.start()
    try:
        room.run(rng.uniform(0.05, 0.6 * PRE_ROLL_S))
        room.record(rng.uniform(0.1, 0.5))
        for kind in kinds:
            room.run(_gap_s(kind, rng))
            if kind == "rotation":
                room.run_until_rotation(lead_s=room.trigger_latency_s() + rng.uniform(-0.003, 0.003))
            room.record(rng.uniform(0.1, 0.5), aimed_at_rotation=kind == "rotation")
    finally:
        room.close()
    assert not room.room.degraded, room.room.degraded
    room.read_back()
    offsets = room.rotation_offsets_ms()
    print(f"{fps:g} fps: hand-over minus key rotation due, ms: {[round(o, 1) for o in offsets]}")
    print(f"{fps:g} fps: {len(room.skipped)} frames skipped by the busy test source")
    yield room


def test_video_frame_numbers_are_contiguous_from_first_to_last(live: LiveRoom) -> None:
    for rec in live.recorded:
        media = rec.file_media
        assert media.decrypted.truncated is False
        assert media.demux_error is None
        assert media.undecodable_frames == 0
        assert contiguity_problems(media.frame_numbers, live.skipped) == [], (rec.incident, SEED)
        assert len(media.video) == rec.closed["output"]["video_frames"]


def test_audio_blocks_are_whole_contiguous_and_on_the_video_clock(live: LiveRoom) -> None:
    for rec in live.recorded:
        media = rec.file_media
        assert audio_problems(media) == [], (rec.incident, SEED)
        blocks = media.block_numbers
        assert media.audio_samples == BLOCK_SAMPLES * (blocks[-1] - blocks[0] + 1)
        assert media.audio_samples == rec.closed["output"]["audio_samples"]


def test_pre_roll_in_the_file_is_exactly_what_the_audit_reports(live: LiveRoom) -> None:
    for rec in live.recorded:
        _check_pre_roll(rec)


def _check_pre_roll(rec: Recorded) -> None:
    """The file begins with exactly the packets the ring had to hold at the hand-over (per the model),
    and the audit's frames, samples, seconds and byte-cap flag describe exactly those."""
    media, pre_roll = rec.file_media, rec.started["pre_roll"]
    video, audio = rec.expected_seqs(StreamKind.VIDEO), rec.expected_seqs(StreamKind.AUDIO)
    where = f"{rec.incident} (seed {SEED})"
    assert rec.expected and rec.handover.packets == len(rec.expected), where
    assert media.frame_numbers[: len(video)] == video, where
    assert media.block_numbers[: len(audio)] == audio, where
    assert pre_roll["video_frames"] == len(video), where
    assert pre_roll["audio_samples"] == BLOCK_SAMPLES * len(audio), where
    oldest = min(p.pts_ns for p in rec.expected)
    assert pre_roll["delivered_s"] == pytest.approx((rec.handover.now_ns - oldest) / NS, abs=0.0011), where
    assert pre_roll["cut_by_byte_cap"] is rec.expected_cut, where
    # On the file's own time axis (1 ms steps): the last pre-roll frame was captured before the hand-over.
    hand_over_ms = media.first_pts_ms + 1000 * pre_roll["delivered_s"]
    if video:
        assert media.video[len(video) - 1].pts_ms <= hand_over_ms + 2, where


def test_full_ring_starts_the_clip_pre_roll_s_before_the_trigger(live: LiveRoom) -> None:
    full = [rec for rec in live.recorded if rec.ring_was_full]
    assert full, f"no incident had a full ring (seed {SEED})"
    for rec in full:
        delivered = rec.started["pre_roll"]["delivered_s"]
        # The oldest packet kept is the first one not older than pre_roll_s; audio blocks come every
        # 20 ms, and a block may sit (20 ms older) right behind a frame that was kept.
        assert abs(delivered - PRE_ROLL_S) <= BLOCK_MS / 1000 + 0.002, (rec.incident, delivered, SEED)
        first_frame = rec.file_media.frame_numbers[0]
        pts = {p.seq: p.pts_ns for p in live.ring.appended if p.stream is StreamKind.VIDEO}
        cutoff = rec.handover.now_ns - live.pre_roll_ns
        assert pts[first_frame] >= cutoff, (rec.incident, SEED)
        if first_frame - 1 in pts:  # else it was the last live frame of the incident before
            assert pts[first_frame - 1] < cutoff, (rec.incident, SEED)


def test_ring_not_yet_full_hands_over_everything_since_start_or_the_last_incident(live: LiveRoom) -> None:
    first = live.recorded[0]
    assert not first.ring_was_full
    assert first.file_media.frame_numbers[0] == 0
    assert first.file_media.block_numbers[0] == 0
    followers = [
        (before, after) for before, after in itertools.pairwise(live.recorded) if not after.ring_was_full
    ]
    assert followers, f"no incident followed another within the pre-roll (seed {SEED})"
    for before, after in followers:
        # The seam at the end of an incident: the next pre-roll starts with the very next packet.
        last = before.file_media.frame_numbers[-1]
        assert after.file_media.frame_numbers[0] == live.produced[live.produced.index(last) + 1], SEED
        assert after.file_media.block_numbers[0] == before.file_media.block_numbers[-1] + 1, SEED


def test_triggers_aimed_at_key_rotations_land_on_them(live: LiveRoom) -> None:
    """Not a product property: shows that this run did hand over a ring at the moment a key rotated."""
    offsets = [
        o for o, rec in zip(live.rotation_offsets_ms(), live.recorded, strict=True) if rec.aimed_at_rotation
    ]
    assert min(abs(o) for o in offsets) <= 30, offsets


# -- the byte cap ---------------------------------------------------------------------------------------


def test_byte_cap_bounds_the_ring_and_the_audit_reports_the_shorter_pre_roll(tmp_path: Path) -> None:
    rng = _rng("byte-cap")
    cap = 150_000  # about 0.6 s of 320x240 at 30 fps plus audio, against a 1 s pre-roll
    room = LiveRoom(tmp_path, 30.0, 1.0, cap)
    room.start()
    try:
        for _ in range(2):
            room.run(rng.uniform(1.2, 1.5))  # longer than the pre-roll: the cap, not the incident, binds
            room.record(rng.uniform(0.1, 0.3))
    finally:
        room.close()
    room.read_back()
    assert room.ring.max_size_bytes <= cap
    for rec in room.recorded:
        assert rec.expected_cut, "the cap did not bind: the test's premise is wrong"
        _check_pre_roll(rec)
        assert rec.started["pre_roll"]["delivered_s"] < 1.0 - 0.2
        assert contiguity_problems(rec.file_media.frame_numbers, room.skipped) == []
        assert audio_problems(rec.file_media) == []


def test_pre_roll_soon_after_an_incident_is_not_reported_as_cut_by_the_byte_cap() -> None:
    """After a pre-roll that the byte cap did cut, the next pre-roll (the ring restarted empty at the
    hand-over and has since held far less than the cap) must not claim the cap cut it."""
    ring = EncryptedRing(KeyVault(), pre_roll_s=1.0, max_bytes=10_000, key_rotation_s=1.0)

    def frame(i: int) -> Packet:
        return Packet(StreamKind.VIDEO, i * NS // 10, 0.0, i, bytes(2000), 320, 240)

    for i in range(20):  # 2 s at 10 fps of 2 kB frames: the 10 kB cap keeps 0.4 s of the 1 s pre-roll
        ring.append(frame(i), frame(i).pts_ns)
    first = ring.hand_over(20 * NS // 10)
    assert first.stats.cut_by_byte_cap
    first.discard()
    for i in range(21, 24):  # 0.3 s later: 3 frames, 6 kB, nothing evicted
        ring.append(frame(i), frame(i).pts_ns)
    second = ring.hand_over(24 * NS // 10)
    assert second.stats.video_frames == 3
    assert not second.stats.cut_by_byte_cap
    second.discard()


# -- through a real daemon ------------------------------------------------------------------------------

DAEMON_FPS = 30.0
DAEMON_PRE_ROLL_S = 3.5
DAEMON_RING_BYTES = 1024 * 1024  # the config's minimum; 640x360 at 30 fps plus audio fills it in ~2.7 s


@dataclass
class DaemonIncident:
    sent_ns: int
    replied_ns: int
    incident: str
    started: dict[str, Any] = field(default_factory=dict)
    media: IncidentMedia | None = None

    @property
    def file_media(self) -> IncidentMedia:
        assert self.media is not None
        return self.media


@dataclass
class DaemonRun:
    daemon: RunningDaemon
    window: StartWindow
    skipped: set[int]  # frames the busy test pattern skipped, from the daemon's log
    early: DaemonIncident  # triggered before the ring could fill
    capped: DaemonIncident  # triggered once the byte cap binds


def _record_with_daemon(daemon: RunningDaemon, seconds: float) -> DaemonIncident:
    client = daemon.client(timeout_s=5.0, retries=1)
    try:
        sent = time.monotonic_ns()
        reply = client.trigger("seam test")
        replied = time.monotonic_ns()
        time.sleep(seconds)
        client.clear("seam test done")
        wait_for_state(client, "idle")
    finally:
        client.close()
    return DaemonIncident(sent, replied, str(reply["incident"]))


@pytest.fixture(scope="module")
def daemon_run(tmp_path_factory: pytest.TempPathFactory) -> DaemonRun:
    rng = _rng("daemon")
    root = tmp_path_factory.mktemp("seam-daemon")
    room = set_up_room(root, pre_roll_s=DAEMON_PRE_ROLL_S, post_roll_s=0.2)
    text = room.config.read_text().replace("fps = 15\n", f"fps = {DAEMON_FPS:g}\n")
    text = text.replace(
        "post_roll_s = 0.2\n",
        f"post_roll_s = 0.2\nmax_ring_bytes = {DAEMON_RING_BYTES}\nkey_rotation_s = 0.25\n",
    )
    assert f"fps = {DAEMON_FPS:g}" in text and "max_ring_bytes" in text, "the demo config changed shape"
    room.config.write_text(text)
    daemon = start_daemon(room)
    try:
        window = sources_start_window(daemon.state_dir / "audit.jsonl", daemon.log_path, daemon.process.pid)
        time.sleep(rng.uniform(0.3, 1.0))
        early = _record_with_daemon(daemon, rng.uniform(0.3, 0.8))
        time.sleep(rng.uniform(DAEMON_PRE_ROLL_S + 0.2, DAEMON_PRE_ROLL_S + 0.7))
        capped = _record_with_daemon(daemon, rng.uniform(0.3, 0.8))
    finally:
        assert daemon.stop() == 0, daemon.log_text()
    identities = load_identities(room.officer_identity)
    entries = [e for _, e, _ in read_entries(daemon.state_dir / "audit.jsonl") if e]
    for incident in (early, capped):
        incident.started = next(
            e["data"]
            for e in entries
            if e["event"] == "incident_started" and e["data"]["incident"] == incident.incident
        )
        path = daemon.state_dir / f"{incident.incident}.age"
        incident.media = read_incident(path, identities, root / "plain", DAEMON_FPS)
    return DaemonRun(daemon, window, skipped_frames(daemon.log_text()), early, capped)


def test_daemon_incidents_have_contiguous_frames_and_audio(daemon_run: DaemonRun) -> None:
    for incident in (daemon_run.early, daemon_run.capped):
        media = incident.file_media
        assert media.decrypted.truncated is False
        assert media.demux_error is None
        assert media.undecodable_frames == 0
        assert contiguity_problems(media.frame_numbers, daemon_run.skipped) == [], SEED
        assert audio_problems(media) == [], SEED


def test_daemon_pre_roll_boundary_in_the_file_is_where_the_audit_puts_it(daemon_run: DaemonRun) -> None:
    """Without a view into the daemon's ring, the boundary is checked on the file's time axis: the
    audit's last pre-roll frame and block were complete before the hand-over instant (first packet +
    delivered_s), and the first live ones at most a rendering's time before it (50 ms allowed, for a
    busy machine; the exact count is checked in-process against the ring itself)."""
    for incident in (daemon_run.early, daemon_run.capped):
        media, pre_roll = incident.file_media, incident.started["pre_roll"]
        hand_over_ms = media.first_pts_ms + 1000 * pre_roll["delivered_s"]
        frames, blocks = pre_roll["video_frames"], pre_roll["audio_samples"] // BLOCK_SAMPLES
        assert pre_roll["audio_samples"] % BLOCK_SAMPLES == 0
        assert 0 < frames < len(media.video) and 0 < blocks < len(media.audio)
        assert media.video[frames - 1].pts_ms <= hand_over_ms + 2
        assert media.video[frames].pts_ms >= hand_over_ms - 50
        assert media.audio[blocks - 1].pts_ms + BLOCK_MS <= hand_over_ms + 2
        assert media.audio[blocks].pts_ms + BLOCK_MS >= hand_over_ms - 50


def test_daemon_early_trigger_delivers_everything_since_the_sources_started(daemon_run: DaemonRun) -> None:
    early, window = daemon_run.early, daemon_run.window
    pre_roll = early.started["pre_roll"]
    assert early.file_media.frame_numbers[0] == 0
    assert early.file_media.block_numbers[0] == 0
    assert pre_roll["cut_by_byte_cap"] is False
    # delivered_s = hand-over - t0 (block 0 starts at t0); the hand-over lies between request and reply.
    assert (early.sent_ns - window.hi_ns) / NS - 0.002 <= pre_roll["delivered_s"]
    assert pre_roll["delivered_s"] <= (early.replied_ns - window.lo_ns) / NS + 0.002


def test_daemon_byte_cap_cuts_the_pre_roll_and_the_audit_says_so(daemon_run: DaemonRun) -> None:
    capped = daemon_run.capped
    media, pre_roll = capped.file_media, capped.started["pre_roll"]
    assert pre_roll["cut_by_byte_cap"] is True
    assert pre_roll["configured_s"] == DAEMON_PRE_ROLL_S
    assert pre_roll["delivered_s"] < DAEMON_PRE_ROLL_S - 0.5
    # What the ring held at the hand-over, counted from the file: within one frame of the cap, never over.
    frames = media.video[: pre_roll["video_frames"]]
    blocks = media.audio[: pre_roll["audio_samples"] // BLOCK_SAMPLES]
    held = sum(f.size + TAG_BYTES for f in frames) + sum(b.size + TAG_BYTES for b in blocks)
    largest = max(f.size for f in media.video) + TAG_BYTES
    assert DAEMON_RING_BYTES - 1.5 * largest < held <= DAEMON_RING_BYTES
