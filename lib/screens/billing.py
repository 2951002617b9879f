"""What the screens say about a subscription (pure, testable without Streamlit).

A text never promises an action the screen cannot offer: "Update your payment method" comes with the
billing portal's button (BILLING_PORTAL_URL), "Choose a plan" with the pricing page's (PRICING_URL).
Without that link the text names whom to contact (SUPPORT_URL, else SUPPORT_EMAIL), and with neither it
only says what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.config import Settings
from lib.i18n import N_, _

PORTAL, PRICING = "portal", "pricing"

# status -> (what happened, what to do through the button, what to do through a contact ({who}), where it is done)
# Whole sentences, each translated as one; {who} is a whole imperative clause ("contact support").
TROUBLES = {
    "past_due": (N_("Your last payment failed."), N_("Update your payment method: use the button below."),
                 N_("To update your payment method, {who}."), PORTAL),
    "unpaid": (N_("Your subscription is unpaid."), N_("Pay the open invoice: use the button below."),
               N_("To pay the open invoice, {who}."), PORTAL),
    "canceled": (N_("Your subscription is canceled."), N_("Choose a plan to reactivate it: use the button below."),
                 N_("To choose a plan to reactivate it, {who}."), PRICING),
    "incomplete": (N_("Your subscription is not active yet: the first payment needs to be completed."),
                   N_("Complete the first payment: use the button below."),
                   N_("To complete the first payment, {who}."), PORTAL),
    "incomplete_expired": (N_("Your subscription expired before the first payment."),
                           N_("Choose a plan to start again: use the button below."),
                           N_("To choose a plan to start again, {who}."), PRICING),
}
ACTION_LABELS = {PORTAL: N_("Open the billing portal"), PRICING: N_("See plans and pricing")}
ACTIVE = ("active", "trialing")  # a subscription that runs: it has days left
BADGE_COLORS = {
    "active": "green", "trialing": "blue", "past_due": "orange", "unpaid": "red", "canceled": "gray",
    "incomplete": "orange", "incomplete_expired": "gray", "paused": "gray",
}
STATUS_LABELS = {  # Stripe's statuses as the screens name them
    "active": N_("Active"), "trialing": N_("Trialing"), "past_due": N_("Past due"), "unpaid": N_("Unpaid"),
    "canceled": N_("Canceled"), "incomplete": N_("Incomplete"), "incomplete_expired": N_("Incomplete expired"),
    "paused": N_("Paused"),
}
PLAN_NAMES = {"free": N_("Free"), "basic": N_("Basic"), "pro": N_("Pro"), "business": N_("Business"),
              "enterprise": N_("Enterprise"), "starter": N_("Starter"), "team": N_("Team")}
CYCLES = {"monthly": N_("Monthly"), "yearly": N_("Yearly"), "annual": N_("Annual"), "month": N_("Monthly"),
          "year": N_("Yearly")}


@dataclass(frozen=True)
class Action:
    """A button the screen shows: its label and where it goes."""

    label: str
    url: str


def contact(settings: Settings) -> str | None:
    """Whom to contact, as markdown (an imperative clause): the support page, else the support address, else None."""
    if settings.support_url:
        return _("[contact support]({url})").format(url=settings.support_url)
    if settings.support_email:
        return _("write to [{email}](mailto:{email})").format(email=settings.support_email)
    return None


def _link(kind: str, settings: Settings) -> str:
    return settings.billing_portal_url if kind == PORTAL else settings.pricing_url


def _todo(trouble: tuple[str, str, str, str], settings: Settings) -> str:
    """The sentence that says what to do: through the button when there is one, else whom to contact."""
    _happened, by_button, by_contact, kind = trouble
    if _link(kind, settings):
        return _(by_button)
    who = contact(settings)
    return _(by_contact).format(who=who) if who else ""


def banner(status: str | None, settings: Settings | None = None, assistant_active: bool | None = None) -> str | None:
    """The Billing screen's warning above the plan, for statuses that need the user's action: what happened,
    what it means for the assistant service (when ``assistant_active`` is known), and what to do."""
    trouble = TROUBLES.get(status or "")
    if trouble is None:
        return None
    effect = None if assistant_active is None else _effect(assistant_active)
    return " ".join(part for part in (_(trouble[0]), effect, _todo(trouble, settings or Settings())) if part)


def _effect(assistant_active: bool) -> str | None:
    """What the account's state means for callers, as it is: this dashboard pauses nothing by itself."""
    return _("Your assistant service is paused: your assistants answer no calls.") if not assistant_active else None


def action(status: str | None, settings: Settings) -> Action | None:
    """The button that fixes this status, when its link is set (None: no button to show)."""
    trouble = TROUBLES.get(status or "")
    if trouble is None:
        return None
    url = _link(trouble[3], settings)
    return Action(_(ACTION_LABELS[trouble[3]]), url) if url else None


def is_troubled(status: str | None) -> bool:
    return (status or "") in TROUBLES


def slim_banner(status: str | None, assistant_active: bool) -> str | None:
    """The one line every screen shows while the subscription needs attention: what happened and what
    it means for the assistant service (the Billing screen says what to do)."""
    trouble = TROUBLES.get(status or "")
    if trouble is None:
        return None
    return " ".join(part for part in (_(trouble[0]), _effect(assistant_active)) if part)


def no_plan(settings: Settings) -> str:
    """What the Billing screen says to a user without a subscription."""
    if settings.pricing_url:
        return _("You are not subscribed to a plan yet. Pick one to unlock more assistants and test calls.")
    who = contact(settings)
    if who:
        return _("You are not subscribed to a plan yet. To choose a plan, {who}.").format(who=who)
    return _("You are not subscribed to a plan yet.")


def manage(settings: Settings) -> Action | None:
    """The "Manage billing" button of a subscription, when the portal's link is set."""
    return Action(_("Manage billing"), settings.billing_portal_url) if settings.billing_portal_url else None


def manage_hint(settings: Settings) -> str | None:
    """Without a portal link: whom to contact to change the plan or payment method (None: nobody known)."""
    if settings.billing_portal_url:
        return None
    who = contact(settings)
    return _("To change your plan or payment method, {who}.").format(who=who) if who else None


def shows_days_left(status: str | None) -> bool:
    """Only a running subscription counts down: a past-due or canceled one has no "days left"."""
    return (status or "") in ACTIVE


def status_label(status: str | None) -> str:
    label = STATUS_LABELS.get(status or "")
    return _(label) if label else (status or _("unknown")).replace("_", " ").capitalize()


def plan_name(plan_type: str | None) -> str:
    """A plan's name as shown (a plan the dashboard does not know is shown as stored)."""
    if not plan_type:
        return "—"
    label = PLAN_NAMES.get(plan_type.casefold())
    return _(label) if label else plan_type.capitalize()


def cycle_name(cycle: str | None) -> str:
    if not cycle:
        return "—"
    label = CYCLES.get(cycle.casefold())
    return _(label) if label else cycle.capitalize()


def status_badge(status: str | None) -> str:
    """A Streamlit-markdown colored badge, e.g. ``:green-badge[Active]``."""
    return f":{BADGE_COLORS.get(status or '', 'gray')}-badge[{status_label(status)}]"
