"""What a front end shows for one room, from state messages, presses and replies. Pure: no I/O."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

from panic_button.subscriber import Contact, ContactTracker
from panic_button.worker import NO_CONTACT, Outcome

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
    headline: str
    detail: str
    recording: bool | None  # None: unknown (no contact)
    acknowledged: bool = False  # this front end's alarm was confirmed by the daemon


def _clock_time(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))


class RoomPresenter:
    """One room as a front end sees it. Times are monotonic seconds except `wall` (for display)."""

    def __init__(self, label: str, heartbeat_s: float, now: float) -> None:
        self.label = label
        self._contact = ContactTracker(heartbeat_s, now)
        self._status: dict[str, Any] | None = None
        self._pending: list[str] = []
        self._failure: tuple[Outcome, float] | None = None
        self._acknowledged: tuple[str | None, float] | None = None  # (incident, wall time)

    @property
    def room(self) -> str:
        return self.label or str((self._status or {}).get("room") or "room")

    def on_state(self, message: dict[str, Any], now: float) -> None:
        self._contact.heard(now)
        self._set_status(message)

    def on_sent(self, kind: str) -> None:
        self._pending.append(kind)
        self._failure = None

    def on_outcome(self, outcome: Outcome, now: float, wall: float) -> None:
        if outcome.kind in self._pending:
            self._pending.remove(outcome.kind)
        if outcome.failure != NO_CONTACT:
            self._contact.heard(now)  # any reply proves the daemon is alive
        if outcome.reply is not None:
            self._set_status(outcome.reply)
        if not outcome.ok:
            self._failure = (outcome, now)
        elif outcome.kind == "trigger" and outcome.reply is not None:
            self._acknowledged = (outcome.reply.get("incident"), wall)

    def _set_status(self, status: dict[str, Any]) -> None:
        self._status = status
        if status.get("state") == "idle":
            self._acknowledged = None  # an acknowledgement lasts as long as its recording

    def view(self, now: float) -> RoomView:
        contact = self._contact.contact(now)
        if self._pending:
            return self._sending_view()
        if self._failure is not None and now - self._failure[1] < FAILURE_HOLD_S:
            return self._failure_view(self._failure[0])
        if contact is Contact.CONNECTING:
            return RoomView(Look.CONNECTING, "CONNECTING…", "waiting for the first heartbeat", None)
        if contact is Contact.LOST or self._status is None:
            silent = self._contact.silent_s(now)
            return RoomView(
                Look.NO_CONTACT,
                "NO CONTACT",
                f"nothing heard for {silent:.0f} s: alarms may NOT be delivered",
                None,
            )
        return self._state_view(self._status)

    def _sending_view(self) -> RoomView:
        what = "ALARM" if "trigger" in self._pending else "CLEAR"
        known = self._status.get("state") if self._status else None
        return RoomView(Look.SENDING, f"SENDING {what}…", f"waiting for the recorder (was: {known})", None)

    def _failure_view(self, outcome: Outcome) -> RoomView:
        what = "ALARM" if outcome.kind == "trigger" else "CLEAR"
        if outcome.failure == NO_CONTACT:
            return RoomView(
                Look.NO_CONTACT,
                f"{what} NOT DELIVERED\nNO CONTACT",
                "the recorder did not answer: get help another way",
                None,
            )
        return RoomView(Look.FAILED, f"{what} REFUSED\n{outcome.failure}", outcome.message, None)

    def _state_view(self, status: dict[str, Any]) -> RoomView:
        state, incident = status.get("state"), status.get("incident")
        degraded = ", ".join(status.get("degraded") or [])
        note = f" · FAILING: {degraded}" if degraded else ""
        if state == "idle":
            since = _clock_time(float(status.get("since") or 0))
            return RoomView(Look.IDLE, "IDLE — not recording", f"since {since}{note}", False)
        acknowledged = self._acknowledged is not None and self._acknowledged[0] == incident
        if state == "post_roll":
            return RoomView(
                Look.POST_ROLL,
                "RECORDING\nending (post-roll)",
                f"incident {incident}{note}",
                True,
                acknowledged,
            )
        if acknowledged and self._acknowledged is not None:
            confirmed = _clock_time(self._acknowledged[1])
            return RoomView(
                Look.RECORDING,
                "ALARM CONFIRMED\nRECORDING",
                f"confirmed {confirmed} · incident {incident}{note}",
                True,
                True,
            )
        return RoomView(Look.RECORDING, "RECORDING", f"incident {incident}{note}", True)


def alert_started(before: RoomView | None, after: RoomView) -> bool:
    """True when a view turns into an alert (no contact, refusal): ring the bell once."""
    return after.look in ALERTS and (before is None or before.look is not after.look)
