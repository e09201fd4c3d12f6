"""The justifications the desk asks for after a clear: asked at once, skippable, asked again later."""

from __future__ import annotations

import pytest

from panic_button.justification import REMIND_AFTER_S, Justifications


def test_a_clear_asks_at_once_and_only_once_per_incident() -> None:
    asked = Justifications()
    asked.cleared(3, "i-1", now=10.0)
    asked.cleared(3, "i-1", now=11.0)  # a second clear of the same incident
    question = asked.due(10.0)
    assert question is not None and (question.room, question.incident) == (3, "i-1")
    assert asked.missing == 1


def test_later_asks_again_after_the_reminder_time() -> None:
    asked = Justifications()
    asked.cleared(0, "i-1", now=0.0)
    asked.later("i-1", now=5.0)
    assert asked.due(5.0 + REMIND_AFTER_S - 1) is None and asked.missing == 1
    assert asked.due(5.0 + REMIND_AFTER_S) is not None


def test_an_answer_on_its_way_is_not_asked_and_a_saved_one_closes_the_question() -> None:
    asked = Justifications()
    asked.cleared(0, "i-1", now=0.0)
    asked.sending("i-1")
    assert asked.due(1.0) is None and asked.missing == 1
    asked.answered("i-1", None, now=2.0)
    assert asked.missing == 0


def test_an_answer_that_was_not_saved_is_asked_again_with_the_problem() -> None:
    asked = Justifications()
    asked.cleared(0, "i-1", now=0.0)
    asked.sending("i-1")
    asked.answered("i-1", "no_contact", now=2.0)
    question = asked.due(2.0)
    assert question is not None and question.problem == "no_contact"


def test_questions_come_oldest_first() -> None:
    asked = Justifications()
    asked.cleared(0, "i-1", now=0.0)
    asked.cleared(1, "i-2", now=1.0)
    first = asked.due(2.0)
    assert first is not None and first.incident == "i-1"


def test_an_unknown_incident_is_an_error() -> None:
    with pytest.raises(KeyError):
        Justifications().later("nope", now=0.0)
