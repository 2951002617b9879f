"""Browser tests of the view state (real Chromium on the real app): a custom range in the browser's zone,
the pager, clear filters, the failure drill-down click, and a shared URL opened by another user."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lib.screens.urlstate import Period, local_today, zone
from tests.e2e_support import (
    VIEWPORT,
    App,
    assert_no_exception,
    checked_app,
    open_screen,
    screenshot,
    settle,
    sign_in,
    wait_for_gate,
)

pytestmark = pytest.mark.browser
BERLIN = "Europe/Berlin"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with checked_app(tmp_path_factory.mktemp("e2e-views"), pg_url) as running:
        yield running


def new_page(browser: Browser, app: App, timezone: str = BERLIN) -> Page:
    """A fresh profile (no cookies) in ``timezone``."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id=timezone, base_url=app.url)
    context.set_default_timeout(20_000)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, app: App) -> Iterator[Page]:
    pg = new_page(browser, app)
    yield pg
    pg.context.close()


def params(page: Page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def rows_line(page: Page) -> str:
    return page.get_by_text(re.compile(r"^Rows [\d,]+–[\d,]+ of [\d,]+")).first.inner_text()


def metric_value(page: Page, label: str) -> int:
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True))
    return int(card.get_by_test_id("stMetricValue").inner_text().strip().replace(",", ""))


def count(app: App, user_id: str, start: datetime | None, end: datetime | None, where: str = "",
          **args: object) -> int:
    """The user's calls in [start, end), counted with SQL written here."""
    engine = sa.create_engine(app.database_url)
    sql = "select count(*) from assistant_tests where user_id = :u"
    if start is not None:
        sql += " and created_at >= :s and created_at < :e"
    with engine.connect() as conn:
        n = conn.execute(sa.text(sql + where), {"u": user_id, "s": start, "e": end, **args}).scalar_one()
    engine.dispose()
    return int(n)


def goto_signed_in(page: Page, path: str, user: str = "alice", name: str = "Alice") -> None:
    page.goto(path)
    if not wait_for_gate(page):
        sign_in(page, user, "demo", name)
    settle(page)
    assert_no_exception(page, path)


def click(page: Page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).first.click()  # the pager above the table
    settle(page)


def test_custom_range_pager_and_clear_filters(page: Page, app: App) -> None:
    goto_signed_in(page, "/tests")
    expect(page.get_by_role("heading", name="Tests", exact=True).first).to_be_visible()
    tz = zone(BERLIN)[0]
    today = local_today(tz)
    first, last = today - timedelta(days=40), today - timedelta(days=5)
    page.get_by_test_id("stRadio").get_by_text("Custom", exact=True).click()
    settle(page)
    for label, day in (("From", first), ("To (inclusive)", last)):
        box = page.get_by_label(label, exact=True)
        box.get_by_role("spinbutton").first.click()  # a date field of year / month / day segments
        page.keyboard.type(day.strftime("%Y%m%d"), delay=30)
        if label == "From":
            page.get_by_role("heading", name="Tests", exact=True).first.click()  # leaving the field commits it
        else:
            page.keyboard.press("Enter")  # and so does Enter
        settle(page)
        expect(page).to_have_url(re.compile(("from=" if label == "From" else "to=") + day.isoformat()))
    start, end = Period("custom", first, last).bounds(tz, today)
    total = count(app, "user_demo_alice", start, end)
    expect(page.get_by_text(re.compile(r"\(inclusive\), Europe/Berlin$")).first).to_be_visible()
    assert metric_value(page, "Matching test calls") == total > 100
    assert params(page) == {"period": "custom", "from": first.isoformat(), "to": last.isoformat()}

    pages = -(-total // 50)
    assert rows_line(page) == f"Rows 1–50 of {total:,} · page 1 of {pages}"
    click(page, "Next")
    assert rows_line(page).startswith("Rows 51–100 of") and params(page)["page"] == "2"
    click(page, "Last")
    assert rows_line(page) == f"Rows {(pages - 1) * 50 + 1:,}–{total:,} of {total:,} · page {pages} of {pages}"
    for next_button in page.get_by_role("button", name="Next", exact=True).all():  # above and below the table
        expect(next_button).to_be_disabled()
    goto = page.get_by_label("Go to page", exact=True).first
    goto.fill("999")
    goto.press("Enter")
    settle(page)
    assert rows_line(page).endswith(f"page {pages} of {pages}")  # clamped to the last page
    expect(goto).to_have_value(str(pages))
    click(page, "First")

    # a table's page is shown whole: the 50-row table is not squeezed into a 10-row box
    table = page.get_by_test_id("stDataFrame").first
    assert table.bounding_box()["height"] >= 51 * 35

    statuses = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text("Status", exact=True))
    statuses.locator("input").click()
    page.get_by_role("option", name="In progress").click()
    page.keyboard.press("Escape")
    settle(page)
    expect(statuses.get_by_text("In progress", exact=True)).to_be_visible()  # the chosen value is not cut
    assert params(page)["status"] == "in_progress"
    screenshot(page, "tests")
    click(page, "Clear filters")
    assert "status" not in params(page) and params(page)["period"] == "custom"
    assert metric_value(page, "Matching test calls") == total
    expect(page.get_by_role("button", name="Clear filters", exact=True)).to_be_disabled()


def test_a_drilldown_click_filters_the_table(page: Page, app: App) -> None:
    goto_signed_in(page, "/tests?period=90d")
    drill = page.get_by_test_id("stDataFrame").nth(1)
    drill.scroll_into_view_if_needed()
    expect(page.get_by_text("Where calls fail", exact=True)).to_be_visible()
    tz = zone(BERLIN)[0]
    start, end = Period("90d").bounds(tz, local_today(tz))
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        top = conn.execute(sa.text(
            "select test_phrase, sum(case when status in ('failed', 'cancelled') then 1 else 0 end) as f "
            "from assistant_tests where user_id = 'user_demo_alice' and created_at >= :s and created_at < :e "
            "group by test_phrase order by f desc, test_phrase limit 1"), {"s": start, "e": end}).one()
    engine.dispose()
    box = drill.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's selection marker
    settle(page)
    assert_no_exception(page, "after the drill-down click")
    expect(page.get_by_text(f"Only calls whose phrase is exactly “{top.test_phrase}”.")).to_be_visible()
    assert params(page)["phrase"] == top.test_phrase and params(page)["status"] == "failed,cancelled"
    assert metric_value(page, "Matching test calls") == top.f
    # the filtered calls are brought into view (they are above the drill-down), and the clicked row stays marked
    calls_top = "document.querySelector('.st-key-tests_calls').getBoundingClientRect().top"
    try:  # the smooth scroll, then the layout settling under it
        page.wait_for_function(f"(() => {{ const t = {calls_top}; return t >= 0 && t < innerHeight / 2; }})()",
                               timeout=3000)
    except PlaywrightTimeout:
        raise AssertionError(f"the calls are not in view: their top is at {page.evaluate(calls_top)} px") from None
    screenshot(page, "tests-drilldown-landed")
    expect(drill.locator("[aria-selected='true']").first).to_be_attached()
    page.get_by_text("Where calls fail", exact=True).scroll_into_view_if_needed()
    screenshot(page, "tests-drilldown")
    click(page, "All phrases")
    assert "phrase" not in params(page)
    expect(drill.locator("[aria-selected='true']")).to_have_count(0)  # no filter, no mark


def test_a_click_on_a_call_opens_all_of_it(page: Page, app: App) -> None:
    goto_signed_in(page, "/tests?period=90d&status=completed")
    table = page.get_by_test_id("stDataFrame").first
    box = table.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's selection marker
    settle(page)
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Test call")).to_be_visible()
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        newest = conn.execute(sa.text(
            "select t.test_phrase, t.call_id, a.name, extract(epoch from t.updated_at - t.created_at)::int as took "
            "from assistant_tests t left join assistants a on a.user_id = t.user_id "
            "and a.vapi_assistant_id = t.assistant_id where t.user_id = 'user_demo_alice' and t.status = 'completed' "
            "order by t.created_at desc, t.id desc limit 1")).one()
        holders = conn.execute(sa.text(
            "select intent_name from intents where user_id = 'user_demo_alice' and :p = any(example_user_phrases)"),
            {"p": newest.test_phrase}).scalars().all()
    engine.dispose()
    text = dialog.inner_text()
    screenshot(page, "tests-call-details")
    assert newest.call_id in text and newest.name in text
    minutes, seconds = divmod(newest.took, 60)
    assert (f"{minutes} min {seconds} s" if minutes else f"{seconds} s") in text
    assert all(name in text for name in holders) and holders  # the intent whose phrase the caller said
    expect(dialog.get_by_text(re.compile(r"other test calls? said this phrase"))).to_be_visible()


def test_a_shared_url_opens_the_same_view_for_another_user(browser: Browser, page: Page, app: App) -> None:
    goto_signed_in(page, "/tests?period=90d&status=completed&language=english&page=2")
    shared = page.url
    assert params(page) == {"period": "90d", "status": "completed", "language": "english", "page": "2"}
    alice_rows = rows_line(page)

    other = new_page(browser, app, timezone="UTC")  # a fresh profile: bob, signed out, elsewhere
    try:
        other.goto(shared + "&user_id=user_demo_alice")  # a user id in the URL changes nothing
        assert not wait_for_gate(other)
        sign_in(other, "bob", "demo", "Bob")
        expect(other.get_by_role("heading", name="Tests", exact=True).first).to_be_visible()
        settle(other)
        assert_no_exception(other, "the shared URL")
        assert {k: v for k, v in params(other).items() if k != "user_id"} == params(page)
        expect(other.get_by_role("radio", name="90 days", exact=True)).to_be_checked()
        start, end = Period("90d").bounds(zone("UTC")[0], datetime.now(UTC).date())
        want = count(app, "user_demo_bob", start, end,
                     " and status = 'completed' and coalesce(nullif(language, ''), 'english') = 'english'")
        assert metric_value(other, "Matching test calls") == want > 50
        assert rows_line(other).startswith(f"Rows 51–{min(100, want)} of {want:,}")
        assert rows_line(other) != alice_rows or want == metric_value(page, "Matching test calls")
    finally:
        other.context.close()


def test_the_period_follows_to_other_screens(page: Page) -> None:
    goto_signed_in(page, "/?period=7d")
    expect(page.get_by_text(re.compile(r"^Last 7 days \(.*\), Europe/Berlin$")).first).to_be_visible()
    open_screen(page, "Tests", "Tests")
    expect(page.get_by_role("radio", name="7 days", exact=True)).to_be_checked()
    assert params(page)["period"] == "7d"
