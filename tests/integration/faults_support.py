"""Fault-suite support: a real daemon with a re-armable fault plan, and a real state subscriber."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zmq

from panic_button.subscriber import StateSubscriber, open_subscriber
from recorder.audit.verify import read_entries
from recorder.demo import DemoRoom
from tests.support import RunningDaemon, start_daemon

PLAN_RELOAD_S = 0.05  # the daemon re-reads a changed plan at most every 20 ms


@dataclass
class FaultyDaemon:
    """A daemon started with RECORDER_FAULT_PLAN, and a CURVE SUB on its state endpoint."""

    daemon: RunningDaemon
    plan: Path
    subscriber: StateSubscriber
    seen: list[dict[str, Any]] = field(default_factory=list)
    _cursor: int = 0  # messages in `seen` before it were already looked at by `wait_published`

    def forget(self) -> None:
        """Drop every message received so far: the next wait looks only at new ones."""
        self.published()
        self.seen.clear()
        self._cursor = 0

    @property
    def room(self) -> DemoRoom:
        return self.daemon.room

    def arm(self, *faults: dict[str, Any], wall_offset_s: float = 0.0) -> None:
        """Replace the plan (atomically); the daemon picks it up at its next fault point."""
        tmp = self.plan.with_suffix(".tmp")
        tmp.write_text(json.dumps({"faults": list(faults), "wall_offset_s": wall_offset_s}))
        os.replace(tmp, self.plan)
        time.sleep(PLAN_RELOAD_S)

    def published(self, timeout_ms: int = 0) -> list[dict[str, Any]]:
        """Every state message received so far (also kept in `seen`)."""
        messages = self.subscriber.poll(timeout_ms)
        self.seen.extend(messages)
        return messages

    def wait_published(self, predicate: Any, timeout_s: float = 10.0) -> dict[str, Any]:
        """The first state message after the one the last wait matched for which `predicate` holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            while self._cursor < len(self.seen):
                message = self.seen[self._cursor]
                self._cursor += 1
                if predicate(message):
                    return message
            if time.monotonic() >= deadline:
                break
            self.published(100)
        raise AssertionError(f"no state message matched within {timeout_s} s; last: {self.seen[-3:]}")

    def audit(self, event: str | None = None) -> list[dict[str, Any]]:
        entries = [e for _, e, _ in read_entries(self.daemon.state_dir / "audit.jsonl") if e]
        return [e for e in entries if event is None or e["event"] == event]

    def incident_files(self) -> set[str]:
        return {p.name for p in self.daemon.state_dir.glob("*.age")}


def state_endpoint(room: DemoRoom) -> str:
    match = re.search(r'state_endpoint = "([^"]+)"', room.config.read_text())
    assert match, "the demo config has no state endpoint"
    return match.group(1)


def start_faulty_daemon(room: DemoRoom, context: zmq.Context[Any]) -> Iterator[FaultyDaemon]:
    """Yields a FaultyDaemon with an empty plan; stops it afterwards. Not under systemd: the hook
    refuses to arm when INVOCATION_ID is set, so it is removed from the daemon's environment."""
    plan = room.root / "faults.json"
    plan.write_text('{"faults": []}')
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("INVOCATION_ID", raising=False)
        daemon = start_daemon(room, {"RECORDER_FAULT_PLAN": str(plan)})
    subscriber = open_subscriber(context, state_endpoint(room), room.client_keys)
    try:
        faulty = FaultyDaemon(daemon, plan, subscriber)
        faulty.wait_published(lambda m: True)  # subscribed: heartbeats arrive
        yield faulty
    finally:
        subscriber.close()
        daemon.stop()
