"""What a front end shows for one room, from state messages, presses and replies. Pure: no I/O."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from panic_button.i18n import DOMAIN
from panic_button.subscriber import Contact, ContactTracker
from panic_button.worker import NO_CONTACT, REQUESTS, Outcome
from recorder.i18n import DEFAULT_TIMEZONE, Translator, local_moment, process_language, time_zone, translator

FAILURE_HOLD_S = 30.0  # a failed press stays on screen this long (or until the next press)


class Look(enum.Enum):
    """The kinds of display, each with its own colour in every front end."""

    CONNECTING = "connecting"
    NO_CONTACT = "no_contact"
    FAILED = "failed"  # the daemon answered, but refused the press
    SENDING = "sending"
    IDLE = "idle"
    RECORDING = "recording"
    POST_ROLL = "post_roll"


ALERTS = (Look.NO_CONTACT, Look.FAILED)

COLOURS: dict[Look, tuple[str, str]] = {  # (background, text); each look has its own background
    Look.CONNECTING: ("#607d8b", "#ffffff"),
    Look.NO_CONTACT: ("#ffd600", "#000000"),
    Look.FAILED: ("#ff00c8", "#000000"),
    Look.SENDING: ("#ff8f00", "#000000"),
    Look.IDLE: ("#263238", "#ffffff"),
    Look.RECORDING: ("#d50000", "#ffffff"),
    Look.POST_ROLL: ("#8e0000", "#ffffff"),
}


@dataclass(frozen=True)
class RoomView:
    look: Look
    headline: str  # one or two lines
    detail: str
    recording: bool | None  # None: unknown (no contact)
    acknowledged: bool = False  # this front end's alarm was confirmed by the daemon
    degraded: tuple[str, ...] = ()  # the room's failing parts, as the daemon names them
    failure: str | None = None  # why this front end's last press failed: "no_contact" or an error code


@dataclass(frozen=True)
class Wording:
    """The language, time zone and wall clock (Unix seconds) a presenter writes its views in."""

    translator: Translator
    zone: ZoneInfo
    wall: Callable[[], float] = time.time

    def moment(self, when: float) -> str:
        return local_moment(when, self.wall(), self.translator.language, self.zone)


def wording(language: str | None = None, zone: str = DEFAULT_TIMEZONE) -> Wording:
    """Staff wording in `language` (default: the process's) and the IANA time zone `zone`."""
    return Wording(translator(DOMAIN, language or process_language()), time_zone(zone))


class RoomPresenter:
    """One room as a front end sees it. Times are monotonic seconds except `wall` (Unix seconds)."""

    def __init__(self, label: str, heartbeat_s: float, now: float, words: Wording | None = None) -> None:
        self.label = label
        self._words = words or wording()
        self._contact = ContactTracker(heartbeat_s, now)
        self._status: dict[str, Any] | None = None
        self._pending: list[str] = []
        self._failure: tuple[Outcome, float] | None = None
        self._acknowledged: tuple[str | None, float] | None = None  # (incident, wall time)

    @property
    def room(self) -> str:
        return self.label or str((self._status or {}).get("room") or "room")

    @property
    def incident(self) -> str | None:
        """The incident the room records now, as last heard."""
        return (self._status or {}).get("incident")

    def on_state(self, message: dict[str, Any], now: float) -> None:
        self._contact.heard(now)
        self._set_status(message)

    def on_sent(self, kind: str) -> None:
        if kind in REQUESTS:
            self._pending.append(kind)
            self._failure = None

    def on_outcome(self, outcome: Outcome, now: float, wall: float) -> None:
        if outcome.failure != NO_CONTACT:
            self._contact.heard(now)  # any reply proves the daemon is alive
        if outcome.reply is not None:
            self._set_status(outcome.reply)
        if outcome.kind not in REQUESTS:
            return  # an annotation changes nothing on screen
        if outcome.kind in self._pending:
            self._pending.remove(outcome.kind)
        if not outcome.ok:
            self._failure = (outcome, now)
        elif outcome.kind == "trigger" and outcome.reply is not None:
            self._acknowledged = (outcome.reply.get("incident"), wall)

    def _set_status(self, status: dict[str, Any]) -> None:
        self._status = status
        if status.get("state") == "idle":
            self._acknowledged = None  # an acknowledgement lasts as long as its recording

    def view(self, now: float) -> RoomView:
        contact, _ = self._contact.contact(now), self._words.translator.gettext
        if self._pending:
            return self._sending_view()
        if self._failure is not None and now - self._failure[1] < FAILURE_HOLD_S:
            return self._failure_view(self._failure[0])
        if contact is Contact.CONNECTING:
            return RoomView(Look.CONNECTING, _("CONNECTING…"), _("waiting for the first heartbeat"), None)
        if contact is Contact.LOST or self._status is None:
            silent = round(self._contact.silent_s(now))
            detail = _("nothing heard for {seconds} s: alarms may NOT be delivered").format(seconds=silent)
            return RoomView(Look.NO_CONTACT, _("NO CONTACT"), detail, None)
        return self._state_view(self._status)

    def _sending_view(self) -> RoomView:
        _ = self._words.translator.gettext
        headline = _("SENDING ALARM…") if "trigger" in self._pending else _("SENDING CLEAR…")
        return RoomView(Look.SENDING, headline, _("waiting for the recorder's answer"), None)

    def _failure_view(self, outcome: Outcome) -> RoomView:
        _, alarm = self._words.translator.gettext, outcome.kind == "trigger"
        if outcome.failure == NO_CONTACT:
            what = _("ALARM NOT DELIVERED") if alarm else _("CLEAR NOT DELIVERED")
            detail = _("the recorder did not answer: get help another way")
            headline = "\n".join((what, _("NO CONTACT")))
            return RoomView(Look.NO_CONTACT, headline, detail, None, failure=NO_CONTACT)
        what = _("ALARM REFUSED") if alarm else _("CLEAR REFUSED")
        return RoomView(
            Look.FAILED, f"{what}\n{outcome.failure}", outcome.message, None, failure=outcome.failure
        )

    def _state_view(self, status: dict[str, Any]) -> RoomView:
        _ = self._words.translator.gettext
        state, incident = status.get("state"), status.get("incident")
        degraded = tuple(str(part) for part in status.get("degraded") or [])
        failing = _("FAILING: {parts}").format(parts=", ".join(degraded)) if degraded else ""
        if state == "idle":
            since = _("since {time}").format(time=self._words.moment(float(status.get("since") or 0)))
            return RoomView(
                Look.IDLE, _("IDLE — not recording"), _join(since, failing), False, degraded=degraded
            )
        about = _join(_("incident {incident}").format(incident=incident), failing)
        acknowledged = self._acknowledged is not None and self._acknowledged[0] == incident
        if state == "post_roll":
            headline = "\n".join((_("RECORDING"), _("ending (post-roll)")))
            return RoomView(Look.POST_ROLL, headline, about, True, acknowledged, degraded)
        if acknowledged and self._acknowledged is not None:
            confirmed = _("confirmed {time}").format(time=self._words.moment(self._acknowledged[1]))
            headline = "\n".join((_("ALARM CONFIRMED"), _("RECORDING")))
            return RoomView(Look.RECORDING, headline, _join(confirmed, about), True, True, degraded)
        return RoomView(Look.RECORDING, _("RECORDING"), about, True, degraded=degraded)


def _join(*parts: str) -> str:
    return " · ".join(part for part in parts if part)


def alert_started(before: RoomView | None, after: RoomView) -> bool:
    """True when a view turns into an alert (no contact, refusal): ring the bell once."""
    return after.look in ALERTS and (before is None or before.look is not after.look)
