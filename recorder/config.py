"""The room configuration: one TOML file per room, validated by one pydantic model tree."""

from __future__ import annotations

import enum
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from recorder.control.protocol import MIN_MESSAGE_BYTES
from recorder.errors import ConfigError
from recorder.i18n import DEFAULT_TIMEZONE
from recorder.incident.age_keys import Recipient
from recorder.local_times import zone_named
from recorder.messages import _

_ROOM_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class Strict(BaseModel):
    """Shared base: unknown keys are errors, so a typo never silently falls back to a default; values
    are not coerced (`fps = true` or `retention_days = 14.5` is an error, not 1 or 14), and `nan`
    and `inf` are refused. Paths and choices are read from strings (`ConfigPath`, `Field(strict=False)`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _no_nul(path: Path) -> Path:
    if "\0" in str(path):
        raise ValueError(_("a path cannot contain a NUL character"))
    return path


ConfigPath = Annotated[Path, Field(strict=False), AfterValidator(_no_nul)]
"""A file or directory named in the config, as a string; relative to the config file."""


def _x25519_recipient(text: str) -> str:
    """An `age1…` recipient that stock `age -r` would accept: a valid Bech32 checksum and an X25519
    key that is not a low-order point (an exchange with one yields all zeros: age refuses to wrap a
    file key to it). Returns the canonical lowercase form."""
    if text != text.strip():
        raise ValueError(_("blanks around the recipient; age refuses them"))
    try:
        recipient = Recipient.parse(text)
    except ValueError as error:
        raise ValueError(
            _("not a valid age recipient ({error}); copy it again from `recorder keygen officer`").format(
                error=error
            )
        ) from None
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(recipient.public_key))
    except ValueError:
        raise ValueError(
            _("a low-order X25519 point, which no officer's key can be; age refuses it")
        ) from None
    return str(recipient)


class VideoKind(enum.Enum):
    TEST_PATTERN = "test-pattern"
    CAMERA = "camera"
    NONE = "none"


class AudioKind(enum.Enum):
    TEST_TONE = "test-tone"
    MICROPHONE = "microphone"
    NONE = "none"


class Reconnect(Strict):
    """How a failed device is reopened: after `reconnect_initial_s`, doubling up to `reconnect_max_s`."""

    reconnect_initial_s: float = Field(
        0.5, gt=0, le=60, description="First wait before reopening a failed device."
    )
    reconnect_max_s: float = Field(10.0, gt=0, le=600, description="Longest wait between reopening attempts.")

    @field_validator("reconnect_max_s")
    @classmethod
    def _not_below_initial(cls, value: float, info: ValidationInfo) -> float:
        initial = info.data.get("reconnect_initial_s")
        if initial is not None and value < initial:
            raise ValueError(_("must be at least reconnect_initial_s ({initial:g})").format(initial=initial))
        return value


class VideoConfig(Reconnect):
    source: VideoKind = Field(VideoKind.TEST_PATTERN, strict=False, description="Where frames come from.")
    device: str = Field(
        "", description="For source='camera': a V4L2 index or /dev/videoN, an http(s)/rtsp URL, or a file."
    )
    width: int = Field(1280, ge=160, le=3840, description="Requested frame width in pixels.")
    height: int = Field(720, ge=120, le=2160, description="Requested frame height in pixels.")
    fps: float = Field(15.0, gt=0, le=60, description="Requested frames per second.")
    jpeg_quality: int = Field(80, ge=10, le=100, description="JPEG quality when frames must be encoded.")
    passthrough: bool = Field(
        True, description="Keep the camera's own JPEG bytes when it sends MJPEG (no decode and re-encode)."
    )
    loop: bool = Field(False, description="For a video file: start again at the end instead of stopping.")
    open_timeout_s: float = Field(5.0, gt=0, le=60, description="Give up opening a camera after this long.")
    read_timeout_s: float = Field(
        2.0, gt=0, le=60, description="A camera sending no frame for this long has failed (and is reopened)."
    )

    @model_validator(mode="after")
    def _camera_needs_device(self) -> VideoConfig:
        if self.source is VideoKind.CAMERA and not self.device:
            raise ValueError(_("video.device is required when video.source = 'camera'"))
        return self


class AudioTimestamps(enum.Enum):
    ADC = "adc"
    ARRIVAL = "arrival"


class AudioConfig(Reconnect):
    enabled: bool = Field(True, description="Record audio at all (False: video only, whatever the source).")
    source: AudioKind = Field(AudioKind.TEST_TONE, strict=False, description="Where audio comes from.")
    device: str = Field("", description="For source='microphone': a sounddevice name or index; '' = default.")
    in_pre_roll: bool = Field(
        True, description="Keep audio in the pre-roll ring (False: audio only once triggered)."
    )
    blocksize: int = Field(
        960, ge=64, le=48000, description="Samples per captured block at 48 kHz (960 = 20 ms): one packet."
    )
    queue_blocks: int = Field(
        250, ge=8, le=6000, description="Blocks buffered between the audio callback and the capture thread."
    )
    timestamps: AudioTimestamps = Field(
        AudioTimestamps.ADC,
        strict=False,
        description="'adc': the sound stack's capture (ADC) time of each block, but never later than its "
        "arrival allows; 'arrival': from the earliest arrivals alone. Either is smoothed; 'adc' falls "
        "back to 'arrival' where the stack reports no ADC time.",
    )
    read_timeout_s: float = Field(
        3.0, gt=0, le=60, description="A microphone silent (no blocks) this long has failed and is reopened."
    )

    @property
    def active(self) -> bool:
        """Whether audio is captured: enabled and a source configured."""
        return self.enabled and self.source is not AudioKind.NONE


class ControlConfig(Strict):
    endpoint: str = Field("tcp://127.0.0.1:5570", description="ZeroMQ ROUTER endpoint for requests.")
    state_endpoint: str = Field("tcp://127.0.0.1:5571", description="ZeroMQ PUB endpoint for room state.")
    server_secret_key: ConfigPath = Field(
        description="CURVE secret key file of this daemon (zmq.auth format)."
    )
    authorized_clients: ConfigPath = Field(
        description="Directory of enrolled clients' CURVE public keys; the file name is the client's name."
    )
    heartbeat_s: float = Field(1.0, gt=0, le=60, description="Seconds between state heartbeats.")
    max_message_bytes: int = Field(
        MIN_MESSAGE_BYTES,
        ge=MIN_MESSAGE_BYTES,
        le=65536,
        description="Requests whose JSON is larger are dropped (every valid request fits the minimum).",
    )
    rate_limit_per_s: float = Field(
        20.0, gt=0, le=10000, description="Requests per second allowed per client."
    )

    @field_validator("endpoint", "state_endpoint")
    @classmethod
    def _zmq_endpoint(cls, value: str) -> str:
        if not re.match(r"^(tcp://[^\s]+:\d+|ipc://\S+)$", value):
            raise ValueError(_("must look like tcp://HOST:PORT or ipc://PATH"))
        return value


RecipientText = Annotated[str, AfterValidator(_x25519_recipient)]


class StorageConfig(Strict):
    directory: ConfigPath = Field(description="Where incident files are written (created 0700).")
    recipients: list[RecipientText] = Field(
        min_length=1, description="age1… public keys of the privacy officers who may decrypt incidents."
    )
    retention_days: int = Field(14, ge=1, le=3650, description="Incidents older than this are deleted.")
    audit_log: ConfigPath | None = Field(None, description="Audit log path; default <directory>/audit.jsonl.")

    @property
    def audit_path(self) -> Path:
        return self.audit_log or self.directory / "audit.jsonl"

    @property
    def verify_key_path(self) -> Path:
        """The audit log's initial key, created with the log for the auditor (to be moved off)."""
        return self.audit_path.with_name(self.audit_path.name + ".verify-key")

    def incident_path(self, incident: str) -> Path:
        return self.directory / f"{incident}.age"

    def incident_files(self) -> list[Path]:
        """Every incident file of the room, oldest name first."""
        return sorted(self.directory.glob("*.age"))


class RecordingConfig(Strict):
    pre_roll_s: float = Field(30.0, ge=0, le=600, description="Seconds of media kept in the ring.")
    post_roll_s: float = Field(10.0, ge=0, le=600, description="Seconds recorded after a clear.")
    max_incident_s: float = Field(1800.0, gt=0, le=86400, description="An incident ends after this long.")
    max_ring_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024 * 1024,
        description="Byte cap of the ring; whichever of time and bytes is hit first.",
    )
    key_rotation_s: float = Field(1.0, gt=0, le=60, description="Seconds between ring key rotations.")
    writer_queue_bytes: int = Field(
        64 * 1024 * 1024, ge=1024 * 1024, description="Memory that absorbs a slow disk before packets drop."
    )


_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_PREFIX = r"^([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)?$"


class VaultConfig(Strict):
    """The evidence vault: an S3 bucket with Object Lock that receives sealed incidents and audit
    checkpoints in the background (recorder/vault/). Never on the capture or trigger path."""

    endpoint: str = Field(
        description="The S3 endpoint, http(s)://HOST[:PORT] (SeaweedFS, MinIO, Ceph RGW, AWS)."
    )
    bucket: str = Field(pattern=_BUCKET, description="A bucket created with Object Lock enabled.")
    prefix: str = Field(
        "rooms", pattern=_PREFIX, description="Objects go under PREFIX/ROOM/ (incidents/, audit/)."
    )
    credentials: ConfigPath = Field(
        description="File with this room's S3 access key (aws_access_key_id, aws_secret_access_key)."
    )
    region: str = Field("us-east-1", pattern=r"^[a-z0-9-]{1,40}$", description="S3 region name.")
    remove_local: bool = Field(
        False, description="Remove the local incident file once its upload is verified (audited)."
    )
    audit_retention_days: int = Field(
        3650, ge=1, le=36500, description="Object Lock retention of the audit checkpoints in the vault."
    )
    checkpoint_interval_s: float = Field(
        60.0, ge=1, le=60, description="New audit entries reach the vault at least this often."
    )
    part_size_mb: int = Field(8, ge=5, le=512, description="Multipart upload part size (resumable).")
    retry_max_s: float = Field(60.0, ge=0.1, le=3600, description="Longest wait between retries.")

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = urlsplit(value)
            port_ok = url.port is None or url.port > 0
        except ValueError:
            port_ok = False
        if not port_ok or url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(_("must look like http(s)://HOST[:PORT]"))
        if url.username or url.password or url.path not in ("", "/") or url.query or url.fragment:
            raise ValueError(
                _("only http(s)://HOST[:PORT]: no path, query or credentials (those go in a file)")
            )
        return value.rstrip("/")

    def room_prefix(self, room: str) -> str:
        """Where this room's objects live: `PREFIX/ROOM/` (or `ROOM/` without a prefix)."""
        return f"{self.prefix}/{room}/" if self.prefix else f"{room}/"


def _zone(value: str) -> str:
    zone_named(value)  # raises ValueError naming the problem
    return value


class LocaleConfig(Strict):
    """How the operator's commands show this room's times (the audit log, JSON and CSV stay UTC)."""

    timezone: Annotated[str, AfterValidator(_zone)] = Field(
        DEFAULT_TIMEZONE,
        description="IANA time zone of the times `recorder incidents` shows, e.g. Europe/Amsterdam.",
    )


class RoomConfig(Strict):
    room: str = Field(pattern=_ROOM_ID, description="Room id; appears in incident names and the audit log.")
    video: VideoConfig = Field(default_factory=VideoConfig)  # type: ignore[arg-type]
    audio: AudioConfig = Field(default_factory=AudioConfig)  # type: ignore[arg-type]
    recording: RecordingConfig = Field(default_factory=RecordingConfig)  # type: ignore[arg-type]
    control: ControlConfig
    storage: StorageConfig
    vault: VaultConfig | None = Field(None, description="Ship incidents and the audit log to a vault.")
    locale: LocaleConfig = Field(default_factory=LocaleConfig)  # type: ignore[arg-type]


def format_errors(error: ValidationError) -> list[str]:
    """One line per problem, each with its location in the file, e.g. `storage.retention_days: …`."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{where}: {item['msg']}")
    return lines


def parse_config(data: dict[str, Any], base_dir: Path) -> RoomConfig:
    """Validate a TOML document; relative paths are taken relative to the config file.

    Raises ConfigError listing every problem.
    """
    try:
        config = RoomConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError("\n".join(format_errors(error))) from None
    return _resolve_paths(config, base_dir)


def load_config(path: Path) -> RoomConfig:
    """Read and validate a room config file. Raises ConfigError (unreadable, bad TOML, invalid)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(
            _("{path}: cannot read: {strerror}").format(path=path, strerror=error.strerror)
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            _("{path}: not UTF-8 text (byte {start})").format(path=path, start=error.start)
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_("{path}: not valid TOML: {error}").format(path=path, error=error)) from None
    except RecursionError:
        raise ConfigError(
            _("{path}: not valid TOML: arrays or tables nested too deeply").format(path=path)
        ) from None
    return parse_config(data, path.parent)


def _resolve_paths(config: RoomConfig, base_dir: Path) -> RoomConfig:
    def resolve(path: Path) -> Path:
        return path if path.is_absolute() else (base_dir / path).resolve()

    control = config.control.model_copy(
        update={
            "server_secret_key": resolve(config.control.server_secret_key),
            "authorized_clients": resolve(config.control.authorized_clients),
        }
    )
    storage = config.storage.model_copy(
        update={
            "directory": resolve(config.storage.directory),
            "audit_log": resolve(config.storage.audit_log) if config.storage.audit_log else None,
        }
    )
    vault = config.vault
    if vault is not None:
        vault = vault.model_copy(update={"credentials": resolve(vault.credentials)})
    return config.model_copy(update={"control": control, "storage": storage, "vault": vault})
