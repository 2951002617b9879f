"""Tests: the user's test calls, filtered and paged on the server, with charts and a full export."""

import streamlit as st

from lib import charts, queries, widgets
from lib.formatting import fmt_datetime, fmt_int, fmt_pct

PAGE_SIZE = 50

st.title("Tests")
assistants = queries.assistants()
filters = widgets.test_filters("tests", assistants)
stats = queries.stats(filters)

cards = st.container(key="kpis").columns(3)
cards[0].metric("Matching test calls", fmt_int(stats.tests))
cards[1].metric("Completed", fmt_int(stats.tests_completed))
cards[2].metric("Success rate", fmt_pct(stats.success_rate))
widgets.live_updates("tests", stats.tests)

if not stats.tests:
    st.info("No test calls match these filters. Widen the period or clear a filter.")
    st.stop()

pages = max(1, -(-stats.tests // PAGE_SIZE))
page = int(st.number_input(f"Page (of {fmt_int(pages)})", min_value=1, max_value=pages, value=1, step=1,
                           key=f"tests_page_{hash(filters)}"))
result = queries.tests(filters, page=page, page_size=PAGE_SIZE)
names = {a.vapi_assistant_id: a.name for a in assistants}
st.dataframe(
    [{"When": fmt_datetime(r.created_at), "Assistant": names.get(r.assistant_id, r.assistant_id),
      "Phrase": r.test_phrase, "Language": (r.language or "").capitalize(),
      "Status": (r.status or "").replace("_", " ").capitalize(), "Call id": r.call_id or "—"} for r in result.rows],
    hide_index=True, width="stretch",
)
first = (page - 1) * PAGE_SIZE + 1
st.caption(f"Showing {fmt_int(first)}–{fmt_int(first + len(result.rows) - 1)} of {fmt_int(result.total)}")

# The charts follow the table: on a phone the calls come first.
for col, (title, fig) in zip(st.columns([2, 1]), [("Status over time", charts.tests_per_day(stats)),
                                                 ("Languages", charts.tests_by_language(stats))], strict=True):
    with col:
        widgets.chart_card(title, fig)

with st.container(border=True):
    st.markdown("**Export the filtered set**")
    widgets.tests_download(filters, "tests_export")
