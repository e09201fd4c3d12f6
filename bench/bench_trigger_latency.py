"""Trigger -> acknowledgement latency (CURVE, fsynced audit entry) against a bare ZeroMQ REQ/REP round
trip, unloaded and under a flood from another enrolled client. Run from the repository root:

    .venv/bin/python bench/bench_trigger_latency.py [--requests 2000] [--pace 150] [--flood-rate 1000]

Every request is paced (`--pace` per second, the same for every scenario) so the measuring client
stays under the daemon's per-client rate limit (`--rate-limit`, written into the bench room's config).
The flood runs in a separate process so it does not share the measuring client's GIL.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from panic_button.client import ClientKeys, NoContact, RoomClient, curve_socket
from recorder.demo import DemoRoom, free_tcp_port, set_up_room
from recorder.keygen import create_curve_keypair

_ECHO_SERVER = """
import sys, zmq
sock = zmq.Context().socket(zmq.REP)
sock.bind(sys.argv[1])
while True:
    sock.send(sock.recv())
"""


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def paced(count: int, pace: float, once: Callable[[], None]) -> list[float]:
    """Run `once` `count` times at `pace` per second; return each call's latency in seconds."""
    latencies, start = [], time.perf_counter()
    for i in range(count):
        time.sleep(max(0.0, start + i / pace - time.perf_counter()))
        began = time.perf_counter()
        once()
        latencies.append(time.perf_counter() - began)
    return latencies


def bare_round_trips(count: int, pace: float, payload: bytes) -> list[float]:
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    server = subprocess.Popen([sys.executable, "-c", _ECHO_SERVER, endpoint])
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    sock.linger = 0
    sock.connect(endpoint)
    try:
        sock.send(payload)
        sock.recv()  # warm-up (and wait for the server)

        def once() -> None:
            sock.send(payload)
            if not sock.poll(5000):
                raise RuntimeError("bare echo server did not answer")
            sock.recv()

        return paced(count, pace, once)
    finally:
        sock.close()
        server.terminate()
        server.wait()


def flood(endpoint: str, keys: ClientKeys, plan: tuple[str, float, float], results: Any) -> None:
    """`rate` requests of `kind` per second for `duration_s`, replies read but never waited for (runs
    in its own process)."""
    kind, rate, duration_s = plan
    sock = curve_socket(zmq.Context(), zmq.DEALER, keys)
    sock.connect(endpoint)
    counts = {"sent": 0, "ok": 0, "rate_limited": 0}
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < duration_s:
        sock.send(json.dumps({"v": 1, "id": uuid.uuid4().hex, "type": kind}).encode())
        counts["sent"] += 1
        while sock.poll(0):
            reply = json.loads(sock.recv())
            key = "ok" if reply["ok"] else reply["error"]["code"]
            counts[key] = counts.get(key, 0) + 1
        time.sleep(max(0.0, counts["sent"] / rate - elapsed))
    sock.close(linger=0)
    results.put({**counts, "seconds": round(time.monotonic() - start, 2)})


def start_room(root: Path, rate_limit: float) -> tuple[DemoRoom, ClientKeys, subprocess.Popen[bytes]]:
    room = set_up_room(root, pre_roll_s=2.0, post_roll_s=2.0)
    text = room.config.read_text()
    room.config.write_text(text.replace("[control]\n", f"[control]\nrate_limit_per_s = {rate_limit}\n", 1))
    public, secret = create_curve_keypair(root / "flooder", "flooder")
    shutil.copy(public, root / "authorized_clients" / "flooder.key")
    flooder = ClientKeys.load(secret, root / "keys" / "server.key")
    with (root / "daemon.log").open("wb") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "recorder", "run", "--config", str(room.config)],
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    probe = RoomClient(room.endpoint, room.client_keys, timeout_s=0.5, retries=1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            probe.status()
            probe.close()
            return room, flooder, daemon
        except NoContact:
            time.sleep(0.1)
    daemon.terminate()
    raise RuntimeError("the daemon did not start; see " + str(root / "daemon.log"))


def row(name: str, samples: list[float], base: list[float]) -> str:
    p50, p99 = percentile(samples, 50) * 1e3, percentile(samples, 99) * 1e3
    b50, b99 = percentile(base, 50) * 1e3, percentile(base, 99) * 1e3
    ratios = f"{p50 / b50:6.1f}x | {p99 / b99:6.1f}x"
    return f"| {name:<44} | {len(samples):>5} | {p50:7.3f} | {p99:7.3f} | {ratios} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--pace", type=float, default=150.0, help="measured requests per second")
    parser.add_argument("--flood-rate", type=float, default=1000.0, help="flood requests per second")
    parser.add_argument(
        "--flood-type",
        choices=("trigger", "status"),
        default="trigger",
        help="what the flood sends: trigger (each one served writes an audit entry) or status",
    )
    parser.add_argument("--rate-limit", type=float, default=200.0, help="the daemon's per-client limit")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-trigger-"))
    room, flooder, daemon = start_room(root, args.rate_limit)
    client = RoomClient(room.endpoint, room.client_keys, timeout_s=5.0, retries=1)
    try:
        client.trigger("warm-up: opens the incident")
        trigger = paced(args.requests, args.pace, lambda: client.trigger("bench").get("state"))
        results: Any = multiprocessing.get_context("spawn").Queue()
        duration = args.requests / args.pace + 3
        flooding = multiprocessing.get_context("spawn").Process(
            target=flood, args=(room.endpoint, flooder, (args.flood_type, args.flood_rate, duration), results)
        )
        flooding.start()
        time.sleep(1.5)  # the flood process is up and in full swing
        under_flood = paced(args.requests, args.pace, lambda: client.trigger("bench").get("state"))
        flooding.join()
        flood_counts = results.get(timeout=10)
        request = json.dumps({"v": 1, "id": uuid.uuid4().hex, "type": "trigger", "reason": "bench"}).encode()
        bare = bare_round_trips(args.requests, args.pace, request)
    finally:
        client.close()
        daemon.terminate()
        daemon.wait(timeout=30)
    print(f"trigger -> acknowledgement, {args.requests} requests each, paced at {args.pace:g}/s "
          f"(daemon rate limit {args.rate_limit:g}/s per client)\n")  # fmt: skip
    print(
        "| scenario                                     |     n | p50 ms  | p99 ms  | p50/bare | p99/bare |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(row("bare ZeroMQ REQ/REP (no CURVE, no audit)", bare, bare))
    print(row("trigger (CURVE, fsynced audit entry)", trigger, bare))
    print(row(f"trigger under a {args.flood_rate:g} req/s {args.flood_type} flood", under_flood, bare))
    print(f"\nflood from another enrolled client: {flood_counts}")
    print(f"under flood / unloaded: p50 {percentile(under_flood, 50) / percentile(trigger, 50):.2f}x, "
          f"p99 {percentile(under_flood, 99) / percentile(trigger, 99):.2f}x")  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
