"""What the billing screen says for each subscription status."""

from __future__ import annotations

import pytest

from lib import billing
from lib.models import SUBSCRIPTION_STATUSES


@pytest.mark.parametrize("status", ["past_due", "canceled", "unpaid", "incomplete", "incomplete_expired"])
def test_statuses_that_need_action_get_a_banner(status: str) -> None:
    assert billing.banner(status)


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
