"""What the citizen's sign says, in one language: while recording, who records, why, how long, where to ask.

These are the only strings a citizen reads, so their catalogs are complete in every language of
CITIZEN_LANGUAGES (tests/unit/test_button_catalogs.py checks it). Plain words: many readers are not
reading their first language.
"""

from __future__ import annotations

from dataclasses import dataclass

from panic_button.config import Notice
from panic_button.indicator_model import Sign
from recorder.i18n import Translator


@dataclass(frozen=True)
class SignText:
    headline: str
    sentence: str = ""
    notice: str = ""  # while recording: one paragraph per line
    qr_caption: str = ""  # while recording: under the QR code of the privacy statement


def sign_text(sign: Sign, words: Translator, notice: Notice) -> SignText:
    if sign is Sign.NOT_RECORDING:
        return SignText(words.gettext("○ Not recording"))
    if sign is Sign.UNKNOWN:
        return SignText(
            words.gettext("Recording status unknown"),
            words.gettext("This screen has lost contact with the recorder."),
        )
    days = notice.retention_days
    how_long = words.ngettext(
        "How long: we keep the recording for {days} day.",
        "How long: we keep the recording for {days} days.",
        days,
    )
    then = words.gettext("Then we delete it, unless it is needed for a report.")
    paragraphs = (
        words.gettext("Who records: {controller}").format(controller=notice.controller),
        words.gettext("Why: a member of staff asked for help. We only record when staff raise the alarm."),
        f"{how_long.format(days=days)} {then}",
        words.gettext("Questions? {contact}").format(contact=notice.contact),
    )
    return SignText(
        words.gettext("● RECORDING"),
        words.gettext("This conversation is being recorded."),
        "\n".join(paragraphs),
        words.gettext("Scan the code for our privacy statement:"),
    )
