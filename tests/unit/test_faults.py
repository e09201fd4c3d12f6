"""The fault-injection hook is inert unless asked for, and never arms under systemd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recorder import faults
from recorder.errors import ConfigError


def test_without_a_plan_every_point_is_inert() -> None:
    assert faults.install_from_environment({}) is None
    for name in faults.POINTS:
        faults.point(name)  # raises nothing


def test_a_plan_is_refused_in_a_systemd_service(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"faults": []}')
    env = {faults.ENV: str(plan), faults.SYSTEMD_MARKER: "0123abcd"}
    with pytest.raises(ConfigError, match="systemd"):
        faults.install_from_environment(env)
    assert faults._plan is None


@pytest.mark.parametrize("text", ["not json", '{"faults": [{"point": "nowhere", "error": "EIO"}]}'])
def test_a_malformed_plan_stops_the_start(tmp_path: Path, text: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(text)
    with pytest.raises(ConfigError):
        faults.FaultPlan(plan)


def test_a_fault_fires_after_its_passes_and_only_its_times(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"faults": [{"point": "incident.seal", "error": "ENOSPC", "after": 1, "times": 2}]})
    )
    armed = faults.FaultPlan(plan)
    armed.hit("incident.seal")
    for _ in range(2):
        with pytest.raises(OSError, match=r"injected at incident\.seal") as error:
            armed.hit("incident.seal")
        assert error.value.errno == 28
    armed.hit("incident.seal")
    armed.hit("incident.open")
