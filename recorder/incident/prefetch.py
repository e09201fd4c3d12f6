"""Run an iterator on its own thread, a bounded number of items ahead of the thread consuming it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
_PUT_WAIT_S = 0.1  # how often a blocked producer checks whether the consumer has gone


class _End:
    """What the producer sends last: nothing more, or the exception that stopped it."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class Prefetch(Generic[T]):
    """Iterating yields `source`'s items in order, produced on a worker thread up to `depth` ahead;
    an exception raised by `source` is raised here, where the consumer reads the item after the last.

    Used where both sides spend their time in C code that releases the GIL (decoding on one thread,
    encoding on the other). Threads: the worker only runs `source` and puts into `_queue`; the owner
    iterates and calls `close()`, which stops and joins the worker. They share `_queue` and `_stop`.
    """

    def __init__(self, source: Iterator[T], depth: int, name: str = "prefetch") -> None:
        self._source = source
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        end = _End(None)
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            end = _End(error)
        self._put(end)

    def _put(self, item: T | _End) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_PUT_WAIT_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while not isinstance(item := self._queue.get(), _End):
            yield item
        if item.error is not None:
            raise item.error

    def close(self) -> None:
        """Stop the worker (it finishes the item in hand) and join it; safe to call twice."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
