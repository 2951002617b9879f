"""Billing: the user's Stripe subscription, with a clear banner when it needs attention."""

import streamlit as st

from lib.i18n import _
from lib.models import utcnow
from lib.screens import billing, loading
from lib.screens.formatting import days_left, fmt_date, fmt_int, mask_id, zone_name
from lib.store import queries

st.title(_("Billing"))
settings = queries.settings()
sub = queries.subscription()

if sub is None:
    with st.container(border=True):
        st.subheader(_("No subscription"))
        st.markdown(billing.no_plan(settings))
        if settings.pricing_url:
            st.link_button(_("See plans and pricing"), settings.pricing_url, type="primary")
    loading.stop()

if text := billing.banner(sub.status, settings, queries.assistant_settings().is_active):
    st.error(text, icon=":material/warning:")
    if fix := billing.action(sub.status, settings):
        st.link_button(fix.label, fix.url, type="primary", icon=":material/open_in_new:")

with st.container(border=True):
    left, right = st.columns([3, 1])
    left.subheader(_("{plan} plan").format(plan=billing.plan_name(sub.plan_type) if sub.plan_type else _("Unknown")))
    left.markdown(billing.status_badge(sub.status))
    if manage := billing.manage(settings):
        right.link_button(manage.label, manage.url)
    running = billing.shows_days_left(sub.status)
    cols = st.columns(4 if running else 3)
    cols[0].metric(_("Billing cycle"), billing.cycle_name(sub.billing_cycle))
    cols[1].metric(_("Current period start"), fmt_date(sub.current_period_start))
    cols[2].metric(_("Current period end"), fmt_date(sub.current_period_end))
    if running:
        cols[3].metric(_("Days left"), fmt_int(days_left(sub.current_period_end, utcnow())) if sub.current_period_end else "—")
    st.caption(_("Dates in {zone}. Stripe customer {customer} · subscription {subscription}").format(
        zone=zone_name(), customer=mask_id(sub.stripe_customer_id), subscription=mask_id(sub.stripe_subscription_id)))
    if not billing.is_troubled(sub.status) and (hint := billing.manage_hint(settings)):
        st.caption(hint)
