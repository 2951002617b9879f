"""What the billing screen says about a subscription status (pure, testable without Streamlit)."""

from __future__ import annotations

BANNERS = {
    "past_due": "Your last payment failed. Update your payment method to keep your assistants running.",
    "unpaid": "Your subscription is unpaid. Pay the open invoice to restore service.",
    "canceled": "Your subscription is canceled. Choose a plan to reactivate your assistants.",
    "incomplete": "Your subscription is not active yet: the first payment needs to be completed.",
    "incomplete_expired": "Your subscription expired before the first payment. Choose a plan to start again.",
}
BADGE_COLORS = {
    "active": "green", "trialing": "blue", "past_due": "orange", "unpaid": "red", "canceled": "gray",
    "incomplete": "orange", "incomplete_expired": "gray", "paused": "gray",
}


def banner(status: str | None) -> str | None:
    """The warning shown above the plan, for statuses that need the user's action."""
    return BANNERS.get(status or "")


def status_label(status: str | None) -> str:
    return (status or "unknown").replace("_", " ").capitalize()


def status_badge(status: str | None) -> str:
    """A Streamlit-markdown colored badge, e.g. ``:green-badge[Active]``."""
    return f":{BADGE_COLORS.get(status or '', 'gray')}-badge[{status_label(status)}]"
