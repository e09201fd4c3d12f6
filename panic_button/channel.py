"""One room as a front end reaches it: its state subscription and (for buttons) its action worker."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from typing import Any

import zmq

from panic_button.client import RoomClient
from panic_button.config import RoomLink, Timing
from panic_button.presenter import RoomPresenter
from panic_button.subscriber import StateSubscriber, open_subscriber
from panic_button.worker import ActionWorker, Outcome


@dataclass
class RoomChannel:
    """Feeds a presenter from the wire. `pump()` and `press()` run on the front end's main thread; the
    worker's thread only puts outcomes into `outcomes` (a thread-safe queue)."""

    subscriber: StateSubscriber
    worker: ActionWorker | None = None
    outcomes: queue.SimpleQueue[Outcome] = field(default_factory=queue.SimpleQueue)

    def pump(self, presenter: RoomPresenter, now: float, wall: float) -> list[Outcome]:
        """Apply every state message and reply that has arrived since the last call; returns the replies."""
        for message in self.subscriber.poll(0):
            presenter.on_state(message, now)
        outcomes: list[Outcome] = []
        while True:
            try:
                outcome = self.outcomes.get_nowait()
            except queue.Empty:
                return outcomes
            presenter.on_outcome(outcome, now, wall)
            outcomes.append(outcome)

    def press(self, presenter: RoomPresenter, kind: str) -> bool:
        """Send a `trigger` or `clear`; False if coalesced into one already waiting."""
        if self.worker is None or not self.worker.submit(kind):
            return False
        presenter.on_sent(kind)
        return True

    def annotate(self, incident: str, reason: str) -> bool:
        """Send a justification for `incident`; False if the same one is already waiting."""
        return self.worker is not None and self.worker.submit("annotate", incident=incident, reason=reason)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.subscriber.close()


def open_channel(
    context: zmq.Context[Any], link: RoomLink, timing: Timing, *, buttons: bool, reason: str | None = None
) -> RoomChannel:
    """Connect to one room (raises ButtonError for bad keys or a missing state endpoint). With
    `buttons`, also start a worker that sends presses."""
    keys = link.keys()
    channel = RoomChannel(open_subscriber(context, link.require_state_endpoint(), keys))
    if buttons:
        client = RoomClient(
            link.endpoint, keys, timeout_s=timing.timeout_s, retries=timing.retries, context=context
        )
        channel.worker = ActionWorker(client, channel.outcomes.put, reason=reason).start()
    return channel
