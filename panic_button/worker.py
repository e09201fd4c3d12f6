"""Sends a room's alarm, clear and annotate requests on a thread of their own, coalescing repeated presses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from panic_button.client import NoContact, Refused
from panic_button.i18n import _

log = structlog.get_logger()

NO_CONTACT = "no_contact"
REQUESTS = ("trigger", "clear")  # the presses; "annotate" adds a justification to an incident


class Requester(Protocol):
    """What the worker needs of a client: `RoomClient` is the one implementation."""

    def request(self, kind: str, **fields: Any) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """How one request ended: the daemon's reply, or why there is none."""

    kind: str  # "trigger", "clear" or "annotate"
    reply: dict[str, Any] | None  # the reply (also for a refusal, which carries the room's state)
    failure: str | None = None  # None when done; "no_contact" or the protocol's error code
    message: str = ""
    incident: str | None = None  # for "annotate": the incident it was about

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class Request:
    kind: str
    reason: str | None = None
    incident: str | None = None


def send(client: Requester, request: Request) -> Outcome:
    """One request, its result as an Outcome (never raises for NoContact or Refused)."""
    kind, incident = request.kind, request.incident
    try:
        return Outcome(
            kind, client.request(kind, reason=request.reason, incident=incident), incident=incident
        )
    except NoContact as error:
        return Outcome(kind, None, NO_CONTACT, str(error), incident)
    except Refused as error:
        return Outcome(kind, error.reply, error.code, str(error), incident)


class ActionWorker:
    """Sends requests one at a time, so a slow or dead daemon never blocks a window or a button loop.
    `reason` goes with every trigger (into the audit log), e.g. "desk alarm".

    At most one identical request waits behind the one in flight; a press while one is already
    waiting is coalesced into it. So a dead daemon never builds up a backlog of stale alarms that
    would all go out when it comes back. (Annotations of different incidents are not identical.)

    Lock discipline: `_cond` guards `_pending` and `_closing`, shared by the threads that call
    `submit()`/`close()` and the worker thread. Only the worker thread touches the client.
    """

    def __init__(
        self, client: Requester, on_outcome: Callable[[Outcome], None], reason: str | None = None
    ) -> None:
        self._client = client
        self._on_outcome = on_outcome
        self._reason = reason
        self._cond = threading.Condition()
        self._pending: list[Request] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="action-worker", daemon=True)

    def start(self) -> ActionWorker:
        self._thread.start()
        return self

    def submit(self, kind: str, *, incident: str | None = None, reason: str | None = None) -> bool:
        """Queue a `trigger`, `clear` or `annotate` (with `incident` and `reason`). False if an
        identical request was already waiting."""
        reason = self._reason if kind == "trigger" else reason
        request = Request(kind, reason, incident)
        with self._cond:
            if request in self._pending or self._closing:
                return False
            self._pending.append(request)
            self._cond.notify()
            return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Drop waiting requests, let the one in flight finish, and join the thread."""
        with self._cond:
            self._closing = True
            self._pending.clear()
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            while (request := self._next()) is not None:
                outcome = send(self._client, request)
                _log_outcome(outcome)
                self._on_outcome(outcome)
        except Exception:  # the thread's top: say so loudly rather than leave a button dead
            log.exception("action_worker_failed")
            self._on_outcome(Outcome("trigger", None, "internal_error", _("the button's worker crashed")))
        finally:
            self._client.close()

    def _next(self) -> Request | None:
        with self._cond:
            while not self._pending and not self._closing:
                self._cond.wait()
            return None if self._closing else self._pending.pop(0)


def _log_outcome(outcome: Outcome) -> None:
    if outcome.ok and outcome.reply is not None:
        log.info(
            "request_confirmed",
            type=outcome.kind,
            state=outcome.reply.get("state"),
            incident=outcome.incident or outcome.reply.get("incident"),
        )
    else:
        log.error("request_not_done", type=outcome.kind, failure=outcome.failure, detail=outcome.message)
