"""The auditor's report as one self-contained HTML file: inline CSS and an inline SVG chart, no scripts.
In the process's language (the `recorder` catalog), times in the report's zone, which it names."""

from __future__ import annotations

from datetime import date, datetime
from html import escape

from recorder.audit.report import (
    IncidentRow,
    Period,
    Retention,
    RetentionState,
    RoomReport,
    triggers_per_week,
)
from recorder.audit.trail import parse_time
from recorder.i18n import is_right_to_left
from recorder.local_times import LocalTimes
from recorder.messages import _, ngettext

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.6em;margin:0 0 .2em} h2{margin-top:1.6em;border-bottom:1px solid #ccc}
.verdict{padding:.8em 1em;border-radius:6px;margin:1em 0;font-weight:600}
.ok{background:#e3f4e1;border:1px solid #7bbf72} .bad{background:#fbe3e1;border:1px solid #d9776d}
.verdict ul{font-weight:400;margin:.4em 0 0}
table{border-collapse:collapse;width:100%;margin:.6em 0} th,td{border:1px solid #ddd;padding:.3em .5em;
text-align:left;vertical-align:top} th{background:#f4f4f4} td.flag{color:#b3261e;font-weight:600}
.muted{color:#666}
"""


def render(rooms: list[RoomReport], period: Period, generated: datetime, times: LocalTimes) -> str:
    """The whole document. Every value from the log is escaped."""
    language = escape(times.language)
    direction = ' dir="rtl"' if is_right_to_left(times.language) else ""
    about = _("Period: {period}. Generated {generated}. Times in {zone}.").format(
        period=_period(period, times),
        generated=times.minute(generated),
        zone=times.zone_label(generated.year),
    )
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{language}"{direction}><head><meta charset="utf-8">',
        _tag("title", _("Audit report")),
        f"<style>{_CSS}</style></head><body>",
        _tag("h1", _("Room recorder audit report")),
        _tag("p", about, ' class="muted"'),
        *(_verdict(room) for room in rooms),
        _tag("h2", _("Triggers per week")),
        _chart(triggers_per_week(rooms, times.zone), times),
        *(_room(room, times) for room in rooms),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _tag(name: str, text: str, attributes: str = "") -> str:
    """`<name attributes>text</name>`, the text escaped. (Translated texts are made outside f-strings:
    Babel does not extract a `_()` inside one.)"""
    return f"<{name}{attributes}>{escape(text)}</{name}>"


def _period(period: Period, times: LocalTimes) -> str:
    since = _("from {date}").format(date=times.day(period.since)) if period.since else _("from the beginning")
    until = (
        _("until {date} (not included)").format(date=times.day(period.until))
        if period.until
        else _("until now")
    )
    return f"{since} {until}"


def _verdict(room: RoomReport) -> str:
    verdict = room.verdict
    ok = verdict.ok and not room.findings
    what = (
        _("exact bytes, chain and MACs")
        if room.key_given
        else _("exact bytes and chain (no key: MACs NOT checked)")
    )
    head = (
        _("Room {room}: audit log verifies ({entries} entries; {what})")
        if verdict.ok
        else _("Room {room}: audit log FAILS verification ({entries} entries; {what})")
    ).format(room=room.room, entries=verdict.entries, what=what)
    items = [*verdict.problems, *(f"{f.incident}: {f.problem}" for f in room.findings), *verdict.notes]
    listed = "".join(f"<li>{escape(item)}</li>" for item in items)
    return (
        f'<div class="verdict {"ok" if ok else "bad"}">{escape(head)}'
        f"{f'<ul>{listed}</ul>' if listed else ''}</div>"
    )


def _room(room: RoomReport, times: LocalTimes) -> str:
    names = (
        _("Incident"),
        _("Started"),
        _("Triggered by"),
        _("Why"),
        _("Duration"),
        _("Retention"),
        _("Legal hold"),
    )
    header = "".join(f"<th>{escape(name)}</th>" for name in names)
    none = escape(_("no incidents"))
    body = "".join(_incident_row(row, times) for row in room.rows) or f'<tr><td colspan="7">{none}</td></tr>'
    about = _("{label}; retention {days} days; incidents in the period: {count}.").format(
        label=room.label, days=room.retention_days, count=len(room.rows)
    )
    return (
        _tag("h2", _("Room {room}").format(room=room.room))
        + _tag("p", about, ' class="muted"')
        + f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
    )


def _incident_row(row: IncidentRow, times: LocalTimes) -> str:
    trail = row.trail
    start = trail.start_time
    why = "; ".join(trail.reasons)
    why_cell = (
        _tag("td", _("MISSING after 24 h"), ' class="flag"')
        if row.justification_missing
        else f"<td>{escape(why) or '—'}</td>"
    )
    duration = (
        _("{seconds:.0f} s").format(seconds=trail.duration_s)
        if trail.duration_s is not None
        else _("not closed")
    )
    holds = "<br>".join(escape(_hold(hold.event, hold.time, hold.data, times)) for hold in trail.holds)
    retention_class = "" if row.retention.ok else ' class="flag"'
    retention = escape(retention_words(row.retention, times))
    return (
        f"<tr><td>{escape(trail.incident)}</td><td>{escape(times.minute(start)) if start else '?'}</td>"
        f"<td>{escape(trail.triggered_by or '?')}</td>{why_cell}<td>{escape(duration)}</td>"
        f"<td{retention_class}>{retention}</td><td>{holds or '—'}</td></tr>"
    )


def retention_words(retention: Retention, times: LocalTimes) -> str:
    """What happened against the retention rule, in the reader's language and dates."""
    due = times.day(retention.due)
    deleted = times.day(retention.deleted) if retention.deleted else ""
    state = retention.state
    if state is RetentionState.DELETED_EARLY:
        return _("deleted {deleted} BEFORE its due date {due}").format(deleted=deleted, due=due)
    if state is RetentionState.DELETED_LATE:
        days = retention.days_late
        return ngettext(
            "deleted {deleted}, {days} day LATE", "deleted {deleted}, {days} days LATE", days
        ).format(deleted=deleted, days=days)
    if state is RetentionState.DELETED_IN_TIME:
        return _("deleted {deleted}, within retention").format(deleted=deleted)
    if state is RetentionState.ON_HOLD:
        return _("kept: on legal hold")
    if state is RetentionState.OVERDUE:
        return _("OVERDUE: due {due}, not deleted").format(due=due)
    return _("kept until {due}").format(due=due)


def _hold(event: str, time: str, data: dict[str, object], times: LocalTimes) -> str:
    try:
        day = times.day(parse_time(time))
    except ValueError:
        day = time
    text = (
        _("placed {date} by {user}: {reason}")
        if event == "hold_placed"
        else _("released {date} by {user}: {reason}")
    )
    return text.format(date=day, user=_who(data), reason=data.get("reason", ""))


def _who(data: dict[str, object]) -> str:
    actor = data.get("actor")
    return str(actor.get("user", "?")) if isinstance(actor, dict) else "?"


def _chart(weeks: list[tuple[date, int]], times: LocalTimes) -> str:
    """A bar per ISO week, as inline SVG."""
    if not weeks:
        return _tag("p", _("No triggers in the period."), ' class="muted"')
    bar, gap, height, top = 28, 8, 160, max(count for _monday, count in weeks)
    width = len(weeks) * (bar + gap) + 40
    bars = []
    for index, (monday, count) in enumerate(weeks):
        x = 30 + index * (bar + gap)
        h = round(height * count / top)
        mid = x + bar / 2
        title = _("week of {date}: {count}").format(date=times.day(monday), count=count)
        bars.append(
            f'<rect x="{x}" y="{20 + height - h}" width="{bar}" height="{h}" fill="#3b6ea8">'
            f"<title>{escape(title)}</title></rect>"
            f'<text x="{mid}" y="{14 + height - h}" font-size="11" text-anchor="middle">{count}</text>'
            f'<text x="{mid}" y="{height + 36}" font-size="10" text-anchor="middle">'
            f"{escape(times.day_and_month(monday))}</text>"
        )
    label = escape(_("triggers per week"), quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 50}" role="img" '
        f'aria-label="{label}">'
        f'<line x1="26" y1="{20 + height}" x2="{width}" y2="{20 + height}" stroke="#999"/>'
        f"{''.join(bars)}</svg>" + _tag("p", _("Weeks start on Monday."), ' class="muted"')
    )
