"""Billing: the user's Stripe subscription, with a clear banner when it needs attention."""

import streamlit as st

from lib.models import utcnow
from lib.screens import billing
from lib.screens.formatting import days_left, fmt_date, mask_id
from lib.store import queries

st.title("Billing")
settings = queries.settings()
sub = queries.subscription()

if sub is None:
    with st.container(border=True):
        st.subheader("No subscription")
        st.markdown(billing.no_plan(settings))
        if settings.pricing_url:
            st.link_button("See plans and pricing", settings.pricing_url, type="primary")
    st.stop()

if text := billing.banner(sub.status, settings, queries.assistant_settings().is_active):
    st.error(text, icon=":material/warning:")
    if fix := billing.action(sub.status, settings):
        st.link_button(fix.label, fix.url, type="primary", icon=":material/open_in_new:")

with st.container(border=True):
    left, right = st.columns([3, 1])
    left.subheader(f"{(sub.plan_type or 'Unknown').capitalize()} plan")
    left.markdown(billing.status_badge(sub.status))
    if manage := billing.manage(settings):
        right.link_button(manage.label, manage.url)
    running = billing.shows_days_left(sub.status)
    cols = st.columns(4 if running else 3)
    cols[0].metric("Billing cycle", (sub.billing_cycle or "—").capitalize())
    cols[1].metric("Current period start", fmt_date(sub.current_period_start))
    cols[2].metric("Current period end", fmt_date(sub.current_period_end))
    if running:
        cols[3].metric("Days left", days_left(sub.current_period_end, utcnow()) if sub.current_period_end else "—")
    st.caption(f"Stripe customer {mask_id(sub.stripe_customer_id)} · subscription {mask_id(sub.stripe_subscription_id)}")
    if not billing.is_troubled(sub.status) and (hint := billing.manage_hint(settings)):
        st.caption(hint)
