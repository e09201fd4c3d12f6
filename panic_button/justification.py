"""The justifications the desk still has to ask for: after each clear it sent, until one is saved.

Pure: times are monotonic seconds passed in. Staff may skip the question ("later"); it comes back
`REMIND_AFTER_S` later, and the desk counts what is missing until the daemon has audited an answer.
The list lives in the desk's memory only: a desk restarted meanwhile does not ask again (the audit
report names incidents without a justification).
"""

from __future__ import annotations

from dataclasses import dataclass

REMIND_AFTER_S = 600.0
MAX_REASON = 500  # the protocol's limit for `reason`


@dataclass
class Question:
    room: int  # the room's index in the desk's list
    incident: str
    due: float  # when to ask (again)
    sending: bool = False  # an answer is on its way to the daemon
    problem: str | None = None  # why the last answer was not saved


class Justifications:
    def __init__(self) -> None:
        self._open: list[Question] = []

    @property
    def missing(self) -> int:
        return len(self._open)

    def cleared(self, room: int, incident: str, now: float) -> None:
        """This desk's clear of `incident` was confirmed: ask why the alarm was raised, now."""
        if all(question.incident != incident for question in self._open):
            self._open.append(Question(room, incident, now))

    def due(self, now: float) -> Question | None:
        """The question to show now, if any: the oldest one due that is not on its way."""
        return next((q for q in self._open if q.due <= now and not q.sending), None)

    def later(self, incident: str, now: float) -> None:
        self.find(incident).due = now + REMIND_AFTER_S

    def sending(self, incident: str) -> None:
        question = self.find(incident)
        question.sending, question.problem = True, None

    def answered(self, incident: str, problem: str | None, now: float) -> None:
        """The daemon's answer: saved (problem None) closes the question; otherwise it is asked again
        at once, with the problem shown."""
        question = self.find(incident)
        if problem is None:
            self._open.remove(question)
        else:
            question.sending, question.problem, question.due = False, problem, now

    def find(self, incident: str) -> Question:
        """Raises KeyError for an incident not asked about."""
        for question in self._open:
            if question.incident == incident:
                return question
        raise KeyError(incident)
