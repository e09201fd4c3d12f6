"""The technician guide, end to end, under a real systemd: a Debian 12 container (systemd-nspawn) runs
docs/deploy.md's commands — wheelhouse, install, start, enrol, reload, press, logs, hand-over, upgrade,
roll back, uninstall — and the unit's promises are checked there: READY and STATUS, reload, the
watchdog restart, the sandbox. The container runs everything in one boot (~1.5 min warm); each test
below judges one promise from what it left in /results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from recorder import __version__
from tests.integration.systemd_nspawn import REPO, boot, cached_root, guide_steps
from tests.support import needs_tools

pytestmark = [
    needs_tools("mmdebstrap", "systemd-nspawn", "script", "unshare", "age"),
    pytest.mark.skipif(os.geteuid() != 0, reason="systemd-nspawn needs root"),
    pytest.mark.slow,
]
HERE = Path(__file__).parent
ROOM, NEW_VERSION = "interview-2", f"{__version__}.post1"
DRIVER_UNIT = """[Unit]
Description=room-recorder deployment test driver
After=multi-user.target
[Service]
Type=oneshot
TimeoutStartSec=540
ExecStart=/bin/bash /srv/rr/driver.sh
ExecStopPost=/bin/systemctl poweroff --no-block
"""
PROBE_DROP_IN = f"""[Service]
Type=oneshot
Restart=no
WatchdogSec=0
ExecStartPre=
ExecStart=
ExecStart=/opt/room-recorder/bin/python /srv/rr/probe.py {ROOM}
"""
RUN_BY_THE_DRIVER = [  # the guide's steps, in the guide's order
    "officer", "wheelhouse", "packages", "release", "switch", "install", "check", "enrol", "reload",
    "start", "press", "logs", "handover", "upgrade-check", "uninstall",
]  # fmt: skip


@dataclass
class Run:
    results: Path
    officer: Path
    timing: str

    def out(self, tag: str) -> str:
        return (self.results / f"{tag}.out").read_text()

    def rc(self, tag: str) -> int:
        return int((self.results / f"{tag}.rc").read_text())

    def show(self, tag: str) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.out(tag).splitlines() if "=" in line)

    def audit(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in (self.results / "audit.jsonl").read_text().splitlines()]


def _host_step(name: str, cwd: Path, env: dict[str, str]) -> str:
    """Run one of the guide's blocks that run off the box (officer, workstation)."""
    result = subprocess.run(
        ["bash", "-e", "-c", guide_steps()[name]], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"guide step {name}: {result.stderr[-2000:]}"
    return result.stdout


def _release(tmp: Path, version: str) -> Path:
    """A clean copy of the source tree as release `version` (the build writes into the tree it builds)."""
    copy = tmp / f"release-{version}"
    ignore = shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(REPO, copy, symlinks=True, ignore=ignore)
    for path in (copy / "pyproject.toml", copy / "recorder" / "__init__.py"):
        path.write_text(path.read_text().replace(f'"{__version__}"', f'"{version}"', 1))
    return copy


def _workstation(tmp: Path) -> tuple[Path, str]:
    """The guide's step 0, on this machine: the officer's identity and the wheelhouse (both releases)."""
    home = tmp / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    officer = _host_step("officer", tmp, env)
    recipient = next(word for word in officer.split() if word.startswith("age1"))
    for version in (__version__, NEW_VERSION):
        _host_step("wheelhouse", _release(tmp, version), {**env, "VERSION": version})
    return home / "wheelhouse", recipient


def _lay_out(tmp: Path, recipient: str) -> Path:
    srv = tmp / "srv"
    (srv / "steps").mkdir(parents=True)
    for name, text in guide_steps().items():
        (srv / "steps" / f"{name}.sh").write_text(text)
    shutil.copy(HERE / "systemd_nspawn_driver.sh", srv / "driver.sh")
    shutil.copy(HERE / "systemd_nspawn_probe.py", srv / "probe.py")
    (srv / "sandbox-probe.conf").write_text(PROBE_DROP_IN)
    (srv / "rr-driver.service").write_text(DRIVER_UNIT)
    (srv / "env").write_text(
        f"ROOM={ROOM}\nBUTTON=desk-1\nVERSION={__version__}\nOLD_VERSION={__version__}\n"
        f"NEW_VERSION={NEW_VERSION}\nRECIPIENT={recipient}\nHANDOVER=/results/handover\n"
    )
    for path in [srv, *srv.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the probe runs as the daemon's user
    return srv


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("nspawn")
    started = time.monotonic()
    root, build_s = cached_root()
    wheelhouse, recipient = _workstation(tmp)
    srv = _lay_out(tmp, recipient)
    results = tmp / "results"
    results.mkdir()
    binds = {
        results: "/results",
        srv: "/srv/rr:ro",
        wheelhouse: "/root/wheelhouse:ro",
        srv / "rr-driver.service": "/etc/systemd/system/rr-driver.service:ro",
    }
    booted = time.monotonic()
    boot(root, binds, "rr-driver.service", tmp / "console.log", timeout_s=600)
    host_s, container_s = booted - started - build_s, time.monotonic() - booted
    timing = f"root build {build_s:.0f} s, host steps {host_s:.0f} s, container {container_s:.0f} s"
    print(f"\nnspawn deployment test: {timing}")
    assert (results / "done").exists(), (tmp / "console.log").read_text(errors="replace")[-3000:]
    yield Run(results, tmp / "officer.txt", timing)


def test_the_driver_runs_every_step_of_the_guide() -> None:
    assert list(guide_steps()) == RUN_BY_THE_DRIVER


@pytest.mark.parametrize(
    "tag",
    ["packages", "release", "switch", "install", "check", "enrol", "start", "enrol-late", "reload",
     "press", "logs", "handover", "upgrade-release", "upgrade-check", "upgrade-switch", "rollback-switch",
     "uninstall"],
)  # fmt: skip
def test_each_guide_step_succeeds_in_the_container(run: Run, tag: str) -> None:
    assert run.rc(tag) == 0, run.out(tag)[-3000:]


def test_start_returns_once_ready_and_status_tells_the_state(run: Run) -> None:
    show = run.show("show-started")
    assert (show["ActiveState"], show["SubState"]) == ("active", "running")
    assert show["StatusText"].startswith(f"room {ROOM}: idle"), show
    assert f'Status: "room {ROOM}: idle' in run.out("start")


def test_reload_lets_in_a_key_enrolled_while_running(run: Run) -> None:
    assert run.rc("status-late-before") == 4, run.out("status-late-before")  # NO CONTACT: not enrolled yet
    assert run.rc("status-late-after") == 0, run.out("status-late-after")
    assert any(entry["event"] == "allowlist_reloaded" for entry in run.audit())


def test_a_press_records_an_incident_that_stock_age_decrypts(run: Run) -> None:
    assert f'Status: "room {ROOM}: recording incident {ROOM}-' in run.out("press")
    incidents = sorted((run.results / "incidents").glob("*.age"))
    assert len(incidents) == 1
    result = subprocess.run(["age", "-d", "-i", str(run.officer), str(incidents[0])], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"\x1a\x45\xdf\xa3")  # Matroska (EBML)


def test_the_unit_lets_the_daemon_lock_its_memory(run: Run) -> None:
    """LimitMEMLOCK=infinity and CAP_IPC_LOCK work: key memory and all memory are locked (no swap)."""
    journal = run.out("start").splitlines()
    hardened = [json.loads(line[line.index("{") :]) for line in journal if '"process_hardened"' in line]
    assert hardened and hardened[0]["memory_locked"] is True, hardened
    assert "key_memory_not_locked" not in run.out("journal")


def test_journal_shows_the_audit_echo_lines(run: Run) -> None:
    echoed = [json.loads(line) for line in run.out("logs").splitlines() if line.startswith("{")]
    assert {entry["audit_event"] for entry in echoed} >= {"daemon_started", "incident_started", "clear"}
    assert all(entry["event"] == "audit_appended" and entry["hash"] for entry in echoed)


def test_the_sandbox_lets_the_daemon_write_only_its_state_directory(run: Run) -> None:
    assert run.rc("sandbox") == 0, run.out("sandbox-journal")
    line = next(line for line in run.out("sandbox-journal").splitlines() if line.startswith("SANDBOX "))
    written = {
        place for place, outcome in json.loads(line.removeprefix("SANDBOX ")).items() if outcome == "written"
    }
    assert written == {"own state directory"}, line


def test_a_stopped_daemon_is_killed_by_the_watchdog_restarted_and_audited(run: Run) -> None:
    before, after = run.show("show-before-stop"), run.show("show-after-watchdog")
    assert int(after["NRestarts"]) >= 1 and after["MainPID"] != before["MainPID"], (before, after)
    assert after["ActiveState"] == "active"
    assert "Watchdog timeout" in run.out("journal")
    starts = [
        (entry["event"], entry["data"].get("pid"))
        for entry in run.audit()
        if entry["event"].startswith("daemon_")
    ]
    stopped_pid = int(before["MainPID"])
    index = starts.index(("daemon_started", stopped_pid))
    # The stopped run never wrote daemon_stopped: the next start first audits the recovery, naming it.
    assert starts[index + 1][0] == "daemon_recovered", starts
    recovered = [e["data"] for e in run.audit() if e["event"] == "daemon_recovered"]
    assert any(isinstance(d, dict) and d.get("previous_pid") == stopped_pid for d in recovered), recovered
    assert ("daemon_started", int(after["MainPID"])) in starts[index + 1 :]


def test_upgrade_and_roll_back_switch_the_running_release(run: Run) -> None:
    assert NEW_VERSION in run.out("version-upgraded")
    # The enabled room's unit is not inside a release, which an upgrade leaves behind and may delete.
    assert run.out("unit-after-upgrade").strip() == "/etc/systemd/system/recorder@.service"
    assert run.out("version-rolled-back").split()[-1] == __version__
    versions = [entry["data"]["version"] for entry in run.audit() if entry["event"] == "daemon_started"]
    assert versions[-2:] == [NEW_VERSION, __version__], versions


def test_the_audit_log_verifies_with_the_handed_over_key(run: Run) -> None:
    key = run.results / "handover" / f"{ROOM}-audit.verify-key"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "recorder",
            "audit",
            "verify",
            str(run.results / "audit.jsonl"),
            "--key",
            str(key),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_uninstall_stops_the_room_and_keeps_incidents_and_audit(run: Run) -> None:
    kept = run.out("after-uninstall")
    assert "audit.jsonl" in kept and ".age" in kept and f"{ROOM}.toml" in kept
    assert run.show("show-uninstalled")["ActiveState"] == "inactive"
