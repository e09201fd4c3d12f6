"""The audit log under a real daemon: SIGKILL during appends never leaves a log that fails after the
restart; a deleted log is said and recorded; moving the verify key shows in status at once."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from panic_button.client import NoContact, Refused
from recorder.audit.verify import load_initial_key, read_entries, verify
from recorder.demo import DemoRoom
from tests.support import RunningDaemon, start_daemon

DAEMON_KILLS = 5
WRITER_KILLS = 15

_WRITER = """
import logging, sys
from pathlib import Path
import structlog
from recorder.audit.log import AuditLog
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
writer = AuditLog(Path(sys.argv[1]))
print("ready", file=sys.stderr, flush=True)
n = 0
while True:
    writer.append("annotation", incident="x", text="ä" * (n % 300), n=n)
    n += 1
"""


def _hammer(daemon: RunningDaemon, stop: threading.Event) -> None:
    """Requests that each append an entry, as fast as the daemon answers, until killed."""
    client = daemon.client(timeout_s=0.5, retries=1)
    try:
        while not stop.is_set():
            try:
                reply = client.trigger(reason="kill test")
                client.annotate(str(reply["incident"]), "während des Gesprächs")
                client.clear(reason="kill test")
            except (NoContact, Refused):
                return
    finally:
        client.close()


def _key(room: DemoRoom) -> bytes:
    return load_initial_key(room.root / "state" / "audit.jsonl.verify-key")


def test_sigkill_during_appends_always_leaves_a_log_that_verifies_after_restart(room: DemoRoom) -> None:
    log = room.root / "state" / "audit.jsonl"
    rng = random.Random(10)
    counts = []
    for _ in range(DAEMON_KILLS):
        daemon = start_daemon(room)
        stop = threading.Event()
        hammer = threading.Thread(target=_hammer, args=(daemon, stop))
        hammer.start()
        time.sleep(rng.uniform(0.3, 1.2))
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait(timeout=10)
        stop.set()
        hammer.join(timeout=10)
        counts.append(sum(1 for _ in read_entries(log)))
    start_daemon(room).stop()  # the restart after the last kill reconciles too
    report = verify(log, _key(room))
    assert report.ok, report.problems
    assert counts == sorted(counts) and counts[-1] - counts[0] > DAEMON_KILLS * 3  # appends did happen


def test_sigkill_of_a_writer_at_random_points_always_reconciles(tmp_path: Path) -> None:
    from recorder.audit.log import AuditLog

    log = tmp_path / "audit.jsonl"
    key = AuditLog.create(log, tmp_path / "verify.key")
    rng = random.Random(11)
    for _ in range(WRITER_KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stderr is not None and child.stderr.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.15))
        child.kill()
        child.wait(timeout=10)
        AuditLog(log).close()  # the next start
        report = verify(log, key)
        assert report.ok, report.problems
    assert report.entries > WRITER_KILLS


def test_a_deleted_log_is_said_at_start_and_recorded_as_a_gap(room: DemoRoom) -> None:
    start_daemon(room).stop()
    log = room.root / "state" / "audit.jsonl"
    log.unlink()
    daemon = start_daemon(room)
    assert daemon.stop() == 0
    assert '"audit_log_missing"' in daemon.log_text() or "audit_log_missing" in daemon.log_text()
    first = next(read_entries(log))[1]
    assert first is not None and first["event"] == "log_gap" and first["data"]["log_missing"] is True
    problems = verify(log, _key(room)).problems
    assert problems[0].startswith("line 1 (seq 2): 2 entries (seq 0..1) missing from the log")


def test_moving_the_verify_key_off_the_device_shows_in_status_without_a_restart(
    room: DemoRoom, tmp_path: Path
) -> None:
    daemon = start_daemon(room)
    client = daemon.client()
    try:
        assert client.status()["privacy"]["audit_verify_key_on_device"] is True
        shutil.move(room.root / "state" / "audit.jsonl.verify-key", tmp_path / "auditor.key")
        assert client.status()["privacy"]["audit_verify_key_on_device"] is False
    finally:
        client.close()
        daemon.stop()
