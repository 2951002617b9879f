"""How numbers, dates and ids read on screen: one place, so every page says them the same way.

Plain Python (no Streamlit) and locale-independent: month names are English whatever the
server's locale.  Naive datetimes are UTC, as everywhere in the store; aware ones are converted.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

MISSING = "—"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _utc(dt: datetime) -> datetime:
    """A naive UTC datetime: naive input is taken as UTC, aware input is converted."""
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_int(n: int | float | None) -> str:
    """``1234567`` -> ``"1,234,567"``; floats are rounded; None -> ``"—"``."""
    if _is_missing(n):
        return MISSING
    return f"{round(n):,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """``"1 row"``, ``"2 rows"``, ``"1,234 rows"``: the count with the word in its right number."""
    return f"{fmt_int(n)} {one if n == 1 else (many or one + 's')}"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.873`` -> ``"87.3%"``; None -> ``"—"``."""
    if _is_missing(x):
        return MISSING
    return f"{x * 100:.{digits}f}%"


def fmt_date(dt: date | datetime | None) -> str:
    """``"Nov 25, 2026"`` (the UTC date of a datetime); None -> ``"—"``."""
    if dt is None:
        return MISSING
    if isinstance(dt, datetime):
        dt = _utc(dt)
    return f"{_MONTHS[dt.month - 1]} {dt.day}, {dt.year}"


def fmt_datetime(dt: datetime | None) -> str:
    """``"Nov 25, 2026, 07:40 UTC"``; None -> ``"—"``."""
    if dt is None:
        return MISSING
    dt = _utc(dt)
    return f"{fmt_date(dt)}, {dt:%H:%M} UTC"


def fmt_delta(current: float | None, previous: float | None) -> str | None:
    """The relative change for ``st.metric(delta=...)``: ``"+12.5%"``, ``"-3.0%"``, ``"0.0%"``,
    ``"new"`` when growing from zero, and None (no delta shown) when there is nothing to compare."""
    if _is_missing(current) or _is_missing(previous):
        return None
    if previous == 0:
        return "new" if current > 0 else None
    change = (current - previous) / abs(previous) * 100
    if round(change, 1) == 0:
        return "0.0%"
    return f"{change:+.1f}%"


def mask_id(s: str | None) -> str:
    """Only the last four characters of an id: ``"••••1234"``; None or empty -> ``"—"``."""
    if not s:
        return MISSING
    return "••••" + s[-4:]


def days_left(period_end: date | datetime, now: datetime) -> int:
    """Whole days until ``period_end`` (0 when it has passed): a period ending tomorrow at any hour
    counts 1, today 0.  Compares UTC calendar dates, so the answer is stable through the day."""
    end = _utc(period_end).date() if isinstance(period_end, datetime) else period_end
    return max(0, (end - _utc(now).date()).days)


def fmt_ago(dt: datetime, now: datetime) -> str:
    """How long ago, in the largest whole unit: ``"just now"``, ``"5 min ago"``, ``"3 h ago"``, ``"2 days ago"``."""
    seconds = max(0, int((_utc(now) - _utc(dt)).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return "1 day ago" if days == 1 else f"{days:,} days ago"
