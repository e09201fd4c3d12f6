"""The vault: upload throughput of one incident (Object-Locked, multipart, verified by reading it
back) against a bare boto3 `put_object` of the same bytes, in the same run, to a SeaweedFS on
loopback; then N rooms uploading at once (20; 3 in --quick): every incident lands, and capture
loses no frame in any room meanwhile (`capture_lost` and the writer's `dropped`, from the logs)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.figures import Context, Figure, Section
from bench.rooms import start, wait_ready
from recorder.audit.trail import parse_time
from recorder.demo import set_up_room
from recorder.vault.incidents import IncidentUpload, upload_incident
from recorder.vault.testing import SeaweedFS, room_identity, write_credentials
from tests.support import RunningDaemon

BUCKET = "bench"
PART = 8 << 20
LANDING_TIMEOUT_S = 180.0
SETTLE_S = 3.0
"""Daemons that start together lose a few test-pattern frames in their first second on 2 cores (also
without a vault); the measurement starts after that."""


def measure(ctx: Context) -> Section:
    size = (8 if ctx.quick else 256) << 20
    rooms = 3 if ctx.quick else 20
    record_s = 1.0 if ctx.quick else 10.0
    names = [f"room-{n:02d}" for n in range(rooms)]
    store = SeaweedFS(ctx.work / "seaweed", [room_identity(name, BUCKET, "rooms") for name in names])
    store.start()
    try:
        store.make_bucket(BUCKET)
        store.client().put_object(Bucket=BUCKET, Key="warm-up", Body=b"")
        bare, ours = _throughput(store, ctx.work, size, ctx.runs)
        landed, lost, seconds = _rooms(store, ctx.work, names, record_s)
    finally:
        store.kill()
    section = Section(
        "vault",
        "Vault uploads",
        method=f"SeaweedFS 4.48 (`weed server`) on loopback. Throughput: {size >> 20} MiB of random bytes, "
        f"`put_object` alone vs our upload ({PART >> 20} MiB parts, COMPLIANCE lock, read back and "
        f"hashed). Rooms: {rooms} daemons on the test pattern (640×360@15) each record {record_s:g} s "
        "at the same moment; then every incident must land in the vault.",
    )
    section.figures += [
        Figure("bare_put", "bare boto3 put_object", "MB/s", bare),
        Figure("upload", "our upload + read-back verification", "MB/s", ours, baseline="bare_put"),
        Figure("rooms_landed", f"incidents landed, of {rooms}", "incidents", [float(landed)]),
        Figure("rooms_seconds", "last clear → last incident_uploaded", "s", [seconds]),
        Figure("frames_lost", "packets lost by capture from the trigger on, all rooms", "packets",
               [float(lost)],
               goal="0"),
    ]  # fmt: skip
    return section


def _throughput(store: SeaweedFS, work: Path, size: int, runs: int) -> tuple[list[float], list[float]]:
    path = work / "vault-bench.age"
    path.write_bytes(os.urandom(size))
    client = store.client()
    bare, ours = [], []
    with path.open("rb") as body:  # untimed: the first request pays for the connection
        client.put_object(Bucket=BUCKET, Key="bare/warm-up", Body=body)
    for run in range(runs):
        started = time.perf_counter()
        with path.open("rb") as body:
            client.put_object(Bucket=BUCKET, Key=f"bare/{run}", Body=body)
        bare.append(size / 1e6 / (time.perf_counter() - started))
        job = IncidentUpload(
            f"bench-{run}", "bench", path, BUCKET, f"ours/{run}.age",
            datetime.now(UTC) + timedelta(days=1), legal_hold=False,
        )  # fmt: skip
        started = time.perf_counter()
        upload_incident(client, job, PART, lambda: None)
        ours.append(size / 1e6 / (time.perf_counter() - started))
    path.unlink()
    return bare, ours


def _rooms(store: SeaweedFS, work: Path, names: list[str], record_s: float) -> tuple[int, int, float]:
    daemons = [start(_room(store, work / name, name)) for name in names]
    try:
        wait_ready(daemons)
        time.sleep(SETTLE_S)
        since = datetime.now(UTC)
        clients = [daemon.client() for daemon in daemons]
        for client in clients:
            client.trigger(reason="bench")
        time.sleep(record_s)
        for client in clients:
            client.clear(reason="bench done")
            client.close()
        cleared = time.monotonic()
        deadline = cleared + LANDING_TIMEOUT_S
        while time.monotonic() < deadline and sum(_landed(d) for d in daemons) < len(daemons):
            time.sleep(0.5)
        seconds = time.monotonic() - cleared
    finally:
        for daemon in daemons:
            daemon.stop()
    return sum(_landed(d) for d in daemons), sum(_lost(d, since) for d in daemons), seconds


def _room(store: SeaweedFS, root: Path, name: str) -> object:
    root.mkdir(parents=True)
    room = set_up_room(root, pre_roll_s=2.0, post_roll_s=0.5)
    credentials = write_credentials(
        root / "vault.credentials", room_identity(name, BUCKET, "rooms").credentials
    )
    text = room.config.read_text().replace('room = "demo-room"', f'room = "{name}"')
    vault = f'endpoint = "{store.endpoint}"\nbucket = "{BUCKET}"\ncredentials = "{credentials}"'
    room.config.write_text(f"{text}\n[vault]\n{vault}\n")
    return room


def _entries(daemon: RunningDaemon) -> list[dict[str, object]]:
    log = daemon.state_dir / "audit.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _landed(daemon: RunningDaemon) -> int:
    return sum(1 for entry in _entries(daemon) if entry["event"] == "incident_uploaded")


def _lost(daemon: RunningDaemon, since: datetime) -> int:
    """Packets lost from the first trigger on: while recording and while every room uploads."""
    total = 0
    for entry in _entries(daemon):
        if parse_time(str(entry["time"])) < since:
            continue
        data = entry["data"]
        assert isinstance(data, dict)
        if entry["event"] == "capture_lost":
            total += int(data.get("lost", 0))
        elif entry["event"] == "incident_closed":
            total += int(data.get("dropped", 0))
    return total
