"""The Tk main loop of the desk and the indicator: a periodic tick, a clean stop on SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
import tkinter as tk
from collections.abc import Callable

TICK_MS = 100


def run_tk(root: tk.Tk, tick: Callable[[], None], period_ms: int = TICK_MS) -> None:
    """Call `tick` every `period_ms` until asked to stop; returns once the window is gone. (The
    periodic tick also lets Python run its signal handlers while Tk waits for events.)"""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    root.protocol("WM_DELETE_WINDOW", stop.set)

    def loop() -> None:
        if stop.is_set():
            root.destroy()
            return
        tick()
        root.after(period_ms, loop)

    root.after(0, loop)
    root.mainloop()
