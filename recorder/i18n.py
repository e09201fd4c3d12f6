"""Translations for the front ends and CLIs: gettext catalogs (made with Babel), the language, local times.

Catalogs live in `recorder/locale/LANG/LC_MESSAGES/DOMAIN.mo`, one domain per package (`panic_button`,
`recorder`), compiled from the `.po` files next to them by `scripts/catalogs.sh`. Message ids are
English, so English needs no catalog. A process has one language for its messages (`set_language`,
called once at start, before any thread that translates is started); a front end that shows several
languages at once (the indicator) asks for a `Translator` per language instead.
"""

from __future__ import annotations

import functools
import gettext
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALE_DIR = Path(__file__).with_name("locale")
SOURCE_LANGUAGE = "en"  # the message ids
DEFAULT_LANGUAGE = "nl"  # the rooms are in Dutch municipalities
DEFAULT_TIMEZONE = "Europe/Amsterdam"
_RIGHT_TO_LEFT = frozenset({"ar", "fa", "he", "ur"})
_DATE_LOCALES = {"en": "en_GB"}  # English as written in Europe: 24-hour clock, day before month
_ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # gettext's order


@functools.cache
def languages(domain: str) -> tuple[str, ...]:
    """The languages `domain` can be shown in: English and every language with a compiled catalog."""
    compiled = {path.parts[-3] for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{domain}.mo")}
    return tuple(sorted(compiled | {SOURCE_LANGUAGE}))


def is_right_to_left(language: str) -> bool:
    return language.split("_")[0] in _RIGHT_TO_LEFT


@dataclass(frozen=True)
class Translator:
    """One domain's messages in one language."""

    language: str
    catalog: gettext.NullTranslations

    @property
    def right_to_left(self) -> bool:
        return is_right_to_left(self.language)

    def gettext(self, message: str) -> str:
        return self.catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.catalog.ngettext(singular, plural, count)


@functools.cache
def translator(domain: str, language: str) -> Translator:
    """Raises ValueError for a language that `domain` has no catalog for."""
    if language == SOURCE_LANGUAGE:
        return Translator(language, gettext.NullTranslations())
    if language not in languages(domain):
        raise ValueError(f"no {language!r} catalog (have: {', '.join(languages(domain))})")
    return Translator(language, gettext.translation(domain, LOCALE_DIR, languages=[language]))


def environment_language(environ: Mapping[str, str] = os.environ) -> str | None:
    """The language the environment asks for, as gettext reads it (`nl_NL.UTF-8` -> `nl`); None for
    none or the C/POSIX locale."""
    for variable in _ENVIRONMENT:
        value = environ.get(variable, "").split(":")[0]
        if value:
            language = value.split(".")[0].split("@")[0].split("_")[0]
            return None if language in ("C", "POSIX") else language
    return None


def pick_language(domain: str, *choices: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The first choice given (a flag, then a settings file), else the environment's language if
    `domain` has it, else Dutch."""
    for choice in choices:
        if choice:
            return choice
    wanted = environment_language(environ)
    return wanted if wanted in languages(domain) else DEFAULT_LANGUAGE


def language_flag(argv: list[str]) -> str | None:
    """The `--language` given on a command line, read before parsing so that --help and parse errors
    use it too."""
    for index, arg in enumerate(argv):
        if arg.startswith("--language="):
            return arg.split("=", 1)[1].split(",")[0]
        if arg == "--language" and index + 1 < len(argv):
            return argv[index + 1].split(",")[0]
    return None


_process_language = [DEFAULT_LANGUAGE]  # set once at start (set_language), before threads start


def set_language(language: str) -> None:
    _process_language[0] = language


def process_language() -> str:
    return _process_language[0]


class Messages:
    """One domain's messages in the process's language: `_ = Messages("panic_button").gettext`."""

    def __init__(self, domain: str) -> None:
        self.domain = domain

    def translator(self) -> Translator:
        """The process's language, or English if this domain has no catalog for it."""
        language = process_language()
        return translator(self.domain, language if language in languages(self.domain) else SOURCE_LANGUAGE)

    def gettext(self, message: str) -> str:
        return self.translator().gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.translator().ngettext(singular, plural, count)


def time_zone(name: str) -> ZoneInfo:
    """Raises ValueError for a name that is not an IANA time zone on this machine."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as {DEFAULT_TIMEZONE})") from None


def local_moment(moment: float, now: float, language: str, zone: ZoneInfo) -> str:
    """`moment` (Unix time) as a reader in `language` and `zone` writes it: the time of day if it is
    today there, else date and time. Written by Babel (the `ui` extra); without it, as ISO 8601."""
    when, today = datetime.fromtimestamp(moment, zone), datetime.fromtimestamp(now, zone)
    same_day, locale = when.date() == today.date(), _DATE_LOCALES.get(language, language)
    try:
        from babel.dates import format_datetime, format_time
    except ImportError:
        return when.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S")
    if same_day:
        return str(format_time(when, "medium", locale=locale))
    return str(format_datetime(when, "medium", locale=locale))
