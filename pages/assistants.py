"""Assistants: the account's assistant service switch, the user's Vapi assistants, one's config and test summary."""

import json

import streamlit as st

from lib.errors import StoreError
from lib.i18n import N_, _, ngettext
from lib.identity.session import escape_md
from lib.models import TestFilter
from lib.screens import controls, loading, urlstate
from lib.screens.formatting import fmt_date, fmt_int, fmt_pct
from lib.store import queries

st.title(_("Assistants"))

# The toggle always shows the stored setting (a change made elsewhere shows on the next render).  Turning it
# on applies at once; pausing every assistant asks first (callers get no answer while it is off).
active = queries.assistant_settings().is_active
st.session_state["assistant_active"] = active
CONFIRM_PAUSE, FLASH = "assistant_pause_confirm", "assistant_flash"


def apply(on: bool) -> None:
    """Store the service state; a failure is shown and nothing else changes."""
    st.session_state.pop(CONFIRM_PAUSE, None)
    try:
        queries.set_active(on)
    except StoreError as err:
        st.session_state[FLASH] = ("error", (_("The assistant service was not turned on. {error}") if on else
                                             _("The assistant service was not paused. {error}")).format(error=err))
        return
    st.session_state[FLASH] = ("info", _("Assistant service on: your assistants answer calls again.") if on else
                               _("Assistant service paused: no assistant answers calls until you turn it back on."))


def toggle() -> None:
    """Runs before the script: turning on applies; turning off only asks (the toggle stays on until confirmed)."""
    if st.session_state["assistant_active"]:
        apply(True)
    else:
        st.session_state[CONFIRM_PAUSE] = True


st.toggle(_("Assistant service: on") if active else _("Assistant service: paused"), key="assistant_active",
          on_change=toggle, disabled=not queries.freshness().reachable,
          help=_("Your account's assistant service, for all your assistants: when it is off, none of your "
                 "assistants answers calls."))
if st.session_state.get(CONFIRM_PAUSE) and active:
    with st.container(border=True):
        count = len(queries.assistants())
        st.warning(ngettext("Pause your {n} assistant? Callers get no answer until you turn the service back on.",
                            "Pause all {n} of your assistants? Callers get no answer until you turn the service "
                            "back on.", count).format(n=fmt_int(count)), icon=":material/pause_circle:")
        yes, no = st.columns(2)
        yes.button(_("Pause the assistant service"), type="primary", key="assistant_pause_yes", on_click=apply,
                   args=(False,))
        no.button(_("Keep it on"), key="assistant_pause_no", on_click=lambda: st.session_state.pop(CONFIRM_PAUSE, None))
if flash := st.session_state.pop(FLASH, None):
    kind, text = flash
    if kind == "info":  # neutral: pausing is not a success to celebrate, nor resuming an alarm
        st.info(text, icon=":material/info:")
    else:
        st.error(text, icon=":material/error:")

assistants = queries.assistants()
if not assistants:
    st.info(_("You have no assistants yet. Assistants are created on Vapi and appear here with the intents they use."))
    loading.stop()

view = controls.url_view("assistants")
if view is not None:
    st.session_state["assistants_search"] = view.q
    known = {a.vapi_assistant_id: a for a in assistants}
    if view.assistants and view.assistants[0] in known:
        st.session_state["assistants_chosen_id"] = view.assistants[0]
    elif view.assistants:
        st.info(_("The assistant in this link is not one of yours: showing your first one."), icon=":material/link_off:")
search = st.text_input(_("Search by name, Vapi id or intent"), key="assistants_search", placeholder=_("e.g. front desk"))
needle = search.strip().casefold()
shown = [a for a in assistants if not needle or needle in a.name.casefold()
         or needle in a.vapi_assistant_id.casefold() or any(needle in i.casefold() for i in a.intents_used)]
st.dataframe(
    [{"Name": a.name, "Vapi assistant id": a.vapi_assistant_id, "Intents used": list(a.intents_used),
      "Created": fmt_date(a.created_at), "Updated": fmt_date(a.updated_at)} for a in shown],
    hide_index=True, width="stretch",
    column_config={"Name": st.column_config.TextColumn(_("Name")),  # headers translated, the frame's names kept
                   "Intents used": st.column_config.ListColumn(_("Intents used"), width="medium"),
                   "Vapi assistant id": st.column_config.TextColumn(_("Vapi assistant id"), width="medium"),
                   "Created": st.column_config.TextColumn(_("Created")),
                   "Updated": st.column_config.TextColumn(_("Updated"))},
)
st.caption(ngettext("{shown} of {n} assistant", "{shown} of {n} assistants", len(assistants)).format(
    shown=fmt_int(len(shown)), n=fmt_int(len(assistants))))
if not shown:
    loading.stop()

ids = [a.vapi_assistant_id for a in shown]
if st.session_state.get("assistants_chosen_id") not in ids:
    st.session_state["assistants_chosen_id"] = ids[0]
by_id = {a.vapi_assistant_id: a for a in shown}
chosen = by_id[st.selectbox(_("Details for"), ids, format_func=lambda i: by_id[i].name, key="assistants_chosen_id")]
period = controls.period_control("assistants", view, label=N_("Test history period"))
controls.write_url("assistants", urlstate.to_params(
    urlstate.View(period.period, assistants=(chosen.vapi_assistant_id,), q=search.strip()),
    fields=("period", "assistant", "q")))
summary = queries.stats(TestFilter(start=period.start, end=period.end, assistant_ids=(chosen.vapi_assistant_id,)),
                        period.zone)
left, right = st.columns([1, 2])
with left.container(border=True):
    st.markdown(_("**{name}** — test history").format(name=escape_md(chosen.name)))
    st.caption(period.span)
    st.metric(_("Test calls"), fmt_int(summary.tests), help=_("Its test calls, {period}.").format(period=period.label))
    st.metric(_("Success rate"), fmt_pct(summary.success_rate),
              help=_("Completed out of all, {period}.").format(period=period.label))
    last = max((d.day for d in summary.tests_per_day), default=None)
    st.caption(_("Last test in the period: {day}").format(day=fmt_date(last)) if last else
               _("No test calls in this period."))
    if st.button(_("See its test calls"), icon=":material/call:", key="assistants_to_tests"):
        # the same period and this assistant, as a link would carry them
        st.switch_page("../pages/tests.py", query_params=urlstate.to_params(
            urlstate.View(period.period, assistants=(chosen.vapi_assistant_id,)), fields=("period", "assistant")))
with right.container(border=True):
    st.markdown("**" + _("Configuration") + "**")
    st.code(json.dumps(chosen.config, indent=2, ensure_ascii=False, sort_keys=True), language="json", wrap_lines=True)
