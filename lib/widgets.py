"""Widget groups shared by several screens (date range, test filters).  Each owns its session keys
under the ``key`` prefix it is given and returns plain values; no data access happens here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import streamlit as st

from lib import billing, charts, export, urlstate
from lib.errors import StoreError
from lib.export_files import SessionFiles
from lib.formatting import fmt_int, plural
from lib.models import FAILURE_STATUSES, LANGUAGES, TEST_STATUSES, Assistant, TestFilter, utcnow
from lib.store import queries

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
    label: str  # e.g. "Last 30 days (29 Oct – 27 Nov 2026), UTC"
    comparison: urlstate.Comparison | None


def user_zone() -> tuple[ZoneInfo, str]:
    """The browser's time zone (UTC when the browser gave none, as in headless tests)."""
    try:
        name = st.context.timezone
    except Exception:  # no browser context at all
        name = None
    return urlstate.zone(name)


def url_view(screen: str) -> urlstate.View | None:
    """The view this screen's URL asks for when the URL came from outside (a link, a reload, a switch
    from another screen); None when it is what this screen last wrote (then the widgets hold the view).
    Ignored parameters are named in a small notice; a URL without a period keeps the session's."""
    params = {k: st.query_params[k] for k in st.query_params if k in urlstate.VIEW_KEYS}
    if st.session_state.get(_WRITTEN + screen) == params:
        return None
    view, notices = urlstate.parse(params)
    if notices:
        st.info("Part of this link was not used: " + "; ".join(notices) + ".", icon=":material/link_off:")
    if not {"period", "from", "to"} & set(params) and isinstance(st.session_state.get(PERIOD_KEY), urlstate.Period):
        view = replace(view, period=st.session_state[PERIOD_KEY])
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


def period_control(key: str, view: urlstate.View | None = None, *, label: str = "Period") -> Chosen:
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
    if view is not None or preset not in st.session_state:
        st.session_state[preset] = urlstate.PRESET_LABELS[shared.kind]
    if view is not None or first not in st.session_state or last not in st.session_state:
        days = shared.days(today) or (today - timedelta(days=29), today)
        st.session_state[first], st.session_state[last] = days
    cols = st.columns([4, 1.3, 1.3, 1.5], vertical_alignment="top")
    choice = PRESETS.get(cols[0].radio(label, list(PRESETS), horizontal=True, key=preset), urlstate.DEFAULT_PERIOD)
    period = urlstate.Period(choice)
    if choice == "custom":
        a = cols[1].date_input("From", key=first, min_value=urlstate.EARLIEST, max_value=urlstate.LATEST,
                               format="YYYY-MM-DD")
        b = cols[2].date_input("To (inclusive)", key=last, min_value=urlstate.EARLIEST, max_value=urlstate.LATEST,
                               format="YYYY-MM-DD")
        a, b = a or today, b or today
        if a > b:
            st.warning("From is after To: showing the days between them.", icon=":material/swap_horiz:")
            a, b = b, a
        period = urlstate.Period("custom", a, b)
    st.session_state[PERIOD_KEY] = period
    start, end = period.bounds(tz, today)
    chosen = Chosen(period, start, end, period.label(tz_name, today), urlstate.comparison(period, tz, today))
    cols[0].caption(chosen.label)
    st.session_state[f"_label_{key}"] = chosen.label
    return chosen


def period_label(key: str) -> str:
    """The label of the period a screen's control (``key``) last showed."""
    return st.session_state.get(f"_label_{key}") or "All time"


def date_range(key: str, *, label: str = "Period") -> tuple[datetime | None, datetime | None]:
    chosen = period_control(key, label=label)
    return chosen.start, chosen.end


def chart_card(title: str, fig: go.Figure | None) -> None:
    """A bordered card with a title and a plotly figure in the Streamlit theme (or a note when empty), and
    the figure's aggregated series as a CSV (lib.charts.series_frame through lib.export's writer), built
    only when clicked."""
    with st.container(border=True):
        if fig is None:
            st.markdown(f"**{title}**")
            st.caption("No data in this period.")
            return
        slug = re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")
        head = st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center",
                            wrap=False)
        head.markdown(f"**{title}**", width="content")
        head.download_button("CSV", data=lambda: export.to_csv(charts.series_frame(fig)), file_name=f"{slug}.csv",
                              mime="text/csv", key=f"chart_csv_{slug}", on_click="ignore", type="tertiary",
                              icon=":material/download:", help=f"The numbers behind “{title}” as CSV")
        st.plotly_chart(fig, theme="streamlit", width="stretch", config={"displayModeBar": False})


PHONE_MAX_PX = 640  # Streamlit stacks columns below this width
_PHONE_CSS = f"""<style>
[data-testid="stExpandSidebarButton"]::after {{ content: "Menu"; font-size: 0.9rem; margin-left: 0.25rem; }}
@media (max-width: {PHONE_MAX_PX}px) {{
  [data-testid="stMainBlockContainer"] {{ padding-left: 0.75rem; padding-right: 0.75rem; }}
  .st-key-kpis [data-testid="stHorizontalBlock"] {{ flex-flow: row wrap; gap: 0.5rem; }}
  .st-key-kpis [data-testid="stColumn"] {{ flex: 1 1 calc(33% - 0.5rem) !important;
    min-width: calc(33% - 0.5rem) !important; width: calc(33% - 0.5rem) !important; }}
  .st-key-kpis [data-testid="stMetricValue"] {{ font-size: 1.25rem; }}
  .st-key-kpis [data-testid="stMetricLabel"] p {{ font-size: 0.8rem; }}
  [class*="st-key-filters_"] [data-testid="stColumn"] {{ flex: 1 1 calc(50% - 0.5rem) !important;
    min-width: calc(50% - 0.5rem) !important; width: calc(50% - 0.5rem) !important; }}
  [class*="st-key-filters_"] [data-testid="stHorizontalBlock"] {{ flex-flow: row wrap; gap: 0.5rem; }}
  h1 {{ font-size: 2rem !important; padding-top: 0.25rem !important; padding-bottom: 0.5rem !important; }}
  .st-key-subscription_banner [data-testid="stAlertContainer"] {{ padding: 0.5rem 0.75rem; }}
}}
</style>"""
# Streamlit leaves the sidebar open over the page after a link in it is tapped on a phone: close it once per
# screen shown (the script's text names the screen, so it runs again only when the screen changes).
_COLLAPSE_JS = """<script>/* {path} */
if (window.innerWidth <= {width}) {{
  const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');  // only while open
  if (close) close.click();
}}
</script>"""


def screen_frame(current_path: str) -> None:
    """What every signed-in screen carries around its content: the phone layout (compact metric cards,
    a labelled menu button, the sidebar closed after choosing a screen) and the subscription banner."""
    st.html(_PHONE_CSS)
    with st.sidebar:
        st.html(_COLLAPSE_JS.format(path=current_path, width=PHONE_MAX_PX), unsafe_allow_javascript=True)
    subscription_banner(current_path)


def subscription_banner(current_path: str) -> None:
    """A slim line on every screen while the subscription needs attention (past due, unpaid, canceled...):
    what happened and why the assistant service is (or may be) paused, with a link to Billing.  The
    Billing screen itself shows the full notice instead."""
    if current_path == "billing":
        return
    try:
        sub = queries.subscription()
        text = billing.slim_banner(sub.status, queries.assistant_settings().is_active) if sub else None
    except StoreError:
        return  # the screen's own reads say what is wrong
    if text:
        with st.container(key="subscription_banner", horizontal=True, vertical_alignment="center", gap="small"):
            st.warning(text, icon=":material/credit_card_off:", width="stretch")
            st.page_link("../pages/billing.py", label="Billing", icon=":material/arrow_forward:", width="content")


LIVE_FLAG = "_live_changed"  # session state: set by the live fragment just before it reruns the page


def live_updates(key: str, total: int) -> None:
    """Keep a screen of test calls live: every LIVE_REFRESH_SECONDS a fragment reads the user's change
    versions (one small statement) and reruns the page only when test calls (or intents, assistants)
    changed, or the database stopped or started answering.  ``total`` is the count the page shows: after
    such a rerun a toast says how many calls are new."""
    seconds = queries.settings().live_refresh_seconds
    topics = (queries.TESTS, queries.INTENTS, queries.ASSISTANTS)
    before = st.session_state.get(f"{key}_live_total")
    if st.session_state.pop(LIVE_FLAG, False) and before is not None:
        if total > before:
            st.toast(f"{fmt_int(total - before)} new test call{'s' if total - before != 1 else ''}",
                     icon=":material/call_received:")
        else:
            st.toast("Test calls were updated", icon=":material/sync:")
    st.session_state[f"{key}_live_total"] = total
    if seconds <= 0:
        return
    shown = queries.freshness()
    inside_full_render = [True]  # the app has just read the versions: the first call skips its check

    def watch() -> None:
        if inside_full_render:
            inside_full_render.clear()
            return
        try:
            now = queries.check()
        except StoreError:
            return  # nothing known yet: the next full render reports it
        if now.reachable != shown.reachable or (now.reachable and now.of(*topics) != shown.of(*topics)):
            st.session_state[LIVE_FLAG] = True
            st.rerun()

    st.fragment(watch, run_every=seconds)()


INTENT_TITLES = {  # the grid's column titles; the import preview uses them too
    "intent_name": "Intent",
    "example_user_phrases": "Example phrases",
    "english_responses": "English responses",
    "russian_responses": "Russian responses",
}


def intent_columns() -> dict:
    """The intents grid's columns (pages/intents.py; the benchmark's bare-editor floor uses them too), sized
    so that all of them fit a 1400 px window beside the sidebar (pages/intents.py narrows the side margins)."""
    text = st.column_config.TextColumn
    return {
        "problems": text("Fix before saving", disabled=True, width=260),
        "intent_name": text(INTENT_TITLES["intent_name"], required=True, max_chars=200, width=140),
        **{c: st.column_config.ListColumn(INTENT_TITLES[c], width=145) for c in list(INTENT_TITLES)[1:]},
        "counts": text("Coverage", disabled=True, width=72,
                       help="Example phrases · English responses · Russian responses"),
        "attention": text("Needs attention", disabled=True, width=145),
        "used_by": text("Used by", disabled=True, width=110, help="The assistants that use this intent"),
        "updated": text("Updated", disabled=True, width=100, help="Last saved (UTC)"),
        "created_at": st.column_config.DatetimeColumn("Created", format="MMM D, YYYY", disabled=True),
        "updated_at": st.column_config.DatetimeColumn("Updated", format="MMM D, HH:mm", disabled=True, width=100),
    }


def preview_columns() -> dict:
    """The import preview's columns: the grid's titles, and the check of each row first."""
    return {
        "check": st.column_config.TextColumn("Check", width="large"),
        **{c: (st.column_config.TextColumn if c == "intent_name" else st.column_config.ListColumn)(title)
           for c, title in INTENT_TITLES.items()},
    }


def coverage_card() -> None:
    """Stats: how many intents are ready in both languages, linking to those that need attention."""
    from lib import intent_checks

    report = intent_checks.check_cached(queries.intents(), queries.assistants())
    with st.container(border=True, key="coverage_card"):
        st.markdown("**Language coverage**")
        if not report.total:
            st.caption("No intents yet: coverage shows how many have English and Russian responses.")
            return
        st.progress(report.ready / report.total, text=report.readiness())
        attention = len(report.attention)
        if attention:
            st.page_link("../pages/intents.py", label=f"{fmt_int(attention)} intent{'s need' if attention != 1 else ' needs'} "
                         "attention", icon=":material/warning:", query_params={"view": intent_checks.ATTENTION_VIEW})
        else:
            st.caption("Every intent has English and Russian responses and enough distinct example phrases.")


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


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
            st.info(f"Assistant {', '.join(unknown[:3])} is not one of yours: showing all assistants.",
                    icon=":material/link_off:")
        values = {"assistants": [a for a in view.assistants if a in names], "languages": list(view.languages),
                  "statuses": list(view.statuses), "search": view.q, "phrase": view.phrase}
        for k, v in values.items():
            st.session_state[f"{key}_{k}"] = v
    options = list(names) + [a for a in st.session_state.get(f"{key}_assistants") or [] if a not in names]
    cols = st.container(key=f"filters_{key}").columns([2.2, 1.7, 2.8, 2.3])  # two to a row on a phone
    chosen_assistants = cols[0].multiselect("Assistant", options, format_func=lambda v: names.get(v, v),
                                            key=f"{key}_assistants", placeholder="All assistants")
    languages = cols[1].multiselect("Language", list(LANGUAGES), format_func=_label, key=f"{key}_languages",
                                    placeholder="All")
    statuses = cols[2].multiselect("Status", list(TEST_STATUSES), format_func=_label, key=f"{key}_statuses",
                                   placeholder="All")
    search = cols[3].text_input("Phrase contains", key=f"{key}_search", max_chars=200,
                                placeholder="e.g. opening hours")
    phrase = st.session_state.get(f"{key}_phrase") or ""
    active = bool(chosen_assistants or languages or statuses or search.strip() or phrase)
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button("Clear filters", key=f"{key}_clear", on_click=clear_filters, args=(key,), disabled=not active,
               icon=":material/filter_alt_off:")
    if phrase:
        row.caption(f"Only calls whose phrase is exactly “{phrase}”.")
        row.button("All phrases", key=f"{key}_phrase_off", icon=":material/close:",
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
        st.caption(f"There is no page {fmt_int(asked)}: showing page {fmt_int(page)}, the last.")
    st.session_state[k] = page
    return page


def _go(key: str, page: int | None, pages: int) -> None:
    """A pager callback: to ``page``, or (None) to the page typed in the box, clamped to 1..pages."""
    if page is None:
        page = int(st.session_state.get(f"{key}_goto") or 1)
    st.session_state[f"{key}_page"] = urlstate.clamp_page(page, pages)


def pager(key: str, page: int, pages: int, total: int, shown: int, size: int) -> None:
    """First / previous / next / last, the rows line and a page box, right above the table."""
    first = (page - 1) * size + 1
    st.session_state[f"{key}_goto"] = page  # the box shows the page (set before it is drawn)
    row = st.container(horizontal=True, vertical_alignment="center")
    for label, icon, target, off in [
        ("First", ":material/first_page:", 1, page <= 1),
        ("Previous", ":material/chevron_left:", page - 1, page <= 1),
        ("Next", ":material/chevron_right:", page + 1, page >= pages),
        ("Last", ":material/last_page:", pages, page >= pages),
    ]:
        row.button(label, key=f"{key}_{label.lower()}", icon=icon, disabled=off, on_click=_go, args=(key, target, pages))
    row.markdown(f"Rows **{fmt_int(first)}–{fmt_int(first + shown - 1)}** of **{fmt_int(total)}** "
                 f"· page {fmt_int(page)} of {fmt_int(pages)}", width="content")
    row.number_input("Go to page", min_value=1, step=1, key=f"{key}_goto", on_change=_go, args=(key, None, pages),
                     label_visibility="collapsed", width=130,
                     help=f"Go to page (1 to {fmt_int(pages)}); a larger number shows the last page.")


# -- failure drill-down -----------------------------------------------------------------------

def _pick(key: str, kind: str, widget: str, keys: tuple[str, ...]) -> None:
    """A drill-down row was clicked: show that phrase's (or assistant's) failed and cancelled calls."""
    rows = st.session_state[widget].selection.rows
    if not rows or rows[0] >= len(keys):
        return
    st.session_state[f"{key}_statuses"] = list(FAILURE_STATUSES)
    if kind == "phrase":
        st.session_state[f"{key}_phrase"] = keys[rows[0]]
    else:
        st.session_state[f"{key}_assistants"] = [keys[rows[0]]]
    st.session_state[f"{key}_page"] = 1
    st.session_state[f"{key}_drill"] = st.session_state.get(f"{key}_drill", 0) + 1  # no row stays highlighted


def failure_drilldown(key: str, filters: TestFilter) -> None:
    """Failed and cancelled calls grouped by test phrase and by assistant over the filters' period (and
    assistant, language, search): the groups that fail most, counted by the database.  A click on a
    row filters this screen's table to those calls."""
    data = queries.failure_drilldown(filters)
    with st.container(border=True):
        st.markdown("**Where calls fail**")
        if not (data.phrases or data.assistants):
            st.caption(f"No failed or cancelled calls. {period_label(key)}.")
            return
        st.caption(f"Failed and cancelled calls by test phrase and by assistant, most first. {period_label(key)}. "
                   "Click a row to list those calls.")
        n = st.session_state.get(f"{key}_drill", 0)
        rate = st.column_config.NumberColumn("Failure rate", format="%.1f%%", width=90,
                                             help="Failed and cancelled calls out of all its calls in the period.")
        counts = {"Failed": st.column_config.NumberColumn(format="%d", width=60),
                  "Cancelled": st.column_config.NumberColumn(format="%d", width=75),
                  "Calls": st.column_config.NumberColumn(format="%d", width=60, help="All its calls in the period.")}
        for col, (kind, title, groups) in zip(st.columns([1.6, 1.4]), [("phrase", "Test phrase", data.phrases),
                                                                  ("assistant", "Assistant", data.assistants)],
                                              strict=True):
            widget = f"{key}_fail_{kind}_{n}"
            col.dataframe(
                [{title: g.name, "Failure rate": round(g.rate * 100, 1), "Failed": g.failed, "Cancelled": g.cancelled, "Calls": g.total}
                 for g in groups],
                hide_index=True, width="stretch", height="content", key=widget,
                on_select=partial(_pick, key, kind, widget, tuple(g.key for g in groups)), selection_mode="single-row",
                column_config={title: st.column_config.TextColumn(), "Failure rate": rate, **counts},
            )


_FILES = "export_files"  # st.session_state key of this session's SessionFiles


def _session_files() -> SessionFiles:
    files = st.session_state.get(_FILES)
    if not isinstance(files, SessionFiles) or files.closed:
        files = st.session_state[_FILES] = SessionFiles()
    return files


def _reader(path: str) -> Callable[[], bytes]:
    """The file's bytes, read only when the user clicks Download (Streamlit's deferred data): a rerun
    never loads the file into Streamlit's media store, and the callable holds only the path."""
    return lambda: Path(path).read_bytes()


def tests_download(filters: TestFilter, key: str) -> None:
    """Prepare the whole filtered set as a CSV (written by the database where it can, streamed to this
    session's export directory, with progress), then offer it for download.  The file lives only while
    its download is offered (see lib.export_files); a busy server or a cut-off export says so."""
    total = queries.count_tests(filters)
    prepared = st.session_state.get(f"{key}_file")
    if prepared and not Path(prepared["path"]).exists():  # swept, or the session's directory is gone
        prepared = None
    if prepared and prepared["filters"] != filters:  # no longer offered: don't keep 100 MB for nothing
        _session_files().discard(key)
        prepared = st.session_state[f"{key}_file"] = None
    if st.button(f"Prepare CSV of {plural(total, 'test call')}", key=f"{key}_prepare", disabled=not total,
                 icon=":material/download:"):
        files = _session_files()
        path = files.file(key)  # replaces this screen's previous file
        st.session_state[f"{key}_file"] = prepared = None
        bar = st.progress(0.0, text="Preparing the export…")

        def progress(rows: int) -> None:
            bar.progress(min(rows / total, 1.0), text=f"Prepared {fmt_int(rows)} of {fmt_int(total)} rows…")

        try:
            with open(path, "wb") as out:
                rows = queries.export_tests_csv(filters, out, progress)
        except StoreError as err:
            files.discard(key)
            bar.empty()
            st.error(str(err))
            return
        bar.empty()
        prepared = {"path": str(path), "filters": filters, "rows": rows}
        st.session_state[f"{key}_file"] = prepared
    if prepared:
        st.download_button(f"Download tests.csv ({plural(prepared['rows'], 'row')})", data=_reader(prepared["path"]),
                           file_name="tests.csv", mime="text/csv", key=f"{key}_download", type="primary",
                           on_click="ignore")  # no rerun: a rerun would replace the button's file id mid-click
