"""Failed sign-ins: one session's count and lockout, and the process-wide table of them per
(username, client address)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    """Failed sign-ins of one session: ``max_attempts`` failures, then a wait of ``lockout_seconds``."""

    max_attempts: int = 5
    lockout_seconds: float = 60
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    failures: int = 0
    locked_until: float = 0.0

    def wait_seconds(self) -> int:
        """Whole seconds left to wait (0: a sign-in may be tried)."""
        remaining = self.locked_until - self.clock()
        return math.ceil(remaining) if remaining > 0 else 0

    @property
    def attempts_left(self) -> int:
        return max(1, self.max_attempts) - self.failures

    def record_failure(self) -> int:
        """Count a failed sign-in; the wait it starts (0 while attempts are left)."""
        waiting = self.wait_seconds()
        if waiting:
            return waiting
        self.failures += 1
        if self.failures >= max(1, self.max_attempts):
            self.failures = 0
            self.locked_until = self.clock() + max(0.0, float(self.lockout_seconds))
        return self.wait_seconds()

    def record_success(self) -> None:
        self.failures = 0
        self.locked_until = 0.0


class SignInThrottles:
    """Failed sign-ins of the whole process, one ``LoginThrottle`` per (username, client address):
    a reload or a new tab starts no fresh count.  Bounded: past ``max_entries`` the entries that
    are not locked are dropped, least recently used first."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], LoginThrottle] = {}

    @staticmethod
    def key(username: str | None, client: str | None) -> tuple[str, str]:
        return (str(username or "").strip().lower()[:128], str(client or "unknown")[:64])

    def wait_seconds(self, username: str | None, client: str | None) -> int:
        with self._lock:
            entry = self._entries.get(self.key(username, client))
            return entry.wait_seconds() if entry else 0

    def record_failure(self, username: str | None, client: str | None, *, max_attempts: int,
                       lockout_seconds: float) -> int:
        """Count a failed sign-in; the wait it starts (0 while attempts are left)."""
        key = self.key(username, client)
        with self._lock:
            entry = self._entries.pop(key, None) or LoginThrottle(clock=self._clock)
            entry.max_attempts, entry.lockout_seconds = max_attempts, lockout_seconds
            self._entries[key] = entry  # most recently used last
            self._prune()
            return entry.record_failure()

    def record_success(self, username: str | None, client: str | None) -> None:
        with self._lock:
            self._entries.pop(self.key(username, client), None)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def _prune(self) -> None:
        if len(self._entries) <= self._max_entries:
            return
        for key in [k for k, e in self._entries.items() if not e.wait_seconds()]:
            del self._entries[key]
            if len(self._entries) <= self._max_entries // 2:
                break


THROTTLES = SignInThrottles()  # the process's failed sign-ins (lib.identity.local_signin)


def lockout_message(seconds: int) -> str:
    from lib.i18n import ngettext

    return ngettext("Too many failed sign-in attempts. Try again in {n} second.",
                    "Too many failed sign-in attempts. Try again in {n} seconds.", seconds).format(n=seconds)
