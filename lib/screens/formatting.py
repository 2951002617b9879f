"""How numbers, dates and ids read on screen: one place, so every page says them the same way.

Plain Python (no Streamlit).  They follow the current language (``lib.i18n``), never the server's
locale: English keeps the dashboard's own number forms (``2,500``, ``87.3%``); Russian goes through Babel's
CLDR data (2 500, 87,3 %).  Dates and times are one family in both languages, Babel's CLDR forms of the
language: ``Dec 3, 2026`` / ``3 дек. 2026``, ``Dec 3, 2026, 08:49`` / ``3 дек. 2026, 08:49``, ``Dec 3`` /
``3 дек.``, and Babel's intervals for spans of days.

Every time is shown in the user's zone (``use_zone``: the zone the periods use, the browser's), never named
beside it: each screen names its zone once, in the period's caption.  Naive datetimes are UTC, as everywhere
in the store; aware ones are converted.  Files and the API keep ISO 8601 UTC (lib.files), not these forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from lib import i18n
from lib.i18n import _, ngettext

MISSING = "—"

_zone: ContextVar[ZoneInfo | None] = ContextVar("zone", default=None)
_zone_fallback: list[Callable[[], ZoneInfo]] = []


def use_zone(tz: ZoneInfo) -> ZoneInfo:
    """Make ``tz`` the zone of every time shown in this run (or API request); returns it."""
    _zone.set(tz)
    return tz


def set_zone_fallback(fallback: Callable[[], ZoneInfo]) -> None:
    """Where ``current_zone()`` looks when no ``use_zone()`` ran in this context (a Streamlit callback)."""
    _zone_fallback[:] = [fallback]


def current_zone() -> ZoneInfo:
    """The zone times are shown in: the run's, else the fallback's, else UTC."""
    tz = _zone.get()
    if tz is None and _zone_fallback:
        try:
            tz = _zone_fallback[0]()
        except Exception:  # outside a session: UTC
            tz = None
    return tz or ZoneInfo("UTC")


def zone_name() -> str:
    """The IANA name of the zone times are shown in (what a screen names once: ``Europe/Moscow``)."""
    return current_zone().key


def _utc(dt: datetime) -> datetime:
    """A naive UTC datetime: naive input is taken as UTC, aware input is converted."""
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


def local(dt: datetime) -> datetime:
    """``dt`` (naive UTC or aware) as a naive wall-clock time in the user's zone."""
    return _utc(dt).replace(tzinfo=UTC).astimezone(current_zone()).replace(tzinfo=None)


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


def _no_year_suffix(text: str) -> str:
    """CLDR's Russian forms end a year with a "year" abbreviation ("year" after 2026): the family here leaves it out,
    which also keeps a date within a metric card."""
    return text.replace("\u202fг.", "").replace("\xa0г.", "").replace(" г.", "")


def _skeleton(skeleton: str, value: date | datetime) -> str:
    loc = _locale(i18n.locale())
    return _no_year_suffix(babel_dates.parse_pattern(_skeleton_pattern(loc, skeleton)).apply(value, loc))


def fmt_date(dt: date | datetime | None) -> str:
    """``"Nov 25, 2026"`` / ``"25 нояб. 2026"`` (a datetime: its date in the user's zone); None -> ``"—"``."""
    if dt is None:
        return MISSING
    if isinstance(dt, datetime):
        dt = local(dt).date()
    return _skeleton("yMMMd", dt)


def fmt_day_month(dt: date | datetime) -> str:
    """A day of the current year's kind: ``Nov 25`` / ``25 нояб.`` (a datetime: in the user's zone)."""
    return _skeleton("MMMd", local(dt) if isinstance(dt, datetime) else dt)


def day_span(first: date, last: date) -> str:
    """Days as the language writes a span, whole months named once (Babel's interval of the date form):
    Nov 1 to 15, 2026 with an en dash, Nov 4 to Dec 3, 2026; Russian with its em dash."""
    if first == last:
        return fmt_date(first)
    return _no_year_suffix(babel_dates.format_interval(first, last, "yMMMd", locale=i18n.locale()))


def fmt_datetime(dt: datetime | None, *, seconds: bool = False, year: bool = True) -> str:
    """``"Nov 25, 2026, 10:40"`` / ``"25 нояб. 2026, 10:40"`` in the user's zone (24-hour; ``seconds`` adds
    them, ``year=False`` leaves the year out: ``Nov 25, 10:40``); None -> ``"—"``."""
    if dt is None:
        return MISSING
    loc = _locale(i18n.locale())
    return _no_year_suffix(_datetime_pattern(loc, year, seconds).apply(local(dt), loc))


_locale = lru_cache(maxsize=8)(Locale.parse)  # Babel parses a locale given by name on every call


@lru_cache(maxsize=16)
def _datetime_pattern(loc: Locale, year: bool, seconds: bool) -> babel_dates.DateTimePattern:
    """The language's medium date-time pattern with the family's day and clock skeletons in it, parsed once:
    formatting with it costs a quarter to a third of composing the skeletons per value (the grid formats 5,000)."""
    combined = str(babel_dates.get_datetime_format("medium", locale=loc))
    return babel_dates.parse_pattern(combined.replace("{1}", _skeleton_pattern(loc, "yMMMd" if year else "MMMd"))
                                     .replace("{0}", _skeleton_pattern(loc, "Hms" if seconds else "Hm")))


@lru_cache(maxsize=64)
def _skeleton_pattern(loc: Locale, skeleton: str) -> str:
    """The language's pattern for a skeleton (its closest match, as Babel's ``format_skeleton`` finds it)."""
    found = skeleton if skeleton in loc.datetime_skeletons else babel_dates.match_skeleton(skeleton, loc.datetime_skeletons)
    return loc.datetime_skeletons[found].pattern


def fmt_time(dt: datetime) -> str:
    """The time of day in the user's zone, 24-hour: ``08:49`` (CLDR's form in both languages)."""
    return _skeleton("Hm", local(dt))


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
    counts 1, today 0.  Compares calendar dates in the user's zone (the dates the screen shows), so the
    answer is stable through the day."""
    end = local(period_end).date() if isinstance(period_end, datetime) else period_end
    return max(0, (end - local(now).date()).days)


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
