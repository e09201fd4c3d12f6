"""`panic-button gpio`: a Raspberry Pi button triggers; its LED is lit while the room records (gpiozero)."""

from __future__ import annotations

import enum
import signal
import threading
import time
from typing import Any

import structlog
import zmq
from gpiozero import LED, Button, GPIOZeroError  # type: ignore[import-untyped]

from panic_button.channel import RoomChannel, open_channel
from panic_button.client import ButtonError
from panic_button.config import RoomLink, Timing
from panic_button.i18n import _
from panic_button.presenter import ALERTS, Look, RoomPresenter, RoomView

log = structlog.get_logger()

STEP_S = 0.05


class LedMode(enum.Enum):
    OFF = "off"
    ON = "on"
    BLINK_SLOW = "blink_slow"  # a press is on its way
    BLINK_FAST = "blink_fast"  # no contact, or the press was refused: get help another way


def led_mode(view: RoomView) -> LedMode:
    if view.look in ALERTS:
        return LedMode.BLINK_FAST
    if view.look is Look.SENDING:
        return LedMode.BLINK_SLOW
    return LedMode.ON if view.recording else LedMode.OFF


class GpioFrontEnd:
    """Lock discipline: gpiozero calls `_pressed` on its own thread, which only sets `_press` (a
    threading.Event); everything else runs on the thread that calls `step()`."""

    def __init__(self, button: Any, led: Any, channel: RoomChannel, presenter: RoomPresenter) -> None:
        self._led, self._channel, self._presenter = led, channel, presenter
        self._press = threading.Event()
        self._mode: LedMode | None = None
        button.when_pressed = self._pressed

    def step(self, now: float, wall: float) -> RoomView:
        """Send a pending press, apply what arrived, and set the LED."""
        if self._press.is_set():
            self._press.clear()
            self._channel.press(self._presenter, "trigger")
        self._channel.pump(self._presenter, now, wall)
        view = self._presenter.view(now)
        self._set_led(led_mode(view))
        return view

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(STEP_S):
            self.step(time.monotonic(), time.time())

    def _pressed(self) -> None:
        log.info("gpio_button_pressed")
        self._press.set()

    def _set_led(self, mode: LedMode) -> None:
        if mode is self._mode:
            return
        if mode is LedMode.ON:
            self._led.on()
        elif mode is LedMode.OFF:
            self._led.off()
        else:
            half_period = 0.1 if mode is LedMode.BLINK_FAST else 0.5
            self._led.blink(on_time=half_period, off_time=half_period)
        log.info("gpio_led_changed", mode=mode.value)
        self._mode = mode


def open_pins(button_pin: str, led_pin: str) -> tuple[Any, Any]:
    """A gpiozero Button and LED (pins as gpiozero names: 17, "GPIO17", "BOARD11"). Raises ButtonError.
    Set GPIOZERO_PIN_FACTORY=mock to try it without a Raspberry Pi."""
    try:
        button = Button(button_pin, bounce_time=0.05)
    except GPIOZeroError as error:
        raise ButtonError(_("button pin {pin}: {error}").format(pin=button_pin, error=error)) from None
    try:
        return button, LED(led_pin)
    except GPIOZeroError as error:
        button.close()
        raise ButtonError(_("LED pin {pin}: {error}").format(pin=led_pin, error=error)) from None


def run_gpio(link: RoomLink, timing: Timing, button_pin: str, led_pin: str) -> int:
    """Serve the button until SIGTERM/SIGINT. Raises ButtonError for bad keys, settings or pins."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    channel = open_channel(zmq.Context.instance(), link, timing, buttons=True, reason="gpio button")
    try:
        button, led = open_pins(button_pin, led_pin)
        try:
            presenter = RoomPresenter(link.name, timing.heartbeat_s, time.monotonic())
            log.info("gpio_started", button_pin=button_pin, led_pin=led_pin, endpoint=link.endpoint)
            GpioFrontEnd(button, led, channel, presenter).run(stop)
        finally:
            button.close()
            led.close()
    finally:
        channel.close()
    return 0
