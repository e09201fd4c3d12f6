"""`bench/run --quick` (the CI smoke of the benchmarks): it runs every module and the page holds every
figure and plot. Thresholds are not checked: the quick sizes are too small to mean anything."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from tests.support import needs_tools

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "encode": ["floor", "ours", "ffmpeg"],
    "passthrough": ["ffmpeg_decode", "ffmpeg_copy", "reencode", "passthrough", "daemon"],
    "latency": [f"{s}_p{p}" for s in ("bare", "alone", "flood", "commit") for p in (50, 99)],
    "preroll": ["dd", "durable", "dd_1m", "ack", "delivered", "frames"],
    "memory": ["ring", "without", "with", "extra"],
    "export": ["ffmpeg_copy", "mkv", "cli_base", "cli", "ffmpeg_mp4", "mp4"],
    "rooms": ["max_rooms", "reader", "per_room", "p99"],
    "soak": ["rss_start", "rss_end", "rss_slope", "fds_start", "fds_end", "cpu", "ring"],
    "vault": ["bare_put", "upload", "rooms_landed", "rooms_seconds", "frames_lost"],
}
PLOTS = {"latency.png", "rooms.png", "soak.png"}


@pytest.mark.slow
@needs_tools("ffmpeg", "ffprobe", "age", "dd")
def test_quick_run_writes_every_figure_and_plot(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [str(ROOT / "bench" / "run"), "--quick", "--out", str(page)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "benchmarks" / "results.json").read_text())
    sections = {s["key"]: s for s in results["sections"]}
    expected = dict(FIGURES)
    if (ROOT / "bench" / "bench_audit.py").exists():
        expected["audit"] = ["verify", "verify_floor", "append", "append_floor", "append_p99"]
    assert set(sections) == set(expected)
    for key, figures in expected.items():
        found = {f["key"]: f["values"] for f in sections[key]["figures"]}
        assert set(figures) <= set(found), key
        assert all(found[name] and all(math.isfinite(v) for v in found[name]) for name in figures), key
        assert not sections[key]["error"]
    text = page.read_text()
    for plot in PLOTS:
        assert (tmp_path / "benchmarks" / plot).read_bytes().startswith(b"\x89PNG")
        assert f"(benchmarks/{plot})" in text
    assert "| CPU |" in text and "load average" in text
