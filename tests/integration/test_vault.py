"""The evidence vault against a real SeaweedFS on loopback (started once for the module): three room
daemons upload to one bucket; Object Lock refuses early deletes; stock age decrypts what the vault
holds; a vault killed mid-upload resumes to exactly one object; the vault witnesses the audit log."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from recorder.audit.log import AuditLog
from recorder.audit.trail import parse_time
from recorder.config import load_config
from recorder.demo import DemoRoom, set_up_room
from recorder.vault import VaultUploader
from recorder.vault.client import Credentials, error_code
from recorder.vault.testing import Identity, SeaweedFS, room_identity, write_credentials
from recorder.vault.uploader import UPLOAD_NICE
from tests.support import RunningDaemon, needs_tools, record_incident, start_daemon

pytestmark = pytest.mark.slow

BUCKET, PLAIN = "vault", "plain"
ROOMS = ("room-a", "room-b", "room-c")
AUDITOR = Identity(
    "auditor", Credentials("auditor-key", "auditor-secret"), [f"Read:{BUCKET}", f"List:{BUCKET}"]
)
WAIT_S = 30.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    rooms = [room_identity(room, BUCKET, "rooms") for room in (*ROOMS, "room-k")]
    seaweed = SeaweedFS(
        tmp_path_factory.mktemp("seaweed"), [*rooms, room_identity("room-p", PLAIN, "rooms"), AUDITOR]
    )
    seaweed.start()
    try:
        seaweed.make_bucket(BUCKET)
        seaweed.make_bucket(PLAIN, object_lock=False)
        seaweed.client().put_object(Bucket=BUCKET, Key="warm-up", Body=b"")  # its volumes grow once, here
        yield seaweed
    finally:
        seaweed.kill()


def _vault_table(store: SeaweedFS, root: Path, room: str, bucket: str = BUCKET, extra: str = "") -> str:
    identity = room_identity(room, bucket, "rooms")
    credentials = write_credentials(root / "vault.credentials", identity.credentials)
    return (
        f'\n[vault]\nendpoint = "{store.endpoint}"\nbucket = "{bucket}"\ncredentials = "{credentials}"\n'
        f"checkpoint_interval_s = 1\nretry_max_s = 0.5\n{extra}"
    )


def _room(store: SeaweedFS, root: Path, room: str, extra: str = "") -> DemoRoom:
    demo = set_up_room(root, pre_roll_s=0.5, post_roll_s=0.2)
    text = demo.config.read_text().replace('room = "demo-room"', f'room = "{room}"')
    demo.config.write_text(text + _vault_table(store, root, room, extra=extra))
    return demo


def _entries(log: Path, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [line for line in lines if line["event"] == event]


def _wait_for_entry(log: Path, event: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if found := _entries(log, event):
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"no {event} in {log} within {WAIT_S} s")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder", *args], capture_output=True, text=True, timeout=60
    )


def _auditor(store: SeaweedFS, root: Path) -> list[str]:
    credentials = write_credentials(root / "auditor.credentials", AUDITOR.credentials)
    return ["--endpoint", store.endpoint, "--credentials", str(credentials)]


@pytest.fixture(scope="module")
def fleet(store: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningDaemon]]:
    """Three rooms, each with one incident uploaded and the checkpoint that follows it."""
    daemons = {room: start_daemon(_room(store, tmp_path_factory.mktemp(room), room)) for room in ROOMS}
    try:
        for daemon in daemons.values():
            record_incident(daemon, 0.3)
        for daemon in daemons.values():
            _wait_for_entry(daemon.state_dir / "audit.jsonl", "incident_uploaded")
        time.sleep(1.5)  # the checkpoint holding incident_uploaded follows within a second
        yield daemons
    finally:
        for daemon in daemons.values():
            daemon.stop()


def test_three_rooms_upload_one_locked_object_per_incident_with_the_audited_hash(
    store: SeaweedFS, fleet: dict[str, RunningDaemon]
) -> None:
    admin = store.client()
    for room, daemon in fleet.items():
        log = daemon.state_dir / "audit.jsonl"
        uploaded = _entries(log, "incident_uploaded")[-1]["data"]
        started = _entries(log, "incident_started")[-1]
        local = daemon.state_dir / uploaded["file"]
        assert uploaded["key"] == f"rooms/{room}/incidents/{started['data']['incident']}.age"
        assert uploaded["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
        versions = admin.list_object_versions(Bucket=BUCKET, Prefix=uploaded["key"])
        assert len(versions.get("Versions", [])) == 1 and not versions.get("DeleteMarkers")
        body = admin.get_object(Bucket=BUCKET, Key=uploaded["key"])
        assert hashlib.sha256(body["Body"].read()).hexdigest() == uploaded["sha256"]
        assert body["ObjectLockMode"] == "COMPLIANCE"
        due = parse_time(started["time"]) + timedelta(days=14)  # retention_days from its audited start
        assert abs((body["ObjectLockRetainUntilDate"] - due).total_seconds()) < 1


def _nice_values(pid: int) -> list[int]:
    """The nice value of each thread of `pid` (field 19 of /proc/PID/task/TID/stat)."""
    stats = (task / "stat" for task in Path(f"/proc/{pid}/task").iterdir())
    return sorted(int(path.read_text().rsplit(")", 1)[1].split()[16]) for path in stats)


def test_only_the_uploader_thread_runs_at_a_lower_cpu_priority(fleet: dict[str, RunningDaemon]) -> None:
    """Capture and control win the CPU over uploads (20 rooms uploading at once starved a capture)."""
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the daemons inherit the test's own nice value
    if base >= UPLOAD_NICE:
        pytest.skip(f"the tests run at nice {base}: the uploader's nice {UPLOAD_NICE} cannot be told apart")
    for daemon in fleet.values():
        nice = _nice_values(daemon.process.pid)
        assert nice.count(UPLOAD_NICE) == 1, nice
        assert set(nice) == {base, UPLOAD_NICE}, nice


def test_an_early_delete_with_the_rooms_credentials_is_refused(
    store: SeaweedFS, fleet: dict[str, RunningDaemon]
) -> None:
    uploaded = _entries(fleet["room-a"].state_dir / "audit.jsonl", "incident_uploaded")[-1]["data"]
    own, admin = store.client(room_identity("room-a", BUCKET, "rooms").credentials), store.client()
    for client in (own, admin):  # COMPLIANCE: not even the store's admin
        with pytest.raises(Exception) as refused:
            client.delete_object(Bucket=BUCKET, Key=uploaded["key"], VersionId=uploaded["version_id"])
        assert error_code(refused.value) == "AccessDenied"
    other = store.client(room_identity("room-b", BUCKET, "rooms").credentials)
    with pytest.raises(Exception) as refused:
        other.put_object(Bucket=BUCKET, Key=uploaded["key"], Body=b"not this room's")
    assert error_code(refused.value) == "AccessDenied"
    assert admin.head_object(Bucket=BUCKET, Key=uploaded["key"], VersionId=uploaded["version_id"])


@needs_tools("age")
def test_stock_age_and_recorder_export_decrypt_the_vaults_copy(
    store: SeaweedFS, fleet: dict[str, RunningDaemon], tmp_path: Path
) -> None:
    daemon = fleet["room-b"]
    uploaded = _entries(daemon.state_dir / "audit.jsonl", "incident_uploaded")[-1]["data"]
    copy = tmp_path / "incident.age"
    copy.write_bytes(store.client().get_object(Bucket=BUCKET, Key=uploaded["key"])["Body"].read())
    identity = daemon.room.officer_identity
    plain = subprocess.run(["age", "-d", "-i", str(identity), str(copy)], capture_output=True, timeout=30)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith(bytes.fromhex("1a45dfa3"))  # Matroska's EBML magic
    url = f"s3://{BUCKET}/{uploaded['key']}"
    out = tmp_path / "out.mkv"
    result = _cli(
        "export", url, "--identity", str(identity), "-o", str(out), "--quiet", *_auditor(store, tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


def test_verify_vault_fails_when_the_newest_entries_are_dropped(
    store: SeaweedFS, fleet: dict[str, RunningDaemon], tmp_path: Path
) -> None:
    state = fleet["room-a"].state_dir
    key, log = state / "audit.jsonl.verify-key", tmp_path / "audit.jsonl"
    shutil.copy(state / "audit.jsonl", log)
    vault = ["--vault", f"s3://{BUCKET}/rooms/room-a", *_auditor(store, tmp_path)]
    result = _cli("audit", "verify", str(log), "--key", str(key), *vault)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checkpoint(s), entries up to seq" in result.stdout
    uploaded_seq = _entries(log, "incident_uploaded")[-1]["seq"]
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(line for line in lines if json.loads(line)["seq"] < uploaded_seq))
    alone = _cli("audit", "verify", str(log), "--key", str(key))
    assert alone.returncode == 0  # the file alone cannot tell
    result = _cli("audit", "verify", str(log), "--key", str(key), *vault)
    assert result.returncode == 1
    assert f"truncated: the log ends at seq {uploaded_seq - 1}" in result.stderr


def test_vault_list_and_the_report_cover_every_room(
    store: SeaweedFS, fleet: dict[str, RunningDaemon], tmp_path: Path
) -> None:
    listing = _cli("vault", "list", f"s3://{BUCKET}/rooms", *_auditor(store, tmp_path))
    assert listing.returncode == 0, listing.stderr
    for room in ROOMS:
        assert f"{room}: 1 incident(s)" in listing.stdout
    keys = tmp_path / "keys"
    keys.mkdir()
    for room, daemon in fleet.items():
        shutil.copy(daemon.state_dir / "audit.jsonl.verify-key", keys / f"{room}.verify-key")
    report = tmp_path / "report.html"
    auditor = _auditor(store, tmp_path)
    result = _cli(
        "audit",
        "report",
        "--vault",
        f"s3://{BUCKET}/rooms",
        "--key-dir",
        str(keys),
        "-o",
        str(report),
        *auditor,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    html = report.read_text()
    for room in ROOMS:
        assert f"Room {room}: audit log verifies" in html
    assert "the vault&#x27;s copy of the log" in html


def test_hold_and_release_follow_into_the_vault(store: SeaweedFS, fleet: dict[str, RunningDaemon]) -> None:
    daemon = fleet["room-c"]
    uploaded = _entries(daemon.state_dir / "audit.jsonl", "incident_uploaded")[-1]["data"]
    incident, admin = uploaded["incident"], store.client()

    def hold() -> str:
        reply = admin.get_object_legal_hold(
            Bucket=BUCKET, Key=uploaded["key"], VersionId=uploaded["version_id"]
        )
        return str(reply["LegalHold"]["Status"])

    placed = _cli("hold", incident, "--config", str(daemon.room.config), "--reason", "case 12")
    assert placed.returncode == 0, placed.stderr
    assert "legal hold ON" in placed.stdout and hold() == "ON"
    released = _cli("hold", incident, "--config", str(daemon.room.config), "--reason", "closed", "--release")
    assert released.returncode == 0, released.stderr
    assert hold() == "OFF"


def _uploader_room(
    store: SeaweedFS, root: Path, room: str, bucket: str = BUCKET, extra: str = ""
) -> tuple[Any, str]:
    """A room's config, log and one closed incident of `size` random bytes, for an in-process uploader."""
    demo = set_up_room(root, pre_roll_s=0.5, post_roll_s=0.2)
    text = demo.config.read_text().replace('room = "demo-room"', f'room = "{room}"')
    demo.config.write_text(text + _vault_table(store, root, room, bucket, extra))
    config = load_config(demo.config)
    config.storage.directory.mkdir(mode=0o700)
    AuditLog.create(config.storage.audit_path, config.storage.verify_key_path)
    incident = f"{room}-20261201T100000Z-abcdef"
    config.storage.incident_path(incident).write_bytes(random.randbytes(16 << 20))
    audit = AuditLog(config.storage.audit_path)
    audit.append("incident_started", incident=incident, client="test")
    audit.append("incident_closed", incident=incident, why="post_roll_elapsed")
    audit.close()
    return config, incident


def test_a_vault_killed_mid_upload_comes_back_and_the_upload_resumes_to_one_object(
    store: SeaweedFS, tmp_path: Path
) -> None:
    config, incident = _uploader_room(store, tmp_path, "room-k", extra="part_size_mb = 5\n")
    health: list[tuple[str, bool, str]] = []
    parts = 0

    def between_parts() -> None:  # called before each part: the vault dies after the first two
        nonlocal parts
        parts += 1
        if parts == 3:
            store.kill()
            threading.Timer(1.0, store.start).start()

    uploader = VaultUploader(config, lambda *report: health.append(report), between_parts)
    uploader.start()
    try:
        uploaded = _wait_for_entry(config.storage.audit_path, "incident_uploaded")["data"]
    finally:
        uploader.stop()
    assert uploaded["parts"] == 4 and uploaded["resumed_parts"] >= 1
    local = config.storage.incident_path(incident)
    assert uploaded["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
    admin = store.client()
    versions = admin.list_object_versions(Bucket=BUCKET, Prefix=uploaded["key"])
    assert [v["VersionId"] for v in versions["Versions"]] == [uploaded["version_id"]]
    assert (
        hashlib.sha256(admin.get_object(Bucket=BUCKET, Key=uploaded["key"])["Body"].read()).hexdigest()
        == uploaded["sha256"]
    )
    assert [(name, healthy) for name, healthy, _ in health] == [("vault", False), ("vault", True)]
    assert not local.with_name(local.name + ".upload").exists()


def _run_until(uploader: VaultUploader, done: Any, timeout_s: float = 15.0) -> None:
    uploader.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        uploader.stop()


def test_wrong_credentials_degrade_the_vault_and_fixing_the_file_recovers(
    store: SeaweedFS, tmp_path: Path
) -> None:
    config, incident = _uploader_room(store, tmp_path, "room-c")
    good = config.vault.credentials.read_text()
    config.vault.credentials.write_text(good.replace("room-c-secret", "wrong-secret"))
    health: list[tuple[str, bool, str]] = []
    uploader = VaultUploader(config, lambda *report: health.append(report))

    def refused_then_fixed() -> bool:
        if health and len(health) == 1:
            config.vault.credentials.write_text(good)  # no restart: the file is read again
        return bool(_entries(config.storage.audit_path, "incident_uploaded"))

    _run_until(uploader, refused_then_fixed)
    assert health[0][:2] == ("vault", False) and "SignatureDoesNotMatch" in health[0][2]
    assert health[1][:2] == ("vault", True)
    assert config.storage.incident_path(incident).is_file()  # remove_local is off


def test_a_bucket_without_object_lock_is_refused_and_the_incident_waits(
    store: SeaweedFS, tmp_path: Path
) -> None:
    config, incident = _uploader_room(store, tmp_path, "room-p", bucket=PLAIN)
    health: list[tuple[str, bool, str]] = []
    _run_until(VaultUploader(config, lambda *report: health.append(report)), lambda: bool(health), 10.0)
    assert health[0][:2] == ("vault", False) and "Object Lock" in health[0][2]
    assert not store.client().list_objects_v2(Bucket=PLAIN).get("Contents")
    assert config.storage.incident_path(incident).is_file()


def test_remove_local_removes_only_after_the_verified_upload_and_audits_it(
    store: SeaweedFS, tmp_path: Path
) -> None:
    config, incident = _uploader_room(store, tmp_path, "room-b", extra="remove_local = true\n")
    log = config.storage.audit_path
    _run_until(VaultUploader(config, lambda *_: None), lambda: bool(_entries(log, "incident_local_removed")))
    uploaded, removed = _entries(log, "incident_uploaded")[-1], _entries(log, "incident_local_removed")[-1]
    assert removed["seq"] > uploaded["seq"] and removed["data"]["sha256"] == uploaded["data"]["sha256"]
    assert not config.storage.incident_path(incident).exists()
    check = _cli("audit", "check", str(log))
    assert "gone without" not in check.stdout, check.stdout


def test_a_room_whose_vault_is_down_at_start_records_and_shows_degraded_vault(tmp_path: Path) -> None:
    from recorder.vault.testing import free_ports

    dead = SeaweedFS(tmp_path / "never-started", ports=free_ports(8))  # nothing listens on its ports
    demo = _room(dead, tmp_path, "room-d")
    check = _cli("check-config", str(demo.config))
    assert check.returncode == 0 and "warning: vault: cannot reach" in check.stderr
    daemon = start_daemon(demo)
    try:
        incident = record_incident(daemon, 0.3)
        client = daemon.client()
        try:
            deadline = time.monotonic() + 10
            while "vault" not in client.status()["degraded"] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert client.status()["degraded"] == ["vault"]
        finally:
            client.close()
    finally:
        assert daemon.stop() == 0
    assert demo.config.parent.joinpath("state", f"{incident}.age").is_file()
    failed = _entries(daemon.state_dir / "audit.jsonl", "source_failed")
    assert [entry["data"]["source"] for entry in failed] == ["vault"]
