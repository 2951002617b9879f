"""A screen's view as URL query parameters, and the period maths behind it.  Plain Python (no Streamlit).

A copied URL opens the same view for whoever signs in, on their own data: the parameters carry the
period, filters, page, search and selected assistant, never a user.  Invalid values fall back to the
defaults and are named in a notice (``parse``), never an exception.

Periods are calendar days in the user's time zone (the browser's, ``st.context.timezone``; UTC when
unknown); a custom range is inclusive of both days.  Bounds go to the store as naive UTC instants
computed from whole local days, so they (and the cache keys built on them) only change at midnight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lib.i18n import N_, _, ngettext
from lib.models import LANGUAGES, TEST_STATUSES
from lib.screens.formatting import day_span, fmt_int

PRESET_DAYS = {"7d": 7, "30d": 30, "90d": 90, "all": None}
PRESET_LABELS = {"7d": N_("7 days"), "30d": N_("30 days"), "90d": N_("90 days"), "all": N_("All time"),
                 "custom": N_("Custom")}  # shown through _()
DEFAULT_PERIOD = "30d"
MAX_TEXT = {"q": 200, "phrase": 2000}  # the longest search / exact phrase taken from a URL (lib.store.validation)
MAX_PAGE = 1_000_000
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ASSISTANT_ID = re.compile(r"[^\s\x00-\x1f]{1,255}")  # a varchar(255) id without spaces or control characters
EARLIEST = date(2000, 1, 1)  # custom ranges start no earlier (and end no later than LATEST)
LATEST = date(2100, 12, 31)


# -- time zone ------------------------------------------------------------------------------------

def zone(name: str | None) -> tuple[ZoneInfo, str]:
    """The user's zone and its name; UTC when the browser gave none or an unknown one."""
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC"), "UTC"


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date in ``tz`` (``now``: an aware or naive-UTC instant, for tests)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(tz).date()


def utc_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The local midnight starting ``day`` in ``tz``, as a naive UTC instant (DST-aware)."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


# -- periods --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """``kind`` is a preset (7d, 30d, 90d, all) or "custom" with ``first``..``last`` inclusive local days."""

    kind: str = DEFAULT_PERIOD
    first: date | None = None
    last: date | None = None

    def days(self, today: date) -> tuple[date, date] | None:
        """The period's first and last local day (inclusive); None for all time."""
        if self.kind == "custom" and self.first and self.last:
            return self.first, self.last
        n = PRESET_DAYS.get(self.kind, PRESET_DAYS[DEFAULT_PERIOD])
        if n is None:
            return None
        return today - timedelta(days=n - 1), today

    def bounds(self, tz: ZoneInfo, today: date) -> tuple[datetime | None, datetime | None]:
        """[start, end) as naive UTC instants: local midnight of the first day to that after the last."""
        span = self.days(today)
        if span is None:
            return None, None
        return utc_midnight(span[0], tz), utc_midnight(span[1] + timedelta(days=1), tz)

    def label(self, tz_name: str, today: date, *, zone: bool = True) -> str:
        """What every figure of the period says, e.g. Last 30 days (Oct 29 to Nov 27, 2026), Europe/Berlin;
        ``zone=False`` leaves the zone out (a screen names it once, in the period control's caption)."""
        span = self.days(today)
        if span is None:
            return _("All time")
        shown = day_span(*span)
        n = PRESET_DAYS.get(self.kind)
        if not zone:
            if self.kind == "custom":
                return _("{days} (inclusive)").format(days=shown)
            return ngettext("Last {n} day ({days})", "Last {n} days ({days})", n).format(n=fmt_int(n), days=shown)
        if self.kind == "custom":
            return _("{days} (inclusive), {zone}").format(days=shown, zone=tz_name)
        return ngettext("Last {n} day ({days}), {zone}", "Last {n} days ({days}), {zone}", n).format(
            n=fmt_int(n), days=shown, zone=tz_name)


@dataclass(frozen=True)
class Comparison:
    """A fair delta: the period's whole days so far against as many days just before them."""

    current: tuple[datetime, datetime]  # [start, end), naive UTC
    previous: tuple[datetime, datetime]
    days: int
    help: str


def comparison(period: Period, tz: ZoneInfo, today: date) -> Comparison | None:
    """Whole days only: today (still under way) and any later day of the period are left out of both
    sides, so a partial day is never compared with full ones.  None when no whole day is left (a
    period of today alone) or for all time."""
    span = period.days(today)
    if span is None:
        return None
    first, last = span
    end = min(last + timedelta(days=1), today)  # exclusive: today is not a whole day yet
    n = (end - first).days
    if n <= 0:
        return None
    before = first - timedelta(days=n)
    days, earlier = day_span(first, end - timedelta(days=1)), day_span(before, first - timedelta(days=1))
    if last >= today:
        note = ngettext("Change compares whole days only: {days} against the {n} day before ({earlier}), leaving "
                        "out today, which is not over yet.",
                        "Change compares whole days only: {days} against the {n} days before ({earlier}), leaving "
                        "out today, which is not over yet.", n)
    else:
        note = ngettext("Change compares whole days only: {days} against the {n} day before ({earlier}).",
                        "Change compares whole days only: {days} against the {n} days before ({earlier}).", n)
    note = note.format(days=days, n=fmt_int(n), earlier=earlier)
    return Comparison((utc_midnight(first, tz), utc_midnight(end, tz)),
                      (utc_midnight(before, tz), utc_midnight(first, tz)), n, note)


# -- the view in the URL --------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """Everything a screen keeps in its URL (each screen uses the fields it has)."""

    period: Period = Period()
    assistants: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    page: int = 1
    q: str = ""
    phrase: str = ""


def _values(raw: str) -> list[str]:
    return [v.strip() for v in raw.split(",") if v.strip()]


def _day(raw: str | None) -> date | None:
    if not raw or not _ISO_DAY.fullmatch(raw.strip()):
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def _text(raw: str, limit: int) -> str | None:
    text = raw.strip()
    if len(text) > limit or any(ord(c) < 32 for c in text):
        return None
    return text


def _quoted(values: list[str]) -> str:
    return ", ".join(f"“{v[:40]}”" for v in values[:3])


def _members(raw: str, known: tuple[str, ...], name: str, notices: list[str]) -> tuple[str, ...]:
    """The known values of a list parameter; the others named in a notice, with what it can hold, in words."""
    from lib.screens.charts import language_label, status_label  # (charts draws; urlstate only parses)

    values = _values(raw)
    bad = [v for v in values if v not in known]
    if bad:
        label = language_label if name == "language" else status_label
        text = (_("the language {values} is not one this dashboard knows; it can be: {known}") if name == "language"
                else _("the status {values} is not one this dashboard knows; it can be: {known}"))
        notices.append(text.format(values=_quoted(bad), known=", ".join(label(k) for k in known)))
    return tuple(dict.fromkeys(v for v in values if v in known))


def parse(params: Mapping[str, str]) -> tuple[View, list[str]]:
    """The view a URL asks for, and what was ignored in it (one short line each).  Unknown keys are
    left alone (other screens and Streamlit use the URL too); a bad value falls back to its default."""
    notices: list[str] = []
    view = View()
    kind = params.get("period", "").strip()
    first, last = params.get("from"), params.get("to")
    if kind == "custom" or (not kind and (first or last)):
        a, b = _day(first), _day(last)
        if a and b and a <= b:
            view = replace(view, period=Period("custom", a, b))
        else:
            notices.append(_("period: a custom range needs from and to as YYYY-MM-DD, from not after to"))
    elif kind:
        if kind in PRESET_DAYS:
            view = replace(view, period=Period(kind))
        else:
            notices.append(_("the period {value} is not one this dashboard knows; it can be: {known}").format(
                value=_quoted([kind[:20]]), known=", ".join(_(PRESET_LABELS[k]) for k in (*PRESET_DAYS, "custom"))))
    if "assistant" in params:
        ids = _values(params["assistant"])
        good = tuple(dict.fromkeys(i for i in ids if _ASSISTANT_ID.fullmatch(i)))
        if len(good) != len(set(ids)):
            notices.append(_("assistant: an id was not valid"))
        view = replace(view, assistants=good)
    if "language" in params:
        view = replace(view, languages=_members(params["language"], LANGUAGES, "language", notices))
    if "status" in params:
        view = replace(view, statuses=_members(params["status"], TEST_STATUSES, "status", notices))
    if "page" in params:
        raw = params["page"].strip()
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE:
            view = replace(view, page=int(raw))
        else:
            notices.append(_("the page {value} is not a page number").format(value=_quoted([raw[:20]])))
    for key in ("q", "phrase"):
        if key in params:
            text = _text(params[key], MAX_TEXT[key])
            if text is None:
                notices.append(_("{key}: longer than {n} characters or not plain text").format(
                    key=key, n=MAX_TEXT[key]))
            else:
                view = replace(view, **{key: text})
    return view, notices


def to_params(view: View, *, fields: tuple[str, ...] = ("period", "assistant", "language", "status", "page", "q",
                                                          "phrase")) -> dict[str, str]:
    """The URL parameters of ``view`` (only ``fields``, defaults left out except the period)."""
    out: dict[str, str] = {}
    if "period" in fields:
        p = view.period
        out["period"] = p.kind
        if p.kind == "custom" and p.first and p.last:
            out["from"], out["to"] = p.first.isoformat(), p.last.isoformat()
    if "assistant" in fields and view.assistants:
        out["assistant"] = ",".join(view.assistants)
    if "language" in fields and view.languages:
        out["language"] = ",".join(view.languages)
    if "status" in fields and view.statuses:
        out["status"] = ",".join(view.statuses)
    if "page" in fields and view.page != 1:
        out["page"] = str(view.page)
    if "q" in fields and view.q:
        out["q"] = view.q
    if "phrase" in fields and view.phrase:
        out["phrase"] = view.phrase
    return out


VIEW_KEYS = ("period", "from", "to", "assistant", "language", "status", "page", "q", "phrase")


def clamp_page(page: int, pages: int) -> int:
    """A page number within 1..pages."""
    return min(max(1, page), max(1, pages))
