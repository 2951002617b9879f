"""End to end, in a real Chromium: the dashboard as its users see it.

One app (``streamlit run dashboard/app.py``) runs for the module against a database of its own on the
suite's PostgreSQL with the demo data.  alice signs in, every screen renders without an exception and is photographed
(test-artifacts/screenshots/, git-ignored); she renames an intent in the grid with the keyboard,
saves, reloads and finds it again; her CSV exports carry the BOM, the header, the new name and
intact Cyrillic.  Then bob signs in and does not see her edit.

The README's screenshots come from tests/test_readme_screenshots.py (``make screenshots``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from lib.files.csv_encoding import unneutralize
from lib.models import utcnow
from tests.e2e_support import (
    ROW_HEIGHT,
    VIEWPORT,
    App,
    assert_no_exception,
    checked_app,
    download,
    edit_text_cell,
    grid_cell,
    open_screen,
    screenshot,
    settle,
    sign_in,
    sign_out,
    wait_for_gate,
)

pytestmark = pytest.mark.browser

BOM = b"\xef\xbb\xbf"
INTENT_HEADER = [
    "id",
    "intent_name",
    "example_user_phrases",
    "english_responses",
    "russian_responses",
    "created_at",
    "updated_at",
]
TEST_HEADER = ["id", "assistant_id", "assistant_name", "test_phrase", "language", "call_id", "status", "created_at",
               "updated_at"]
NEW_NAME = "greeting_e2e"
CYRILLIC = re.compile("[А-Яа-яЁё]")
SCREENS = [  # sidebar link, page title, screenshot name
    ("Stats", "Stats", "stats"),
    ("Intents", "Intents", "intents"),
    ("Assistants", "Assistants", "assistants"),
    ("Tests", "Tests", "tests"),
    ("Billing", "Billing", "billing"),
    ("Export", "Export", "export"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with checked_app(tmp_path_factory.mktemp("e2e-app"), pg_url) as running:
        yield running


@pytest.fixture
def page(browser: Browser, app: App) -> Iterator[Page]:
    """A fresh browser profile (no cookies) per test."""
    context = browser.new_context(
        viewport=VIEWPORT, accept_downloads=True, locale="en-US", timezone_id="UTC", base_url=app.url
    )
    context.set_default_timeout(20_000)
    pg = context.new_page()
    yield pg
    context.close()


def open_app(page: Page, path: str = "/") -> bool:
    page.goto(path)
    return wait_for_gate(page)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM), f"no UTF-8 BOM: {data[:20]!r}"
    text = data.decode("utf-8")[1:]  # strict: bad UTF-8 fails here
    assert "\r\n" in text, "CSV lines must end with CRLF"
    return list(csv.reader(io.StringIO(text, newline="")))


def choose(page: Page, radio: str, option: str) -> None:
    group = page.get_by_test_id("stRadio").filter(has=page.get_by_text(radio, exact=True))
    group.get_by_text(option, exact=True).click()
    expect(group.get_by_role("radio", name=option, exact=True)).to_be_checked()
    settle(page)


def intents_csv(page: Page) -> list[dict[str, str]]:
    """The signed-in user's intents, downloaded as CSV from the Export screen."""
    open_screen(page, "Export", "Export")
    choose(page, "Table", "Intents")
    expect(page.get_by_role("button", name="Download CSV", exact=True)).to_be_visible()
    settle(page)
    assert_no_exception(page, "Export / Intents")
    rows = read_csv(download(page, "Download CSV"))
    assert rows[0] == INTENT_HEADER
    shown = re.search(r"([\d,]+) rows", page.get_by_text(re.compile(r"^[\d,]+ rows$")).inner_text())
    assert shown and int(shown.group(1).replace(",", "")) == len(rows) - 1
    return [dict(zip(INTENT_HEADER, r, strict=True)) for r in rows[1:]]


def test_every_screen_renders(page: Page) -> None:
    """alice signs in; each screen shows its title, no exception, and is photographed."""
    assert not open_app(page), "a fresh browser must see the sign-in form"
    screenshot(page, "login")
    sign_in(page, "alice", "demo", "Alice")
    for link, title, shot in SCREENS:
        open_screen(page, link, title)
        if link == "Stats":
            expect(page.locator('[data-testid="stMetric"]')).to_have_count(6)
            expect(page.locator(".js-plotly-plot")).to_have_count(4)  # no "No data" boxes for alice
        elif link == "Intents":
            expect(page.get_by_test_id("stDataFrame")).to_be_visible()
            expect(grid_cell(page, 1, 0)).not_to_be_empty()
        elif link == "Tests":
            expect(page.get_by_role("button", name=re.compile(r"^Prepare CSV of [\d,]+ test calls$"))).to_be_visible()
        screenshot(page, shot)


def test_edit_intent_persists_exports_and_stays_private(page: Page) -> None:
    assert not open_app(page)
    sign_in(page, "alice", "demo", "Alice")
    open_screen(page, "Intents", "Intents")

    # -- rename the first row's intent with the keyboard --------------------------------------
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    old_name = grid_cell(page, 1, 0).inner_text().strip()
    russian = grid_cell(page, 4, 0).inner_text()
    assert old_name and old_name != NEW_NAME
    assert CYRILLIC.search(russian), f"the first intent's Russian responses show no Cyrillic: {russian!r}"
    box = grid.bounding_box()
    assert box
    # row 0 of column Intent: past the row markers, below the header
    edit_text_cell(page, box["x"] + 70, box["y"] + ROW_HEIGHT * 1.5, NEW_NAME, column=1, row=0)
    expect(page.get_by_text("Unsaved: 0 new, 1 changed, 0 to delete", exact=True)).to_be_visible()
    settle(page)

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved: 0 added, 1 changed, 0 deleted.", exact=True)).to_be_visible(timeout=20_000)
    settle(page)
    assert_no_exception(page, "after Save")
    expect(page.get_by_text("No unsaved changes.", exact=True)).to_be_visible()

    # -- reload: re-login from the cookie, or sign in again -------------------------------------
    page.reload()
    if not wait_for_gate(page):
        sign_in(page, "alice", "demo", "Alice")
    if not page.get_by_role("heading", name="Intents", exact=True).count():
        open_screen(page, "Intents", "Intents")
    settle(page)
    assert_no_exception(page, "Intents after reload")

    search = page.get_by_label("Search by name or phrase", exact=True)
    search.fill(NEW_NAME)
    search.press("Enter")
    settle(page)
    expect(grid_cell(page, 1, 0)).to_have_text(NEW_NAME)
    expect(page.get_by_test_id("stDataFrame").locator("[data-testid^='glide-cell-1-']")).to_have_count(1)
    search.fill(old_name)
    search.press("Enter")
    settle(page)
    for row in range(page.get_by_test_id("stDataFrame").locator("[data-testid^='glide-cell-1-']").count()):
        assert grid_cell(page, 1, row).inner_text().strip() != old_name, f"{old_name!r} is still there"

    # -- her exports ---------------------------------------------------------------------------
    intents = intents_csv(page)
    mine = [r for r in intents if r["intent_name"] == NEW_NAME]
    assert len(mine) == 1, f"{NEW_NAME!r} appears {len(mine)} times in the intents CSV"
    assert old_name not in {r["intent_name"] for r in intents}
    responses = json.loads(mine[0]["russian_responses"])
    assert responses and all(CYRILLIC.search(r) for r in responses)
    words = re.compile("[А-Яа-яЁё]+")  # the grid shows lists comma-joined: compare the words
    assert words.findall(" ".join(responses)) == words.findall(russian), (responses, russian)

    choose(page, "Table", "Test calls")
    prepare = page.get_by_role("button", name=re.compile(r"^Prepare CSV of [\d,]+ test calls$"))
    expect(prepare).to_be_visible()
    settle(page)
    total = int(re.search(r"([\d,]+) test", prepare.inner_text()).group(1).replace(",", ""))
    assert total > 0
    prepare.click()
    label = f"Download tests.csv ({total:,} rows)"
    expect(page.get_by_role("button", name=label, exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    tests = read_csv(download(page, label))
    assert tests[0] == TEST_HEADER
    assert len(tests) - 1 == total
    assert any(CYRILLIC.search(r[3]) for r in tests[1:]), "no Russian test phrase survived the export"
    # the same calls as JSON and as Excel: the same ids in the same order (newest first), the same count
    choose(page, "Format", "JSON")
    page.get_by_role("button", name=f"Prepare JSON of {total:,} test calls", exact=True).click()
    label = f"Download tests.json ({total:,} rows)"
    expect(page.get_by_role("button", name=label, exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    records = json.loads(download(page, label))
    assert [r["id"] for r in records] == [r[0] for r in tests[1:]]
    assert [r["test_phrase"] for r in records[:5]] == [unneutralize(r[3]) for r in tests[1:6]]
    choose(page, "Format", "Excel")
    expect(page.get_by_role("button", name=label, exact=True)).to_have_count(0)  # the JSON file is no longer offered
    page.get_by_role("button", name=f"Prepare Excel of {total:,} test calls", exact=True).click()
    label = f"Download tests.xlsx ({total:,} rows)"
    expect(page.get_by_role("button", name=label, exact=True)).to_be_visible(timeout=60_000)
    settle(page)
    with zipfile.ZipFile(io.BytesIO(download(page, label))) as z:
        assert z.read("xl/worksheets/sheet1.xml").decode().count("<row ") == total + 1
    screenshot(page, "export-tests-excel")

    # -- bob does not see it --------------------------------------------------------------------
    sign_out(page)
    sign_in(page, "bob", "demo", "Bob")
    bobs = intents_csv(page)
    assert bobs, "bob has demo intents"
    assert NEW_NAME not in {r["intent_name"] for r in bobs}
    assert not {r["id"] for r in bobs} & {r["id"] for r in intents}
    open_screen(page, "Intents", "Intents")
    search = page.get_by_label("Search by name or phrase", exact=True)
    search.fill(NEW_NAME)
    search.press("Enter")
    settle(page)
    expect(page.get_by_text(f"No intent matches “{NEW_NAME}”.", exact=True)).to_be_visible()


def test_import_intents_from_a_file(page: Page) -> None:
    """carol uploads a CSV in the export's format: a bad file is refused with its problems and adds
    nothing; a good one is previewed, added on request, and comes back in her export."""
    if not open_app(page):
        sign_in(page, "carol", "demo", "Carol")
    open_screen(page, "Intents", "Intents")
    page.get_by_text("Import intents from CSV or JSON").click()
    upload = page.locator("[data-testid='stFileUploader'] input[type=file]")
    header = "intent_name,example_user_phrases,english_responses,russian_responses\r\n"

    bad = header + 'closing_time,[],"[""We close at 7 pm.""]",[]\r\n'
    upload.set_input_files({"name": "bad.csv", "mimeType": "text/csv", "buffer": (BOM.decode() + bad).encode()})
    settle(page)
    expect(page.get_by_text("1 of 1 rows have problems")).to_be_visible()
    expect(page.get_by_role("button", name="Add 1 intent")).to_have_count(0)

    good = header + (
        'closing_time,"[""When do you close?"", ""Во сколько закрываетесь?""]","[""We close at 7 pm.""]",'
        '"[""Мы закрываемся в 19:00.""]"\r\n'
        'parking,"[""Where can I park?""]",[],[]\r\n'
    )
    upload.set_input_files({"name": "intents.csv", "mimeType": "text/csv", "buffer": (BOM.decode() + good).encode()})
    settle(page)
    page.get_by_role("button", name="Add 2 intents").click()
    settle(page)
    expect(page.get_by_text("Saved: 2 added, 0 changed, 0 deleted.")).to_be_visible()
    assert_no_exception(page, "Intents import")

    rows = {r["intent_name"]: r for r in intents_csv(page)}
    assert json.loads(rows["closing_time"]["example_user_phrases"]) == ["When do you close?", "Во сколько закрываетесь?"]
    assert json.loads(rows["closing_time"]["russian_responses"]) == ["Мы закрываемся в 19:00."]
    assert json.loads(rows["parking"]["english_responses"]) == []


def metric_value(page: Page, label: str) -> str:
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True))
    return card.get_by_test_id("stMetricValue").inner_text().strip()


def test_tests_screen_is_live(page: Page, app: App) -> None:
    """A call webhook inserts calls while bob watches the Tests screen: they appear without a reload."""
    if not open_app(page):
        sign_in(page, "bob", "demo", "Bob")
    open_screen(page, "Tests", "Tests")
    before = int(metric_value(page, "Matching test calls").replace(",", ""))
    engine = sa.create_engine(app.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into assistant_tests (id, user_id, assistant_id, test_phrase, language, status, created_at, "
            "updated_at) values (:id, 'user_demo_bob', 'asst_live', 'live call', 'english', 'initiated', :t, :t)"),
            [{"id": str(uuid.uuid4()), "t": utcnow()} for _ in range(3)])
    engine.dispose()
    expect(page.get_by_text("3 new test calls")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("stMetric").filter(has=page.get_by_text("Matching test calls", exact=True))
           .get_by_test_id("stMetricValue")).to_have_text(f"{before + 3:,}")
    settle(page)
    screenshot(page, "tests-live")
    assert_no_exception(page, "Tests after a live update")


def test_unsaved_grid_edits_survive_changes_underneath(page: Page, app: App) -> None:
    """bob edits a row; another writer changes another of his intents; then bob edits on.  The fresh
    data does not reset the grid: his edits stay, he is told which row changed, and Save writes his row
    and keeps the other writer's change.  (The other writer goes after bob's first edit: a rerun of
    the page before it, such as the cookie component's late answer, would show the change as plain
    fresh data.)"""
    if not open_app(page):
        sign_in(page, "bob", "demo", "Bob")
    open_screen(page, "Intents", "Intents")
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    assert box
    other = grid_cell(page, 1, 2).inner_text().strip()

    edit_text_cell(page, box["x"] + 70, box["y"] + ROW_HEIGHT * 1.5, "bob_edit_one", column=1, row=0)
    expect(page.get_by_text("Unsaved: 0 new, 1 changed, 0 to delete", exact=True)).to_be_visible()

    engine = sa.create_engine(app.database_url)
    with engine.begin() as conn:  # the web app changes a row bob has not touched
        conn.execute(sa.text("update intents set english_responses = array['changed elsewhere'], updated_at = :t "
                             "where user_id = 'user_demo_bob' and intent_name = :n"), {"t": utcnow(), "n": other})

    edit_text_cell(page, box["x"] + 70, box["y"] + ROW_HEIGHT * 1.5, "bob_edit_two", column=1, row=0)
    expect(page.get_by_text(re.compile(f"While you were editing, intents changed elsewhere \\(changed: “{other}”"))
           ).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Unsaved: 0 new, 1 changed, 0 to delete", exact=True)).to_be_visible()
    expect(grid_cell(page, 1, 0)).to_have_text("bob_edit_two")
    settle(page)
    screenshot(page, "intents-changed-underneath")

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved: 0 added, 1 changed, 0 deleted.", exact=True)).to_be_visible(timeout=20_000)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("select intent_name, english_responses from intents "
                                         "where user_id = 'user_demo_bob'")).all())
    engine.dispose()
    assert "bob_edit_two" in rows
    assert rows[other] == ["changed elsewhere"]


def test_hostile_import_files_never_break_the_page(page: Page) -> None:
    """Files built to break the import: lone surrogates and NUL make bad rows (the grid's preview
    used to crash on them), deep nesting and a Windows-1251 file are refused with their reason."""
    if not open_app(page):
        sign_in(page, "carol", "demo", "Carol")
    open_screen(page, "Intents", "Intents")
    page.get_by_text("Import intents from CSV or JSON").click()
    upload = page.locator("[data-testid='stFileUploader'] input[type=file]")

    odd = (b'[{"intent_name": "x\\ud800", "example_user_phrases": ["a\\u0000b"]},'
           b' {"intent_name": "ok", "example_user_phrases": ["hi"]}]')
    upload.set_input_files({"name": "odd.json", "mimeType": "application/json", "buffer": odd})
    settle(page)
    expect(page.get_by_text("1 of 2 rows have problems; fix the file and upload it again.")).to_be_visible()
    expect(page.get_by_role("button", name="Add 2 intents")).to_have_count(0)
    assert_no_exception(page, "import with a lone surrogate and a NUL")

    upload.set_input_files({"name": "deep.json", "mimeType": "application/json",
                            "buffer": b"[" * 5_000 + b"]" * 5_000})
    settle(page)
    expect(page.get_by_text("file: JSON is nested more than 32 levels deep")).to_be_visible()
    assert_no_exception(page, "import of a deeply nested file")

    ansi = 'intent_name,example_user_phrases\r\nпривет,"[""как дела?""]"\r\n'.encode("cp1251")
    upload.set_input_files({"name": "ansi.csv", "mimeType": "text/csv", "buffer": ansi})
    settle(page)
    expect(page.get_by_text("Read as Windows-1251.", exact=True)).to_be_visible()  # issue 19: read, not refused
    expect(page.get_by_role("button", name="Add 1 intent")).to_be_visible()
    assert_no_exception(page, "import of a Windows-1251 file")
