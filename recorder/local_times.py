"""Times as people in the room read them: in the room's time zone and language. The audit log, JSON,
CSV and file formats stay UTC ISO 8601; only what a person reads is local.

Dates and times in prose and in the report are written by Babel (the `ui` extra) in the language's
own style; without Babel, as ISO 8601 in the zone. Tables use one fixed-width form in every language,
`2026-03-29 01:30:00 CET`: aligned, sortable, and the zone's abbreviation shows a DST switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from recorder.i18n import DEFAULT_TIMEZONE, time_zone
from recorder.messages import _

_LOCALES = {"en": "en_GB"}  # English as written in Europe: 24-hour clock, day before month


def zone_named(name: str) -> ZoneInfo:
    """Raises ValueError, in the process's language, for a name that is not an IANA time zone."""
    try:
        return time_zone(name)
    except ValueError:
        raise ValueError(
            _("unknown time zone {zone!r} (an IANA name such as {example})").format(
                zone=name, example=DEFAULT_TIMEZONE
            )
        ) from None


@dataclass(frozen=True)
class LocalTimes:
    zone: ZoneInfo
    language: str

    @classmethod
    def named(cls, zone: str | None, language: str) -> LocalTimes:
        """Raises ValueError for a name that is not an IANA time zone."""
        return cls(zone_named(zone or DEFAULT_TIMEZONE), language)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def zone_label(self, year: int) -> str:
        """The zone and its abbreviations that year: `Europe/Amsterdam (CET/CEST)`, `UTC`."""
        names = [self.zone.tzname(datetime(year, month, 1)) or "" for month in (1, 7)]
        unique = [name for n, name in enumerate(names) if name and name not in names[:n]]
        return self.zone.key if unique == [self.zone.key] else f"{self.zone.key} ({'/'.join(unique)})"

    def table(self, moment: datetime) -> str:
        """`2026-03-29 01:30:00 CET`."""
        return f"{self.local(moment):%Y-%m-%d %H:%M:%S %Z}"

    def table_text(self, text: str | None, missing: str = "?") -> str:
        """An ISO 8601 time from the log or JSON as `table` shows it; text that is not one, unchanged."""
        if not text:
            return missing
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
        return self.table(moment) if moment.tzinfo else text

    def minute(self, moment: datetime) -> str:
        """Date and time to the minute: `29-03-2026, 01:30` (nl), `29/03/2026, 01:30` (en)."""
        return self._babel("format_datetime", self.local(moment), "short", "%Y-%m-%d %H:%M")

    def day(self, moment: datetime | date) -> str:
        """A date: `29 mrt 2026` (nl), `29 Mar 2026` (en). A datetime is first made local."""
        day = self.local(moment).date() if isinstance(moment, datetime) else moment
        return self._babel("format_date", day, "medium", "%Y-%m-%d")

    def day_and_month(self, day: date) -> str:
        """`29 mrt` (nl), `29 Mar` (en): a chart's axis."""
        return self._babel("format_date", day, "d MMM", "%m-%d")

    def _babel(self, function: str, value: Any, form: str, fallback: str) -> str:
        try:
            from babel import dates
        except ImportError:
            return str(value.strftime(fallback))
        return str(getattr(dates, function)(value, form, locale=_LOCALES.get(self.language, self.language)))
