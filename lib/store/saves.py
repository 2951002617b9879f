"""How a save proves afterwards whether it happened (lib.store.calls, for both transports).

A save whose connection drops while it commits may or may not have been applied.  Guessing either
way loses data or doubles it, so the store reads the rows back: every row a save writes carries the
save's token (``SaveToken``: client-made ids for added rows, one ``updated_at`` for all of them),
and the save counts as applied only if the database holds exactly what it wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from lib.errors import SaveOutcomeUnknown, StoreUnavailable
from lib.models import IntentDiff, SaveToken

SETTLE_WAITS = (0.0, 0.2, 0.5, 1.0)  # seconds before each read-back attempt: a restart takes about a second
T = TypeVar("T")


@dataclass(frozen=True)
class Found:
    """An intent row as read back: its version and editable content."""

    updated_at: datetime | None
    content: tuple


def content(columns: Mapping[str, object]) -> tuple:
    """The comparable content of an intent (name and the three lists)."""
    return (columns["intent_name"], *(tuple(columns[c] or ()) for c in
                                      ("example_user_phrases", "english_responses", "russian_responses")))


def ids_to_check(diff: IntentDiff, token: SaveToken) -> list[str]:
    """Every id whose row tells whether the save was applied."""
    return ([token.added_id(n) for n in range(len(diff.added))] + [e.id for e in diff.edited]
            + [d.id for d in diff.deleted])


def applied(diff: IntentDiff, token: SaveToken, found: Mapping[str, Found]) -> bool:
    """Whether the database holds exactly what this save writes: its added rows (by their ids),
    its edited rows (with the save's ``updated_at``), both with the saved content, and none of the
    deleted rows.  A save is one transaction, so either all of it is there or none of it."""
    for n, a in enumerate(diff.added):
        row = found.get(token.added_id(n))
        if row is None or row.content != content(a.columns()):
            return False
    for e in diff.edited:
        row = found.get(e.id)
        if row is None or row.updated_at != token.at or row.content != content(e.values.columns()):
            return False
    return all(d.id not in found for d in diff.deleted)


def settle(read: Callable[[], T], waits: Iterable[float] = SETTLE_WAITS) -> T:
    """``read()`` once the database answers again; ``SaveOutcomeUnknown`` if it never does."""
    for wait in waits:
        time.sleep(wait)
        try:
            return read()
        except StoreUnavailable:
            continue
    raise SaveOutcomeUnknown()


def chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def token_for(held: tuple[IntentDiff, SaveToken] | None, diff: IntentDiff) -> tuple[IntentDiff, SaveToken]:
    """The page's save token for ``diff`` (kept with the edits it was made for): the held one while the
    pending edits are the same (a retry is recognised), a new one as soon as they change (a changed set of
    edits is another save).  The page forgets it after a successful save or a Discard."""
    if held is not None and held[0] == diff:
        return held
    return diff, SaveToken.new()
