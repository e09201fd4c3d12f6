"""Front-end settings: a room's connection, language and notice (flags or TOML); the desk's rooms file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from panic_button.client import ButtonError, ClientKeys
from panic_button.i18n import CITIZEN_LANGUAGES, STAFF_LANGUAGES, _
from recorder.i18n import DEFAULT_TIMEZONE, time_zone

M = TypeVar("M", bound=BaseModel)
_ENDPOINT = re.compile(r"^(tcp://[^\s]+:\d+|ipc://\S+)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _endpoint(value: str | None) -> str | None:
    if value is not None and not _ENDPOINT.match(value):
        raise ValueError(_("must look like tcp://HOST:PORT or ipc://PATH"))
    return value


def _language(value: str | None, have: tuple[str, ...]) -> str | None:
    if value is not None and value not in have:
        have_text = ", ".join(have)
        raise ValueError(
            _("no translation for {language} (have: {have})").format(language=value, have=have_text)
        )
    return value


def _citizen_language(value: str | None) -> str | None:
    return _language(value, CITIZEN_LANGUAGES)


def _zone(value: str) -> str:
    time_zone(value)  # raises ValueError
    return value


class Locale(_Strict):
    """The language and time zone of what a front end shows."""

    language: str | None = Field(
        None, description="The room's language; --language overrides it. Default: the environment's, else nl."
    )
    timezone: str = Field(DEFAULT_TIMEZONE, description="Times on screen are shown in this IANA time zone.")

    _check_zone = field_validator("timezone")(_zone)


class Notice(_Strict):
    """What the indicator tells the citizen while the room records (GDPR Art. 13)."""

    controller: str = Field(min_length=1, max_length=120, description="Who records: e.g. Gemeente Dronten.")
    contact: str = Field(min_length=1, max_length=160, description="Where to ask: an address, desk or phone.")
    privacy_url: str = Field(
        pattern=r"^https?://\S+$", max_length=300, description="The privacy statement (shown as a QR code)."
    )
    retention_days: int = Field(14, ge=1, le=3650, description="The room's storage.retention_days.")


class IndicatorSettings(_Strict):
    languages: list[str] = Field(
        default_factory=list, max_length=6, description="The sign rotates through these; default: the room's."
    )
    rotate_s: float = Field(8.0, ge=2, le=120, description="Seconds each language is shown.")

    @field_validator("languages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for language in value:
            _citizen_language(language)
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
            raise ButtonError(_("need the daemon's state endpoint (--state-endpoint or state_endpoint =)"))
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


class DeskFile(Timing, Locale):
    """The desk's rooms file: the desk's own key, the timing, its language, one [[room]] table per room."""

    key: Path = Field(description="The desk's secret key file, enrolled in every room.")
    room: list[_DeskRoom] = Field(min_length=1, max_length=64, description="The rooms, in display order.")

    @field_validator("language")
    @classmethod
    def _staff_language(cls, value: str | None) -> str | None:
        return _language(value, STAFF_LANGUAGES)

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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ButtonError(f"{path}: {error}") from None
    except RecursionError:
        raise ButtonError(_("{path}: arrays or tables nested too deeply").format(path=path)) from None
    rooms = data.get("room", [])
    for table in [data, *(rooms if isinstance(rooms, list) else [])]:  # the model refuses other values
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


def load_desk_file(path: Path, language: str | None = None) -> DeskFile:
    """The rooms file, its language overridden by `language` if given. Raises ButtonError."""
    data = read_toml(path)
    if language:
        data["language"] = language
    return validate(DeskFile, data, str(path))


class RoomFile(RoomLink, Timing, Locale):
    """A single-room front end's settings file (press, clear, status, annotate, indicator, hid, gpio)."""

    notice: Notice | None = Field(
        None, description="The indicator's notice while recording (required there)."
    )
    indicator: IndicatorSettings = Field(default_factory=lambda: IndicatorSettings.model_validate({}))

    _check_language = field_validator("language")(_citizen_language)

    def sign_languages(self, language: str) -> list[str]:
        """The indicator's languages in order: its own list, else the room's `language`."""
        return self.indicator.languages or [language]

    def require_notice(self) -> Notice:
        """Raises ButtonError: the indicator may not show a recording without telling who, why, how long."""
        if self.notice is None:
            raise ButtonError(
                _(
                    "the indicator needs a [notice] table in its --config file (who records, "
                    "where to ask, privacy_url): citizens must be told while they are recorded"
                )
            )
        return self.notice
