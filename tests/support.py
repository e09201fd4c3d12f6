"""Test support: a real daemon process for a room laid out by `recorder.demo.set_up_room`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from panic_button.client import NoContact, RoomClient
from recorder.demo import DemoRoom


@dataclass
class RunningDaemon:
    room: DemoRoom
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def state_dir(self) -> Path:
        return self.room.root / "state"

    def client(self, **kwargs: float) -> RoomClient:
        return RoomClient(self.room.endpoint, self.room.client_keys, **kwargs)  # type: ignore[arg-type]

    def log_text(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGABRT)  # the daemon's faulthandler logs each stack
                self.process.wait(timeout=10)
                stacks = self.log_text()[-6000:]
                raise AssertionError(f"daemon did not stop within 30 s of SIGTERM:\n{stacks}") from None
        return self.process.returncode


def start_daemon(room: DemoRoom, extra_env: dict[str, str] | None = None) -> RunningDaemon:
    log_path = room.root / "daemon.log"
    env = {**os.environ, **(extra_env or {})}
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "recorder", "run", "--config", str(room.config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    daemon = RunningDaemon(room, process, log_path)
    client = daemon.client(timeout_s=0.5, retries=1)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"daemon exited with {process.returncode}:\n{daemon.log_text()}")
            try:
                client.status()
                return daemon
            except NoContact:
                time.sleep(0.1)
    finally:
        client.close()
    daemon.stop()
    raise RuntimeError(f"daemon did not answer within 30 s:\n{daemon.log_text()}")


def wait_for_state(client: RoomClient, state: str, timeout_s: float = 15) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reply = client.status()
        if reply["state"] == state:
            return reply
        time.sleep(0.1)
    raise AssertionError(f"room did not reach {state!r} within {timeout_s} s")


def record_incident(daemon: RunningDaemon, record_s: float, reason: str = "test") -> str:
    """Trigger through the real client, record `record_s`, clear, and wait until the room is idle
    again (the incident file is then closed). Returns the incident id."""
    client = daemon.client()
    try:
        incident = str(client.trigger(reason=reason)["incident"])
        time.sleep(record_s)
        client.clear(reason=f"{reason} done")
        wait_for_state(client, "idle")
    finally:
        client.close()
    return incident


def needs_tools(*tools: str) -> pytest.MarkDecorator:
    """Skip unless every program is on PATH (the quick start installs them all; in CI a skip fails)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    return pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)}")
