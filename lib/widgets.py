"""Widget groups shared by several screens (date range, test filters).  Each owns its session keys
under the ``key`` prefix it is given and returns plain values; no data access happens here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import streamlit as st

from lib import queries
from lib.errors import StoreError
from lib.export_files import SessionFiles
from lib.formatting import fmt_int
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


def chart_card(title: str, fig: object | None) -> None:
    """A bordered card with a title and a plotly figure in the Streamlit theme (or a note when empty)."""
    with st.container(border=True):
        st.markdown(f"**{title}**")
        if fig is None:
            st.caption("No data in this period.")
        else:
            st.plotly_chart(fig, theme="streamlit", width="stretch", config={"displayModeBar": False})


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


def test_filters(key: str, assistants: list[Assistant]) -> TestFilter:
    """Period, assistant, language, status and phrase search, as a TestFilter."""
    start, end = date_range(key)
    names = {a.vapi_assistant_id: a.name for a in assistants}
    cols = st.columns([2, 1, 1, 2])
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
    if st.button(f"Prepare CSV of {fmt_int(total)} test calls", key=f"{key}_prepare", disabled=not total,
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
        st.download_button(f"Download tests.csv ({fmt_int(prepared['rows'])} rows)", data=_reader(prepared["path"]),
                           file_name="tests.csv", mime="text/csv", key=f"{key}_download", type="primary")
