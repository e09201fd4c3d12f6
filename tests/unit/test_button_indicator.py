"""The citizen's sign: RECORDING only while recording, nothing claimed without contact, periodic cue."""

from __future__ import annotations

import pytest

from panic_button.config import Notice
from panic_button.i18n import DOMAIN
from panic_button.indicator_model import CueSchedule, LanguageRotation, Sign, sign_for
from panic_button.indicator_text import sign_text
from panic_button.presenter import Look, RoomView
from recorder.i18n import translator


@pytest.mark.parametrize(
    ("look", "recording", "sign"),
    [
        (Look.RECORDING, True, Sign.RECORDING),
        (Look.POST_ROLL, True, Sign.RECORDING),
        (Look.IDLE, False, Sign.NOT_RECORDING),
        (Look.NO_CONTACT, None, Sign.UNKNOWN),
        (Look.CONNECTING, None, Sign.UNKNOWN),
    ],
)
def test_sign_follows_the_recording_state(look: Look, recording: bool | None, sign: Sign) -> None:
    assert sign_for(RoomView(look, "", "", recording)) is sign


def test_cue_sounds_as_recording_starts_and_then_every_interval() -> None:
    schedule = CueSchedule(interval_s=120)
    due = [t for t in (0.0, 0.1, 60.0, 119.9, 120.0, 200.0, 240.0) if schedule.due(Sign.RECORDING, t)]
    assert due == [0.0, 120.0, 240.0]


def test_no_cue_while_not_recording_and_a_new_recording_cues_at_once() -> None:
    schedule = CueSchedule(interval_s=120)
    assert schedule.due(Sign.RECORDING, 0.0)
    assert not schedule.due(Sign.NOT_RECORDING, 10.0)
    assert not schedule.due(Sign.UNKNOWN, 300.0)
    assert schedule.due(Sign.RECORDING, 301.0)


def test_cue_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        CueSchedule(interval_s=0)


def test_languages_take_turns_and_a_new_sign_starts_with_the_first() -> None:
    rotation = LanguageRotation(["nl", "ar", "tr"], period_s=8)
    assert [rotation.language(Sign.NOT_RECORDING, t) for t in (0, 7.9, 8, 16, 24)] == [
        "nl",
        "nl",
        "ar",
        "tr",
        "nl",
    ]
    assert rotation.language(Sign.RECORDING, 12) == "nl"  # recording starts: the room's language first
    assert rotation.language(Sign.RECORDING, 20) == "ar"


NOTICE = Notice(controller="Gemeente Dronten", contact="de balie", privacy_url="https://dronten.nl/privacy")


def test_while_recording_the_sign_says_who_why_how_long_and_where_to_ask() -> None:
    text = sign_text(Sign.RECORDING, translator(DOMAIN, "nl"), NOTICE)
    assert text.headline == "● OPNAME"
    assert text.notice.split("\n") == [
        "Wie neemt op: Gemeente Dronten",
        "Waarom: een medewerker heeft om hulp gevraagd. We nemen alleen op als een medewerker alarm slaat.",
        "Hoe lang: we bewaren de opname 14 dagen. Daarna wissen we hem, behalve als hij nodig is voor een "
        "melding of aangifte.",
        "Vragen? de balie",
    ]


def test_the_retention_is_counted_in_the_language() -> None:
    one_day = NOTICE.model_copy(update={"retention_days": 1})
    assert "1 dzień." in sign_text(Sign.RECORDING, translator(DOMAIN, "pl"), one_day).notice
    assert (
        "3 dni."
        in sign_text(
            Sign.RECORDING, translator(DOMAIN, "pl"), NOTICE.model_copy(update={"retention_days": 3})
        ).notice
    )


def test_while_idle_the_sign_only_says_not_recording() -> None:
    text = sign_text(Sign.NOT_RECORDING, translator(DOMAIN, "tr"), NOTICE)
    assert (text.headline, text.sentence, text.notice) == ("○ Kayıt yapılmıyor", "", "")  # noqa: RUF001
