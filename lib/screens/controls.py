"""The view a screen shows, chosen with widgets shared by several screens: the period (presets or a
custom range, kept across screens), the test filters, the page of a table, and the view written to and
read from the URL.  Each owns its session keys under the ``key`` prefix it is given and returns plain
values; no data access happens here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from lib.i18n import N_, _
from lib.models import LANGUAGES, TEST_STATUSES, Assistant, TestFilter, utcnow
from lib.screens import urlstate
from lib.screens.charts import language_label, status_label
from lib.screens.formatting import fmt_int

PRESETS = {urlstate.PRESET_LABELS[k]: k for k in (*urlstate.PRESET_DAYS, "custom")}  # radio label -> period kind
DEFAULT_PRESET = urlstate.PRESET_LABELS[urlstate.DEFAULT_PERIOD]
PERIOD_KEY = "view_period"  # session state: the Period every screen shows (kept across screens)
_WRITTEN = "_url_written_"  # session state prefix: the view parameters a screen last put in its URL


def day_range(days: int | None, *, today: date | None = None) -> tuple[datetime | None, datetime | None]:
    """The last ``days`` calendar days in UTC, today included; whole days keep cache keys stable."""
    if days is None:
        return None, None
    today = today or utcnow().date()
    start = datetime.combine(today - timedelta(days=days - 1), time())
    return start, datetime.combine(today + timedelta(days=1), time())


@dataclass(frozen=True)
class Chosen:
    """The period a screen shows: the choice, its bounds (naive UTC) and what figures say about it."""

    period: urlstate.Period
    start: datetime | None
    end: datetime | None
    label: str  # e.g. "Last 30 days (Oct 29 – Nov 27, 2026), UTC"
    comparison: urlstate.Comparison | None
    zone: str = "UTC"  # the IANA name of the zone its days are in (the store's days follow it)
    span: str = ""  # the label without the zone, for a second mention on the screen (the zone is named once)


def user_zone() -> tuple[ZoneInfo, str]:
    """The browser's time zone (UTC when the browser gave none, as in headless tests)."""
    try:
        name = st.context.timezone
    except Exception:  # no browser context at all
        name = None
    return urlstate.zone(name)


_LINK_NOTICE = "_link_notice_"  # session state: what the last link to a screen asked for that was ignored


def link_notice(screen: str) -> None:
    """What a link asked for that this screen could not use, in words, until the user dismisses it."""
    notices = st.session_state.get(_LINK_NOTICE + screen)
    if not notices:
        return
    with st.container(border=True, key=f"{screen}_link_notice"):
        text, close = st.columns([12, 1], vertical_alignment="center")
        text.info(_("Part of this link was not used: {notices}.").format(notices="; ".join(notices)),
                  icon=":material/link_off:")
        close.button("", icon=":material/close:", key=f"{screen}_link_notice_close", help=_("Dismiss"),
                     on_click=lambda: st.session_state.pop(_LINK_NOTICE + screen, None))


def url_view(screen: str) -> urlstate.View | None:
    """The view this screen's URL asks for when the URL came from outside (a link, a reload, a switch
    from another screen); None when it is what this screen last wrote (then the widgets hold the view).
    Ignored parameters are named in a notice that stays until dismissed; a URL without a period keeps the
    session's."""
    params = {k: st.query_params[k] for k in st.query_params if k in urlstate.VIEW_KEYS}
    view = None
    if st.session_state.get(_WRITTEN + screen) != params:
        view, notices = urlstate.parse(params)
        if notices:  # kept until dismissed: it must not flash by while the page settles
            st.session_state[_LINK_NOTICE + screen] = notices
        if not {"period", "from", "to"} & set(params) and isinstance(st.session_state.get(PERIOD_KEY),
                                                                      urlstate.Period):
            view = replace(view, period=st.session_state[PERIOD_KEY])
    link_notice(screen)
    return view


def write_url(screen: str, params: dict[str, str]) -> None:
    """Put the screen's view into its URL (only the view's keys; ``user_id`` and others are left alone)."""
    for k in urlstate.VIEW_KEYS:
        if k in st.query_params and k not in params:
            del st.query_params[k]
    for k, v in params.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v
    st.session_state[_WRITTEN + screen] = params


# Streamlit's date field commits a typed date when its calendar closes on a press outside it; Enter in the field
# does the same here: a press on the page's body (not on any control), once per page (the listener stays on the
# document across reruns).
_ENTER_COMMITS_DATES = """<script>
if (!window.__enterCommitsDates) {
  window.__enterCommitsDates = true;
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || !(e.target instanceof Element) || !e.target.closest('[data-testid="stDateInput"]')) return;
    for (const type of ['pointerdown', 'mousedown', 'pointerup', 'mouseup']) {
      const Kind = type.startsWith('pointer') ? PointerEvent : MouseEvent;
      document.body.dispatchEvent(new Kind(type, {bubbles: true, cancelable: true, composed: true, view: window}));
    }
    e.target.blur();
  }, true);
}
</script>"""


def period_control(key: str, view: urlstate.View | None = None, *, label: str = N_("Period")) -> Chosen:
    """The period radio (presets and a custom inclusive from/to in the user's zone), shared by every
    screen through the session; ``view`` (from the URL) sets it.  Shows the period's label under it."""
    tz, tz_name = user_zone()
    today = urlstate.local_today(tz)
    shared = st.session_state.get(PERIOD_KEY)
    if not isinstance(shared, urlstate.Period):
        shared = urlstate.Period()
    if view is not None:
        shared = view.period
    preset, first, last = f"{key}_preset", f"{key}_from", f"{key}_to"
    labels = list(PRESETS)
    # The radio is always drawn with the period it shows as its default (its identity is its key, so the default
    # may change): a browser that draws it afresh (a first run, a run cut short and redone) shows the default, and
    # a value set only in Session State showed "7 days" beside a 30-day label.  A link's period replaces the
    # session's choice by dropping it, never by writing the widget's state.
    if view is not None:
        st.session_state.pop(preset, None)
    shown = st.session_state.get(preset)
    drawn = {"index": labels.index(shown if shown in labels else urlstate.PRESET_LABELS[shared.kind])}
    if view is not None or first not in st.session_state or last not in st.session_state:
        days = shared.days(today) or (today - timedelta(days=29), today)
        st.session_state[first], st.session_state[last] = days
    cols = st.columns([4, 1.3, 1.3, 1.5], vertical_alignment="top")
    # the options are the English labels (stable in session state and links), shown translated
    choice = PRESETS.get(cols[0].radio(_(label), labels, horizontal=True, key=preset, format_func=_, **drawn),
                         urlstate.DEFAULT_PERIOD)
    period = urlstate.Period(choice)
    if choice == "custom":
        for k in (first, last):  # no day after today: nothing can have happened then (a link may ask for one)
            if isinstance(st.session_state.get(k), date) and st.session_state[k] > today:
                st.session_state[k] = today
        with st.sidebar:  # out of the page's flow: no gap under the period
            st.html(_ENTER_COMMITS_DATES, unsafe_allow_javascript=True, width="content")
        a = cols[1].date_input(_("From"), key=first, min_value=urlstate.EARLIEST, max_value=today,
                               format="YYYY-MM-DD")
        b = cols[2].date_input(_("To (inclusive)"), key=last, min_value=urlstate.EARLIEST, max_value=today,
                               format="YYYY-MM-DD")
        a, b = a or today, b or today
        if a > b:
            st.warning(_("From is after To: showing the days between them."), icon=":material/swap_horiz:")
            a, b = b, a
        period = urlstate.Period("custom", a, b)
    st.session_state[PERIOD_KEY] = period
    start, end = period.bounds(tz, today)
    chosen = Chosen(period, start, end, period.label(tz_name, today), urlstate.comparison(period, tz, today), tz_name,
                    period.label(tz_name, today, zone=False))
    cols[0].caption(chosen.label)
    st.session_state[f"_label_{key}"] = (period, tz_name, today)  # the label is made when shown (its language)
    return chosen


def period_label(key: str, *, zone: bool = True) -> str:
    """The label of the period a screen's control (``key``) last showed, in the current language (``zone=False``:
    without the zone, which the control's caption names)."""
    shown = st.session_state.get(f"_label_{key}")
    return shown[0].label(shown[1], shown[2], zone=zone) if isinstance(shown, tuple) else _("All time")


def date_range(key: str, *, label: str = N_("Period")) -> tuple[datetime | None, datetime | None]:
    chosen = period_control(key, label=label)
    return chosen.start, chosen.end


FILTER_KEYS = ("assistants", "languages", "statuses", "search")


def clear_filters(key: str) -> None:
    """The Clear filters button (a callback: runs before the script): every filter but the period."""
    for k, empty in (("assistants", []), ("languages", []), ("statuses", []), ("search", ""), ("phrase", "")):
        st.session_state[f"{key}_{k}"] = empty
    st.session_state[f"{key}_page"] = 1


def test_filters(key: str, assistants: list[Assistant], view: urlstate.View | None = None) -> TestFilter:
    """Period, assistant, language, status and phrase search, as a TestFilter (``view``: from the URL).
    An exact phrase (the failure drill-down's) is kept under ``{key}_phrase`` and applied too."""
    chosen = period_control(key, view)
    names = {a.vapi_assistant_id: a.name for a in assistants}
    if view is not None:
        unknown = [a for a in view.assistants if a not in names]
        if unknown:
            st.info(_("Assistant {ids} is not one of yours: showing all assistants.").format(ids=", ".join(unknown[:3])),
                    icon=":material/link_off:")
        values = {"assistants": [a for a in view.assistants if a in names], "languages": list(view.languages),
                  "statuses": list(view.statuses), "search": view.q, "phrase": view.phrase}
        for k, v in values.items():
            st.session_state[f"{key}_{k}"] = v
    options = list(names) + [a for a in st.session_state.get(f"{key}_assistants") or [] if a not in names]
    cols = st.container(key=f"filters_{key}").columns([2.2, 1.7, 2.8, 2.3])  # two to a row on a phone
    chosen_assistants = cols[0].multiselect(_("Assistant"), options, format_func=lambda v: names.get(v, v),
                                            key=f"{key}_assistants", placeholder=_("All assistants"))
    languages = cols[1].multiselect(_("Language"), list(LANGUAGES), format_func=language_label, key=f"{key}_languages",
                                    placeholder=_("All"))
    statuses = cols[2].multiselect(_("Status"), list(TEST_STATUSES), format_func=status_label, key=f"{key}_statuses",
                                   placeholder=_("All"))
    search = cols[3].text_input(_("Phrase contains"), key=f"{key}_search", max_chars=200,
                                placeholder=_("e.g. opening hours"))
    phrase = st.session_state.get(f"{key}_phrase") or ""
    active = bool(chosen_assistants or languages or statuses or search.strip() or phrase)
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button(_("Clear filters"), key=f"{key}_clear", on_click=clear_filters, args=(key,), disabled=not active,
               icon=":material/filter_alt_off:")
    if phrase:
        row.caption(_("Only calls whose phrase is exactly “{phrase}”.").format(phrase=phrase))
        row.button(_("All phrases"), key=f"{key}_phrase_off", icon=":material/close:",
                   on_click=lambda: st.session_state.update({f"{key}_phrase": "", f"{key}_page": 1}))
    return TestFilter(start=chosen.start, end=chosen.end, assistant_ids=tuple(chosen_assistants),
                      languages=tuple(languages), statuses=tuple(statuses), search=search.strip(), phrase=phrase)


def filters_view(key: str, filters: TestFilter, *, page: int = 1) -> urlstate.View:
    """The URL view of a screen's test filters (the period from the session)."""
    period = st.session_state.get(PERIOD_KEY)
    return urlstate.View(period if isinstance(period, urlstate.Period) else urlstate.Period(), filters.assistant_ids,
                         filters.languages, filters.statuses, page, filters.search, filters.phrase)


test_filters.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# -- paging -------------------------------------------------------------------------------------

def page_of(key: str, filters: TestFilter, total: int, size: int, view: urlstate.View | None = None) -> int:
    """The page to show, kept under ``{key}_page``: from the URL when it came from outside, back to 1 when
    the filters change, and always within 1..last (a page past the end shows the last one)."""
    pages = max(1, -(-total // size))
    k, seen = f"{key}_page", f"{key}_page_for"
    if view is not None:
        st.session_state[k] = view.page
    elif st.session_state.get(seen) != filters:
        st.session_state[k] = 1
    st.session_state[seen] = filters
    asked = int(st.session_state.get(k) or 1)
    page = urlstate.clamp_page(asked, pages)
    if view is not None and asked != page:
        st.caption(_("There is no page {asked}: showing page {page}, the last.").format(
            asked=fmt_int(asked), page=fmt_int(page)))
    st.session_state[k] = page
    return page


def _go(key: str, page: int | None, pages: int, box: str = "") -> None:
    """A pager callback: to ``page``, or (None) to the page typed in the box, clamped to 1..pages."""
    if page is None:
        page = int(st.session_state.get(box or f"{key}_goto") or 1)
    st.session_state[f"{key}_page"] = urlstate.clamp_page(page, pages)


def pager(key: str, page: int, pages: int, total: int, shown: int, size: int, *, below: bool = False) -> None:
    """First / previous / next / last, the rows line and a page box: above the table, and again below it
    (``below``: its own widgets, the same page), so a long page never sends the user back up to go on."""
    first = (page - 1) * size + 1
    keys = f"{key}_below" if below else key
    box = f"{keys}_goto"
    st.session_state[box] = page  # the box shows the page (set before it is drawn)
    row = st.container(horizontal=True, vertical_alignment="center", key=f"{keys}_pager")
    for label, icon, target, off in [
        (N_("First"), ":material/first_page:", 1, page <= 1),
        (N_("Previous"), ":material/chevron_left:", page - 1, page <= 1),
        (N_("Next"), ":material/chevron_right:", page + 1, page >= pages),
        (N_("Last"), ":material/last_page:", pages, page >= pages),
    ]:
        row.button(_(label), key=f"{keys}_{label.lower()}", icon=icon, disabled=off, on_click=_go,
                   args=(key, target, pages))
    row.markdown(_("Rows **{first}–{last}** of **{total}** · page {page} of {pages}").format(
        first=fmt_int(first), last=fmt_int(first + shown - 1), total=fmt_int(total), page=fmt_int(page),
        pages=fmt_int(pages)), width="content")
    row.number_input(_("Go to page"), min_value=1, step=1, key=box, on_change=_go, args=(key, None, pages, box),
                     label_visibility="collapsed", width=130,
                     help=_("Go to page (1 to {pages}); a larger number shows the last page.").format(pages=fmt_int(pages)))
