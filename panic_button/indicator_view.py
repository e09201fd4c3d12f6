"""`panic-button indicator`: the citizen's full-screen Tk sign and its audible cue; logic in the models."""

from __future__ import annotations

import subprocess
import time
import tkinter as tk

import structlog
import zmq

from panic_button.channel import RoomChannel, open_channel
from panic_button.config import RoomLink, Timing
from panic_button.indicator_model import SIGN_LOOK, CueSchedule, IndicatorOptions, Sign, sign_for
from panic_button.presenter import RoomPresenter
from panic_button.tk_app import run_tk

log = structlog.get_logger()

TITLE = "panic-button indicator"


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


class IndicatorWindow:
    def __init__(
        self, root: tk.Tk, presenter: RoomPresenter, channel: RoomChannel, cue: tuple[CueSchedule, Cue]
    ):
        self._root, self._presenter, self._channel = root, presenter, channel
        self._schedule, self._cue = cue
        self._sign: Sign | None = None
        root.title(TITLE)
        width, height = root.winfo_screenwidth(), root.winfo_screenheight()
        size = max(24, min(height // 9, width // 13))
        self._headline = tk.Label(root, font=("DejaVu Sans", size, "bold"), wraplength=int(width * 0.9))
        self._explanation = tk.Label(
            root, font=("DejaVu Sans", max(12, size // 3)), wraplength=int(width * 0.9)
        )
        self._headline.pack(expand=True, fill="both")
        self._explanation.pack(fill="x", ipady=height // 12)

    def tick(self) -> None:
        now = time.monotonic()
        self._channel.pump(self._presenter, now, time.time())
        sign = sign_for(self._presenter.view(now))
        if sign is not self._sign:
            self._show(sign)
        if self._schedule.due(sign, now):
            log.info("audible_cue", room=self._presenter.room)
            self._cue.sound()

    def _show(self, sign: Sign) -> None:
        headline, explanation, background, text = SIGN_LOOK[sign]
        self._root.configure(bg=background)
        self._headline.configure(text=headline, bg=background, fg=text)
        self._explanation.configure(text=explanation, bg=background, fg=text)
        log.info("sign_changed", room=self._presenter.room, sign=sign.value)
        self._sign = sign


def full_screen(root: tk.Tk) -> None:
    """Cover the whole screen, with or without a window manager (a kiosk display may have none)."""
    root.overrideredirect(True)
    root.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")
    root.config(cursor="none")


def run_indicator(link: RoomLink, timing: Timing, options: IndicatorOptions) -> int:
    """Show the sign until the process is signalled. Raises ButtonError for bad keys or settings."""
    schedule = CueSchedule(options.cue_interval_s)
    channel = open_channel(zmq.Context.instance(), link, timing, buttons=False)
    try:
        presenter = RoomPresenter(link.name, timing.heartbeat_s, time.monotonic())
        root = tk.Tk()
        if not options.windowed:
            full_screen(root)
        window = IndicatorWindow(root, presenter, channel, (schedule, Cue(root, options.cue_command)))
        log.info("indicator_started", endpoint=link.state_endpoint, cue_interval_s=options.cue_interval_s)
        run_tk(root, window.tick)
    finally:
        channel.close()
    return 0
