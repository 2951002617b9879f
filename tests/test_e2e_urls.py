"""End to end, in a real Chromium: every screen's URL works, signed out, signed in, and after a reload.

A bookmark of any screen (``/stats`` included), ``/`` and an unknown path never show Streamlit's
"Page not found" dialog: signed out they ask to sign in and then show the screen that was asked for,
query string kept; signed in (the re-login cookie) they show that screen at once; an unknown path
shows Stats.  A MutationObserver installed before the page's own scripts records whether the dialog
ever appeared, even for a moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    App,
    assert_no_exception,
    running_app,
    screenshot,
    settle,
    sign_in,
    wait_for_gate,
)

pytestmark = pytest.mark.browser

HEADINGS = {  # url path -> the screen's heading
    "stats": "Overview",
    "intents": "Intents",
    "assistants": "Assistants",
    "tests": "Test calls",
    "billing": "Billing",
    "export": "Export",
}
WATCH_NOT_FOUND = """
window.__pageNotFound = false;
new MutationObserver(() => {
    for (const d of document.querySelectorAll('[role="dialog"]')) {
        if (d.textContent.includes('Page not found')) window.__pageNotFound = true;
    }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with running_app(tmp_path_factory.mktemp("e2e-urls")) as running:
        yield running
    tracebacks = [line for line in running.log_text().splitlines() if "Traceback" in line]
    assert not tracebacks, f"the app logged tracebacks:\n{running.log_text()[-4000:]}"


@pytest.fixture(scope="module")
def browser(app: App) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser, app: App) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test, watching for the "Page not found" dialog."""
    ctx = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC", base_url=app.url)
    ctx.set_default_timeout(20_000)
    ctx.add_init_script(WATCH_NOT_FOUND)
    yield ctx
    ctx.close()


def expect_screen(page: Page, path: str, query: str = "") -> None:
    """The screen of ``path`` is shown at its own URL, query kept, and no dialog ever appeared."""
    expect(page.get_by_role("heading", name=HEADINGS[path], exact=True).first).to_be_visible(timeout=20_000)
    settle(page)
    assert_no_exception(page, path)
    assert page.evaluate("window.__pageNotFound") is False, f"/{path}: the 'Page not found' dialog appeared"
    assert page.url.split("?", 1)[1:] == ([query] if query else []), page.url


def url_path(page: Page) -> str:
    return page.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


@pytest.mark.parametrize("asked, shown", [
    ("/stats?period=7d&language=english&language=russian", "stats"),
    ("/tests?page=3&search=hello", "tests"),
    ("/billing", "billing"),
    ("/", "stats"),
    ("/no-such-screen?period=30d", "stats"),
])
def test_a_bookmark_while_signed_out_signs_in_to_the_screen_asked_for(context: BrowserContext, asked: str,
                                                                      shown: str) -> None:
    page = context.new_page()
    page.goto(asked)
    assert wait_for_gate(page) is False
    assert page.evaluate("window.__pageNotFound") is False, f"{asked}: 'Page not found' over the sign-in form"
    sign_in(page, "alice", "demo", "Alice")
    expect_screen(page, shown, asked.partition("?")[2])
    if asked.startswith("/stats"):
        assert url_path(page) == "stats"
    screenshot(page, f"url-signed-out-{shown}")


def test_every_screen_url_opens_in_a_new_tab_when_signed_in(context: BrowserContext) -> None:
    first = context.new_page()
    first.goto("/")
    assert wait_for_gate(first) is False
    sign_in(first, "alice", "demo", "Alice")
    assert any(c["name"] == "voice_dashboard_auth" for c in context.cookies()), "no re-login cookie"
    for path in [*HEADINGS, "", "no-such-screen"]:
        tab = context.new_page()
        tab.goto(f"/{path}?from=bookmark")
        assert wait_for_gate(tab) is True, f"/{path}: not signed in from the cookie"
        expect_screen(tab, path if path in HEADINGS else "stats", "from=bookmark")
        if path in HEADINGS:
            assert url_path(tab) == path
        if path == "stats":
            screenshot(tab, "url-bookmark-stats")
        tab.close()


def test_a_reload_keeps_the_screen_and_its_query(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/intents?search=greet")
    assert wait_for_gate(page) is False
    sign_in(page, "alice", "demo", "Alice")
    expect_screen(page, "intents", "search=greet")
    for path in ("intents", "stats"):
        page.goto(f"/{path}?search=greet")
        assert wait_for_gate(page) is True
        page.reload()
        assert wait_for_gate(page) is True
        expect_screen(page, path, "search=greet")
        assert url_path(page) == path
