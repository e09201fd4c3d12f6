"""Audit log speed: verifying a 1,000,000-entry log against a bare SHA-256 + HMAC loop over the same
bytes (the floor), and appends with fsync against a bare write + fsync loop. Run from the repository root:

    .venv/bin/python -m bench.bench_audit [--entries 1000000] [--appends 2000] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from bench.figures import Context, Figure, Section
from recorder.audit import chain
from recorder.audit.log import AuditLog
from recorder.audit.state import WriterState
from recorder.audit.verify import verify

_DATA = {
    "incident": "interview-2-20261129T101500Z-3fa2c1",
    "client": "desk-1",
    "reason": "Bürger äußerte Drohung",
    "file": "interview-2-20261129T101500Z-3fa2c1.age",
    "pre_roll": {"configured_s": 30.0, "delivered_s": 29.93, "video_frames": 449, "audio_samples": 1436640},
}


def write_log(path: Path, entries: int) -> bytes:
    """A log of `entries` realistic entries in the writer's exact format, without fsyncs. Returns K0."""
    key = secrets.token_bytes(32)
    state, size = WriterState(0, key, chain.GENESIS_HASH, 0), 0
    with path.open("wb", buffering=1 << 20) as out:
        for seq in range(entries):
            body = {"v": 2, "seq": seq, "time": "2026-11-29T10:15:00.123Z", "event": "incident_started"}
            line, digest, _ = chain.seal({**body, "data": _DATA, "prev": state.prev}, state.key)
            out.write(line)
            size += len(line)
            state = state.advanced(digest, size)
    return key


def floor_verify(path: Path, key: bytes) -> int:
    """The least any verifier must do: split lines, SHA-256 the body, HMAC, evolve the key."""
    count = 0
    label = b"room-recorder/audit/v2/mac"
    with path.open("rb") as handle:
        for line in handle:
            body = line[:-149] + b"}"  # the fixed 149-byte suffix holds hash and mac
            digest = hashlib.sha256(body).digest()
            hmac.new(key, label + digest, hashlib.sha256).digest()
            key = chain.evolve(key)
            count += 1
    return count


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def bench_verify(directory: Path, entries: int) -> dict[str, Any]:
    path = directory / "audit.jsonl"
    key = write_log(path, entries)
    started = time.perf_counter()
    report = verify(path, key)
    verify_s = time.perf_counter() - started
    assert report.ok and report.entries == entries, report.problems
    started = time.perf_counter()
    floor_count = floor_verify(path, key)
    floor_s = time.perf_counter() - started
    return {
        "verify_entries": entries,
        "log_mib": round(path.stat().st_size / 2**20, 1),
        "verify_entries_per_s": _rate(entries, verify_s),
        "floor_entries_per_s": _rate(floor_count, floor_s),
        "verify_vs_floor": round(verify_s / floor_s, 2),
    }


def bench_append(directory: Path, appends: int) -> dict[str, Any]:
    path = directory / "append.jsonl"
    AuditLog.create(path, directory / "append.verify-key")
    writer = AuditLog(path)
    latencies = []
    for _ in range(appends):
        started = time.perf_counter()
        writer.append("incident_started", **_DATA)
        latencies.append(time.perf_counter() - started)
    writer.close()
    line = path.read_bytes().splitlines(keepends=True)[-1]
    floor = []
    fd = os.open(directory / "floor.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        for _ in range(appends):
            started = time.perf_counter()
            os.write(fd, line)
            os.fsync(fd)
            floor.append(time.perf_counter() - started)
    finally:
        os.close(fd)
    return {
        "appends": appends,
        "append_per_s": _rate(appends, sum(latencies)),
        "append_p50_ms": round(statistics.median(latencies) * 1000, 3),
        "append_p99_ms": round(statistics.quantiles(latencies, n=100)[98] * 1000, 3),
        "floor_write_fsync_per_s": _rate(appends, sum(floor)),
        "append_vs_floor": round(sum(latencies) / sum(floor), 2),
    }


def measure(ctx: Context) -> Section:
    """For `bench/run`: verify and append throughput against their floors, `ctx.runs` times (in
    `--quick`: a 2,000-entry log and 100 appends, once)."""
    entries, appends, runs = (2_000, 100, 1) if ctx.quick else (1_000_000, 2_000, ctx.runs)
    section = Section(
        "audit",
        "Audit log: verification and appends",
        method=f"verify a {entries:,}-entry log (exact bytes, canonical check, chain, MAC) against a bare "
        "SHA-256 + HMAC + key-evolution loop over the same lines; fsynced appends (entry, then the "
        "evolved key) against one write + fsync of the same line",
    )
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    verify_rate = section.add(Figure("verify", "verify", "entries/s", [], baseline="verify_floor", digits=0))
    floor_rate = section.add(Figure("verify_floor", "floor: SHA-256 + HMAC loop", "entries/s", [], digits=0))
    append_rate = section.add(Figure("append", "append with fsync", "appends/s", [], baseline="append_floor"))
    append_floor = section.add(Figure("append_floor", "floor: write + fsync", "appends/s", []))
    p99 = section.add(Figure("append_p99", "append p99", "ms", [], digits=2))
    for run in range(runs):
        ctx.log(f"audit: run {run + 1}/{runs} ({entries:,} entries, {appends} appends)")
        with tempfile.TemporaryDirectory(prefix="audit-", dir=ctx.work) as tmp:
            verified = bench_verify(Path(tmp), entries)
            appended = bench_append(Path(tmp), appends)
        verify_rate.values.append(verified["verify_entries_per_s"])
        floor_rate.values.append(verified["floor_entries_per_s"])
        append_rate.values.append(appended["append_per_s"])
        append_floor.values.append(appended["floor_write_fsync_per_s"])
        p99.values.append(appended["append_p99_ms"])
    return section


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Print the figures and return them."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries in the verified log")
    parser.add_argument("--appends", type=int, default=2000, help="fsynced appends to time")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="bench-audit-", dir=Path.cwd()) as tmp:
        figures = {**bench_verify(Path(tmp), args.entries), **bench_append(Path(tmp), args.appends)}
    figures["command"] = " ".join([".venv/bin/python -m bench.bench_audit", *(argv or sys.argv[1:])])
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for name, value in figures.items():
            print(f"{name:<26} {value}")
    return figures


if __name__ == "__main__":
    main()
