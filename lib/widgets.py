"""Widget groups shared by several screens (date range, test filters).  Each owns its session keys
under the ``key`` prefix it is given and returns plain values; no data access happens here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from lib import billing, charts, export, queries
from lib.errors import StoreError
from lib.export_files import SessionFiles
from lib.formatting import fmt_int, plural
from lib.models import LANGUAGES, TEST_STATUSES, Assistant, TestFilter
from lib.store.sql import utcnow

PRESETS = {"7 days": 7, "30 days": 30, "90 days": 90, "All time": None}
DEFAULT_PRESET = "30 days"


def day_range(days: int | None, *, today: date | None = None) -> tuple[datetime | None, datetime | None]:
    """The last ``days`` calendar days in UTC, today included; whole days keep cache keys stable."""
    if days is None:
        return None, None
    today = today or utcnow().date()
    start = datetime.combine(today - timedelta(days=days - 1), time())
    return start, datetime.combine(today + timedelta(days=1), time())


def previous_period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime] | None:
    """The period of equal length just before [start, end)."""
    if start is None or end is None:
        return None
    return start - (end - start), start


def date_range(key: str, *, label: str = "Period") -> tuple[datetime | None, datetime | None]:
    choice = st.radio(label, list(PRESETS), index=list(PRESETS).index(DEFAULT_PRESET), horizontal=True,
                      key=f"{key}_preset")
    return day_range(PRESETS[choice or DEFAULT_PRESET])


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


def intent_columns() -> dict:
    """The intents grid's columns (pages/intents.py; the benchmark's bare-editor floor uses them too)."""
    return {
        "intent_name": st.column_config.TextColumn("Intent", required=True, max_chars=200, width="medium"),
        "example_user_phrases": st.column_config.ListColumn("Example phrases", width="medium"),
        "english_responses": st.column_config.ListColumn("English responses", width="medium"),
        "russian_responses": st.column_config.ListColumn("Russian responses", width="medium"),
        "created_at": st.column_config.DatetimeColumn("Created", format="MMM D, YYYY", disabled=True),
        "updated_at": st.column_config.DatetimeColumn("Updated", format="MMM D, YYYY, HH:mm", disabled=True),
    }


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def test_filters(key: str, assistants: list[Assistant]) -> TestFilter:
    """Period, assistant, language, status and phrase search, as a TestFilter."""
    start, end = date_range(key)
    names = {a.vapi_assistant_id: a.name for a in assistants}
    cols = st.container(key=f"filters_{key}").columns([2, 1, 1, 2])  # two to a row on a phone
    chosen_assistants = cols[0].multiselect("Assistant", list(names), format_func=lambda v: names.get(v, v),
                                            key=f"{key}_assistants", placeholder="All assistants")
    languages = cols[1].multiselect("Language", list(LANGUAGES), format_func=_label, key=f"{key}_languages",
                                    placeholder="All")
    statuses = cols[2].multiselect("Status", list(TEST_STATUSES), format_func=_label, key=f"{key}_statuses",
                                   placeholder="All")
    search = cols[3].text_input("Phrase contains", key=f"{key}_search", max_chars=200,
                                placeholder="e.g. opening hours")
    return replace(TestFilter(start=start, end=end), assistant_ids=tuple(chosen_assistants),
                   languages=tuple(languages), statuses=tuple(statuses), search=search.strip())


test_filters.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


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
