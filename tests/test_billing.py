"""What the billing screen says for each subscription status."""

from __future__ import annotations

import pytest

from lib import billing
from lib.models import SUBSCRIPTION_STATUSES


@pytest.mark.parametrize(("status", "says"), [
    ("past_due", "last payment failed"), ("canceled", "is canceled"), ("unpaid", "is unpaid"),
    ("incomplete", "first payment needs to be completed"), ("incomplete_expired", "expired before the first payment"),
])
def test_statuses_that_need_action_get_a_banner(status: str, says: str) -> None:
    text = billing.banner(status)
    assert says in text  # the banner names what happened ...
    assert any(act in text for act in ("Update your payment method", "Pay the open invoice", "Choose a plan",
                                       "needs to be completed"))  # ... and what to do about it


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
