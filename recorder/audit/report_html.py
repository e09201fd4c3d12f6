"""The auditor's report as one self-contained HTML file: inline CSS and an inline SVG chart, no scripts."""

from __future__ import annotations

from datetime import date, datetime
from html import escape

from recorder.audit.report import IncidentRow, Period, RoomReport, triggers_per_week

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


def render(rooms: list[RoomReport], period: Period, generated: datetime) -> str:
    """The whole document. Every value from the log is escaped."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Audit report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Room recorder audit report</h1>",
        f'<p class="muted">Period: {_period(period)}. Generated {generated:%Y-%m-%d %H:%M} UTC.</p>',
        *(_verdict(room) for room in rooms),
        "<h2>Triggers per week</h2>",
        _chart(triggers_per_week(rooms)),
        *(_room(room) for room in rooms),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _period(period: Period) -> str:
    since = f"{period.since:%Y-%m-%d}" if period.since else "the beginning"
    until = f"before {period.until:%Y-%m-%d}" if period.until else "now"
    return f"{since} to {until}"


def _verdict(room: RoomReport) -> str:
    verdict = room.verdict
    ok = verdict.ok and not room.findings
    what = (
        "exact bytes, chain and MACs"
        if room.key_given
        else "exact bytes and chain (no key: MACs NOT checked)"
    )
    head = (
        f"Room {escape(room.room)}: audit log {'verifies' if verdict.ok else 'FAILS verification'} "
        f"({verdict.entries} entries; {what})"
    )
    items = [*verdict.problems, *(f"{f.incident}: {f.problem}" for f in room.findings), *verdict.notes]
    listed = "".join(f"<li>{escape(item)}</li>" for item in items)
    return (
        f'<div class="verdict {"ok" if ok else "bad"}">{head}{f"<ul>{listed}</ul>" if listed else ""}</div>'
    )


def _room(room: RoomReport) -> str:
    header = "".join(
        f"<th>{name}</th>"
        for name in (
            "Incident",
            "Started (UTC)",
            "Triggered by",
            "Why",
            "Duration",
            "Retention",
            "Legal hold",
        )
    )
    body = "".join(_incident_row(row) for row in room.rows) or '<tr><td colspan="7">no incidents</td></tr>'
    return (
        f"<h2>Room {escape(room.room)}</h2>"
        f'<p class="muted">{escape(room.label)}; retention {room.retention_days} days; '
        f"{len(room.rows)} incidents in the period.</p>"
        f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
    )


def _incident_row(row: IncidentRow) -> str:
    trail = row.trail
    start = trail.start_time
    why = "; ".join(trail.reasons)
    why_cell = (
        '<td class="flag">MISSING after 24 h</td>'
        if row.justification_missing
        else f"<td>{escape(why) or '—'}</td>"
    )
    duration = f"{trail.duration_s:.0f} s" if trail.duration_s is not None else "not closed"
    holds = "<br>".join(
        escape(f"{h.event.removeprefix('hold_')} {h.time[:10]} by {_who(h.data)}: {h.data.get('reason', '')}")
        for h in trail.holds
    )
    retention_class = "" if row.retention_ok else ' class="flag"'
    return (
        f"<tr><td>{escape(trail.incident)}</td><td>{f'{start:%Y-%m-%d %H:%M}' if start else '?'}</td>"
        f"<td>{escape(trail.triggered_by or '?')}</td>{why_cell}<td>{duration}</td>"
        f"<td{retention_class}>{escape(row.retention)}</td><td>{holds or '—'}</td></tr>"
    )


def _who(data: dict[str, object]) -> str:
    actor = data.get("actor")
    return str(actor.get("user", "?")) if isinstance(actor, dict) else "?"


def _chart(weeks: list[tuple[date, int]]) -> str:
    """A bar per ISO week, as inline SVG."""
    if not weeks:
        return '<p class="muted">No triggers in the period.</p>'
    bar, gap, height, top = 28, 8, 160, max(count for _, count in weeks)
    width = len(weeks) * (bar + gap) + 40
    bars = []
    for index, (monday, count) in enumerate(weeks):
        x = 30 + index * (bar + gap)
        h = round(height * count / top)
        mid = x + bar / 2
        bars.append(
            f'<rect x="{x}" y="{20 + height - h}" width="{bar}" height="{h}" fill="#3b6ea8">'
            f"<title>week of {monday:%Y-%m-%d}: {count}</title></rect>"
            f'<text x="{mid}" y="{14 + height - h}" font-size="11" text-anchor="middle">{count}</text>'
            f'<text x="{mid}" y="{height + 36}" font-size="10" text-anchor="middle">{monday:%m-%d}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 50}" role="img" '
        f'aria-label="triggers per week">'
        f'<line x1="26" y1="{20 + height}" x2="{width}" y2="{20 + height}" stroke="#999"/>'
        f"{''.join(bars)}</svg>"
        '<p class="muted">Weeks start on Monday (label: month-day).</p>'
    )
