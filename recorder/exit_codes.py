"""Exit codes of the `recorder` and `panic-button` commands, and the guard around each command that
turns any error into one line on stderr and its documented code (a traceback only with --debug)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from types import FrameType

from recorder.errors import ConfigError, RecorderError
from recorder.messages import N_, _

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # sysexits.h EX_SOFTWARE
EXIT_SIGNAL_BASE = 128  # + the signal number, as a shell reports a process a signal ended
EXIT_INTERRUPTED = EXIT_SIGNAL_BASE + signal.SIGINT
EXIT_BROKEN_PIPE = EXIT_SIGNAL_BASE + signal.SIGPIPE

DEBUG_ENV = "ROOM_RECORDER_DEBUG"
"""Set to 1 to see the traceback of an unexpected error (as `recorder --debug` does)."""

# Shown translated in `recorder --help` (the English original is what the README documents).

EPILOG = N_("""exit codes:
  0    done
  1    failed: the input could not be used (a missing, unreadable or malformed file, a wrong key,
       a tampered or undecryptable incident, an audit log that does not verify) or a write failed
  2    usage or configuration error (bad arguments; check-config found a problem)
  70   internal error: a bug, please report it (--debug shows the traceback)
  130  interrupted (Ctrl-C); 129 SIGHUP, 143 SIGTERM: stopped, partial output removed
  141  the output pipe was closed (e.g. `| head`); nothing more is printed""")


class Terminated(Exception):
    """SIGTERM or SIGHUP arrived while `signals_raise` was in force."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_stop_received: list[int] = []  # the stop signal that arrived within `signals_raise` (main thread only)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within: SIGTERM and SIGHUP raise Terminated and SIGINT raises KeyboardInterrupt, in the main
    thread, so that `finally` blocks remove partial output. After the first of them the others are
    ignored, so a second signal cannot interrupt that clean-up. Does nothing in another thread
    (only the main thread may handle signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        for each in _STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        _stop_received.append(signum)
        raise_if_stopped()

    _stop_received.clear()
    previous = {each: signal.signal(each, stop) for each in _STOP_SIGNALS}
    try:
        yield
        raise_if_stopped()
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
        _stop_received.clear()


def raise_if_stopped() -> None:
    """Raise the exception of a stop signal received within `signals_raise`, again if need be: the
    handler raises it wherever the main thread is, and C code that runs Python in between (libav's
    error path) can lose it. Long loops call this between steps, and before they publish a result."""
    if _stop_received:
        signum = _stop_received[0]
        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)


def run_guarded(
    prog: str, command: Callable[[], int], *, debug: bool = False, on_crash: Callable[[], None] | None = None
) -> int:
    """Run `command` and return its exit code, or the code of the error it raised, with one line on
    stderr. `on_crash` runs for an unexpected error (the daemon logs it) before the line is printed."""
    debug = debug or os.environ.get(DEBUG_ENV) == "1"
    try:
        return command()
    except ConfigError as error:
        _say(prog, str(error))
        return EXIT_USAGE
    except RecorderError as error:
        _say(prog, str(error))
        return EXIT_FAILED
    except BrokenPipeError as error:
        if _stdout_broken():
            return EXIT_BROKEN_PIPE
        _say(prog, _os_error_text(error))
        return EXIT_FAILED
    except OSError as error:
        _say(prog, _os_error_text(error))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _say(prog, _("interrupted"))
        return EXIT_INTERRUPTED
    except Terminated as error:
        _say(prog, _("stopped by {signal}").format(signal=signal.Signals(error.signum).name))
        return EXIT_SIGNAL_BASE + error.signum
    except Exception as error:  # the top of the command: a bug; one line, the traceback on request
        if on_crash is not None:
            on_crash()
        if debug:
            traceback.print_exc()
        bug = _("internal error: {error}. This is a bug; please report it").format(
            error=f"{type(error).__name__}: {error}"
        )
        hint = _("run again with --debug or {variable}=1 to see where").format(variable=DEBUG_ENV)
        _say(prog, bug if debug else f"{bug} ({hint})")
        return EXIT_INTERNAL


def _os_error_text(error: OSError) -> str:
    if error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


def _say(prog: str, message: str) -> None:
    """`prog: message` on stderr; nothing if stderr itself is gone."""
    with contextlib.suppress(OSError, ValueError):
        print(f"{prog}: {message}", file=sys.stderr, flush=True)


def _stdout_broken() -> bool:
    """True if stdout's reader went away (the pipe reports an error); then stdout is pointed at
    /dev/null so that the flush at exit does not fail again."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR and POLLHUP are always reported
    if not any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0)):
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return True
