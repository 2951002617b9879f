"""What the billing screen says for each subscription status."""

from __future__ import annotations

import pytest

from lib.config import Settings
from lib.errors import ConfigError
from lib.models import SUBSCRIPTION_STATUSES
from lib.screens import billing

PORTAL = "https://billing.example.com/portal"
PRICING = "https://example.com/pricing"
NOTHING = Settings()
EVERY_LINK = Settings(billing_portal_url=PORTAL, pricing_url=PRICING)
TROUBLED = ["past_due", "unpaid", "canceled", "incomplete", "incomplete_expired"]
PROMISES = ("Update your payment method", "update your payment method", "Pay the open invoice", "Choose a plan",
            "choose a plan", "complete the first payment", "use the button")


@pytest.mark.parametrize(("status", "says"), [
    ("past_due", "last payment failed"), ("canceled", "is canceled"), ("unpaid", "is unpaid"),
    ("incomplete", "first payment needs to be completed"), ("incomplete_expired", "expired before the first payment"),
])
def test_statuses_that_need_action_get_a_banner(status: str, says: str) -> None:
    text = billing.banner(status, EVERY_LINK)
    assert says in text  # the banner names what happened ...
    assert "use the button below" in text  # ... and the button that fixes it is there
    fix = billing.action(status, EVERY_LINK)
    assert fix is not None and fix.url == (PRICING if "plan" in text else PORTAL)


@pytest.mark.parametrize("status", TROUBLED)
def test_without_links_or_contacts_the_banner_promises_no_action(status: str) -> None:
    text = billing.banner(status, NOTHING)
    assert text and not any(p in text for p in PROMISES), text
    assert billing.action(status, NOTHING) is None


@pytest.mark.parametrize("status", TROUBLED)
def test_without_the_link_the_banner_says_whom_to_contact(status: str) -> None:
    by_page = billing.banner(status, Settings(support_url="https://help.example.com"))
    assert "[contact support](https://help.example.com)" in by_page and "button" not in by_page
    by_mail = billing.banner(status, Settings(support_email="help@example.com"))
    assert "[help@example.com](mailto:help@example.com)" in by_mail
    assert billing.action(status, Settings(support_url="https://help.example.com")) is None


def test_the_portal_link_alone_does_not_cover_choosing_a_plan() -> None:
    portal_only = Settings(billing_portal_url=PORTAL, support_email="help@example.com")
    assert billing.action("past_due", portal_only).url == PORTAL
    assert billing.action("canceled", portal_only) is None
    assert "mailto:help@example.com" in billing.banner("canceled", portal_only)


def test_no_plan_offers_plans_only_with_a_pricing_page() -> None:
    assert "Pick one" in billing.no_plan(Settings(pricing_url=PRICING))
    assert not any(p in billing.no_plan(NOTHING) for p in ("Pick one", "pick", "choose"))
    assert "mailto:help@example.com" in billing.no_plan(Settings(support_email="help@example.com"))


def test_manage_billing_is_a_button_with_the_portal_else_a_contact() -> None:
    assert billing.manage(Settings(billing_portal_url=PORTAL)).url == PORTAL
    assert billing.manage(NOTHING) is None and billing.manage_hint(NOTHING) is None
    assert "contact support" in billing.manage_hint(Settings(support_url="https://help.example.com"))
    assert billing.manage_hint(Settings(billing_portal_url=PORTAL, support_url="https://help.example.com")) is None


def test_only_a_running_subscription_counts_days_left() -> None:
    assert billing.shows_days_left("active") and billing.shows_days_left("trialing")
    for status in [*TROUBLED, "paused", None]:
        assert not billing.shows_days_left(status)


def test_the_slim_banner_explains_why_the_assistant_is_paused() -> None:
    assert billing.slim_banner("past_due", False) == (
        "Your last payment failed. Your assistant service is paused: your assistants answer no calls.")
    # the dashboard pauses nothing by itself: while the service is on, the banner claims no effect
    assert billing.slim_banner("unpaid", True) == "Your subscription is unpaid."
    assert billing.slim_banner("active", False) is None and billing.slim_banner(None, True) is None
    assert billing.banner("past_due", NOTHING, False) == billing.slim_banner("past_due", False)  # Billing says it too
    assert billing.banner("past_due", EVERY_LINK, True) == ("Your last payment failed. Update your payment "
                                                           "method: use the button below.")


@pytest.mark.parametrize(("setting", "value"), [
    ("support_email", "not an address"), ("support_url", "help.example.com"), ("pricing_url", "javascript:alert(1)"),
    ("billing_portal_url", "ftp://x"),
])
def test_bad_billing_settings_are_refused_by_name(setting: str, value: str) -> None:
    with pytest.raises(ConfigError, match=setting.upper()):
        Settings(**{setting: value})


@pytest.mark.parametrize("status", ["active", "trialing", "paused", None, "something_new"])
def test_healthy_or_unknown_statuses_get_no_banner(status: str | None) -> None:
    assert billing.banner(status) is None


def test_every_known_status_has_a_colored_badge() -> None:
    for status in SUBSCRIPTION_STATUSES:
        badge = billing.status_badge(status)
        assert badge.startswith(":") and "-badge[" in badge and status.split("_")[0] in badge.lower()
    assert billing.status_badge("past_due") == ":orange-badge[Past due]"
    assert billing.status_badge("active") == ":green-badge[Active]"
    assert billing.status_badge(None) == ":gray-badge[Unknown]"
