"""One clock (issue 20, item 2), in a real Chromium on the real app: the same calls seen from Moscow and from Los
Angeles.  Each browser's totals, per-day chart and table rows agree with the calls counted here in SQL by the local
day of that zone (`at time zone`), the chart has no day outside the period, the Tests table shows local times, and
the zone is named in the period's caption.  Screenshots in English and Russian, desktop and phone."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from tests.e2e_support import (
    VIEWPORT,
    App,
    assert_no_exception,
    checked_app,
    screenshot,
    settle,
    sign_in,
    wait_for_gate,
)

pytestmark = pytest.mark.browser
USER = "user_demo_alice"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}
MOSCOW, LOS_ANGELES = "Europe/Moscow", "America/Los_Angeles"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def utc(day: date, clock: time, zone: str) -> datetime:
    """A local wall-clock time in ``zone`` as a naive UTC instant (how the calls are stored)."""
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def today_in(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with checked_app(tmp_path_factory.mktemp("e2e-clock"), pg_url) as running:
        # calls a few minutes either side of local midnight in both zones, in the last days and this very minute:
        # where a UTC-day chart and a local-day one disagree
        rows = []
        for zone in (MOSCOW, LOS_ANGELES):
            for back in range(1, 5):
                day = today_in(zone) - timedelta(days=back)
                for clock, status in ((time(23, 55), "completed"), (time(0, 5), "failed"), (time(0, 1), "completed")):
                    when = utc(day if clock.hour else day + timedelta(days=1), clock, zone)
                    rows.append({"id": str(uuid.uuid4()), "user_id": USER, "assistant_id": "asst_clock_test",
                                 "test_phrase": "near midnight", "language": "english", "status": status,
                                 "call_id": f"clock_{len(rows)}", "created_at": when, "updated_at": when})
        engine = sa.create_engine(running.database_url)
        with engine.begin() as conn:
            conn.execute(sa.text("insert into assistant_tests (id, user_id, assistant_id, test_phrase, language, status, "
                                 "call_id, created_at, updated_at) values (:id, :user_id, :assistant_id, :test_phrase, "
                                 ":language, :status, :call_id, :created_at, :updated_at)"), rows)
        engine.dispose()
        yield running


def new_page(browser: Browser, app: App, zone: str, viewport: dict[str, int] = DESKTOP) -> Page:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id=zone, base_url=app.url)
    context.set_default_timeout(20_000)
    return context.new_page()


def goto_signed_in(page: Page, path: str) -> None:
    page.goto(path)
    if not wait_for_gate(page):
        sign_in(page, "alice", "demo", "Alice")
        page.goto(path)
        wait_for_gate(page)
    settle(page)
    assert_no_exception(page, path)


def by_local_day(app: App, zone: str, days: int) -> tuple[dict[date, int], list[datetime]]:
    """The user's calls of the last ``days`` local days in ``zone`` (today included), counted here by local day,
    and the newest five calls' times."""
    today = today_in(zone)
    start, end = utc(today - timedelta(days=days - 1), time(), zone), utc(today + timedelta(days=1), time(), zone)
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        counted = dict(conn.execute(sa.text(
            "select (created_at at time zone 'UTC' at time zone :z)::date, count(*) from assistant_tests "
            "where user_id = :u and created_at >= :s and created_at < :e group by 1"),
            {"z": zone, "u": USER, "s": start, "e": end}).all())
        newest = [r[0] for r in conn.execute(sa.text(
            "select created_at from assistant_tests where user_id = :u and created_at >= :s and created_at < :e "
            "order by created_at desc, id desc limit 5"), {"u": USER, "s": start, "e": end})]
    engine.dispose()
    return counted, newest


def metric(page: Page, label: str) -> int:
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True))
    return int(re.sub(r"[^\d]", "", card.get_by_test_id("stMetricValue").first.inner_text()))


def chart_days(page: Page) -> dict[date, int]:
    """The first chart's (Tests per day / Status over time) bars, summed over statuses, as the browser holds them."""
    traces = page.locator(".js-plotly-plot").first.evaluate(
        "gd => gd.data.map(t => [Array.from(t.x, String), Array.from(t.y, Number)])")
    days: dict[date, int] = {}
    for xs, ys in traces:
        for x, y in zip(xs, ys, strict=True):
            day = date.fromisoformat(x[:10])
            days[day] = days.get(day, 0) + y
    return days


def shown(dt: datetime, zone: str) -> str:
    """How the English screen writes a stored (UTC) time in ``zone``: Nov 25, 2026, 07:40 (written here)."""
    local = dt.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(zone))
    return f"{MONTHS[local.month - 1]} {local.day}, {local.year}, {local:%H:%M}"


@pytest.mark.parametrize("zone", [MOSCOW, LOS_ANGELES])
def test_totals_chart_days_and_table_rows_agree_with_local_days(browser: Browser, app: App, zone: str) -> None:
    counted, newest = by_local_day(app, zone, 7)
    total = sum(counted.values())
    first_day = today_in(zone) - timedelta(days=6)
    page = new_page(browser, app, zone)
    try:
        goto_signed_in(page, "/stats?period=7d")
        expect(page.get_by_text(re.compile(rf"^Last 7 days \(.*\), {zone}$")).first).to_be_visible()
        assert metric(page, "Tests") == total
        days = chart_days(page)
        assert days == {d: n for d, n in counted.items() if n}, "the chart's days are the local days"
        assert min(days) >= first_day, "no stub bar dated before the period"
        screenshot(page, f"clock-stats-{zone.split('/')[1].lower()}")

        goto_signed_in(page, "/tests?period=7d")
        expect(page.get_by_text(re.compile(rf"^Last 7 days \(.*\), {zone}$")).first).to_be_visible()
        assert metric(page, "Matching test calls") == total
        assert chart_days(page) == days  # Status over time: the same local days
        table = page.get_by_test_id("stDataFrame").first
        for row, when in enumerate(newest):
            expect(table.get_by_test_id(f"glide-cell-1-{row}")).to_have_text(shown(when, zone))
        expect(page.get_by_text("UTC", exact=False)).to_have_count(0)  # no other clock on the screen
        screenshot(page, f"clock-tests-{zone.split('/')[1].lower()}")
    finally:
        page.context.close()


def test_moscow_and_los_angeles_see_the_same_calls_on_different_days(app: App) -> None:
    """The premise of the test above: the calls near midnight fall on different local days in the two zones."""
    moscow, _ = by_local_day(app, MOSCOW, 7)
    angeles, _ = by_local_day(app, LOS_ANGELES, 7)
    assert moscow != angeles


@pytest.mark.parametrize(("language", "viewport"), [("en", DESKTOP), ("ru", DESKTOP), ("en", PHONE), ("ru", PHONE)])
def test_screens_in_one_date_family(browser: Browser, app: App, language: str, viewport: dict[str, int]) -> None:
    """Stats, Tests (with a call's details), Intents (Updated, History) and Billing in Moscow time: screenshots to
    judge; every time shown is in the app's one family (no ISO, no UTC)."""
    page = new_page(browser, app, MOSCOW, viewport)
    size = "phone" if viewport is PHONE else "desktop"
    try:
        goto_signed_in(page, "/stats?lang=en")  # the sign-in form in English
        for path in ("stats", "tests", "intents", "billing"):
            page.goto(f"/{path}?lang={language}")
            expect(page.locator("[data-testid='stSidebar']").get_by_text("Alice", exact=True)).to_be_visible(
                timeout=30_000)
            expect(page.locator("h1").first).to_be_visible()
            settle(page)
            assert_no_exception(page, path)
            body = page.locator("[data-testid='stMain']").inner_text()
            assert not re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", body), f"{path}: an ISO time on screen"
            assert "UTC" not in body, f"{path}: a time named UTC in Moscow"
            if path == "stats" and viewport is DESKTOP:  # a bar's hover names its day in the family's form too
                chart = page.locator(".js-plotly-plot").first
                chart.scroll_into_view_if_needed()
                box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
                page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.9)
                day = (r"\d{1,2} (янв|февр|мар|апр|мая|июн|июл|авг|сент|окт|нояб|дек)\. 20\d\d" if language == "ru"
                       else r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}, 20\d\d")
                expect(page.locator(".hoverlayer").first).to_contain_text(re.compile(day))
            screenshot(page, f"clock-{path}-{language}-{size}", viewport if viewport is PHONE else VIEWPORT)
    finally:
        page.context.close()
