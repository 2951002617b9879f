"""How numbers, dates and ids read on screen: one place, so every page says them the same way.

Plain Python (no Streamlit).  They follow the current language (``lib.i18n``), never the server's
locale: English keeps the dashboard's own forms (``2,500``, ``87.3%``, ``Nov 25, 2026``); Russian goes
through Babel's CLDR data (2 500, 87,3 %, the "d MMM y" date form, one date family everywhere).
Naive datetimes are UTC, as everywhere in the store; aware ones are converted.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from lib import i18n
from lib.i18n import _, ngettext

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
    if i18n.current() != "en":
        return babel_numbers.format_decimal(round(n), locale=i18n.locale())
    return f"{round(n):,}"


def fmt_number(x: float | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals in the language's separators (``12.5`` / ``12,5``)."""
    if _is_missing(x):
        return MISSING
    if i18n.current() != "en":
        return babel_numbers.format_decimal(x, format="#,##0." + "0" * digits if digits else "#,##0",
                                            locale=i18n.locale())
    return f"{x:,.{digits}f}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """``"1 row"``, ``"2 rows"``, ``"1,234 rows"``: the count with the word in its right number."""
    return f"{fmt_int(n)} {one if n == 1 else (many or one + 's')}"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.873`` -> ``"87.3%"``; None -> ``"—"``."""
    if _is_missing(x):
        return MISSING
    if i18n.current() != "en":
        return babel_numbers.format_percent(x, format="#,##0." + "0" * digits + "\u00a0%" if digits else "#,##0\u00a0%",
                                            locale=i18n.locale())
    return f"{x * 100:.{digits}f}%"


def fmt_date(dt: date | datetime | None) -> str:
    """``"Nov 25, 2026"`` (the UTC date of a datetime); None -> ``"—"``."""
    if dt is None:
        return MISSING
    if isinstance(dt, datetime):
        dt = _utc(dt)
    if i18n.current() != "en":
        return babel_dates.format_date(dt, "d MMM y", locale=i18n.locale())
    return f"{_MONTHS[dt.month - 1]} {dt.day}, {dt.year}"


def _no_year_suffix(text: str) -> str:
    """CLDR's Russian forms end a year with a "year" abbreviation: the short family here leaves it out,
    which also keeps a date within a metric card."""
    return text.replace("\u202fг.", "").replace("\xa0г.", "").replace(" г.", "")


def fmt_day_month(dt: date | datetime) -> str:
    """A day of the current year's kind: ``Nov 25`` / ``25 нояб.``."""
    if i18n.current() != "en":
        return babel_dates.format_skeleton("MMMd", dt, locale=i18n.locale())
    return f"{_MONTHS[dt.month - 1]} {dt.day}"


def day_span(first: date, last: date) -> str:
    """Days as people write them, whole months named once: 1 to 15 Nov 2026 with an en dash, 4 Nov to
    3 Dec 2026 (Russian: Babel's interval of the medium date form)."""
    if i18n.current() != "en":
        if first == last:
            return fmt_date(first)
        return _no_year_suffix(babel_dates.format_interval(first, last, "yMMMd", locale=i18n.locale()))
    if first == last:
        return f"{first.day} {_MONTHS[first.month - 1]} {first.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {_MONTHS[last.month - 1]} {last.year}"
    if first.year == last.year:
        return f"{first.day} {_MONTHS[first.month - 1]} – {last.day} {_MONTHS[last.month - 1]} {last.year}"
    return (f"{first.day} {_MONTHS[first.month - 1]} {first.year} – "
            f"{last.day} {_MONTHS[last.month - 1]} {last.year}")


def fmt_datetime(dt: datetime | None) -> str:
    """``"Nov 25, 2026, 07:40 UTC"``; None -> ``"—"``."""
    if dt is None:
        return MISSING
    dt = _utc(dt)
    return _("{date}, {time} UTC").format(date=fmt_date(dt), time=f"{dt:%H:%M}")


def fmt_delta(current: float | None, previous: float | None) -> str | None:
    """The relative change for ``st.metric(delta=...)``: ``"+12.5%"``, ``"-3.0%"``, ``"0.0%"``,
    ``"new"`` when growing from zero, and None (no delta shown) when there is nothing to compare."""
    if _is_missing(current) or _is_missing(previous):
        return None
    if previous == 0:
        return _("new") if current > 0 else None
    change = (current - previous) / abs(previous) * 100
    if i18n.current() != "en":
        if round(change, 1) == 0:
            return fmt_pct(0.0)
        return ("+" if change > 0 else "-") + fmt_pct(abs(change) / 100)  # ASCII "-": st.metric reads it
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
        return _("just now")
    if i18n.current() != "en":  # Babel's relative time: "5 минут назад", "2 дня назад"
        whole = seconds // 60 * 60 if seconds < 3600 else seconds // 3600 * 3600 if seconds < 86400 \
            else seconds // 86400 * 86400
        return babel_dates.format_timedelta(timedelta(seconds=-whole), threshold=1, add_direction=True,
                                            locale=i18n.locale())
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return "1 day ago" if days == 1 else f"{days:,} days ago"


def fmt_duration(seconds: float) -> str:
    """A length of time in words, in its largest whole unit: ``45 seconds``, ``2 minutes`` / ``45 секунд``."""
    seconds = max(0, math.ceil(seconds))
    if seconds < 120 or seconds % 60:
        return ngettext("{n} second", "{n} seconds", seconds).format(n=fmt_int(seconds))
    minutes = seconds // 60
    return ngettext("{n} minute", "{n} minutes", minutes).format(n=fmt_int(minutes))
