"""Sign-in attempts: one session's count and lockout (``LoginThrottle``), and the table of attempts per
(username, client address), per username and per address, counted before each password check: in the
process (``SignInThrottles``) and in the database, shared by every replica (``SharedThrottles``)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lib.errors import StoreError


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


SPREAD = 4  # a username (from any address) or an address (for any username): this many times the pair's limit


def throttle_keys(username: str | None, client: str | None, max_attempts: int) -> tuple[list[str], list[int]]:
    """The keys one attempt counts on, with their limits: the (username, address) pair, the username from
    any address (guessing spread over many addresses), the address for any username (one address trying
    many usernames)."""
    name, addr = str(username or "").strip().lower()[:128], str(client or "unknown")[:64]
    m = max(1, int(max_attempts))
    return [f"pair:{name}|{addr}", f"user:{name}", f"addr:{addr}"], [m, m * SPREAD, m * SPREAD]


@dataclass
class _Count:
    attempts: int = 0
    window_start: float = 0.0
    locked_until: float = 0.0


class SignInThrottles:
    """Sign-in attempts of this process, per key (``throttle_keys``): an attempt is counted, under one lock,
    before its password is checked (``reserve``), so N attempts at once cost N.  The same rules as the
    database's ``public.signin_throttle``, which replicas share (``SharedThrottles``); this one stands in
    when the database cannot be reached.  Bounded: past ``max_entries`` unlocked keys are dropped."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, _Count] = {}

    def _wait(self, keys: list[str]) -> int:
        now = self._clock()
        waits = [e.locked_until - now for k in keys if (e := self._entries.get(k)) and e.locked_until > now]
        return math.ceil(max(waits)) if waits else 0

    def wait_seconds(self, username: str | None, client: str | None) -> int:
        with self._lock:
            return self._wait(throttle_keys(username, client, 1)[0])

    def reserve(self, username: str | None, client: str | None, *, max_attempts: int, lockout_seconds: float) -> int:
        """Count this attempt before its password is checked: 0 if it may be checked, else the wait."""
        keys, limits = throttle_keys(username, client, max_attempts)
        lockout = max(0.0, float(lockout_seconds))
        with self._lock:
            now = self._clock()
            for key, limit in zip(keys, limits, strict=True):
                e = self._entries.pop(key, None) or _Count(0, now)
                self._entries[key] = e  # most recently used last
                if e.locked_until > now:
                    continue
                if e.locked_until or e.window_start < now - lockout:
                    e.attempts, e.window_start, e.locked_until = 0, now, 0.0
                e.attempts += 1
                if e.attempts > limit:
                    e.locked_until = now + lockout
            self._prune()
            return self._wait(keys)

    def record_failure(self, username: str | None, client: str | None, *, max_attempts: int,
                       lockout_seconds: float) -> int:
        """The checked password was wrong: a key at its limit starts its wait (returned; 0 while attempts are left)."""
        keys, limits = throttle_keys(username, client, max_attempts)
        with self._lock:
            now = self._clock()
            for key, limit in zip(keys, limits, strict=True):
                e = self._entries.get(key)
                if e is not None and e.attempts >= limit and not e.locked_until:
                    e.locked_until = now + max(0.0, float(lockout_seconds))
            return self._wait(keys)

    def record_success(self, username: str | None, client: str | None) -> None:
        with self._lock:
            for key in throttle_keys(username, client, 1)[0][:2]:  # the address keeps its count
                self._entries.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def _prune(self) -> None:
        if len(self._entries) <= self._max_entries:
            return
        now = self._clock()
        for key in [k for k, e in self._entries.items() if e.locked_until <= now]:
            del self._entries[key]
            if len(self._entries) <= self._max_entries // 2:
                break


class SharedThrottles:
    """The sign-in throttle every replica shares: ``public.signin_throttle`` in the database, called as the
    server's own role (no user exists before sign-in); the process's ``SignInThrottles`` while the database
    cannot be reached (each attempt is still counted before it is checked)."""

    def __init__(self, store: Callable[[], Any], local: SignInThrottles) -> None:
        self._store, self._local = store, local

    def _call(self, action: str, keys: list[str], limits: list[int], lockout: float) -> int | None:
        try:
            return math.ceil(self._store().signin_throttle(action, keys, limits, lockout))
        except StoreError:
            return None

    def wait_seconds(self, username: str | None, client: str | None) -> int:
        keys, limits = throttle_keys(username, client, 1)
        found = self._call("peek", keys, limits, 0)
        return self._local.wait_seconds(username, client) if found is None else found

    def reserve(self, username: str | None, client: str | None, *, max_attempts: int, lockout_seconds: float) -> int:
        keys, limits = throttle_keys(username, client, max_attempts)
        found = self._call("reserve", keys, limits, lockout_seconds)
        if found is None:
            return self._local.reserve(username, client, max_attempts=max_attempts, lockout_seconds=lockout_seconds)
        return found

    def record_failure(self, username: str | None, client: str | None, *, max_attempts: int,
                       lockout_seconds: float) -> int:
        keys, limits = throttle_keys(username, client, max_attempts)
        found = self._call("fail", keys, limits, lockout_seconds)
        if found is None:
            return self._local.record_failure(username, client, max_attempts=max_attempts,
                                              lockout_seconds=lockout_seconds)
        return found

    def record_success(self, username: str | None, client: str | None) -> None:
        keys, limits = throttle_keys(username, client, 1)
        self._call("succeed", keys[:2], limits[:2], 0)
        self._local.record_success(username, client)


THROTTLES = SignInThrottles()  # the process's sign-in attempts (the stand-in for the database's)


def lockout_message(seconds: int) -> str:
    from lib.i18n import ngettext

    return ngettext("Too many failed sign-in attempts. Try again in {n} second.",
                    "Too many failed sign-in attempts. Try again in {n} seconds.", seconds).format(n=seconds)
