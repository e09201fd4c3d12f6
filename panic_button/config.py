"""Front-end settings: one room's connection (flags or TOML) and the desk's rooms file (TOML)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from panic_button.client import ButtonError, ClientKeys

M = TypeVar("M", bound=BaseModel)
_ENDPOINT = re.compile(r"^(tcp://[^\s]+:\d+|ipc://\S+)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _endpoint(value: str | None) -> str | None:
    if value is not None and not _ENDPOINT.match(value):
        raise ValueError("must look like tcp://HOST:PORT or ipc://PATH")
    return value


class RoomLink(_Strict):
    """How a front end reaches one room's daemon."""

    name: str = Field("", max_length=64, description="Label shown by the desk; default: the room id.")
    endpoint: str = Field(description="The daemon's control.endpoint (ROUTER).")
    state_endpoint: str | None = Field(None, description="The daemon's control.state_endpoint (PUB).")
    key: Path = Field(description="This client's secret key file (NAME.key_secret).")
    server_key: Path = Field(description="The daemon's public key file (server.key).")

    _check_endpoints = field_validator("endpoint", "state_endpoint")(_endpoint)

    def keys(self) -> ClientKeys:
        """Raises ButtonError if a key file is missing or malformed."""
        return ClientKeys.load(self.key, self.server_key)

    def require_state_endpoint(self) -> str:
        """Raises ButtonError when the front end needs the state subscription and none is set."""
        if self.state_endpoint is None:
            raise ButtonError("need the daemon's state endpoint (--state-endpoint or state_endpoint =)")
        return self.state_endpoint


class Timing(_Strict):
    heartbeat_s: float = Field(1.0, gt=0, le=60, description="The daemon's control.heartbeat_s.")
    timeout_s: float = Field(1.0, gt=0, le=30, description="Seconds to wait for a reply, per try.")
    retries: int = Field(3, ge=1, le=10, description="Tries before a press is reported as not delivered.")


class _DeskRoom(_Strict):
    name: str = Field("", max_length=64)
    endpoint: str
    state_endpoint: str
    server_key: Path
    key: Path | None = Field(None, description="Overrides the desk's key for this room.")

    _check_endpoints = field_validator("endpoint", "state_endpoint")(_endpoint)


class DeskFile(Timing):
    """The desk's rooms file: the desk's own key, the timing, and one [[room]] table per room."""

    key: Path = Field(description="The desk's secret key file, enrolled in every room.")
    room: list[_DeskRoom] = Field(min_length=1, max_length=32, description="The rooms, in display order.")

    def links(self) -> list[RoomLink]:
        return [
            RoomLink(
                name=r.name,
                endpoint=r.endpoint,
                state_endpoint=r.state_endpoint,
                key=r.key or self.key,
                server_key=r.server_key,
            )
            for r in self.room
        ]


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML table in `path`, with relative key paths made relative to the file. Raises ButtonError."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ButtonError(f"{path}: {error}") from None
    for table in [data, *data.get("room", [])]:
        for field in ("key", "server_key"):
            if isinstance(table, dict) and isinstance(table.get(field), str):
                table[field] = str(path.parent / table[field])
    return data


def validate(model: type[M], data: dict[str, Any], where: str) -> M:
    """Raises ButtonError naming every invalid field and where it is."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in error.errors()
        )
        raise ButtonError(f"{where}: {problems}") from None


def load_desk_file(path: Path) -> DeskFile:
    """Raises ButtonError."""
    return validate(DeskFile, read_toml(path), str(path))


class RoomFile(RoomLink, Timing):
    """A single-room front end's settings file (press, clear, status, indicator, hid, gpio)."""
