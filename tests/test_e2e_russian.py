"""The dashboard in Russian, in a real Chromium whose language is ru-RU: the sign-in card and every screen
at desktop (1400x900) and phone (390x844) sizes, for users with data (alice; carol, without a subscription) and
one without any (bob, emptied first: every empty state, and his past-due subscription's banner),
show no English UI word and no English-formatted number; the EN/RU switch flips the language at once
without losing an unsaved grid edit, is remembered by a cookie, and ``?lang=`` wins.

Screenshots (test-artifacts/screenshots/): ru-<user>-<screen>-<desktop|phone>.png, ru-signin-*.png.
``UPDATE_DOC_SCREENSHOTS=1`` also copies ru-alice-stats-desktop.png to docs/screenshots/stats-ru.png.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from tests.e2e_support import DOC_SCREENSHOTS, App, assert_no_exception, checked_app, screenshot, settle

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENS = {"stats": "Статистика", "intents": "Интенты", "assistants": "Ассистенты", "tests": "Тесты",
           "billing": "Оплата", "export": "Экспорт"}
USERS = {"alice": "user_demo_alice", "carol": "user_demo_carol", "bob": "user_demo_bob"}
EMPTIED = "bob"  # his intents, assistants and test calls are deleted first: a user without data (and past due)

# Words of the English UI (titles, buttons, labels, units, month names): none may show in Russian.
ENGLISH_UI_WORDS = """
Stats Intents Intent Assistants Assistant Tests Test Billing Export Sign Username Password Save Discard Cancel
Delete Undo History Search Show All Period Last days day week Custom From inclusive Language Status Phrase
contains Clear filters Previous Next First page Rows rows row Download Prepare Failed Completed Cancelled
Initiated progress Success rate Plan Active Paused Subscription Table Name Created Updated Coverage attention
Needs Example phrases responses English Russian Other Welcome nothing yet your you the and of with for from
no No calls call Where fail Failure Calls Menu Language coverage ready both languages Configuration Details
history Matching When Call Languages over time per Intents created Add File Import Check Used unused
Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec new just ago min Billing cycle Current start end left
customer subscription Manage pricing Demo accounts password Try again wrong Signed out
""".split()
# Product names and file words allowed in Russian text (the allowlist, plus format names).
ALLOWED = {"Stripe", "Vapi", "Clerk", "CSV", "JSON", "UTC", "EN", "RU", "Excel", "Parquet", "BOM", "ISO", "UTF",
           "Pro", "id"}
ENGLISH_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d])|\d+\.\d+\s?%")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with checked_app(tmp_path_factory.mktemp("e2e-russian"), pg_url) as running:
        yield running


def new_page(browser: Browser, app: App, viewport: dict[str, int], locale: str = "ru-RU") -> Page:
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, accept_downloads=True, locale=locale, timezone_id="UTC",
                                  base_url=app.url, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(20_000)
    return context.new_page()


def user_data(app: App, user_id: str) -> list[str]:
    """Every text the user typed or owns (it is shown as it is, in any language), longest first."""
    engine = sa.create_engine(app.database_url)
    texts: set[str] = set()
    with engine.connect() as db:
        for name, phrases, en, ru in db.execute(sa.text(
                "select intent_name, example_user_phrases, english_responses, russian_responses from intents "
                "where user_id = :u"), {"u": user_id}):
            texts.update([name, *(phrases or []), *(en or []), *(ru or [])])
        for name, vapi_id in db.execute(sa.text(
                "select name, vapi_assistant_id from assistants where user_id = :u"), {"u": user_id}):
            texts.update([name, vapi_id])
        for (phrase,) in db.execute(sa.text("select distinct test_phrase from assistant_tests where user_id = :u"),
                                    {"u": user_id}):
            texts.add(phrase)
    engine.dispose()
    return sorted((t for t in texts if t), key=len, reverse=True)


def shown_text(page: Page, data: list[str]) -> str:
    """The page's visible text (main area, sidebar, chart labels) without the user's own data, code blocks
    (an assistant's configuration) and quoted user text."""
    text = page.evaluate("""() => ['[data-testid="stMain"]', '[data-testid="stSidebar"]'].map(s => {
        const found = document.querySelector(s);
        if (!found) return "";
        const copy = found.cloneNode(true);  // without the icons' ligature names ("call")
        copy.querySelectorAll('[data-testid="stIconMaterial"]').forEach(e => e.remove());
        document.body.appendChild(copy);
        const text = copy.innerText;
        copy.remove();
        return text;
    }).join("\\n")""")
    text += "\n" + "\n".join(page.evaluate(
        "() => Array.from(document.querySelectorAll('.main-svg text')).map(e => e.textContent || '')"))
    for code in page.locator('[data-testid="stCode"]').all_inner_texts():
        text = text.replace(code, " ")
    for item in data:
        text = text.replace(item, " ")
    return re.sub(r"[«“][^»”]*[»”]", " ", text)


def assert_russian(page: Page, data: list[str], where: str) -> None:
    text = shown_text(page, data)
    words = set(re.findall(r"(?<![\w@.])[A-Za-z]+(?![\w@])", text)) - ALLOWED
    english = sorted(w for w in words if w in ENGLISH_UI_WORDS)
    assert not english, f"{where}: English UI words {english} in:\n{text[:3000]}"
    numbers = ENGLISH_NUMBER.findall(text)
    assert not numbers, f"{where}: English-formatted numbers {numbers} in:\n{text[:3000]}"


def sign_in_russian(page: Page, username: str, shot: str | None = None) -> None:
    page.goto("/")
    expect(page.get_by_label("Имя пользователя", exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    assert_russian(page, [], "the sign-in card")
    if shot:
        screenshot(page, shot, page.viewport_size)
    page.get_by_label("Имя пользователя", exact=True).fill(username)
    page.locator("input[type=password]").fill("demo")
    page.get_by_role("button", name="Войти", exact=True).click()
    expect(page.get_by_role("heading", name="Статистика", exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    assert_no_exception(page, f"after signing in as {username}")


def empty(app: App, user_id: str) -> None:
    engine = sa.create_engine(app.database_url)
    with engine.begin() as db:
        for table in ("assistant_tests", "assistants", "intents"):
            db.execute(sa.text(f"delete from {table} where user_id = :u"), {"u": user_id})
    engine.dispose()


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("username", ["alice", "carol", "bob"])
def test_every_screen_is_russian_in_a_russian_browser(browser: Browser, app: App, username: str, size: str) -> None:
    viewport = DESKTOP if size == "desktop" else PHONE
    if username == EMPTIED:
        empty(app, USERS[username])
    page = new_page(browser, app, viewport)
    data = user_data(app, USERS[username])
    sign_in_russian(page, username, shot=f"ru-signin-{size}" if username == "alice" else None)
    for path, title in SCREENS.items():
        page.goto(f"/{path}")
        expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible(timeout=30_000)
        settle(page)
        if path == "intents" and page.get_by_text("Что изменилось").count():  # a History entry's details, opened
            page.get_by_text("Что изменилось").first.click()
            settle(page)
        assert_no_exception(page, f"{username} {path} {size}")
        # the loading skeleton is gone once the screen is drawn, also where a screen ends early (nothing to show)
        expect(page.get_by_text("Загрузка…", exact=True)).to_have_count(0)
        assert_russian(page, data, f"{username} {path} {size}")
        shot = screenshot(page, f"ru-{username}-{path}-{size}", viewport)
        if path == "stats" and username == "alice" and size == "desktop" and os.environ.get("UPDATE_DOC_SCREENSHOTS"):
            shutil.copy(shot, DOC_SCREENSHOTS / "stats-ru.png")
    page.context.close()


def sidebar_switch(page: Page, label: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("radio", name=label, exact=True).click()
    settle(page)


def test_the_switch_flips_the_language_keeps_unsaved_edits_and_is_remembered(browser: Browser, app: App) -> None:
    page = new_page(browser, app, DESKTOP, locale="en-US")
    page.goto("/")
    expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=30_000)  # an English browser: English
    page.get_by_label("Username", exact=True).fill("alice")
    page.locator("input[type=password]").fill("demo")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Stats", exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Intents", exact=True).click()
    expect(page.get_by_role("heading", name="Intents", exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    page.get_by_role("button", name="Add intent").click()  # an unsaved edit: a new row, named in the editor
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Intent name").fill("kept_across_languages")
    dialog.get_by_role("button", name="Add a phrase").click()  # an intent needs a phrase before Apply takes it
    settle(page)
    dialog.locator("textarea").first.fill("Keep me")
    dialog.locator("textarea").first.press("Tab")
    settle(page)
    dialog.get_by_role("button", name="Apply", exact=True).click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("Unsaved: 1 new, 0 changed, 0 to delete")).to_be_visible()

    sidebar_switch(page, "RU")  # at once, on the same page: no reload
    expect(page.get_by_role("heading", name="Интенты", exact=True)).to_be_visible()
    expect(page.get_by_text("Не сохранено: новых: 1, изменённых: 0, к удалению: 0")).to_be_visible()
    expect(page.get_by_role("link", name="Статистика")).to_be_visible()  # the navigation too

    sidebar_switch(page, "EN")
    expect(page.get_by_role("heading", name="Intents", exact=True)).to_be_visible()
    expect(page.get_by_text("Unsaved: 1 new, 0 changed, 0 to delete")).to_be_visible()
    sidebar_switch(page, "RU")

    again = page.context.new_page()  # a later visit in this browser: the cookie remembers Russian
    again.goto("/stats")
    expect(again.get_by_role("heading", name="Статистика", exact=True)).to_be_visible(timeout=30_000)
    again.goto("/stats?lang=en")  # the link's language wins
    expect(again.get_by_role("heading", name="Stats", exact=True)).to_be_visible(timeout=30_000)
    page.context.close()


def test_lang_in_the_link_wins_over_a_russian_browser(browser: Browser, app: App) -> None:
    page = new_page(browser, app, DESKTOP)
    page.goto("/?lang=en")
    expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_label("Имя пользователя", exact=True)).to_have_count(0)
    page.context.close()


def test_an_excel_windows_1251_csv_imports_with_its_encoding_named(browser: Browser, app: App) -> None:
    """Excel on Russian Windows saves "CSV" as Windows-1251 with semicolons: the preview names the encoding,
    the intents are saved with their Cyrillic intact, and two phrases that differ only in yo/ie clash."""
    page = new_page(browser, app, DESKTOP)
    sign_in_russian(page, "carol")
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Интенты", exact=True).click()
    expect(page.get_by_role("heading", name="Интенты", exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    page.get_by_text("Импорт интентов из CSV или JSON").click()
    csv_text = ("intent_name;example_user_phrases;english_responses;russian_responses\r\n"
                'прощание;"[""Это всё, спасибо"", ""До свидания""]";"[""Goodbye!""]";"[""Всего доброго!""]"\r\n'
                'благодарность;Это все спасибо;Thank you!;Пожалуйста!\r\n')  # ё / е: one phrase, a clash
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(
        {"name": "интенты.csv", "mimeType": "text/csv", "buffer": csv_text.encode("cp1251")})
    settle(page)
    expect(page.get_by_text("Прочитан в кодировке Windows-1251.")).to_be_visible()
    page.get_by_role("button", name="Добавить 2 интента").click()
    settle(page)
    expect(page.get_by_text("Сохранено: добавлено: 2, изменено: 0, удалено: 0.")).to_be_visible()
    expect(page.get_by_text("Совпадающие фразы (1)")).to_be_visible()  # the ё/е pair is one phrase
    engine = sa.create_engine(app.database_url)
    with engine.connect() as db:
        phrases = db.execute(sa.text("select example_user_phrases from intents where user_id = :u and "
                                     "intent_name = 'прощание'"), {"u": USERS["carol"]}).scalar_one()
    engine.dispose()
    assert phrases == ["Это всё, спасибо", "До свидания"]
    page.context.close()


def test_the_calendar_starts_on_monday_in_a_russian_browser(browser: Browser, app: App) -> None:
    """Streamlit's date field takes its calendar from the browser's language: a Russian browser's week
    starts on Monday (понедельник), in the Russian UI and in the English one alike."""
    page = new_page(browser, app, DESKTOP)
    sign_in_russian(page, "alice")
    for lang in ("ru", "en"):
        page.goto(f"/tests?period=custom&from=2026-11-01&to=2026-11-20&lang={lang}")
        settle(page)
        expect(page.get_by_role("heading", name="Тесты" if lang == "ru" else "Tests", exact=True)).to_be_visible()
        settle(page)
        days = page.get_by_role("dialog").locator("th")  # the calendar's weekday row
        for _attempt in range(3):  # a rerun still drawing the page can close the calendar just opened
            page.get_by_test_id("stDateInput").first.locator("button").last.click()  # From's calendar button
            page.wait_for_timeout(500)
            if days.count():
                break
        expect(days.first).to_be_visible()
        assert days.all_inner_texts()[:7] == ["П", "В", "С", "Ч", "П", "С", "В"], lang
        page.keyboard.press("Escape")
    page.context.close()
