"""Counting what a source lost and reporting it through the status seam, so that it is audited."""

from __future__ import annotations

import structlog

from recorder.clock import NS_PER_S
from recorder.sources.base import StatusSink

log = structlog.get_logger()

REPORT_INTERVAL_NS = NS_PER_S


class LossReport:
    """Counts packets a source lost, by reason, and reports each reason's count at most once per
    second (one audit entry per report, not per packet) and at `flush(force=True)`.

    Only the source's own thread calls it; `total` may be read from any thread.
    """

    def __init__(self, name: str, status: StatusSink | None) -> None:
        self._name = name
        self._status = status
        self._pending: dict[str, int] = {}
        self._last_report_ns: int | None = None
        self.total = 0

    def add(self, count: int, why: str, now_ns: int) -> None:
        """`count` packets were lost for reason `why` (e.g. "frames skipped by the camera")."""
        if count <= 0:
            return
        self.total += count
        self._pending[why] = self._pending.get(why, 0) + count
        self.flush(now_ns)

    def flush(self, now_ns: int, force: bool = False) -> None:
        if not self._pending:
            return
        if (
            not force
            and self._last_report_ns is not None
            and now_ns - self._last_report_ns < REPORT_INTERVAL_NS
        ):
            return
        self._last_report_ns = now_ns
        pending, self._pending = self._pending, {}
        for why, count in pending.items():
            log.warning("capture_lost", source=self._name, lost=count, why=why, total=self.total)
            if self._status is not None:
                self._status(self._name, True, why, lost=count)
