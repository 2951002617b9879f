"""In a real Chromium, at desktop (1400x900) and phone (390x844) sizes: the phone layout (the sidebar
closes after choosing a screen, compact cards, the Tests table in the first screenful), the subscription
banner, back-to-back downloads, and the chart and tests CSVs checked against the database.

Screenshots (test-artifacts/screenshots/): stats.png, stats-phone.png, tests-phone.png, billing-bob.png,
export.png.  ``UPDATE_DOC_SCREENSHOTS=1`` also copies stats.png to docs/screenshots/ (the README shows it).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Download, Page, expect

from tests.e2e_support import (
    DOC_SCREENSHOTS,
    App,
    assert_no_exception,
    checked_app,
    screenshot,
    settle,
    wait_for_gate,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with checked_app(tmp_path_factory.mktemp("e2e-polish"), pg_url) as running:
        yield running


def new_page(browser: Browser, app: App, viewport: dict[str, int]) -> Page:
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, accept_downloads=True, locale="en-US", timezone_id="UTC",
                                  base_url=app.url, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(20_000)
    return context.new_page()


@pytest.fixture
def desktop(browser: Browser, app: App) -> Iterator[Page]:
    page = new_page(browser, app, DESKTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser: Browser, app: App) -> Iterator[Page]:
    page = new_page(browser, app, PHONE)
    yield page
    page.context.close()


def sign_in(page: Page, username: str) -> None:
    """Sign in from the form (the sidebar may be closed, as on a phone) and wait for the Stats screen."""
    page.goto("/")
    assert not wait_for_gate(page), "a fresh browser must see the sign-in form"
    page.get_by_label("Username", exact=True).fill(username)
    page.locator("input[type=password]").fill("demo")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Stats", exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    assert_no_exception(page, f"after signing in as {username}")


def sidebar_open(page: Page) -> bool:
    """The sidebar covers part of the page: on screen, and wider than a sliver."""
    box = page.get_by_test_id("stSidebar").bounding_box()
    return bool(box and box["x"] + box["width"] > 10)


def go_to(page: Page, link: str, title: str) -> None:
    """Choose a screen in the sidebar (opening it with the menu button first when it is closed)."""
    if not sidebar_open(page):
        page.get_by_test_id("stExpandSidebarButton").click()
        expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
        page.wait_for_timeout(400)  # the slide-in
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=20_000)
    settle(page)
    assert_no_exception(page, link)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM), f"no UTF-8 BOM: {data[:20]!r}"
    return list(csv.reader(io.StringIO(data.decode("utf-8")[1:], newline="")))


def click_downloads(page: Page, *buttons) -> list[Download]:
    """Click each button right after the previous one (no wait in between) and collect the downloads."""
    got: list[Download] = []

    def arrived(download: Download) -> None:
        got.append(download)

    page.on("download", arrived)
    for button in buttons:
        button.click()
    deadline = 30_000
    while len(got) < len(buttons) and deadline > 0:
        page.wait_for_timeout(100)
        deadline -= 100
    page.remove_listener("download", arrived)
    assert len(got) == len(buttons), f"{len(got)} of {len(buttons)} downloads arrived: {[d.suggested_filename for d in got]}"
    return got


def by_name(downloads: list[Download]) -> dict[str, Download]:
    """Downloads by file name: back-to-back downloads may arrive in any order."""
    return {d.suggested_filename: d for d in downloads}


def last_days(days: int) -> tuple[datetime, datetime]:
    """The app's "30 days" preset: whole UTC days, today included (computed here, not by the app)."""
    today = datetime.now(UTC).date()
    return datetime.combine(today - timedelta(days=days - 1), time()), datetime.combine(today + timedelta(days=1), time())


# -- phone ----------------------------------------------------------------------------------------


def test_phone_sidebar_closes_after_choosing_a_screen(phone: Page) -> None:
    sign_in(phone, "alice")
    assert not sidebar_open(phone), "a phone starts with the sidebar closed"
    menu = phone.get_by_test_id("stExpandSidebarButton")
    expect(menu).to_be_visible()
    label = phone.evaluate("""() => getComputedStyle(
        document.querySelector('[data-testid="stExpandSidebarButton"]'), '::after').content""")
    assert label == '"Menu"', f"the menu button shows no word, only an icon: {label!r}"
    for link in ("Tests", "Billing", "Stats"):
        go_to(phone, link, link)
        phone.wait_for_timeout(600)  # the slide-out
        assert not sidebar_open(phone), f"the sidebar still covers the page after choosing {link}"
    # opening the menu on a screen is still possible, and it stays open until a screen is chosen
    phone.get_by_test_id("stExpandSidebarButton").click()
    phone.wait_for_timeout(600)
    settle(phone)
    assert sidebar_open(phone)


def test_phone_cards_are_compact_and_the_tests_table_is_near_the_top(phone: Page) -> None:
    sign_in(phone, "alice")
    cards = phone.locator(".st-key-kpis").get_by_test_id("stMetric")
    expect(cards.first).to_be_visible()
    n = cards.count()
    assert n >= 6, f"{n} metric cards on Stats"
    boxes = [cards.nth(i).bounding_box() for i in range(n)]
    rows = sorted({round(b["y"]) for b in boxes})
    assert len(rows) <= -(-n // 3), f"the {n} cards take {len(rows)} rows on a phone (three to a row expected)"
    assert max(b["y"] + b["height"] for b in boxes) < PHONE["height"] * 0.75, "the cards fill the first screen"
    screenshot(phone, "stats-phone", PHONE)

    go_to(phone, "Tests", "Tests")
    expect(phone.get_by_test_id("stDataFrame").first).to_be_visible()
    settle(phone)
    # how far down the page (not the viewport: Streamlit scrolls its main section) the first table starts
    top = phone.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        const table = document.querySelector('[data-testid="stDataFrame"]');
        return table.getBoundingClientRect().top + main.scrollTop; }""")
    assert top < PHONE["height"], f"the Tests table starts {top:.0f} px down, below the first screen"
    screenshot(phone, "tests-phone", PHONE)


# -- desktop --------------------------------------------------------------------------------------


def test_past_due_banner_and_billing(desktop: Page) -> None:
    sign_in(desktop, "bob")
    banner = "Your last payment failed. Your assistant service is paused: your assistants answer no calls."
    for link in ("Stats", "Intents", "Assistants", "Tests", "Export"):
        go_to(desktop, link, link)
        expect(desktop.get_by_text(banner, exact=True)).to_be_visible()
    desktop.locator(".st-key-subscription_banner").get_by_role("link", name="Billing").click()
    expect(desktop.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    settle(desktop)
    expect(desktop.get_by_text(banner, exact=True)).to_be_visible()  # the full notice: no promise without a link
    expect(desktop.get_by_text("Days left")).to_have_count(0)
    expect(desktop.locator(".st-key-subscription_banner")).to_have_count(0)  # not twice
    screenshot(desktop, "billing-bob", DESKTOP)


def test_stats_screenshot_and_chart_csv_matches_the_database(desktop: Page, app: App) -> None:
    sign_in(desktop, "alice")
    expect(desktop.locator(".js-plotly-plot")).to_have_count(4)
    shot = screenshot(desktop, "stats", DESKTOP)
    if os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOC_SCREENSHOTS / "stats.png")
    card = desktop.get_by_test_id("stVerticalBlock").filter(has=desktop.get_by_text("Tests by language", exact=True))
    got = by_name(click_downloads(
        desktop, card.last.get_by_role("button", name=re.compile("CSV")),
        desktop.get_by_test_id("stVerticalBlock").filter(has=desktop.get_by_text("Tests per assistant", exact=True))
        .last.get_by_role("button", name=re.compile("CSV"))))
    language, assistant = got["tests-by-language.csv"], got["tests-per-assistant.csv"]
    start, end = last_days(30)
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        langs = dict(conn.execute(sa.text(
            "select coalesce(nullif(language, ''), 'english'), count(*) from assistant_tests where user_id = :u "
            "and created_at >= :s and created_at < :e group by 1"), {"u": "user_demo_alice", "s": start, "e": end}).all())
        per_assistant = dict(conn.execute(sa.text(
            "select coalesce(a.name, t.assistant_id), count(*) from assistant_tests t left join assistants a "
            "on a.user_id = t.user_id and a.vapi_assistant_id = t.assistant_id where t.user_id = :u "
            "and t.created_at >= :s and t.created_at < :e group by 1"), {"u": "user_demo_alice", "s": start, "e": end}).all())
    engine.dispose()
    rows = read_csv(Path(language.path()).read_bytes())
    assert rows[0] == ["Language", "Tests"]
    assert {r[0].lower(): int(r[1]) for r in rows[1:]} == langs
    rows = read_csv(Path(assistant.path()).read_bytes())
    assert rows[0] == ["Assistant", "Tests"] and {r[0]: int(r[1]) for r in rows[1:]} == per_assistant


def test_back_to_back_downloads_both_arrive(desktop: Page, app: App) -> None:
    sign_in(desktop, "alice")
    go_to(desktop, "Export", "Export")
    expect(desktop.get_by_text(re.compile(r"^[\d,]+ rows, newest first"))).to_be_visible()  # test calls' preview
    screenshot(desktop, "export", DESKTOP)
    group = desktop.get_by_test_id("stRadio").filter(has=desktop.get_by_text("Table", exact=True))
    group.get_by_text("Intents", exact=True).click()
    expect(desktop.get_by_role("button", name="Download CSV", exact=True)).to_be_visible()
    settle(desktop)
    expect(desktop.get_by_text("12 rows", exact=True)).to_be_visible()
    got = by_name(click_downloads(desktop, *(desktop.get_by_role("button", name=f"Download {kind}", exact=True)
                                             for kind in ("CSV", "Excel", "Parquet"))))
    assert sorted(got) == ["intents.csv", "intents.parquet", "intents.xlsx"]  # in any order
    first = got["intents.csv"]
    assert read_csv(Path(first.path()).read_bytes())[0][:2] == ["id", "intent_name"]
    assert Path(got["intents.xlsx"].path()).read_bytes()[:2] == b"PK"
    assert Path(got["intents.parquet"].path()).read_bytes()[:4] == b"PAR1"
    # and once more, a moment later: the buttons still work after downloads
    again = click_downloads(desktop, desktop.get_by_role("button", name="Download CSV", exact=True),
                            desktop.get_by_role("button", name="Download CSV", exact=True))
    assert all(Path(d.path()).read_bytes() == Path(first.path()).read_bytes() for d in again)
    assert_clean_log(app)

    # the Tests screen: the prepared tests.csv, then a chart's CSV right after it
    go_to(desktop, "Tests", "Tests")
    prepare = desktop.get_by_role("button", name=re.compile(r"^Prepare CSV of [\d,]+ test calls$"))
    total = int(re.search(r"([\d,]+) test", prepare.inner_text()).group(1).replace(",", ""))
    prepare.click()
    download_tests = desktop.get_by_role("button", name=f"Download tests.csv ({total:,} rows)", exact=True)
    expect(download_tests).to_be_visible(timeout=30_000)
    settle(desktop)
    chart = desktop.get_by_test_id("stVerticalBlock").filter(has=desktop.get_by_text("Languages", exact=True)).last
    got = by_name(click_downloads(desktop, download_tests, chart.get_by_role("button", name=re.compile("CSV"))))
    tests, languages = got["tests.csv"], got["languages.csv"]
    rows = read_csv(Path(tests.path()).read_bytes())
    assert rows[0] == ["id", "assistant_id", "assistant_name", "test_phrase", "language", "call_id", "status",
                       "created_at", "updated_at"]
    start, end = last_days(30)
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        expected = conn.execute(sa.text(
            "select t.id, a.name from assistant_tests t left join assistants a on a.user_id = t.user_id and "
            "a.vapi_assistant_id = t.assistant_id where t.user_id = :u and t.created_at >= :s and t.created_at < :e "
            "order by t.created_at desc, t.id desc"), {"u": "user_demo_alice", "s": start, "e": end}).all()
    engine.dispose()
    assert len(rows) - 1 == total == len(expected)
    as_uuid = re.compile(r"^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$")
    assert [(r[0], r[2]) for r in rows[1:]] == [("-".join(as_uuid.match(str(i)).groups()), n or "") for i, n in expected]
    assert read_csv(Path(languages.path()).read_bytes())[0] == ["Language", "Tests"]
    assert_clean_log(app)


def assert_clean_log(app: App) -> None:
    """A download whose file id was replaced under the click is logged as MediaFileStorageError ("Deferred
    file ... not found") while the user sees nothing: there must be none."""
    log = app.log_text()
    assert "MediaFileStorageError" not in log and "Error executing deferred callable" not in log, log[-3000:]


def test_phone_banner_below_the_menu_no_gap_under_the_period_and_whole_labels(phone: Page) -> None:
    """Issue 20, item 11: the banner was clipped under the Menu bar, the period's caption had ~60 px of blank
    space under it (the empty From/To columns, stacked), and "Matching test c…" was cut."""
    sign_in(phone, "bob")
    banner = phone.locator(".st-key-subscription_banner")
    expect(banner).to_be_visible()
    header = phone.get_by_test_id("stHeader").bounding_box()
    top = banner.bounding_box()
    assert header and top and top["y"] >= header["y"] + header["height"], (top, header)
    caption = phone.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(r"^Last 30 days")).first
    cards = phone.locator(".st-key-kpis").first
    below, under = caption.bounding_box(), cards.bounding_box()
    assert below and under
    gap = under["y"] - (below["y"] + below["height"])
    assert gap <= 24, f"{gap:.0f} px of blank space under the period's caption"
    screenshot(phone, "stats-bob-phone", PHONE)
    go_to(phone, "Tests", "Tests")
    labels = phone.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
        .map(l => [l.innerText, [l, ...l.querySelectorAll('div, p')].some(e => e.scrollWidth > e.clientWidth)])""")
    assert any(text == "Matching test calls" for text, _cut in labels), labels
    cut = [text for text, is_cut in labels if is_cut]
    assert not cut, f"metric labels cut: {cut}"
    screenshot(phone, "tests-bob-phone", PHONE)
