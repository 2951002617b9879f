"""Where a page of test calls starts, found from per-day counts instead of an OFFSET over every row.

The tests list is newest first: calls with a ``created_at`` by (created_at desc, id desc), then the
calls without one (the oldest, day ``NO_DAY``) by id desc.  Page N starts ``(N - 1) * size`` rows in.
Both SQL backends and the REST backend read the filtered set's count per day (from the daily
rollups when the filter allows, else from the calls), add them up from the newest day, and so know
the day where the page starts and how many of that day's rows come before it.  The rows are then
read from that day on with a keyset bound (``created_at < next midnight``) and an OFFSET of at most
one day's rows, so page 20,000 costs about what page 1 does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

NO_DAY = date(1, 1, 1)  # the day of a call without created_at (as the rollups store it)
DEEP_SKIP = 200  # from this many rows into a day, the SQL store finds the page's first timestamp first


@dataclass(frozen=True)
class PageStart:
    day: date  # NO_DAY: the page starts among the calls without created_at
    skip: int  # rows of that day before the page's first row
    undated: bool  # whether the filtered set has calls without created_at (read after the dated ones)


def day_counts(rows: Iterable[tuple[date | None, int]]) -> list[tuple[date, int]]:
    """Per-day counts, newest day first, NO_DAY (or None) last, empty days dropped."""
    merged: dict[date, int] = {}
    for day, n in rows:
        key = NO_DAY if day is None else day
        merged[key] = merged.get(key, 0) + int(n)
    return sorted(((d, n) for d, n in merged.items() if n > 0), key=lambda x: x[0], reverse=True)


def locate(days: list[tuple[date, int]], offset: int) -> PageStart | None:
    """The day where row ``offset`` (0-based, newest first) lies, or None past the end."""
    before = 0
    undated = bool(days) and days[-1][0] == NO_DAY
    for day, n in days:
        if offset < before + n:
            return PageStart(day, offset - before, undated)
        before += n
    return None


def next_midnight(day: date) -> datetime:
    """The exclusive upper bound of ``day`` as a naive UTC timestamp."""
    return datetime.combine(day + timedelta(days=1), time())
