"""`recorder audit list`: the log's entries, filtered, as a table, JSON lines or CSV, each marked verified."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, TextIO

from recorder.audit.reader import Line
from recorder.audit.trail import parse_time
from recorder.errors import AuditError
from recorder.local_times import LocalTimes
from recorder.messages import _

FORMATS = ("table", "json", "csv")
CSV_FIELDS = ("line", "seq", "time", "event", "incident", "client", "data", "verified", "problem")


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    incident: str | None = None
    client: str | None = None
    events: frozenset[str] = frozenset()

    def match(self, line: Line) -> bool:
        entry = line.entry
        if entry is None:
            return True  # a line that is not an entry is always shown
        if self.events and entry.event not in self.events:
            return False
        if self.incident is not None and entry.data.get("incident") != self.incident:
            return False
        if self.client is not None and _client(entry.data) != self.client:
            return False
        if self.since is None and self.until is None:
            return True
        try:
            when = parse_time(entry.time)
        except ValueError:
            return False
        return (self.since is None or when >= self.since) and (self.until is None or when < self.until)


def parse_moment(text: str, end_of_day: bool = False, zone: tzinfo = UTC) -> datetime:
    """`2026-11-29` or an ISO 8601 time, in `zone` unless it says otherwise (`Z`, `+01:00`). A bare
    date as an end point includes that whole day. Raises AuditError."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            day += timedelta(days=1) if end_of_day else timedelta(0)
            return datetime(day.year, day.month, day.day, tzinfo=zone)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AuditError(
            _("{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time").format(text=text)
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def rows(lines: Iterator[Line], filters: Filters, bad_from_line: int | None) -> Iterator[dict[str, Any]]:
    """One row per shown line; `verified` is false from the first line verification rejected."""
    for line in lines:
        if not filters.match(line):
            continue
        entry = line.entry
        verified = bad_from_line is None or line.number < bad_from_line
        if entry is None:
            yield {"line": line.number, "verified": False, "problem": line.problem}
            continue
        yield {
            "line": line.number,
            "seq": entry.seq,
            "time": entry.time,
            "event": entry.event,
            "incident": entry.data.get("incident"),
            "client": _client(entry.data),
            "data": entry.data,
            "verified": verified,
        }


def write(selected: Iterator[dict[str, Any]], form: str, times: LocalTimes, out: TextIO = sys.stdout) -> int:
    """Write the rows in `form` (the table's times in `times`' zone; JSON and CSV keep the log's UTC);
    returns how many. A closed pipe raises BrokenPipeError to the caller."""
    count = 0
    if form == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
    for row in selected:
        count += 1
        if form == "json":
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif form == "csv":
            writer.writerow({**row, "data": json.dumps(row.get("data"), ensure_ascii=False)})
        else:
            out.write(_table_line(row, times) + "\n")
    return count


def _table_line(row: dict[str, Any], times: LocalTimes) -> str:
    if "seq" not in row:
        text = _("line {line} is not an entry: {problem}").format(line=row["line"], problem=row["problem"])
        return f"{'':>6}  {text}"
    mark = " " if row["verified"] else "!"
    details = " ".join(
        f"{key}={show_value(value)}" for key, value in row["data"].items() if value is not None
    )
    return f"{row['seq']:>6}{mark} {times.table_text(row['time']):<24} {row['event']:<18} {details}"


def show_value(value: Any) -> str:
    """JSON, with non-ASCII as itself (ä stays ä, never \\u00e4)."""
    return json.dumps(value, ensure_ascii=False)


def _client(data: dict[str, Any]) -> str | None:
    client = data.get("client")
    return client if isinstance(client, str) else None
