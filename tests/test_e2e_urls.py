"""End to end, in a real Chromium: every screen's URL works, signed out, signed in, and after a reload.

A bookmark of any screen (``/stats`` included), ``/`` and an unknown path never show Streamlit's
"Page not found" dialog: signed out they ask to sign in and then show the screen that was asked for,
query string kept; signed in (the re-login cookie) they show that screen at once; an unknown path
shows Stats.  A MutationObserver installed before the page's own scripts records whether the dialog
ever appeared, even for a moment.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import Browser, BrowserContext, Page, expect

from lib.screens.urlstate import VIEW_KEYS
from tests.e2e_support import (
    ROW_HEIGHT,
    VIEWPORT,
    App,
    assert_no_exception,
    assert_no_tracebacks,
    checked_app,
    edit_text_cell,
    grid_cell,
    screenshot,
    serving_app,
    settle,
    sign_in,
    wait_for_gate,
)

pytestmark = pytest.mark.browser

HEADINGS = {  # url path -> the screen's heading
    "stats": "Stats",
    "intents": "Intents",
    "assistants": "Assistants",
    "tests": "Tests",
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
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with checked_app(tmp_path_factory.mktemp("e2e-urls"), pg_url) as running:
        yield running


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
    # Every parameter asked for is kept; the screen may add its view's canonical ones (period=30d...).
    kept = urllib.parse.parse_qsl(page.url.partition("?")[2])
    assert all(pair in kept for pair in urllib.parse.parse_qsl(query)), page.url
    assert all(key in VIEW_KEYS for key, _ in set(kept) - set(urllib.parse.parse_qsl(query))), page.url


def url_path(page: Page) -> str:
    return page.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


@pytest.mark.parametrize("asked, shown", [
    ("/stats?period=7d", "stats"),  # the default screen's own path
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
        screenshot(page, "url-signed-out-stats")


def test_every_screen_url_opens_in_a_new_tab_when_signed_in(context: BrowserContext) -> None:
    first = context.new_page()
    first.goto("/")
    assert wait_for_gate(first) is False
    sign_in(first, "alice", "demo", "Alice")
    expect_screen(first, "stats")  # "/" signs in to the default screen
    assert any(c["name"] == "voice_dashboard_auth" for c in context.cookies()), "no re-login cookie"
    for path in ["stats", "assistants", "billing", "export", "", "no-such-screen"]:
        tab = context.new_page()
        tab.goto(f"/{path}?ref=bookmark")
        assert wait_for_gate(tab) is True, f"/{path}: not signed in from the cookie"
        expect_screen(tab, path if path in HEADINGS else "stats", "ref=bookmark")
        if path in HEADINGS:
            assert url_path(tab) == path
        if path == "stats":
            screenshot(tab, "url-bookmark-stats")
        tab.close()


def test_the_root_and_an_unknown_path_open_with_the_default_period(context: BrowserContext) -> None:
    """Issue 20: an unknown path opened Stats on 7 days (the radio drawn afresh showed its first option and
    then sent it), while "/" showed 30; right after signing in the radio said 7 days beside a 30-day label."""
    first = context.new_page()
    first.goto("/")
    if not wait_for_gate(first):
        sign_in(first, "alice", "demo", "Alice")
    for page in (first, context.new_page()):
        if page is not first:
            page.goto("/no-such-screen")
            assert wait_for_gate(page) is True
        settle(page)
        page.wait_for_timeout(1500)  # a late rerun (the sign-in cookie, the live refresh) would send the radio's value
        settle(page)
        checked = page.get_by_test_id("stRadio").first.get_by_role("radio", name="30 days", exact=True)
        expect(checked).to_be_checked()
        expect(page.get_by_text(re.compile(r"^Last 30 days \("))).to_be_visible()
        assert "period=30d" in page.url, page.url


def test_a_reload_keeps_the_screen_and_its_query(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/tests?period=all&status=failed&ref=hello")  # signed out: sign in, then this very screen
    assert wait_for_gate(page) is False
    sign_in(page, "alice", "demo", "Alice")
    expect_screen(page, "tests", "period=all&status=failed&ref=hello")
    page.goto("/intents?q=greet")
    assert wait_for_gate(page) is True
    page.reload()
    assert wait_for_gate(page) is True
    expect_screen(page, "intents", "q=greet")
    assert url_path(page) == "intents"


# -- the sign-in card ---------------------------------------------------------------------------------

LOCKOUT = re.compile(r"Too many failed sign-in attempts\. Try again in (\d+) seconds?\.")


def lockout_seconds(page: Page) -> int:
    message = page.get_by_text(LOCKOUT)
    expect(message).to_be_visible(timeout=20_000)
    found = LOCKOUT.search(message.inner_text())
    assert found, message.inner_text()
    return int(found.group(1))


def submit(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    settle(page)


def test_the_sign_in_card_as_a_new_user_meets_it(context: BrowserContext, app: App) -> None:
    page = context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto("/")
    assert wait_for_gate(page) is False
    # the favicon is the app's own, not a font CDN's; the cookie component takes no room above the card
    icons = page.evaluate("() => [...document.querySelectorAll('link[rel*=icon]')].map(l => l.href)")
    assert icons and all(i.startswith(app.url) for i in icons), icons
    heights = page.evaluate("""() => [...document.querySelectorAll('iframe')]
        .map(f => f.closest('[data-testid="stElementContainer"], .stElementContainer').getBoundingClientRect().height)""")
    assert heights and all(h == 0 for h in heights), heights
    assert not [u for u in failed if "gstatic" in u or "googleapis" in u]
    # an empty form says what is missing
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Enter your username and password to sign in.")).to_be_visible()
    # five wrong passwords: the wait, counting down live
    for _ in range(5):
        submit(page, "dora", "wrong")
    first = lockout_seconds(page)
    assert 55 <= first <= 60
    page.wait_for_timeout(2500)
    assert lockout_seconds(page) <= first - 2
    screenshot(page, "signin-lockout")
    # a reload does not start a fresh count: the same account is still refused, mid-countdown
    page.reload()
    assert wait_for_gate(page) is False
    submit(page, "dora", "wrong")
    assert lockout_seconds(page) <= first - 2


# -- Clerk mode: the round trip to the sign-in page ---------------------------------------------------

USER = "user_demo_alice"  # the demo data's alice


class StubSignIn:
    """A stand-in for Clerk's sign-in page on loopback: records each ``redirect_url`` it is sent, then
    sends the browser back there, with a fresh ``__session`` cookie when ``give_token`` is set (a
    cookie of 127.0.0.1 reaches the dashboard on its own port: same site, as with Clerk)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        self.give_token = True
        self.lifetime = 60
        self.redirects: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                back = query.get("redirect_url", [""])[0]
                stub.redirects.append(back)
                self.send_response(302)
                if stub.give_token:
                    self.send_header("Set-Cookie", f"__session={stub.token()}; Path=/; SameSite=Lax")
                self.send_header("Location", back or "about:blank")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sign-in"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, *, lifetime: float | None = None) -> str:
        now = int(time.time())
        exp = now + int(self.lifetime if lifetime is None else lifetime)
        return jwt.encode({"sub": USER, "name": "Alice", "iat": now, "nbf": now - 1, "exp": exp}, self.key,
                          algorithm="RS256")


@pytest.fixture(scope="module")
def clerk_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def stub(clerk_key: rsa.RSAPrivateKey) -> Iterator[StubSignIn]:
    server = StubSignIn(clerk_key)
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def clerk_app(tmp_path_factory: pytest.TempPathFactory, clerk_key: rsa.RSAPrivateKey, stub: StubSignIn,
              app: App) -> Iterator[App]:
    pem = clerk_key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    env = {"AUTH_MODE": "clerk", "CLERK_JWT_KEY": pem, "CLERK_SIGN_IN_URL": stub.url, "CLERK_LEEWAY_SECONDS": "0"}
    with serving_app(tmp_path_factory.mktemp("e2e-clerk"), app.database_url, env=env) as running:
        yield running
    assert_no_tracebacks(running)


@pytest.fixture
def clerk_context(browser: Browser, clerk_app: App, stub: StubSignIn) -> Iterator[BrowserContext]:
    stub.redirects.clear()
    stub.give_token = True
    stub.lifetime = 60
    ctx = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC", base_url=clerk_app.url)
    ctx.set_default_timeout(20_000)
    ctx.add_init_script(WATCH_NOT_FOUND)
    yield ctx
    ctx.close()


def expect_signed_in(page: Page) -> None:
    expect(page.locator('[data-testid="stSidebar"]').get_by_text("Signed in as", exact=True)).to_be_visible(
        timeout=30_000)


def test_an_expired_clerk_token_makes_one_round_trip_back_to_the_exact_url(
        clerk_context: BrowserContext, clerk_app: App, stub: StubSignIn) -> None:
    clerk_context.add_cookies([{"name": "__session", "value": stub.token(lifetime=-120), "url": clerk_app.url}])
    page = clerk_context.new_page()
    asked = "/intents?search=greet&tag=a&tag=b"
    page.goto(asked)
    expect_signed_in(page)
    expect_screen(page, "intents", asked.partition("?")[2])
    assert url_path(page) == "intents"
    assert stub.redirects == [clerk_app.url + asked]
    screenshot(page, "clerk-round-trip")


def test_a_round_trip_that_brings_no_token_shows_the_card_with_the_reason(
        clerk_context: BrowserContext, clerk_app: App, stub: StubSignIn) -> None:
    stub.give_token = False
    page = clerk_context.new_page()
    page.goto("/tests?page=2")
    card = page.get_by_text("Reason: no token", exact=True)
    expect(card).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Signing in did not bring back a valid session.")).to_be_visible()
    page.wait_for_timeout(1500)  # no second trip
    assert stub.redirects == [clerk_app.url + "/tests?page=2"]
    assert page.url == clerk_app.url + "/tests?page=2"
    assert page.evaluate("window.__pageNotFound") is False
    link = page.get_by_role("link", name=re.compile("Sign in")).first.get_attribute("href")
    assert link and urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["redirect_url"] == [
        clerk_app.url + "/tests?page=2"]
    screenshot(page, "clerk-round-trip-failed")


def test_the_session_ends_with_the_token_and_is_verified_again(
        clerk_context: BrowserContext, clerk_app: App, stub: StubSignIn) -> None:
    stub.lifetime = 2  # the round trip's token lives 2 s
    page = clerk_context.new_page()
    page.goto("/billing")
    expect_signed_in(page)
    expect_screen(page, "billing")
    assert len(stub.redirects) == 1
    stub.lifetime = 60
    page.wait_for_timeout(2500)
    page.get_by_role("heading", name="Billing", exact=True).first.click()  # focus the page, not an input
    page.keyboard.press("r")  # Streamlit's rerun shortcut: the next run finds the identity expired
    expect(page).to_have_url(clerk_app.url + "/billing", timeout=30_000)
    deadline = time.monotonic() + 30
    while len(stub.redirects) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert stub.redirects == [clerk_app.url + "/billing"] * 2
    expect_signed_in(page)
    expect_screen(page, "billing")


# -- Clerk mode: past the token's expiry, the browser's fresh cookie keeps the page (no reload) ------

PENDING = "Unsaved: 0 new, 1 changed, 0 to delete"


def intents_with_a_pending_edit(page: Page, stub: StubSignIn, lifetime: int) -> float:
    """Signed in (one round trip) with a token living ``lifetime`` s, on Intents with an unsaved edit
    (held only in the Streamlit session) and a marker in the window that a reload would wipe; the
    token's expiry."""
    stub.lifetime = lifetime
    page.goto("/intents")
    expect_signed_in(page)
    expect_screen(page, "intents")
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    assert box
    edit_text_cell(page, box["x"] + 70, box["y"] + ROW_HEIGHT * 1.5, "pending_rename", column=1, row=0)
    expect(page.get_by_text(PENDING, exact=True)).to_be_visible()
    settle(page)
    page.evaluate("""() => {
        window.__samePage = true;  // a reload or a navigation wipes it
        window.__cookieReader = false;  // the cookie component asked for the browser's __session
        new MutationObserver(() => {
            if (document.querySelector("iframe[title*='cookie_manager']")) window.__cookieReader = true;
        }).observe(document, {subtree: true, childList: true});
    }""")
    assert len(stub.redirects) == 1
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "__session")
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert time.time() < expires - 1, "the edit took longer than the token lived: raise the lifetime"
    return expires


def rerun(page: Page) -> None:
    """What any click does: a run of the script (Streamlit's rerun shortcut, the grid left alone)."""
    page.keyboard.press("Escape")  # the grid keeps the keyboard while a cell is selected
    page.get_by_text("What callers say", exact=False).first.click()
    page.keyboard.press("r")


def test_a_fresh_session_cookie_renews_the_expired_identity_without_a_reload(
        clerk_context: BrowserContext, clerk_app: App, stub: StubSignIn) -> None:
    page = clerk_context.new_page()
    expires = intents_with_a_pending_edit(page, stub, lifetime=15)
    # Clerk's JS refreshes __session (a JavaScript-readable cookie of the same site) every minute
    clerk_context.add_cookies([{"name": "__session", "value": stub.token(lifetime=60), "url": clerk_app.url}])
    page.wait_for_timeout(max(0.0, expires - time.time() + 1) * 1000)
    rerun(page)
    page.wait_for_timeout(1500)  # the cookie component's answer and the run it starts
    settle(page)
    # past the wait for the browser's answer: a session still waiting would now make the round trip
    page.wait_for_timeout(11_000)
    rerun(page)
    page.wait_for_timeout(1500)
    settle(page)
    assert stub.redirects == [clerk_app.url + "/intents"], "the expired identity was re-verified by a round trip"
    assert page.evaluate("window.__samePage") is True, "the page reloaded"
    assert page.evaluate("window.__cookieReader") is True, "the browser's cookie was never read"
    expect_signed_in(page)
    expect(page.get_by_text(PENDING, exact=True)).to_be_visible()
    expect(grid_cell(page, 1, 0)).to_have_text("pending_rename")
    assert_no_exception(page, "intents after the renewal")
    screenshot(page, "clerk-renewed-in-place")


def test_without_a_fresh_session_cookie_the_expired_identity_makes_the_round_trip(
        clerk_context: BrowserContext, clerk_app: App, stub: StubSignIn) -> None:
    page = clerk_context.new_page()
    expires = intents_with_a_pending_edit(page, stub, lifetime=15)
    stub.lifetime = 60
    page.wait_for_timeout(max(0.0, expires - time.time() + 1) * 1000)
    rerun(page)
    deadline = time.monotonic() + 30
    while len(stub.redirects) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert stub.redirects == [clerk_app.url + "/intents"] * 2
    expect_signed_in(page)
    expect_screen(page, "intents")
    assert page.evaluate("window.__samePage") is None  # a new page: the session and its edit are gone
    expect(page.get_by_text("No unsaved changes.", exact=True)).to_be_visible()
