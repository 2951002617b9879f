"""What every backend's export shares: a bounded number at once per process, and a time limit.

Exports are the one long read: a million rows for tens of seconds.  They get their own slots (a
process-wide semaphore; a third export waits ``wait`` seconds, then is refused with ExportBusy),
their own small connection pool on the direct transport, and their own time limit
(EXPORT_TIMEOUT_SECONDS, longer than DB_TIMEOUT_SECONDS), so they never hold the connections that
every screen render needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from lib.errors import ExportBusy, ExportTimeout
from lib.ops import metrics


class ExportGate:
    """At most ``slots`` exports at once; the next one waits up to ``wait`` seconds for a slot."""

    def __init__(self, slots: int = 2, *, wait: float = 5.0) -> None:
        self.slots = max(1, int(slots))
        self._sem = threading.BoundedSemaphore(self.slots)
        self._wait = wait

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._sem.acquire(timeout=self._wait):
            raise ExportBusy()
        metrics.EXPORTS_IN_FLIGHT.inc()
        try:
            yield
        finally:
            metrics.EXPORTS_IN_FLIGHT.dec()
            self._sem.release()


class Deadline:
    """The export's time limit in all, checked between its pages (each page also has the transport's own limit)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() > self._at

    def check(self) -> None:
        if self.passed():
            raise ExportTimeout(self.seconds)
