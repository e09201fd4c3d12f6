"""`panic-button indicator`: the citizen's full-screen Tk sign with its notice and QR code, and its cue."""

from __future__ import annotations

import subprocess
import time
import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass

import segno
import structlog
import zmq

from panic_button.channel import RoomChannel, open_channel
from panic_button.config import Notice, RoomFile
from panic_button.i18n import DOMAIN, _
from panic_button.indicator_model import (
    SIGN_COLOURS,
    CueSchedule,
    IndicatorOptions,
    LanguageRotation,
    Sign,
    sign_for,
)
from panic_button.indicator_text import SignText, sign_text
from panic_button.presenter import RoomPresenter
from panic_button.tk_app import run_tk
from panic_button.tk_text import visual, wrap
from recorder.i18n import translator

log = structlog.get_logger()

FAMILY = "DejaVu Sans"
PAD = 20


class Cue:
    """Sounds the cue: the X bell, or a command (e.g. `paplay beep.wav`) where the bell is silent."""

    def __init__(self, root: tk.Tk, command: tuple[str, ...] | None) -> None:
        self._root, self._command = root, command
        self._running: subprocess.Popen[bytes] | None = None

    def sound(self) -> None:
        if self._command is None:
            self._root.bell()
            return
        if self._running is not None and self._running.poll() is None:
            return  # the last cue is still playing
        try:
            self._running = subprocess.Popen(
                self._command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
            )
        except OSError as error:
            log.error("cue_command_failed", command=self._command, error=str(error))
            self._root.bell()


@dataclass(frozen=True)
class SignSettings:
    notice: Notice
    languages: list[str]
    rotate_s: float


def qr_image(url: str, module_px: int) -> tk.PhotoImage:
    """The URL as a QR code, black on white with its quiet zone (so it scans on the red sign)."""
    data = segno.make(url, error="m").png_data_uri(scale=max(2, module_px), border=4)
    return tk.PhotoImage(data=data.split(",", 1)[1])


class IndicatorWindow:
    """Everything here runs on the Tk thread."""

    def __init__(
        self,
        root: tk.Tk,
        presenter: RoomPresenter,
        channel: RoomChannel,
        cue: tuple[CueSchedule, Cue],
        settings: SignSettings,
    ) -> None:
        self._root, self._presenter, self._channel = root, presenter, channel
        self._schedule, self._cue = cue
        self._settings = settings
        self._rotation = LanguageRotation(settings.languages, settings.rotate_s)
        self.shown: tuple[Sign, str] | None = None  # the sign and language on screen
        root.title(_("panic-button indicator"))
        self._width, height = root.winfo_screenwidth(), root.winfo_screenheight()
        size = max(24, min(height // 9, self._width // 13))
        self._fonts = {
            "big": tkfont.Font(family=FAMILY, size=-int(size * 1.3), weight="bold"),
            "calm": tkfont.Font(family=FAMILY, size=-max(16, height // 24)),
            "sentence": tkfont.Font(family=FAMILY, size=-max(16, height // 20), weight="bold"),
            "notice": tkfont.Font(family=FAMILY, size=-max(13, height // 34)),
            "small": tkfont.Font(family=FAMILY, size=-max(11, height // 48)),
        }
        self.headline = tk.Label(root)
        self.sentence = tk.Label(root, font=self._fonts["sentence"])
        self._notice_box = tk.Frame(root)
        self.notice = tk.Label(self._notice_box, font=self._fonts["notice"])
        self._qr_box = tk.Frame(self._notice_box, bg="#ffffff")
        self._qr = qr_image(settings.notice.privacy_url, max(2, height // 130))
        self.qr = tk.Label(self._qr_box, image=self._qr, bg="#ffffff", borderwidth=0)
        self.qr_caption = tk.Label(self._qr_box, font=self._fonts["small"], bg="#ffffff", fg="#000000")
        self.qr.pack(side="top")
        self.qr_caption.pack(side="top", fill="x")
        self._qr_w = self._qr.width()

    def tick(self) -> None:
        now = time.monotonic()
        self._channel.pump(self._presenter, now, time.time())
        sign = sign_for(self._presenter.view(now))
        language = self._rotation.language(sign, now)
        if (sign, language) != self.shown:
            self._show(sign, language)
        if self._schedule.due(sign, now):
            log.info("audible_cue", room=self._presenter.room)
            self._cue.sound()

    def _show(self, sign: Sign, language: str) -> None:
        words = translator(DOMAIN, language)
        text, rtl = sign_text(sign, words, self._settings.notice), words.right_to_left
        background, colour = SIGN_COLOURS[sign]
        self._root.configure(bg=background)
        for widget in (self.headline, self.sentence, self._notice_box, self.notice):
            widget.configure(bg=background)
        for label in (self.headline, self.sentence, self.notice):
            label.configure(fg=colour)
        for widget in (self.headline, self.sentence, self._notice_box):
            widget.pack_forget()
        self._layout(sign, text, rtl)
        if sign is not (self.shown or (None,))[0]:
            log.info("sign_changed", room=self._presenter.room, sign=sign.value)
        log.info("sign_language", language=language, sign=sign.value)
        self.shown = (sign, language)

    def _layout(self, sign: Sign, text: SignText, rtl: bool) -> None:
        big = sign is not Sign.NOT_RECORDING
        self.headline.configure(text=visual(text.headline, rtl), font=self._fonts["big" if big else "calm"])
        self.headline.pack(side="top", expand=True, fill="both")
        if text.sentence:
            width = int(self._width * 0.9)
            self.sentence.configure(text=wrap(text.sentence, self._fonts["sentence"], width, rtl))
            self.sentence.pack(side="top", fill="x", pady=(0, 20))
        if not text.notice:
            return
        caption = f"{text.qr_caption}\n{self._settings.notice.privacy_url}"
        self.qr_caption.configure(text=wrap(caption, self._fonts["small"], self._qr_w, rtl))
        self._qr_box.update_idletasks()
        margin = int(self._width * 0.04)
        text_w = self._width - 2 * margin - self._qr_box.winfo_reqwidth() - 4 * PAD
        self.notice.configure(
            text=wrap(text.notice, self._fonts["notice"], text_w, rtl),
            justify="right" if rtl else "left",
            anchor="ne" if rtl else "nw",
        )
        self._qr_box.pack(side="left" if rtl else "right", padx=PAD, pady=10)
        self.notice.pack(side="right" if rtl else "left", fill="both", expand=True, padx=PAD)
        self._notice_box.pack(side="top", fill="x", padx=margin, pady=(0, 40))


def full_screen(root: tk.Tk) -> None:
    """Cover the whole screen, with or without a window manager (a kiosk display may have none)."""
    root.overrideredirect(True)
    root.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")
    root.config(cursor="none")


def run_indicator(room: RoomFile, settings: SignSettings, options: IndicatorOptions) -> int:
    """Show the sign until the process is signalled. Raises ButtonError for bad keys or settings."""
    schedule = CueSchedule(options.cue_interval_s)
    channel = open_channel(zmq.Context.instance(), room, room, buttons=False)
    try:
        presenter = RoomPresenter(room.name, room.heartbeat_s, time.monotonic())
        root = tk.Tk()
        if not options.windowed:
            full_screen(root)
        window = IndicatorWindow(
            root, presenter, channel, (schedule, Cue(root, options.cue_command)), settings
        )
        log.info("indicator_started", endpoint=room.state_endpoint, cue_interval_s=options.cue_interval_s,
                 languages=settings.languages)  # fmt: skip
        run_tk(root, window.tick)
    finally:
        channel.close()
    return 0
