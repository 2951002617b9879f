"""The floor app, for ``make bench-load``: Streamlit's own cost of each journey step.

A bare Streamlit script rendering the same elements as each step of bench/journey.py (the Stats
screen's radio, six metric cards and four charts with their CSV buttons; the Tests screen's filters,
cards, pager, 50-row table and two charts; the Intents screen's 5,000-row grid with its Save button),
with the same data prepared in memory once per process (bench/floor_data.py): no database, no cache
look-ups, no sign-in (the sidebar just says who is signed in), no version check.  The app's server CPU
per step against this one's, in the same run, is the app's overhead over the framework.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from bench.floor_data import floor  # noqa: E402
from bench.loadenv import L_USER  # noqa: E402
from lib.screens.widgets import intent_columns  # noqa: E402

st.set_page_config(page_title="Floor", layout="wide")
if "uid" not in st.session_state:  # whose data: the token's subject, read once, not verified (no sign-in)
    import jwt

    token = st.context.cookies.get("__session")
    st.session_state["uid"] = jwt.decode(token, options={"verify_signature": False})["sub"] if token else None
data = floor(st.session_state["uid"] or L_USER)
st.sidebar.markdown("Signed in as")
st.sidebar.markdown("**Load user**")
PERIOD_OPTIONS = ["7 days", "30 days", "90 days", "All time", "Custom"]


def card(title: str, fig) -> None:
    with st.container(border=True):
        if fig is None:
            st.markdown(f"**{title}**")
            st.caption("No data in this period.")
            return
        head = st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center")
        head.markdown(f"**{title}**", width="content")
        head.download_button("CSV", data=lambda: b"", file_name="chart.csv", key=f"csv_{title}", on_click="ignore",
                             type="tertiary")
        st.plotly_chart(fig, theme="streamlit", width="stretch", config={"displayModeBar": False})


def live() -> None:
    st.fragment(lambda: None, run_every=5)()


def stats_screen() -> None:
    st.title("Stats")
    period = st.radio("Period", PERIOD_OPTIONS, index=1, horizontal=True, key="period")
    label = period if period in data.stats else "90 days"
    s = data.stats[label]
    st.caption(f"Last {label}")
    cards = st.container(key="kpis").columns(6)
    for col, (name, value) in zip(cards, [("Intents", s.intents), ("Assistants", s.assistants), ("Tests", s.tests),
                                         ("Success rate", s.success_rate), ("Assistant service", "Active"),
                                         ("Plan", "Pro")], strict=True):
        col.metric(name, value)
    live()
    figures = data.figures[label]
    for row in (figures[:2], figures[2:]):
        for col, (title, fig) in zip(st.columns(2), row, strict=True):
            with col:
                card(title, fig)


def tests_screen() -> None:
    st.title("Tests")
    st.radio("Period", PERIOD_OPTIONS, index=1, horizontal=True, key="tests_period")
    cols = st.columns([2.2, 1.7, 2.8, 2.3])
    cols[0].multiselect("Assistant", data.assistants, key="assistants")
    cols[1].multiselect("Language", ["English", "Russian"], key="languages")
    status = cols[2].multiselect("Status", ["Completed", "Failed", "In progress", "Initiated"], key="status")
    cols[3].text_input("Search", key="search")
    which = "Failed" if status == ["Failed"] else "all"
    if st.session_state.get("filter_seen") != which:
        st.session_state["filter_seen"], st.session_state["page"] = which, 1
    s = data.tests_stats[which]
    cards = st.container(key="kpis").columns(3)
    cards[0].metric("Matching test calls", s.tests)
    cards[1].metric("Completed", s.tests_completed)
    cards[2].metric("Success rate", s.success_rate)
    live()
    page = st.session_state.get("page", 1)

    def pager(where: str) -> None:  # above and below the table, as the Tests screen draws it
        row = st.container(horizontal=True, vertical_alignment="center")
        for label in ("First", "Previous", "Next", "Last"):  # Next: page 2 before the run, as the app's callback
            row.button(label, key=f"{where}_{label}",
                       on_click=(lambda: st.session_state.update(page=2)) if label == "Next" else None)
        row.markdown(f"Rows **{(page - 1) * 50 + 1}–{page * 50}** of {s.tests}")
        row.number_input("Go to page", min_value=1, value=page, key=f"{where}_goto", label_visibility="collapsed")

    pager("above")
    st.dataframe(data.pages[(which, page)], hide_index=True, width="stretch", height="content",
                 selection_mode="single-row", on_select="rerun", key=f"table_{page}")
    pager("below")
    for col, (title, fig) in zip(st.columns([2, 1]), data.tests_figures[which], strict=True):
        with col:
            card(title, fig)


def _saved(changed: int) -> None:
    """Save's callback (as the app's): the grid starts afresh and the run that follows says so, one render."""
    st.session_state["generation"] += 1
    st.session_state["saved"] = changed


def intents_screen() -> None:
    st.title("Intents")
    st.radio("Show", ["All intents", "Needs attention"], horizontal=True, key="show")
    st.text_input("Search by name or phrase", key="intents_search")
    key = f"grid_{st.session_state.setdefault('generation', 0)}"
    state = st.session_state.get(key) or {}
    changed = len(state.get("edited_rows", {}))
    st.selectbox("Edit intent", list(range(len(data.grid))), index=None, key="pick",
                 format_func=lambda n: data.grid["intent_name"].iat[n], label_visibility="collapsed")
    st.data_editor(data.grid, key=key, num_rows="delete", hide_index=True, width="stretch", height=600,
                   column_config=intent_columns(), column_order=data.grid_columns)
    st.caption(f"Unsaved: 0 new, {changed} changed, 0 to delete")
    st.button("Save", type="primary", disabled=not changed, on_click=_saved, args=(changed,))
    saved = st.session_state.pop("saved", None)
    if saved is not None:
        st.success(f"Saved: 0 added, {saved} changed, 0 deleted.")


st.navigation([st.Page(stats_screen, title="Stats", url_path="stats", default=True),
               st.Page(tests_screen, title="Tests", url_path="tests"),
               st.Page(intents_screen, title="Intents", url_path="intents")]).run()
