"""Helpers for the end-to-end browser tests (tests/test_e2e.py): start the real app, drive Streamlit.

Nothing here is a test.  The app runs as ``streamlit run dashboard/server.py`` in a subprocess on a
free loopback port, against a database of its own on the suite's PostgreSQL (migrated, seeded by
``lib.ops.demo``, dropped afterwards) and a credentials file in a temporary folder, with no file watcher (other people's edits must not rerun it) and an empty
secrets file (a developer's ``.streamlit/secrets.toml`` must not point it at a real database).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"

# Settings the app reads from the environment that must not leak in from the developer's shell.
_APP_SETTINGS = (
    "DATABASE_URL",
    "SUPABASE_URL",
    "SUPABASE_KEY",
    "SUPABASE_JWT_SECRET",
    "AUTH_MODE",
    "AUTH_CREDENTIALS_PATH",
    "AUTH_COOKIE_KEY",
    "AUTH_MAX_ATTEMPTS",
    "AUTH_LOCKOUT_SECONDS",
    "CLERK_JWT_KEY",
    "CLERK_JWKS_URL",
    "CACHE_TTL_SECONDS",
    "LIVE_REFRESH_SECONDS",
)


@dataclass(frozen=True)
class App:
    url: str
    log: Path  # the server's stdout and stderr
    database_url: str = ""  # for writes from outside the app (the web app, a call webhook)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_demo(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "lib.ops.demo", "--database-url", database_url],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")


def assert_no_tracebacks(app: App) -> None:
    """After a module's browser tests: the server never logged a traceback."""
    tracebacks = [line for line in app.log_text().splitlines() if "Traceback" in line]
    assert not tracebacks, f"the app logged tracebacks:\n{app.log_text()[-4000:]}"


@contextmanager
def checked_app(workdir: Path, server_url: str) -> Iterator[App]:
    """A browser test module's app: ``running_app`` (skipped without Chromium), checked for tracebacks
    when the module is done."""
    require_chromium()
    with running_app(workdir, server_url) as app:
        yield app
    assert_no_tracebacks(app)


@contextmanager
def running_app(workdir: Path, server_url: str, *, startup_timeout: float = 60.0) -> Iterator[App]:
    """The dashboard on a free loopback port over a new, seeded database on ``server_url``'s server
    (the suite's ``pg_url``), dropped when the app is done."""
    from tools.pgcluster import new_database

    with new_database(server_url, prefix="e2e") as database_url:
        seed_demo(database_url)
        with serving_app(workdir, database_url, startup_timeout=startup_timeout) as app:
            yield app


@contextmanager
def serving_app(
    workdir: Path,
    database_url: str,
    *,
    base_url_path: str = "",
    env: dict[str, str] | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[App]:
    """The dashboard on a free loopback port over ``database_url`` (already seeded), its credentials
    file and log in ``workdir``; ``base_url_path`` serves it under a prefix (as behind a proxy) and
    ``env`` adds settings.  ``App.url`` includes the prefix."""
    secrets = workdir / "secrets.toml"
    secrets.write_text("# empty: the test's environment decides every setting\n", encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k not in _APP_SETTINGS and not k.startswith("STREAMLIT_")}
    environ.update(
        DATABASE_URL=database_url,
        AUTH_CREDENTIALS_PATH=str(workdir / "credentials.yaml"),
        AUTH_MODE="local",
        LIVE_REFRESH_SECONDS="1",  # live screens check for new test calls every second
        PYTHONUNBUFFERED="1",
    )
    environ.update(env or {})
    port = free_port()
    url = f"http://127.0.0.1:{port}" + (f"/{base_url_path}" if base_url_path else "")
    log = workdir / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "dashboard/server.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--server.fileWatcherType",
                "none",
                "--server.runOnSave",
                "false",
                "--browser.gatherUsageStats",
                "false",
                "--secrets.files",
                str(secrets),
                "--server.baseUrlPath",
                base_url_path,
            ],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = App(url=url, log=log, database_url=database_url)
    try:
        deadline = time.monotonic() + startup_timeout
        while not _healthy(url):
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited with {proc.returncode}:\n{app.log_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not become healthy in {startup_timeout:.0f}s:\n{app.log_text()}")
            time.sleep(0.2)
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# -- driving Streamlit -----------------------------------------------------------------------------


def settle(page: Page, timeout: float = 30.0) -> None:
    """Wait until Streamlit has finished running: no status widget ("Running..."), no stale elements,
    and both stay so for a moment (a rerun may start just after the previous one ended)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    page.wait_for_timeout(150)  # let a just-sent widget change reach the server
    while quiet < 3:
        busy = page.evaluate(
            """() => !!document.querySelector('[data-testid="stStatusWidget"]')
                    || !!document.querySelector('[data-stale="true"]')
                    || !document.querySelector('[data-testid="stMain"], [data-testid="stAppViewContainer"]')"""
        )
        quiet = 0 if busy else quiet + 1
        if time.monotonic() > deadline:
            raise AssertionError("Streamlit did not finish running in time")
        page.wait_for_timeout(100)


def assert_no_exception(page: Page, where: str) -> None:
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        raise AssertionError(f"{where}: the page shows a Streamlit exception:\n{exceptions.first.inner_text()}")


def sidebar_link(page: Page, name: str):
    return page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True)


def open_screen(page: Page, link: str, title: str) -> None:
    sidebar_link(page, link).click()
    expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible(timeout=20_000)
    settle(page)
    assert_no_exception(page, link)


def screenshot(page: Page, name: str, viewport: dict[str, int] | None = None) -> Path:
    """A full-page PNG of the current screen in test-artifacts/screenshots/.

    Streamlit scrolls inside its main section, not the document, so the window is made as tall as
    the content for the shot (the width stays) and put back to ``viewport`` (default 1400x1000) afterwards.
    """
    viewport = viewport or VIEWPORT
    settle(page)
    assert_no_exception(page, name)
    page.mouse.move(viewport["width"] - 5, viewport["height"] - 5)  # no hover effects in the shot
    height = page.evaluate(
        """() => Math.max(...['[data-testid="stMain"]', '[data-testid="stSidebarContent"]']
                 .map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight), 0)"""
    )
    tall = max(viewport["height"], min(int(height), 6000))
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if tall != viewport["height"]:
            page.set_viewport_size({"width": viewport["width"], "height": tall})
            page.wait_for_timeout(400)  # charts re-lay out on resize
            settle(page)
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    finally:
        if tall != viewport["height"]:
            page.set_viewport_size(viewport)
    return path


def is_signed_in(page: Page) -> bool:
    return page.get_by_text("Signed in as", exact=True).count() > 0


def wait_for_gate(page: Page, timeout: float = 30.0) -> bool:
    """After a (re)load: True once the app shows a signed-in screen, False once it shows the sign-in
    form.  A "Page not found" dialog (a deep link while signed out) is closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dialog = page.get_by_role("dialog")
        if dialog.count() and dialog.get_by_text("Page not found").count():
            page.keyboard.press("Escape")
            with suppress(Exception):
                dialog.wait_for(state="hidden", timeout=3000)
        if is_signed_in(page):
            settle(page)
            return True
        if page.get_by_label("Username", exact=True).count() and page.locator("input[type=password]").count():
            settle(page)
            if is_signed_in(page):  # a re-login from the cookie finished meanwhile
                return True
            return False
        page.wait_for_timeout(100)
    raise AssertionError("neither the sign-in form nor a signed-in screen appeared")


def sign_in(page: Page, username: str, password: str, shown_name: str) -> None:
    """Fill the sign-in form (already shown and settled) and wait for the signed-in sidebar."""
    user_box = page.get_by_label("Username", exact=True)
    password_box = page.locator("input[type=password]")
    user_box.fill(username)
    password_box.fill(password)
    expect(user_box).to_have_value(username)
    expect(password_box).to_have_value(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    account = page.locator('[data-testid="stSidebar"]')
    expect(account.get_by_text("Signed in as", exact=True)).to_be_visible(timeout=30_000)
    expect(account.get_by_text(shown_name, exact=True)).to_be_visible()
    settle(page)
    assert_no_exception(page, f"after signing in as {username}")


def sign_out(page: Page) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name=re.compile("Sign out")).click()
    expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Signed in as", exact=True)).to_have_count(0)
    settle(page)


def download(page: Page, button_name: str, *, timeout: float = 30_000) -> bytes:
    """Click a download button and return the file's bytes."""
    with page.expect_download(timeout=timeout) as info:
        page.get_by_role("button", name=button_name, exact=True).click()
    path = info.value.path()
    return Path(path).read_bytes()


# -- the st.data_editor grid (glide-data-grid: a canvas, plus an accessibility table in the DOM) ----

ROW_HEIGHT = 35  # glide-data-grid's default row (and header) height in st.data_editor


def grid_cell(page: Page, column: int, row: int):
    """A visible cell of the grid's accessibility table; column 1 is the first data column."""
    return page.get_by_test_id(f"glide-cell-{column}-{row}")


def edit_text_cell(page: Page, x: float, y: float, value: str, *, column: int, row: int, tries: int = 3) -> None:
    """Edit the text cell at page coordinates (x, y) with the keyboard, as a person does: select it,
    Enter opens the editor, select all, type, Enter commits.

    The grid drops an edit committed in the same instant as the last keystroke, so there is a
    short pause before Enter; and the whole edit is retried if the cell does not show the value.
    """
    editor = page.locator("textarea.gdg-input")
    for attempt in range(1, tries + 1):
        page.mouse.click(x, y)
        page.keyboard.press("Enter")
        try:
            expect(editor).to_be_visible(timeout=3000)
            page.keyboard.press("ControlOrMeta+a")
            page.keyboard.type(value, delay=20)
            expect(editor).to_have_value(value)
            page.wait_for_timeout(300)
            page.keyboard.press("Enter")
            expect(editor).to_have_count(0, timeout=3000)
            expect(grid_cell(page, column, row)).to_have_text(value, timeout=3000)
            return
        except AssertionError:
            if attempt == tries:
                raise
            if editor.count():
                page.keyboard.press("Escape")
            settle(page)
