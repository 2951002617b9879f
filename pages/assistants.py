"""Assistants: the account's assistant service switch, the user's Vapi assistants, one's config and test summary."""

import json

import streamlit as st

from lib import queries
from lib.errors import StoreError
from lib.formatting import fmt_date, fmt_int, fmt_pct
from lib.models import TestFilter

st.title("Assistants")

# The toggle always shows the stored setting (a change made elsewhere shows on the next render).
st.session_state["assistant_active"] = queries.assistant_settings().is_active


def toggle() -> None:
    """Runs before the script: a failure here must be caught, shown, and the toggle put back."""
    on = st.session_state["assistant_active"]
    try:
        queries.set_active(on)
    except StoreError as err:
        st.session_state["assistant_active"] = not on
        st.session_state["assistant_flash"] = ("error", f"The assistant service was not {'turned on' if on else 'paused'}. {err}")
        return
    st.session_state["assistant_flash"] = ("success", "Assistant service on: your assistants answer calls again." if on else
                                           "Assistant service paused: no assistant answers calls until you turn it back on.")


st.toggle("Assistant service on (all your assistants)", key="assistant_active", on_change=toggle,
          disabled=not queries.freshness().reachable,
          help="Your account's assistant service: when it is off, none of your assistants answers calls.")
if flash := st.session_state.pop("assistant_flash", None):
    kind, text = flash
    if kind == "success":
        st.success(text, icon=":material/check_circle:")
    else:
        st.error(text, icon=":material/error:")

assistants = queries.assistants()
if not assistants:
    st.info("You have no assistants yet. Assistants are created on Vapi and appear here with the intents they use.")
    st.stop()

search = st.text_input("Search by name, Vapi id or intent", key="assistants_search", placeholder="e.g. front desk")
needle = search.strip().casefold()
shown = [a for a in assistants if not needle or needle in a.name.casefold()
         or needle in a.vapi_assistant_id.casefold() or any(needle in i.casefold() for i in a.intents_used)]
st.dataframe(
    [{"Name": a.name, "Vapi assistant id": a.vapi_assistant_id, "Intents used": list(a.intents_used),
      "Created": fmt_date(a.created_at), "Updated": fmt_date(a.updated_at)} for a in shown],
    hide_index=True, width="stretch",
    column_config={"Intents used": st.column_config.ListColumn(width="medium"),
                   "Vapi assistant id": st.column_config.TextColumn(width="medium")},
)
st.caption(f"{fmt_int(len(shown))} of {fmt_int(len(assistants))} assistants")
if not shown:
    st.stop()

chosen = st.selectbox("Details for", shown, format_func=lambda a: a.name, key="assistants_chosen")
summary = queries.stats(TestFilter(assistant_ids=(chosen.vapi_assistant_id,)))
left, right = st.columns([1, 2])
with left.container(border=True):
    st.markdown(f"**{chosen.name}** — test history")
    st.metric("Test calls", fmt_int(summary.tests))
    st.metric("Success rate", fmt_pct(summary.success_rate))
    last = max((d.day for d in summary.tests_per_day), default=None)
    st.caption(f"Last test: {last:%b %d, %Y}" if last else "No test calls yet.")
    if st.button("See its test calls", icon=":material/call:", key="assistants_to_tests"):
        st.session_state["tests_assistants"] = [chosen.vapi_assistant_id]  # the Tests screen's filter
        st.switch_page("../pages/tests.py")
with right.container(border=True):
    st.markdown("**Configuration**")
    st.code(json.dumps(chosen.config, indent=2, ensure_ascii=False, sort_keys=True), language="json", wrap_lines=True)
