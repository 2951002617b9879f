"""Stats (home): metric cards and charts of the signed-in user's intents and test calls."""

import streamlit as st

from lib import charts, queries, widgets
from lib.formatting import fmt_delta, fmt_int, fmt_pct
from lib.models import TestFilter

st.title("Overview")
start, end = widgets.date_range("stats")
stats = queries.stats(TestFilter(start=start, end=end))
previous = widgets.previous_period(start, end)
before = queries.count_tests(TestFilter(start=previous[0], end=previous[1])) if previous else None
settings = queries.assistant_settings()
subscription = queries.subscription()
widgets.live_updates("stats", stats.tests)

if stats.is_empty:
    with st.container(border=True):
        st.subheader("Welcome! There is nothing to chart yet")
        st.markdown(
            "Your dashboard fills in as you build your voice assistant:\n"
            "1. **Create intents** — what callers say and how the assistant answers, in English and Russian.\n"
            "2. **Build an assistant** on Vapi that uses them.\n"
            "3. **Run test calls**; their results appear here and on the Tests screen."
        )
        st.page_link("../pages/intents.py", label="Create your first intent", icon=":material/add_circle:")
    st.stop()

cards = st.columns(6)
cards[0].metric("Intents", fmt_int(stats.intents))
cards[1].metric("Assistants", fmt_int(stats.assistants))
cards[2].metric("Tests", fmt_int(stats.tests), delta=fmt_delta(stats.tests, before),
                help="Test calls in the selected period, against the period of equal length before it.")
cards[3].metric("Success rate", fmt_pct(stats.success_rate), help="Completed test calls out of all in the period.")
cards[4].metric("Assistant", "Active" if settings.is_active else "Paused")
plan = (subscription.plan_type or "—").capitalize() if subscription else "No plan"
cards[5].metric("Plan", plan, help=f"Status: {subscription.status}" if subscription else None)
widgets.coverage_card()

figures = [
    ("Tests per day", charts.tests_per_day(stats)),
    ("Tests by language", charts.tests_by_language(stats)),
    ("Tests per assistant", charts.tests_per_assistant(stats)),
    ("Intents created per week", charts.intents_per_week(stats)),
]
for row in (figures[:2], figures[2:]):
    for col, (title, fig) in zip(st.columns(2), row, strict=True):
        with col:
            widgets.chart_card(title, fig)
