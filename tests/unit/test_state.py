"""The state machine: exhaustive over every (state, event) pair."""

import itertools

import pytest

from recorder.state import TRANSITIONS, Action, Event, State, transition


def test_table_covers_every_state_and_event() -> None:
    assert set(TRANSITIONS) == set(itertools.product(State, Event))


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (State.IDLE, Event.TRIGGER, (State.RECORDING, Action.START_INCIDENT)),
        (State.RECORDING, Event.TRIGGER, (State.RECORDING, Action.EXTEND_INCIDENT)),
        (State.POST_ROLL, Event.TRIGGER, (State.RECORDING, Action.EXTEND_INCIDENT)),
        (State.RECORDING, Event.CLEAR, (State.POST_ROLL, Action.START_POST_ROLL)),
        (State.POST_ROLL, Event.POST_ROLL_ELAPSED, (State.IDLE, Action.END_INCIDENT)),
        (State.RECORDING, Event.MAX_DURATION_REACHED, (State.IDLE, Action.END_INCIDENT)),
        (State.POST_ROLL, Event.MAX_DURATION_REACHED, (State.IDLE, Action.END_INCIDENT)),
        (State.RECORDING, Event.WRITE_FAILED, (State.IDLE, Action.END_INCIDENT)),
        (State.POST_ROLL, Event.WRITE_FAILED, (State.IDLE, Action.END_INCIDENT)),
    ],
)
def test_transition(state: State, event: Event, expected: tuple[State, Action]) -> None:
    assert transition(state, event) == expected


def test_only_a_trigger_from_idle_starts_an_incident() -> None:
    starts = [key for key, (_, action) in TRANSITIONS.items() if action is Action.START_INCIDENT]
    assert starts == [(State.IDLE, Event.TRIGGER)]


def test_retrigger_never_opens_a_second_incident() -> None:
    for state in (State.RECORDING, State.POST_ROLL):
        assert transition(state, Event.TRIGGER)[1] is Action.EXTEND_INCIDENT


@pytest.mark.parametrize(
    "event", [Event.CLEAR, Event.POST_ROLL_ELAPSED, Event.MAX_DURATION_REACHED, Event.WRITE_FAILED]
)
def test_idle_ignores_everything_but_trigger(event: Event) -> None:
    assert transition(State.IDLE, event) == (State.IDLE, Action.NONE)
