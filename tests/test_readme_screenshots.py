"""The README's screenshots, taken from exactly what `make run` shows: the demo data, unchanged.

``make screenshots`` runs this module with ``UPDATE_DOC_SCREENSHOTS=1``, which copies the shots into
docs/screenshots/ (the README shows them); a plain test run takes them into test-artifacts/screenshots/readme/
and checks that the demo shows what the screenshots are there to show: intents that need attention, a phrase
clash, an unused intent, a failing phrase (every expected figure from SQL here, not from the app).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from tests.e2e_support import (
    DOC_SCREENSHOTS,
    SCREENSHOTS,
    App,
    open_screen,
    require_chromium,
    screenshot,
    seed_demo,
    serving_app,
    settle,
    sign_in,
    wait_for_gate,
)

pytestmark = pytest.mark.browser

ALICE = "user_demo_alice"
SHOTS = SCREENSHOTS / "readme"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    from tools.pgcluster import new_database

    require_chromium()
    with new_database(pg_url, prefix="readme_shots") as database_url:
        seed_demo(database_url)  # what the embedded server seeds for `make run` (lib.ops.demo's defaults)
        with serving_app(tmp_path_factory.mktemp("readme"), database_url) as running:
            yield running


@pytest.fixture
def page(browser: Browser, app: App) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US", timezone_id="UTC",
                                  base_url=app.url)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    pg.goto("/")
    if not wait_for_gate(pg):
        sign_in(pg, "alice", "demo", "Alice")
    yield pg
    context.close()


def keep(shot: Path) -> None:
    """Into test-artifacts/screenshots/readme/, and into docs/screenshots/ for `make screenshots`."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SHOTS / shot.name)
    if os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOC_SCREENSHOTS / shot.name)


def scalar(app: App, sql: str) -> int:
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql), {"u": ALICE}).scalar_one()
    engine.dispose()
    return int(value)


def test_stats_and_its_coverage_card(page: Page, app: App) -> None:
    total = scalar(app, "select count(*) from intents where user_id = :u")
    ready = scalar(app, "select count(*) from intents where user_id = :u and english_responses <> '{}' "
                        "and russian_responses <> '{}'")
    assert ready < total  # the demo shows an account with work left to do
    card = page.locator(".st-key-coverage_card")
    expect(card.get_by_text(f"{ready} of {total} intents ready in both languages")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()  # (intents created per week may have none in 30 days)
    keep(screenshot(page, "stats"))
    card.scroll_into_view_if_needed()
    settle(page)
    top = page.locator("[data-testid='stMetric']").first.bounding_box()
    box = card.bounding_box()
    assert top and box
    shot = SCREENSHOTS / "coverage.png"
    page.screenshot(path=str(shot), clip={"x": box["x"] - 16, "y": top["y"] - 16, "width": box["width"] + 32,
                                          "height": box["y"] + box["height"] - top["y"] + 32})
    keep(shot)


def test_intents_with_attention_clash_and_an_unused_intent(page: Page, app: App) -> None:
    unused = scalar(app, "select count(*) from intents i where user_id = :u and not exists (select 1 from "
                         "assistants a where a.user_id = i.user_id and i.id = any(a.intents_used))")
    open_screen(page, "Intents", "Intents")
    expect(page.get_by_text(re.compile(rf"· {unused} not used by any assistant$"))).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile(r"Needs attention \([1-9]"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Phrase clashes \([1-9]"))).to_be_visible()
    keep(screenshot(page, "intents"))


def test_history_after_a_save(page: Page, app: App) -> None:
    """The History panel once alice has saved: a response fixed in the intent editor."""
    open_screen(page, "Intents", "Intents")
    page.get_by_role("combobox", name="Edit intent").click()
    page.get_by_role("option", name="refund", exact=True).click()
    settle(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Add a Russian response").click()
    settle(page)
    dialog.locator("textarea").last.fill("Возврат средств занимает до 5 рабочих дней.")
    dialog.get_by_role("button", name="Apply", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Save", exact=True).click()
    settle(page)
    expect(page.get_by_text(re.compile(r"^Saved in the grid · 0 added, 1 changed, 0 deleted · "))).to_be_visible()
    page.get_by_text("What changed", exact=True).first.click()
    settle(page)
    page.get_by_role("heading", name="History", exact=True).scroll_into_view_if_needed()
    keep(screenshot(page, "intents-history"))
