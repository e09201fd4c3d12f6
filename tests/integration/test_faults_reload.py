"""SIGHUP while the enrolled keys are being changed: a directory moved away for a moment, a key file
caught half-copied. The buttons already enrolled keep working, the failure is audited and shown as
`degraded: allowlist` until a reload succeeds; a key removed on purpose is still revoked."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from panic_button.client import NoContact
from recorder.audit.verify import read_entries
from recorder.demo import DemoRoom, set_up_room
from tests.support import RunningDaemon, wait_for_state


@pytest.fixture
def room(tmp_path: Path) -> DemoRoom:
    """A short pre-roll and post-roll (conftest's `daemon` runs this room)."""
    return set_up_room(tmp_path, pre_roll_s=0.5, post_roll_s=0.2)


def _entries(daemon: RunningDaemon) -> list[dict[str, Any]]:
    return [e for _, e, _ in read_entries(daemon.state_dir / "audit.jsonl") if e]


def _reload(daemon: RunningDaemon, degraded: bool | None) -> dict[str, dict[str, Any]]:
    """SIGHUP, then wait until the reload is audited and `degraded` shows `allowlist` or not (the
    status is answered after the loop turn that reloaded: every entry of that turn is then written;
    None: a revoked client cannot ask). Returns the new entries by event."""
    seen = len(_entries(daemon))
    daemon.process.send_signal(signal.SIGHUP)
    client = daemon.client(timeout_s=2.0, retries=2)
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            new = {e["event"]: e for e in _entries(daemon)[seen:]}
            awaited = "source_failed" if degraded else "allowlist_reloaded"
            if awaited in new and (
                degraded is None or ("allowlist" in client.status()["degraded"]) == degraded
            ):
                return {e["event"]: e for e in _entries(daemon)[seen:]}
            time.sleep(0.05)
    finally:
        client.close()
    raise AssertionError(f"the reload was not audited:\n{daemon.log_text()[-2000:]}")


def _trigger_and_clear(daemon: RunningDaemon) -> dict[str, Any]:
    client = daemon.client(timeout_s=2.0, retries=2)
    try:
        reply = client.trigger(reason="after the reload")
        client.clear(reason="done")
        wait_for_state(client, "idle")
        return reply
    finally:
        client.close()


def test_a_reload_while_the_key_directory_is_moved_away_keeps_the_enrolled_buttons(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    clients = room.root / "authorized_clients"
    os.rename(clients, clients.with_name("authorized_clients.new"))  # a deploy tool replacing it
    failed = _reload(daemon, degraded=True)["source_failed"]
    assert "cannot list" in failed["data"]["detail"] and failed["data"]["source"] == "allowlist"
    reply = _trigger_and_clear(daemon)  # before: refused `not_enrolled` (an empty allowlist)
    assert reply["state"] == "recording" and "allowlist" in reply["degraded"]
    os.rename(clients.with_name("authorized_clients.new"), clients)
    recovered = _reload(daemon, degraded=False)
    assert recovered["allowlist_reloaded"]["data"]["clients"] == ["demo-button"]
    assert recovered["source_recovered"]["data"]["source"] == "allowlist"


def test_a_reload_that_catches_a_key_file_half_copied_keeps_its_previous_key(
    room: DemoRoom, daemon: RunningDaemon
) -> None:
    key_file = room.root / "authorized_clients" / "demo-button.key"
    whole = key_file.read_bytes()
    key_file.write_bytes(whole[: len(whole) - 8])  # `cp` over it, caught before the last bytes
    failed = _reload(daemon, degraded=True)
    assert "demo-button.key" in failed["source_failed"]["data"]["detail"]
    assert failed["allowlist_reloaded"]["data"]["clients"] == ["demo-button"]
    reply = _trigger_and_clear(daemon)  # before: the cut key was enrolled instead, the button refused
    assert reply["state"] == "recording" and "allowlist" in reply["degraded"]
    key_file.write_bytes(whole)
    assert "source_recovered" in _reload(daemon, degraded=False)


def test_a_key_removed_on_purpose_is_still_revoked(room: DemoRoom, daemon: RunningDaemon) -> None:
    (room.root / "authorized_clients" / "demo-button.key").unlink()
    reloaded = _reload(daemon, degraded=None)["allowlist_reloaded"]
    assert reloaded["data"]["clients"] == [] and reloaded["data"]["problems"] == []
    client = daemon.client(timeout_s=2.0, retries=1)
    try:
        with pytest.raises(NoContact):  # a revoked key's handshake is refused: it hears nothing
            client.trigger(reason="revoked")
    finally:
        client.close()
