"""Trigger → acknowledgement latency against a bare ZeroMQ round trip: alone, under a flood from another
client, and while another room on the same disk commits its pre-roll."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import zmq

from bench import plots
from bench.camera_farm import CameraFarm, make_clip
from bench.commit import Commit, trigger_and_commit
from bench.figures import Context, Figure, Section
from bench.rooms import FPS, camera_section, lay_out, spawn, start, wait_ready
from panic_button.client import ClientKeys, RoomClient, curve_socket
from recorder.demo import free_tcp_port
from recorder.keygen import create_curve_keypair

PACE = 150.0  # measured requests per second, under the per-client limit below
RATE_LIMIT = 200.0
FLOOD_RATE = 1000.0
_ECHO = """import sys, zmq
s = zmq.Context().socket(zmq.REP)
s.bind(sys.argv[1])
while True:
    s.send(s.recv())
"""


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1] if len(samples) > 1 else samples[0]


def paced(
    count: int, once: Callable[[], None], stop: threading.Event | None = None
) -> list[tuple[float, float]]:
    """Run `once` `count` times at PACE per second (or until `stop`); (sent at, seconds) per call."""
    samples, start_at = [], time.perf_counter()
    for i in range(count):
        if stop is not None and stop.is_set():
            break
        time.sleep(max(0.0, start_at + i / PACE - time.perf_counter()))
        began = time.perf_counter()
        once()
        samples.append((began, time.perf_counter() - began))
    return samples


def bare_round_trips(count: int) -> list[float]:
    """A REQ/REP echo of the same request bytes to a server in its own process: no CURVE, no audit."""
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    server = subprocess.Popen([sys.executable, "-c", _ECHO, endpoint])
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    sock.linger = 0
    sock.connect(endpoint)
    payload = json.dumps({"v": 1, "id": uuid.uuid4().hex, "type": "trigger", "reason": "bench"}).encode()
    try:
        sock.send(payload)
        if not sock.poll(10_000):
            raise RuntimeError("the echo server did not answer")
        sock.recv()

        def once() -> None:
            sock.send(payload)
            if not sock.poll(5000):
                raise RuntimeError("the echo server did not answer")
            sock.recv()

        return [s for _, s in paced(count, once)]
    finally:
        sock.close()
        server.kill()
        server.wait()


def flood(endpoint: str, keys: ClientKeys, seconds: float, results: Any) -> None:
    """FLOOD_RATE triggers a second for `seconds` from another enrolled client (its own process)."""
    sock = curve_socket(zmq.Context(), zmq.DEALER, keys)
    sock.connect(endpoint)
    counts = {"sent": 0, "ok": 0}
    start_at = time.monotonic()
    while (elapsed := time.monotonic() - start_at) < seconds:
        sock.send(json.dumps({"v": 1, "id": uuid.uuid4().hex, "type": "trigger", "reason": "flood"}).encode())
        counts["sent"] += 1
        while sock.poll(0):
            reply = json.loads(sock.recv())
            key = "ok" if reply["ok"] else reply["error"]["code"]
            counts[key] = counts.get(key, 0) + 1
        time.sleep(max(0.0, counts["sent"] / FLOOD_RATE - elapsed))
    sock.close(linger=0)
    results.put(counts)


class _Rooms:
    """Room A (measured, recording), its flooder's keys, and rooms B that commit pre-rolls."""

    def __init__(self, ctx: Context, committers: int, pre_roll_s: float) -> None:
        work = ctx.work / "latency"
        self.ports = [free_tcp_port() for _ in range(committers + 1)]
        self.farm = CameraFarm(make_clip(ctx.work / "camera.mkv"), self.ports, FPS)
        room = lay_out(work / "a", camera_section(self.farm.url(self.ports[0])), 30.0,
                       control=f"rate_limit_per_s = {RATE_LIMIT}")  # fmt: skip
        public, secret = create_curve_keypair(work / "flooder", "flooder")
        shutil.copy(public, room.root / "authorized_clients" / "flooder.key")
        self.flooder = ClientKeys.load(secret, room.root / "keys" / "server.key")
        self.a = start(room)
        self.b = [spawn(work / f"b{i}", camera_section(self.farm.url(p)), pre_roll_s, post_roll_s=0.2)
                  for i, p in enumerate(self.ports[1:])]  # fmt: skip
        wait_ready([self.a, *self.b])

    def close(self) -> None:
        for daemon in [self.a, *self.b]:
            daemon.stop()
        self.farm.stop()


def _trigger(client: RoomClient) -> Callable[[], None]:
    return lambda: client.trigger("bench") and None


def _under_flood(
    rooms: _Rooms, client: RoomClient, count: int, warm_s: float
) -> tuple[list[float], dict[str, int]]:
    spawn_ctx = multiprocessing.get_context("spawn")
    results = spawn_ctx.Queue()
    seconds = count / PACE + warm_s + 1.0
    flooder = spawn_ctx.Process(target=flood, args=(rooms.a.room.endpoint, rooms.flooder, seconds, results))
    flooder.start()
    time.sleep(warm_s)  # the flood is in full swing
    samples = [s for _, s in paced(count, _trigger(client))]
    counts: dict[str, int] = results.get(timeout=60)
    flooder.join()
    return samples, counts


def _during_commits(rooms: _Rooms, client: RoomClient, pre_roll_s: float) -> tuple[list[float], list[Commit]]:
    """A's latencies sent while a room B's pre-roll was on its way to the disk (trigger → durable)."""
    time.sleep(pre_roll_s + 1.0)  # every B's ring is full
    stop = threading.Event()
    commits: list[Commit] = []

    def press_each_b() -> None:
        for b in rooms.b:
            time.sleep(0.5)
            commits.append(trigger_and_commit(b, hold_s=0.3))
        stop.set()

    presser = threading.Thread(target=press_each_b)
    presser.start()
    samples = paced(10**9, _trigger(client), stop)
    presser.join()
    windows = [(c.sent_at, c.sent_at + (c.durable_ms or 0) / 1000) for c in commits]
    return [s for at, s in samples if any(lo <= at <= hi for lo, hi in windows)], commits


def measure(ctx: Context) -> Section:
    count, committers, pre_roll_s = (50, 1, 2.0) if ctx.quick else (1000, 2, 30.0)
    rooms = _Rooms(ctx, committers, pre_roll_s)
    pooled: dict[str, list[float]] = {"bare": [], "alone": [], "flood": [], "commit": []}
    runs: dict[str, list[float]] = {}
    flood_counts: dict[str, int] = {}
    commit_ms: list[float] = []
    client = RoomClient(rooms.a.room.endpoint, rooms.a.room.client_keys, timeout_s=5.0, retries=1)
    try:
        client.trigger("warm-up: opens the incident")
        time.sleep(0.5 if ctx.quick else 2.0)  # its pre-roll is on disk
        for i in range(ctx.runs):
            ctx.log(f"latency: run {i + 1}/{ctx.runs}")
            samples = {
                "bare": bare_round_trips(count),
                "alone": [s for _, s in paced(count, _trigger(client))],
            }
            samples["flood"], flood_counts = _under_flood(rooms, client, count, 1.0 if ctx.quick else 1.5)
            samples["commit"], commits = _during_commits(rooms, client, pre_roll_s)
            commit_ms += [c.durable_ms for c in commits if c.durable_ms is not None]
            for name, values in samples.items():
                pooled[name] += values
                if values:
                    runs.setdefault(f"{name}_p50", []).append(1000 * percentile(values, 50))
                    runs.setdefault(f"{name}_p99", []).append(1000 * percentile(values, 99))
        client.clear("bench done")
    finally:
        client.close()
        rooms.close()
    return _section(ctx, runs, pooled, flood_counts, commit_ms, count)


LABELS = {
    "bare": "bare ZeroMQ REQ/REP (no CURVE, no audit)",
    "alone": "trigger: CURVE, fsynced audit entry",
    "flood": f"trigger under a {FLOOD_RATE:g} req/s flood from another client",
    "commit": "trigger while another room commits its pre-roll",
}


def _section(
    ctx: Context,
    runs: dict[str, list[float]],
    pooled: dict[str, list[float]],
    flood_counts: dict[str, int],
    commit_ms: list[float],
    count: int,
) -> Section:
    section = Section(
        "latency",
        "Trigger → acknowledgement latency",
        f"Room A (an HTTP camera at 1280×720@15 and the tone, recording) gets `trigger` requests from the "
        f"real client at {PACE:g}/s, {count} per scenario and run; each one writes and fsyncs an audit "
        "entry before the reply. Bare: the same request bytes echoed by a ZeroMQ REP socket in another "
        "process. Flood: another enrolled client sends triggers as fast as "
        f"{FLOOD_RATE:g}/s (most are refused `rate_limited`). Commit: rooms B on the same disk, each with a "
        "full pre-roll of camera-sized frames, are triggered one after the other; only A's requests sent "
        "between a B trigger and the moment its pre-roll was durable count. Milliseconds.",
    )
    for name in ("bare", "alone", "flood", "commit"):
        for p in (50, 99):
            key = f"{name}_p{p}"
            base = None if name == "bare" else f"bare_p{p}"
            section.add(Figure(key, f"{LABELS[name]}, p{p}", "ms", runs.get(key, []), base, digits=3))
    section.figure("commit_p99").goal = "value ≤ 50 ms"
    section.notes.append(f"flood, last run: {flood_counts}")
    section.notes.append(
        f"requests during B commits: {len(pooled['commit'])} over {len(commit_ms)} commits lasting "
        f"{statistics.median(commit_ms) if commit_ms else float('nan'):.0f} ms (median) each"
    )
    section.plots.append(
        plots.latency_cdf(
            ctx.plots / "latency.png",
            "Trigger → acknowledgement, all runs pooled",
            {LABELS[k]: [1000 * s for s in v] for k, v in pooled.items()},
        )
    )
    return section
