"""End to end, in a real Chromium: alice renames an intent in the grid and saves; the History panel lists
the save with its fields; she undoes it (after the confirm step) and the grid shows the old name again.

Its own app over a database of its own (the suite's PostgreSQL) with the demo data.  Screenshots: intents-history.png (the panel
with the save expanded) and intents-history-undone.png (the README's own come from
tests/test_readme_screenshots.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROW_HEIGHT,
    SCREENSHOTS,
    VIEWPORT,
    App,
    assert_no_exception,
    checked_app,
    edit_text_cell,
    grid_cell,
    open_screen,
    screenshot,
    settle,
    sign_in,
    wait_for_gate,
)

pytestmark = pytest.mark.browser
NEW_NAME = "greeting_history_e2e"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with checked_app(tmp_path_factory.mktemp("e2e-history"), pg_url) as running:
        yield running


@pytest.fixture
def page(app: App) -> Iterator[Page]:
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC", base_url=app.url)
        context.set_default_timeout(20_000)
        yield context.new_page()
        context.close()
        browser.close()


def names_in_db(app: App) -> set[str]:
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        found = set(conn.execute(sa.text("select intent_name from intents where user_id = 'user_demo_alice'"))
                    .scalars())
    engine.dispose()
    return found


def test_save_then_undo_from_the_history_panel(page: Page, app: App) -> None:
    page.goto("/")
    if not wait_for_gate(page):
        sign_in(page, "alice", "demo", "Alice")
    open_screen(page, "Intents", "Intents")
    expect(page.get_by_text("No saves yet — changes you save here or import appear in this list.",
                            exact=True)).to_be_visible()

    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible()
    old_name = grid_cell(page, 1, 0).inner_text().strip()
    assert old_name and old_name in names_in_db(app)
    box = grid.bounding_box()
    assert box
    edit_text_cell(page, box["x"] + 70, box["y"] + ROW_HEIGHT * 1.5, NEW_NAME, column=1, row=0)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved: 0 added, 1 changed, 0 deleted.", exact=True)).to_be_visible(timeout=20_000)
    settle(page)
    assert NEW_NAME in names_in_db(app) and old_name not in names_in_db(app)

    # -- the History panel lists the save; its fields, expanded ----------------------------------
    entry = page.get_by_text(re.compile(r"^Saved in the grid · 0 added, 1 changed, 0 deleted · "))
    expect(entry).to_be_visible()
    page.get_by_text("What changed", exact=True).first.click()
    settle(page)
    details = page.get_by_test_id("stDataFrame").nth(1)
    expect(details).to_be_visible()
    page.get_by_role("heading", name="History", exact=True).scroll_into_view_if_needed()
    screenshot(page, "intents-history")

    # -- undo: a confirm step, then the old name is back in the database and the grid -----------
    page.get_by_role("button", name="Undo this save", exact=True).first.click()
    settle(page)
    expect(page.get_by_text(re.compile(r"^Undo this save\? It puts back the 1 intent"))).to_be_visible()
    assert NEW_NAME in names_in_db(app)  # nothing happens before the confirm
    page.get_by_role("button", name="Yes, undo it", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Undone: the save of .* is reverted\.$"))).to_be_visible(timeout=20_000)
    settle(page)
    assert_no_exception(page, "after Undo")
    assert old_name in names_in_db(app) and NEW_NAME not in names_in_db(app)
    expect(grid.get_by_test_id("glide-cell-1-0")).to_have_text(old_name)  # the grid, not the open field table
    expect(page.get_by_text(re.compile(r"^Undo · 0 added, 1 changed, 0 deleted · "))).to_be_visible()
    buttons = page.get_by_role("button", name="Undo this save", exact=True)
    expect(buttons).to_have_count(2)
    expect(buttons.nth(1)).to_be_disabled()  # the undone save
    screenshot(page, "intents-history-undone")
    assert (SCREENSHOTS / "intents-history.png").exists()
