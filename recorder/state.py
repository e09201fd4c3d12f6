"""The room's recording state machine: pure, table-driven, no I/O."""

from __future__ import annotations

import enum


class State(enum.Enum):
    IDLE = "idle"
    RECORDING = "recording"
    POST_ROLL = "post_roll"


class Event(enum.Enum):
    TRIGGER = "trigger"
    CLEAR = "clear"
    POST_ROLL_ELAPSED = "post_roll_elapsed"
    MAX_DURATION_REACHED = "max_duration_reached"
    WRITE_FAILED = "write_failed"  # the incident file failed (disk full, I/O error): nothing more is recorded


class Action(enum.Enum):
    """What the daemon must do as a consequence of a transition."""

    NONE = "none"  # nothing changes (e.g. clear while idle)
    START_INCIDENT = "start_incident"  # hand the ring over to a new incident writer
    EXTEND_INCIDENT = "extend_incident"  # a re-trigger: same incident, cancel any post-roll
    START_POST_ROLL = "start_post_roll"  # keep recording for post_roll_s
    END_INCIDENT = "end_incident"  # close the incident file, back to buffering only


TRANSITIONS: dict[tuple[State, Event], tuple[State, Action]] = {
    (State.IDLE, Event.TRIGGER): (State.RECORDING, Action.START_INCIDENT),
    (State.IDLE, Event.CLEAR): (State.IDLE, Action.NONE),
    (State.IDLE, Event.POST_ROLL_ELAPSED): (State.IDLE, Action.NONE),
    (State.IDLE, Event.MAX_DURATION_REACHED): (State.IDLE, Action.NONE),
    (State.IDLE, Event.WRITE_FAILED): (State.IDLE, Action.NONE),
    (State.RECORDING, Event.TRIGGER): (State.RECORDING, Action.EXTEND_INCIDENT),
    (State.RECORDING, Event.CLEAR): (State.POST_ROLL, Action.START_POST_ROLL),
    (State.RECORDING, Event.POST_ROLL_ELAPSED): (State.RECORDING, Action.NONE),
    (State.RECORDING, Event.MAX_DURATION_REACHED): (State.IDLE, Action.END_INCIDENT),
    (State.RECORDING, Event.WRITE_FAILED): (State.IDLE, Action.END_INCIDENT),
    (State.POST_ROLL, Event.TRIGGER): (State.RECORDING, Action.EXTEND_INCIDENT),
    (State.POST_ROLL, Event.CLEAR): (State.POST_ROLL, Action.NONE),
    (State.POST_ROLL, Event.POST_ROLL_ELAPSED): (State.IDLE, Action.END_INCIDENT),
    (State.POST_ROLL, Event.MAX_DURATION_REACHED): (State.IDLE, Action.END_INCIDENT),
    (State.POST_ROLL, Event.WRITE_FAILED): (State.IDLE, Action.END_INCIDENT),
}


def transition(state: State, event: Event) -> tuple[State, Action]:
    """The next state and the action it requires. Every (state, event) pair is in the table.

    The room enters the new state only once the action has succeeded (and, for a request, been
    audited); a failed action leaves the state as it was (docs/reliability.md)."""
    return TRANSITIONS[(state, event)]
