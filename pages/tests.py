"""Tests: the user's test calls, filtered and paged on the server, with charts and a full export."""

from functools import partial

import streamlit as st

from lib.i18n import N_, _, pgettext
from lib.screens import call_details, charts, controls, urlstate, widgets
from lib.screens.formatting import fmt_datetime, fmt_int, fmt_pct
from lib.store import queries

PAGE_SIZE = 50


def open_call(widget: str, rows: tuple) -> None:
    """A row of the table was clicked: its call opens in the details dialog (the selection is let go, so a
    second click on the same row opens it again)."""
    chosen = st.session_state[widget].selection.rows
    if chosen and chosen[0] < len(rows):
        st.session_state["tests_call"] = rows[chosen[0]]
    st.session_state["tests_table_n"] = st.session_state.get("tests_table_n", 0) + 1

st.title(_("Tests"))
assistants = queries.assistants()
view = controls.url_view("tests")
filters = controls.test_filters("tests", assistants, view)
stats = queries.stats(filters, controls.user_zone()[1])
page = controls.page_of("tests", filters, stats.tests, PAGE_SIZE, view)
controls.write_url("tests", urlstate.to_params(controls.filters_view("tests", filters, page=page)))

cards = st.container(key="kpis").columns(3)  # three to a row on a phone (lib.screens.widgets.screen_frame)
cards[0].metric(_("Matching test calls"), fmt_int(stats.tests), help=controls.period_label("tests"))
cards[1].metric(pgettext("count", "Completed"), fmt_int(stats.tests_completed))
cards[2].metric(_("Success rate"), fmt_pct(stats.success_rate))
widgets.live_updates("tests", stats.tests)

if not stats.tests:
    st.info(_("No test calls match these filters. Widen the period or clear a filter."))
else:
    result = queries.tests(filters, page=page, page_size=PAGE_SIZE)
    with st.container(key="tests_calls"):  # where a drill-down click scrolls to: the calls it filtered
        controls.pager("tests", page, result.pages, result.total, len(result.rows), PAGE_SIZE)
        names = {a.vapi_assistant_id: a.name for a in assistants}
        widget = f"tests_table_{st.session_state.get('tests_table_n', 0)}"
        st.caption(_("Click a call to see all of it."))
        st.dataframe(
            [{"When": fmt_datetime(r.created_at), "Assistant": names.get(r.assistant_id, r.assistant_id),
              "Phrase": r.test_phrase, "Language": charts.language_label(r.language or ""),
              "Status": charts.status_label(r.status or ""), "Call id": r.call_id or "—"}
             for r in result.rows],
            hide_index=True, width="stretch", height="content", key=widget, selection_mode="single-row",
            on_select=partial(open_call, widget, result.rows),
            column_config={c: st.column_config.TextColumn(_(c)) for c in  # headers translated, the frame's names kept
                           (N_("When"), N_("Assistant"), N_("Phrase"), N_("Language"), N_("Status"), N_("Call id"))},
        )
        if result.pages > 1:
            controls.pager("tests", page, result.pages, result.total, len(result.rows), PAGE_SIZE, below=True)

if call := st.session_state.get("tests_call"):
    call_details.render("tests", call, assistants, filters)

widgets.failure_drilldown("tests", filters)
if nonce := st.session_state.pop("tests_scroll", None):
    widgets.scroll_into_view("tests_calls", nonce)

if stats.tests:  # the charts follow the table: on a phone the calls come first
    for col, (title, fig) in zip(st.columns([2, 1]), [(N_("Status over time"), charts.tests_per_day(stats)),
                                                     (N_("Languages"), charts.tests_by_language(stats))], strict=True):
        with col:
            widgets.chart_card(title, fig)

    with st.container(border=True):
        st.markdown("**" + _("Export the filtered set") + "**")
        widgets.tests_download(filters, "tests_export")
