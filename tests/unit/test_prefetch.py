"""Prefetch: an iterator run on a worker thread, bounded, in order, errors passed on, always joined."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from recorder.incident.prefetch import Prefetch


def test_items_arrive_in_order() -> None:
    with Prefetch(iter(range(1000)), depth=4) as items:
        assert list(items) == list(range(1000))


def test_an_error_in_the_source_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("damaged")

    seen: list[int] = []
    with pytest.raises(ValueError, match="damaged"), Prefetch(source(), depth=1) as items:
        seen.extend(items)
    assert seen == [1, 2]


def test_the_worker_runs_at_most_depth_items_ahead() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    with Prefetch(source(), depth=3) as items:
        first = next(iter(items))
        time.sleep(0.3)
        assert first == 0
        assert len(produced) <= 1 + 3 + 1  # the one taken, a full queue, one in the worker's hand


def test_close_stops_and_joins_a_worker_blocked_on_a_full_queue() -> None:
    before = threading.active_count()
    prefetch = Prefetch(iter(range(10**9)), depth=2, name="prefetch-test")
    time.sleep(0.05)
    started = time.monotonic()
    prefetch.close()
    assert time.monotonic() - started < 1.0
    assert threading.active_count() == before
