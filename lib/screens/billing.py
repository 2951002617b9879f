"""What the screens say about a subscription (pure, testable without Streamlit).

A text never promises an action the screen cannot offer: "Update your payment method" comes with the
billing portal's button (BILLING_PORTAL_URL), "Choose a plan" with the pricing page's (PRICING_URL).
Without that link the text names whom to contact (SUPPORT_URL, else SUPPORT_EMAIL), and with neither it
only says what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.config import Settings

PORTAL, PRICING = "portal", "pricing"

# status -> (what happened, what to do, where it is done)
TROUBLES = {
    "past_due": ("Your last payment failed.", "update your payment method", PORTAL),
    "unpaid": ("Your subscription is unpaid.", "pay the open invoice", PORTAL),
    "canceled": ("Your subscription is canceled.", "choose a plan to reactivate it", PRICING),
    "incomplete": ("Your subscription is not active yet: the first payment needs to be completed.",
                   "complete the first payment", PORTAL),
    "incomplete_expired": ("Your subscription expired before the first payment.", "choose a plan to start again",
                           PRICING),
}
ACTION_LABELS = {PORTAL: "Open the billing portal", PRICING: "See plans and pricing"}
ACTIVE = ("active", "trialing")  # a subscription that runs: it has days left
BADGE_COLORS = {
    "active": "green", "trialing": "blue", "past_due": "orange", "unpaid": "red", "canceled": "gray",
    "incomplete": "orange", "incomplete_expired": "gray", "paused": "gray",
}


@dataclass(frozen=True)
class Action:
    """A button the screen shows: its label and where it goes."""

    label: str
    url: str


def contact(settings: Settings) -> str | None:
    """Whom to contact, as markdown: the support page, else the support address, else None."""
    if settings.support_url:
        return f"[contact support]({settings.support_url})"
    if settings.support_email:
        return f"write to [{settings.support_email}](mailto:{settings.support_email})"
    return None


def _link(kind: str, settings: Settings) -> str:
    return settings.billing_portal_url if kind == PORTAL else settings.pricing_url


def _todo(what: str, kind: str, settings: Settings) -> str:
    """The sentence that says what to do: through the button when there is one, else whom to contact."""
    if _link(kind, settings):
        return f"{what[0].upper()}{what[1:]}: use the button below."
    who = contact(settings)
    return f"To {what}, {who}." if who else ""


def banner(status: str | None, settings: Settings | None = None, assistant_active: bool | None = None) -> str | None:
    """The Billing screen's warning above the plan, for statuses that need the user's action: what happened,
    what it means for the assistant service (when ``assistant_active`` is known), and what to do."""
    trouble = TROUBLES.get(status or "")
    if trouble is None:
        return None
    happened, what, kind = trouble
    effect = None if assistant_active is None else _effect(assistant_active)
    return " ".join(part for part in (happened, effect, _todo(what, kind, settings or Settings())) if part)


def _effect(assistant_active: bool) -> str:
    return ("Your assistant service is paused until this is resolved." if not assistant_active
            else "Your assistant service may be paused if this is not resolved.")


def action(status: str | None, settings: Settings) -> Action | None:
    """The button that fixes this status, when its link is set (None: no button to show)."""
    trouble = TROUBLES.get(status or "")
    if trouble is None:
        return None
    url = _link(trouble[2], settings)
    return Action(ACTION_LABELS[trouble[2]], url) if url else None


def is_troubled(status: str | None) -> bool:
    return (status or "") in TROUBLES


def slim_banner(status: str | None, assistant_active: bool) -> str | None:
    """The one line every screen shows while the subscription needs attention: what happened and what
    it means for the assistant service (the Billing screen says what to do)."""
    trouble = TROUBLES.get(status or "")
    if trouble is None:
        return None
    return f"{trouble[0]} {_effect(assistant_active)}"


def no_plan(settings: Settings) -> str:
    """What the Billing screen says to a user without a subscription."""
    text = "You are not subscribed to a plan yet."
    if settings.pricing_url:
        return f"{text} Pick one to unlock more assistants and test calls."
    who = contact(settings)
    return f"{text} To choose a plan, {who}." if who else text


def manage(settings: Settings) -> Action | None:
    """The "Manage billing" button of a subscription, when the portal's link is set."""
    return Action("Manage billing", settings.billing_portal_url) if settings.billing_portal_url else None


def manage_hint(settings: Settings) -> str | None:
    """Without a portal link: whom to contact to change the plan or payment method (None: nobody known)."""
    if settings.billing_portal_url:
        return None
    who = contact(settings)
    return f"To change your plan or payment method, {who}." if who else None


def shows_days_left(status: str | None) -> bool:
    """Only a running subscription counts down: a past-due or canceled one has no "days left"."""
    return (status or "") in ACTIVE


def status_label(status: str | None) -> str:
    return (status or "unknown").replace("_", " ").capitalize()


def status_badge(status: str | None) -> str:
    """A Streamlit-markdown colored badge, e.g. ``:green-badge[Active]``."""
    return f":{BADGE_COLORS.get(status or '', 'gray')}-badge[{status_label(status)}]"
