"""Stats (home): metric cards and charts of the signed-in user's intents and test calls."""

import streamlit as st

from lib.i18n import N_, _, pgettext
from lib.models import TestFilter
from lib.screens import billing, charts, controls, deltas, loading, urlstate, widgets
from lib.screens.formatting import fmt_int, fmt_pct
from lib.store import queries

st.title(_("Stats"))
period = controls.period_control("stats", controls.url_view("stats"))
controls.write_url("stats", urlstate.to_params(urlstate.View(period.period), fields=("period",)))
stats = queries.stats(TestFilter(start=period.start, end=period.end), period.zone)
fair = period.comparison  # whole days only: today, not over yet, is left out of both sides
now, before = ((queries.count_tests(TestFilter(*fair.current)), queries.count_tests(TestFilter(*fair.previous)))
               if fair else (None, None))
settings = queries.assistant_settings()
subscription = queries.subscription()
widgets.live_updates("stats", stats.tests)

if stats.is_empty:
    with st.container(border=True):
        st.subheader(_("Welcome! There is nothing to chart yet"))
        st.markdown(_(
            "Your dashboard fills in as you build your voice assistant:\n"
            "1. **Create intents** — what callers say and how the assistant answers, in English and Russian.\n"
            "2. **Build an assistant** on Vapi that uses them.\n"
            "3. **Run test calls**; their results appear here and on the Tests screen."
        ))
        st.page_link("../pages/intents.py", label=_("Create your first intent"), icon=":material/add_circle:")
    loading.stop()

cards = st.container(key="kpis").columns(6)  # three to a row on a phone (lib.screens.widgets.screen_frame)
cards[0].metric(_("Intents"), fmt_int(stats.intents), help=_("All time: every intent you have."))
cards[1].metric(_("Assistants"), fmt_int(stats.assistants), help=_("All time: every assistant you have."))
change = deltas.tests_change(now, before, previous_start=fair.previous[0] if fair else None,
                             first_call=queries.first_test_at() if fair else None,
                             whole_days=fair.help if fair else "")
cards[2].metric(_("Tests"), fmt_int(stats.tests), delta=change.delta,
                help=_("Test calls, {period}.").format(period=period.label) + " " + change.rule)
cards[3].metric(_("Success rate"), fmt_pct(stats.success_rate),
                help=_("Completed test calls out of all, {period}.").format(period=period.label))
cards[4].metric(_("Assistant service"), pgettext("assistant service", "Active") if settings.is_active
                else pgettext("assistant service", "Paused"))
plan = billing.plan_name(subscription.plan_type) if subscription else _("No plan")
cards[5].metric(_("Plan"), plan, help=_("Status: {status}").format(status=billing.status_label(subscription.status))
                if subscription else None)

st.caption(_("Intents and assistants: all time. Tests, success rate and every chart: {period}.").format(period=period.span))
widgets.coverage_card()

figures = [
    (N_("Tests per day"), charts.tests_per_day(stats)),
    (N_("Tests by language"), charts.tests_by_language(stats)),
    (N_("Tests per assistant"), charts.tests_per_assistant(stats)),
    (N_("Intents created per week"), charts.intents_per_week(stats)),
]
for row in (figures[:2], figures[2:]):
    for col, (title, fig) in zip(st.columns(2), row, strict=True):
        with col:
            widgets.chart_card(title, fig)
