"""Preflight: what only the machine can tell about a valid room config, checked by `check-config`
and at the top of the daemon's start, before it creates any file or socket.

Each problem is one line starting with the setting it concerns; any problem stops the daemon with
that same line. Warnings (a camera file that is missing now, a room nobody can trigger yet) do not.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

from recorder.config import RoomConfig, VideoKind
from recorder.control.keyfile import is_z85_key
from recorder.errors import ConfigError
from recorder.incident.age_keys import find_identity_files
from recorder.messages import _
from recorder.port_owner import listener_pid, runs_config
from recorder.storage_lock import holder, in_use_message, lock_files


@dataclass
class Preflight:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def preflight(config: RoomConfig, beside_running: Path | None = None) -> Preflight:
    """Everything `run` would trip over, without creating anything: key files, enrolled clients,
    storage and audit paths, the endpoints (bound and released), age identities on the device.

    `beside_running`: the config file, when checking it beside the room's running daemon
    (`check-config` before a restart): a port held by `recorder run --config` of that same file is
    then a warning, not a problem."""
    report = Preflight()
    _check_server_key(config.control.server_secret_key, report)
    _check_clients(config.control.authorized_clients, report)
    _check_storage(config, report)
    _check_daemon_lock(config, report, beside_running)
    _check_identities_on_device(config, report)
    _check_memory(config, report)
    _check_camera(config, report)
    _check_vault(config, report)
    if not report.problems:  # only bind once the rest is sound: binding is the costliest check
        _check_endpoints(config, report, beside_running)
    return report


def ensure_ready(config: RoomConfig) -> list[str]:
    """The daemon's gate: returns the warnings; raises ConfigError with one line per problem."""
    report = preflight(config)
    if report.problems:
        raise ConfigError("\n".join(report.problems))
    return report.warnings


def _check_server_key(path: Path, report: Preflight) -> None:
    where = "control.server_secret_key"
    if not _readable_file(path, where, report):
        return
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError, UnicodeDecodeError, IndexError) as error:  # IndexError: a line without '='
        report.problems.append(
            _("{where}: {path} is not a CURVE key file ({error})").format(where=where, path=path, error=error)
        )
        return
    if not secret:
        report.problems.append(
            _(
                "{where}: {path} holds only a public key; give the NAME.key_secret file from `recorder "
                "keygen server`"
            ).format(where=where, path=path)
        )
        return
    if not (is_z85_key(public) and is_z85_key(secret)) or zmq.curve_public(secret) != public:
        report.problems.append(
            _("{where}: {path} is damaged (its keys are malformed or do not belong together)").format(
                where=where, path=path
            )
        )
        return
    if path.stat().st_mode & 0o077:
        report.warnings.append(
            _("{where}: {path} is readable by other users; chmod 600 it").format(where=where, path=path)
        )


def _check_clients(directory: Path, report: Preflight) -> None:
    where = "control.authorized_clients"
    if not directory.is_dir():
        report.problems.append(
            _("{where}: directory not found: {directory}").format(where=where, directory=directory)
        )
    elif not os.access(directory, os.R_OK | os.X_OK):
        report.problems.append(
            _("{where}: {directory}: permission denied").format(where=where, directory=directory)
        )
    elif not any(directory.glob("*.key")):
        report.warnings.append(
            _("{where}: no NAME.key files in {directory}: no button can trigger this room yet").format(
                where=where, directory=directory
            )
        )


def _check_storage(config: RoomConfig, report: Preflight) -> None:
    storage = config.storage
    _writable_directory(storage.directory, "storage.directory", report, must_own=True)
    if storage.audit_path.parent != storage.directory:
        _writable_directory(storage.audit_path.parent, "storage.audit_log", report, must_own=False)
    log, state = storage.audit_path, storage.audit_path.with_name(storage.audit_path.name + ".key")
    present = [path for path in (log, state) if os.path.lexists(path)]
    if present == [log]:
        report.problems.append(
            _(
                "storage.audit_log: {log} exists but its state {state} does not: the chain cannot be "
                "continued; restore the state from a backup, or move the log aside for the auditor"
            ).format(log=log, state=state)
        )
    elif present == [state]:
        report.warnings.append(
            _(
                "storage.audit_log: {log} is missing but its state {state} remains: the daemon starts a "
                "new log file that records the missing entries as a gap (log_gap); restore the log from a "
                "backup if there is one"
            ).format(log=log, state=state)
        )
    for path in present:
        if not path.is_file():
            report.problems.append(_("storage.audit_log: {path} is not a regular file").format(path=path))
        elif not os.access(path, os.R_OK | os.W_OK):
            report.problems.append(
                _("storage.audit_log: {path}: permission denied (read and write needed)").format(path=path)
            )


def _writable_directory(directory: Path, where: str, report: Preflight, must_own: bool) -> None:
    """The directory, or the nearest existing parent it will be created in, must be a writable
    directory (os.access also sees a read-only mount); the daemon chmods its own storage 0700."""
    existing = directory
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = (
            _("is not a directory")
            if existing == directory
            else _("cannot be created: {existing} is not a directory").format(existing=existing)
        )
        report.problems.append(f"{where}: {directory} {what}")
    elif not os.access(existing, os.W_OK | os.X_OK):
        why = _("read-only file system") if _read_only_mount(existing) else _("permission denied")
        report.problems.append(
            _("{where}: {existing} is not writable ({why})").format(where=where, existing=existing, why=why)
        )
    elif must_own and existing == directory and os.geteuid() not in (0, existing.stat().st_uid):
        report.problems.append(
            _("{where}: {directory} belongs to uid {uid}; the daemon's user must own it").format(
                where=where, directory=directory, uid=existing.stat().st_uid
            )
        )


def _read_only_mount(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def _readable_file(path: Path, where: str, report: Preflight) -> bool:
    if not path.exists():
        report.problems.append(_("{where}: file not found: {path}").format(where=where, path=path))
    elif not path.is_file():
        report.problems.append(_("{where}: {path} is not a regular file").format(where=where, path=path))
    elif not os.access(path, os.R_OK):
        report.problems.append(_("{where}: {path}: permission denied").format(where=where, path=path))
    else:
        return True
    return False


def _check_identities_on_device(config: RoomConfig, report: Preflight) -> None:
    on_device: dict[Path, str] = {}  # directory -> the first setting that names it
    on_device.setdefault(config.storage.directory, "storage.directory")
    on_device.setdefault(config.storage.audit_path.parent, "storage.audit_log")
    on_device.setdefault(config.control.server_secret_key.parent, "control.server_secret_key")
    on_device.setdefault(config.control.authorized_clients, "control.authorized_clients")
    reported: set[Path] = set()
    for directory, location in on_device.items():
        for path in find_identity_files(directory):
            if path in reported:
                continue
            reported.add(path)
            report.problems.append(
                _(
                    "{location}: {path} holds an age identity, a key that decrypts this room's incidents; "
                    "it belongs with the privacy officer, never on the recording device"
                ).format(location=location, path=path)
            )


def _check_memory(config: RoomConfig, report: Preflight, meminfo: Path = Path("/proc/meminfo")) -> None:
    """The ring and the writer's queue live in (locked) memory: a cap beyond the machine's memory (a
    zero too many) would get the daemon killed by the kernel once the pre-roll fills, mid-incident."""
    recording = config.recording
    wanted = recording.max_ring_bytes + recording.writer_queue_bytes
    try:
        total = next(
            int(line.split()[1]) * 1024
            for line in meminfo.read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return  # not Linux, or /proc hidden: nothing to compare with
    if wanted > total:
        report.problems.append(
            _(
                "recording.max_ring_bytes: with writer_queue_bytes, more memory than this machine has "
                "({wanted:.1f} GiB of {total:.1f} GiB); lower it"
            ).format(wanted=wanted / 2**30, total=total / 2**30)
        )


def _check_camera(config: RoomConfig, report: Preflight) -> None:
    """A camera that is missing now only degrades the room (it is retried), so this is a warning."""
    if config.video.source is not VideoKind.CAMERA:
        return
    from recorder.sources.camera import DeviceKind, classify_device  # loads cv2: only for a camera

    kind, target = classify_device(config.video.device)
    if kind is DeviceKind.FILE and not Path(str(target)).is_file():
        report.warnings.append(
            _("video.device: no such video file: {target} (the room starts degraded)").format(target=target)
        )
    elif kind is DeviceKind.V4L2 and isinstance(target, str) and not Path(target).exists():
        report.warnings.append(
            _("video.device: no such camera: {target} (the room starts degraded)").format(target=target)
        )


def _check_vault(config: RoomConfig, report: Preflight) -> None:
    """The credentials must be readable and boto3 installed; an unreachable vault is only a warning
    (the room records, and the incidents wait, encrypted, on disk)."""
    if config.vault is None:
        return
    try:
        import boto3  # noqa: F401
    except ImportError:
        report.problems.append(_("vault: needs boto3: pip install 'room-recorder[vault]'"))
        return
    from recorder.errors import VaultError
    from recorder.vault.client import read_credentials
    from recorder.vault.probe import reach

    path = config.vault.credentials
    if not _readable_file(path, "vault.credentials", report):
        return
    try:
        credentials = read_credentials(path)
    except VaultError as error:
        report.problems.append(_("vault.credentials: {error}").format(error=error))
        return
    if path.stat().st_mode & 0o077:
        report.warnings.append(
            _("vault.credentials: {path} is readable by other users; chmod 600 it").format(path=path)
        )
    problem = reach(config.vault, config.room, credentials)
    if problem:
        report.warnings.append(
            _("vault: {problem} (the room records; incidents wait on disk until it works)").format(
                problem=problem
            )
        )


def _check_daemon_lock(config: RoomConfig, report: Preflight, beside_running: Path | None) -> None:
    """Another daemon on this storage directory (or audit log) is a problem; the room's own running
    daemon, when checking beside it, a warning."""
    for setting, path in lock_files(config):
        pid = holder(path)
        if pid is None:
            continue
        if pid and beside_running is not None and runs_config(pid, beside_running):
            report.warnings.append(
                _("{setting}: in use by this room's running daemon (pid {pid})").format(
                    setting=setting, pid=pid
                )
            )
        else:
            report.problems.append(in_use_message(setting, path, pid))


def _check_endpoints(config: RoomConfig, report: Preflight, beside_running: Path | None) -> None:
    control = config.control
    if control.endpoint == control.state_endpoint:
        report.problems.append(
            _("control.state_endpoint: the same as control.endpoint ({endpoint}); each needs its own").format(
                endpoint=control.endpoint
            )
        )
        return
    context: zmq.Context[Any] = zmq.Context()
    try:
        for where, endpoint in (
            ("control.endpoint", control.endpoint),
            ("control.state_endpoint", control.state_endpoint),
        ):
            problem = _try_bind(context, endpoint)
            if not problem:
                continue
            owner = _own_daemon(endpoint, beside_running)
            if owner is not None:
                report.warnings.append(
                    _(
                        "{where}: {endpoint} is held by this room's running daemon (pid {owner}); it is "
                        "free again once that daemon stops (a restart)"
                    ).format(where=where, endpoint=endpoint, owner=owner)
                )
            else:
                report.problems.append(
                    _("{where}: cannot bind {endpoint}: {problem}").format(
                        where=where, endpoint=endpoint, problem=problem
                    )
                )
    finally:
        context.term()


def _own_daemon(endpoint: str, config_file: Path | None) -> int | None:
    """The pid of the running `recorder run --config CONFIG_FILE` that holds `endpoint`'s port."""
    port = endpoint.rsplit(":", 1)[-1]
    if config_file is None or not endpoint.startswith("tcp://") or not port.isdigit():
        return None
    pid = listener_pid(int(port))
    return pid if pid is not None and runs_config(pid, config_file) else None


def _try_bind(context: zmq.Context[Any], endpoint: str) -> str | None:
    """Bind and release `endpoint` as the daemon will. An ipc:// path is not bound: ZeroMQ would take
    it over from a running daemon; its directory is checked instead."""
    if endpoint.startswith("ipc://"):
        return _ipc_problem(Path(endpoint.removeprefix("ipc://")))
    sock = context.socket(zmq.ROUTER)
    sock.linger = 0
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as error:
        hint = " " + _("(is this room's daemon already running?)") if error.errno == zmq.EADDRINUSE else ""
        return f"{error.strerror}{hint}"
    finally:
        sock.close(linger=0)
    return None


def _ipc_problem(path: Path) -> str | None:
    if os.path.lexists(path) and not stat.S_ISSOCK(path.lstat().st_mode):
        return _("{path} exists and is not a socket").format(path=path)
    directory = path.parent
    if not directory.is_dir():
        return _("directory not found: {directory}").format(directory=directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        return _("{directory} is not writable").format(directory=directory)
    return None
