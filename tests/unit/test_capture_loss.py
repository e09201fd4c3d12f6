"""What a source lost reaches the audit log, with the incident it hit (the room's side of the seam)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recorder.audit.verify import read_entries
from tests.unit.test_room import Harness


def _losses(h: Harness) -> list[dict[str, Any]]:
    return [
        e["data"]
        for _, e, _ in read_entries(h.config.storage.audit_path)
        if e and e["event"] == "capture_lost"
    ]


def test_a_loss_while_recording_is_audited_with_its_incident(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.feed(0.5)
    incident = h.request("trigger", reason="test")["incident"]
    h.room.source_status("camera", True, "frames the camera skipped (a gap in its timestamps)", lost=5)
    h.feed(0.2)
    assert _losses(h) == [
        {
            "source": "camera",
            "lost": 5,
            "detail": "frames the camera skipped (a gap in its timestamps)",
            "incident": incident,
        }
    ]
    assert h.room.status()["degraded"] == []


def test_a_loss_while_idle_is_audited_too(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.room.source_status("microphone", True, "audio blocks dropped: the capture thread fell behind", lost=3)
    h.room.tick()
    assert [(loss["source"], loss["lost"], loss["incident"]) for loss in _losses(h)] == [
        ("microphone", 3, None)
    ]
