"""The screens' names, the billing texts and banner, the Assistants switch and the export previews, through
the real app (AppTest) on PostgreSQL (the fixtures of tests/test_screens.py)."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests import test_screens
from tests.test_screens import SCREENS, all_text, metric, open_screen

credentials, database, app_on = test_screens.credentials, test_screens.database, test_screens.app_on  # the fixtures

SIDEBAR_TITLES = {"stats": "Stats", "intents": "Intents", "assistants": "Assistants", "tests": "Tests",
                  "billing": "Billing", "export": "Export"}  # dashboard/app.py's SCREENS, as the sidebar shows them
PORTAL = "https://billing.example.com/p/login/demo"
PRICING = "https://example.com/pricing"


def links(at: AppTest) -> dict[str, str]:
    """The screen's link buttons: label -> url."""
    return {e.proto.label: e.proto.url for e in at.get("link_button")}


def banner_texts(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "assistant service" in w.value]


def test_each_screen_is_titled_as_in_the_sidebar(app_on) -> None:
    at = app_on("alice")
    assert at.title[0].value == SIDEBAR_TITLES["stats"]
    for name in SCREENS:
        assert open_screen(at, name).title[0].value == SIDEBAR_TITLES[name], name


def test_the_switch_names_the_accounts_assistant_service(app_on) -> None:
    at = open_screen(app_on("alice"), "assistants")
    switch = at.toggle(key="assistant_active")
    assert switch.label == "Assistant service: on"  # alice's is on: the label says the state, not the action
    assert "all your assistants" in switch.help and "none of your" in switch.help


def test_a_past_due_account_carries_a_banner_on_every_screen(app_on) -> None:
    at = app_on("bob")
    for name in SCREENS:
        at = open_screen(at, name)
        if name == "billing":  # the full notice instead, saying what to do
            assert not banner_texts(at) and [e.value for e in at.error] == [
                "Your last payment failed. Your assistant service is paused: your assistants answer no calls."]
            continue
        assert banner_texts(at) == ["Your last payment failed. Your assistant service is paused: your assistants "
                                    "answer no calls."], name


def test_a_healthy_account_has_no_banner(app_on) -> None:
    at = app_on("alice")
    for name in SCREENS:
        assert not banner_texts(open_screen(at, name)), name


def test_days_left_only_for_a_running_subscription(app_on) -> None:
    alice = open_screen(app_on("alice"), "billing")
    assert int(metric(alice, "Days left")) >= 0
    bob = open_screen(app_on("bob"), "billing")
    assert "Days left" not in [m.label for m in bob.metric]
    assert "Past due" in all_text(bob)


def test_without_billing_links_nothing_is_promised(app_on) -> None:
    bob = open_screen(app_on("bob"), "billing")
    notice = " ".join(e.value for e in bob.error)
    assert "last payment failed" in notice and "payment method" not in notice and "button" not in notice
    assert not links(bob)
    alice = open_screen(app_on("alice"), "billing")
    assert "Manage billing" not in links(alice) and "contact" not in all_text(alice)
    carol = open_screen(app_on("carol"), "billing")
    assert "Pick one" not in all_text(carol) and not links(carol)


def test_with_billing_links_the_buttons_are_there(app_on, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_PORTAL_URL", PORTAL)
    monkeypatch.setenv("PRICING_URL", PRICING)
    st.cache_resource.clear()  # the settings are read once per process
    bob = open_screen(app_on("bob"), "billing")
    assert "Update your payment method: use the button below." in " ".join(e.value for e in bob.error)
    assert links(bob) == {"Open the billing portal": PORTAL, "Manage billing": PORTAL}
    assert links(open_screen(app_on("alice"), "billing")) == {"Manage billing": PORTAL}
    carol = open_screen(app_on("carol"), "billing")
    assert links(carol) == {"See plans and pricing": PRICING} and "Pick one" in all_text(carol)


def test_without_links_the_screen_says_whom_to_contact(app_on, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_EMAIL", "help@example.com")
    st.cache_resource.clear()  # the settings are read once per process
    bob = open_screen(app_on("bob"), "billing")
    assert ("To update your payment method, write to [help@example.com](mailto:help@example.com)."
            in " ".join(e.value for e in bob.error))
    alice = open_screen(app_on("alice"), "billing")
    assert "To change your plan or payment method, write to" in all_text(alice)
    carol = open_screen(app_on("carol"), "billing")
    assert "To choose a plan, write to" in all_text(carol) and not links(carol)


def test_export_previews_read_as_the_screens_do(app_on) -> None:
    at = open_screen(app_on("alice"), "export")
    assert at.radio(key="export_table").value == "Test calls"
    tests = at.dataframe[0].value  # test calls get a preview: newest first, named columns, the assistant's name
    assert tests.columns.tolist()[:5] == ["Created", "Assistant", "Phrase", "Language", "Status"]
    assert tests.columns.tolist()[-1] == "Id" and tests["Assistant"].notna().all()
    assert tests["Created"].tolist() == sorted(tests["Created"].tolist(), reverse=True)
    at.radio(key="export_table").set_value("Subscription").run()
    assert any(m.value == "1 row" for m in at.markdown) and at.dataframe[0].value.columns[0] == "Plan"
    at.radio(key="export_table").set_value("Intents").run()
    assert at.dataframe[0].value.columns.tolist()[0] == "Intent"
