"""The Prometheus endpoint: scraped before and after a browser journey, its counters moved by what the
journey did; and the shipped nginx configuration does not pass it through.

The journey: a refused sign-in, alice's sign-in, Stats, Tests, Stats again (same period: served from the
cache), an export of her test calls prepared.  Expected movements come from the journey itself (screens
visited, a wrong password typed once, nothing saved), not from the code under test.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from prometheus_client.parser import text_string_to_metric_families

from deploy.nginx_conf import ProxySite, render_site
from tests.e2e_support import (
    VIEWPORT,
    App,
    checked_app,
    open_screen,
    settle,
    sign_in,
    wait_for_gate,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def root(app: App) -> str:
    return app.url  # served without a base URL path: /metrics is at the app's root


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with checked_app(tmp_path_factory.mktemp("metrics-app"), pg_url) as running:
        yield running


@pytest.fixture
def page(browser: Browser, app: App) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-US", timezone_id="UTC",
                                  base_url=app.url)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    yield pg
    context.close()


def test_a_journey_moves_the_counters(app: App, page: Page) -> None:
    url = f"{root(app)}/metrics"
    before = scrape(url)

    page.goto("/")
    assert not wait_for_gate(page)
    page.get_by_label("Username", exact=True).fill("alice")
    page.locator("input[type=password]").fill("not her password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="wrong username or password")).to_be_visible()  # the refusal is shown
    settle(page)
    sign_in(page, "alice", "demo", "Alice")  # lands on Stats
    open_screen(page, "Tests", "Tests")
    open_screen(page, "Stats", "Stats")  # the same period again: served from the cache
    during = scrape(url)
    open_screen(page, "Export", "Export")
    page.get_by_role("button", name=re.compile(r"^Prepare CSV of ")).click()
    expect(page.get_by_role("button", name=re.compile(r"^Download tests\.csv"))).to_be_visible(timeout=60_000)
    settle(page)
    after = scrape(url)

    assert moved(before, after, "dashboard_signin_failures_total", mode="local") == 1
    for screen, visits in (("stats", 2), ("tests", 1)):
        assert moved(before, after, "dashboard_render_seconds_count", screen=screen) >= visits, screen
        assert moved(before, after, "dashboard_render_cpu_seconds_count", screen=screen) >= visits, screen
        assert moved(before, after, "dashboard_render_cpu_seconds_sum", screen=screen) > 0, screen
    assert moved(before, after, "dashboard_render_seconds_count", screen="intents") == 0  # never opened
    assert moved(before, after, "dashboard_db_call_seconds_count", function="dashboard_versions",
                 transport="postgresql") >= 3  # one check per render
    assert moved(before, after, "dashboard_db_call_seconds_count", function="dashboard_stats",
                 transport="postgresql") >= 1
    assert moved(before, after, "dashboard_db_call_seconds_count", function="dashboard_save_intents",
                 transport="postgresql") == 0  # nothing was saved
    assert moved(before, after, "dashboard_cache_lookups_total", read="stats", result="miss") >= 1
    assert moved(before, during, "dashboard_cache_lookups_total", read="stats", result="hit") >= 1  # the revisit
    assert value(during, "dashboard_active_sessions") >= 1
    assert moved(before, after, "dashboard_errors_total", where="screen", kind="NotLoaded") == 0
    assert ("dashboard_exports_in_flight", ()) in after and value(after, "dashboard_exports_in_flight") == 0  # released


def test_the_shipped_nginx_config_does_not_expose_metrics() -> None:
    """The rendered site answers /metrics itself (404), at the root and under the prefix; no location
    passes it to a replica."""
    for web_app in (None, "http://127.0.0.1:3000"):
        conf = render_site(ProxySite(replicas=("127.0.0.1:8501", "127.0.0.1:8502"), web_app=web_app))
        for path in ("/metrics", "/dashboard/metrics"):
            head = f"location = {path} {{"
            assert head in conf, f"{path} is not answered by nginx itself"
            block = conf.split(head, 1)[1].split("}", 1)[0]
            assert "return 404;" in block and "proxy_pass" not in block


def test_metrics_never_reach_the_public_through_nginx(app: App, tmp_path: Path) -> None:
    """A real nginx with the shipped configuration in front of the app: /metrics answers 404 through it
    (at the root and under the prefix), while the app's own port serves the metrics."""
    from tests.test_replicas import fetch, running_nginx

    assert b"dashboard_render_seconds" in urllib.request.urlopen(f"{root(app)}/metrics", timeout=10).read()
    address = app.url.split("//", 1)[1]
    with running_nginx((address,)) as proxy:
        for path in ("/metrics", "/dashboard/metrics"):
            reply = fetch(f"{proxy.origin}{path}")
            assert reply.status == 404, (path, reply.status)
            assert b"dashboard_render_seconds" not in reply.body
