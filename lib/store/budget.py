"""One time budget per render for every database read in it.

A render (one run of dashboard/app.py, or of a fragment) may wait for the database at most
DB_TIMEOUT_SECONDS in all: the version check, the screen's reads and their retries share that one
budget (``render``).  Each transport asks ``seconds(default)`` how long its next read may take (its own
timeout, or what is left of the budget if less); once a read found the database unavailable, or the
budget is spent, every further read of the render fails at once (``spent`` raises), so a hung backend
shows its message within the budget instead of after one timeout per read and per retry.

Writes and exports keep their own limits (a save is not cut short by the render's earlier waits).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Budget:
    seconds: float
    ends: float = field(init=False)
    failed: bool = False  # a read of this render found the database unavailable

    def __post_init__(self) -> None:
        self.ends = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.ends - time.monotonic()


_current: ContextVar[Budget | None] = ContextVar("db_budget", default=None)
RESERVE = 0.5  # seconds of DB_TIMEOUT_SECONDS kept for drawing the message (at most a quarter of it)


def for_timeout(timeout: float) -> float:
    """The budget of a render under DB_TIMEOUT_SECONDS = ``timeout``: the timeout less a reserve for showing
    the message, so that it shows within the timeout and a second even on a busy server."""
    return timeout - min(RESERVE, timeout / 4)


@contextmanager
def render(seconds: float, *, resume: Budget | None = None) -> Iterator[Budget]:
    """The budget of the reads inside the block (nested blocks share the outer one).  ``resume``: the
    budget of the run this one replaces (a run interrupted by a rerun the browser asked for, such as the
    sign-in cookie's): if a read of it already failed, moments ago, this run goes on with it, so the user's
    one wait is not spent again by each rerun."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    carried = resume is not None and resume.failed and time.monotonic() < resume.ends + 1.0
    token = _current.set(resume if carried else Budget(float(seconds)))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def current() -> Budget | None:
    return _current.get()


def exhausted() -> bool:
    """True when a read now would fail at once: the budget is spent or a read already failed."""
    b = _current.get()
    return b is not None and (b.failed or b.left() <= 0)


def seconds(default: float) -> float:
    """How long the next read may take: ``default``, or what is left of the render's budget if less
    (callers check ``exhausted`` first)."""
    b = _current.get()
    if b is None:
        return default
    return max(0.05, min(default, b.left()))


def fail() -> None:
    """A read found the database unavailable: the rest of the render does not wait for it again."""
    b = _current.get()
    if b is not None:
        b.failed = True


@contextmanager
def suspended() -> Iterator[None]:
    """No render budget inside the block: a write and its read-back (lib.store.saves.settle) keep their
    own limits, whatever the render spent before."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)
