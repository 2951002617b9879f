"""The Intents screen in a real Chromium (issues 11 and 13): the Stats coverage card and the Needs-attention
filter it links to, adding a row, deleting with a confirmation that Cancel undoes, unsaved edits kept across
screens, duplicate names refused, an import that reports every bad row, and the screen on a phone.

One app runs for the module over a database of its own (the suite's PostgreSQL) with the demo data, made imperfect first (alice:
three intents miss a language, one has two phrases, one shares a phrase).  Screenshots go to
test-artifacts/screenshots/ (intents.png, intents-attention.png, intents-phone.png, coverage.png); (the README's own come from
tests/test_readme_screenshots.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from tests.e2e_support import (
    ROW_HEIGHT,
    SCREENSHOTS,
    App,
    assert_no_exception,
    assert_no_tracebacks,
    edit_text_cell,
    grid_cell,
    open_screen,
    require_chromium,
    screenshot,
    seed_demo,
    serving_app,
    settle,
    sign_in,
    wait_for_gate,
)
from tools import tables as schema

pytestmark = pytest.mark.browser

ALICE = "user_demo_alice"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}


def imperfect(database_url: str) -> None:
    """alice's intents as a real user's are: some answers missing, a phrase in two intents."""
    intents = schema.intents
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        def change(name: str, **values: object) -> None:
            conn.execute(sa.update(intents).where(intents.c.user_id == ALICE, intents.c.intent_name == name)
                         .values(**values))

        change("refund", russian_responses=[])
        change("pricing", russian_responses=[])
        change("delivery", english_responses=[])
        change("payment_methods", example_user_phrases=["Do you take cards?", "Can I pay cash?"])
        change("thanks", example_user_phrases=["Thanks a lot", "thank you", "Bye!!", "cheers"])
    engine.dispose()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    from tools.pgcluster import new_database

    require_chromium()
    workdir = tmp_path_factory.mktemp("e2e-intents")
    with new_database(pg_url, prefix="e2e_intents") as database_url:
        seed_demo(database_url)
        imperfect(database_url)
        with serving_app(workdir, database_url) as running:
            yield running
    assert_no_tracebacks(running)


def new_page(browser: Browser, app: App, viewport: dict) -> Page:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC", base_url=app.url)
    context.set_default_timeout(20_000)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, app: App) -> Iterator[Page]:
    pg = new_page(browser, app, DESKTOP)
    yield pg
    pg.context.close()


def signed_in(page: Page, user: str = "alice", shown: str = "Alice") -> None:
    page.goto("/")
    if not wait_for_gate(page):
        sign_in(page, user, "demo", shown)


def grid_box(page: Page) -> dict:
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    assert box
    return box


def expect_rows(page: Page, count: int) -> None:
    expect(page.get_by_test_id("stDataFrame").first.locator("[data-testid^='glide-cell-1-']")).to_have_count(count)


def names_in_db(app: App) -> list[str]:
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        names = conn.execute(sa.select(schema.intents.c.intent_name).where(schema.intents.c.user_id == ALICE)
                             .order_by(schema.intents.c.intent_name)).scalars().all()
    engine.dispose()
    return list(names)


def test_coverage_card_links_to_the_needs_attention_filter(page: Page) -> None:
    signed_in(page)
    card = page.locator(".st-key-coverage_card")
    expect(card.get_by_text("9 of 12 intents ready in both languages")).to_be_visible()
    card.scroll_into_view_if_needed()
    settle(page)
    shot = SCREENSHOTS / "coverage.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    top = page.locator("[data-testid='stMetric']").first.bounding_box()
    box = card.bounding_box()
    assert top and box
    page.screenshot(path=str(shot), clip={"x": box["x"] - 16, "y": top["y"] - 16, "width": box["width"] + 32,
                                          "height": box["y"] + box["height"] - top["y"] + 32})

    link = card.get_by_role("link", name=re.compile(r"6 intents need attention"))
    link.click()
    expect(page.get_by_role("heading", name="Intents", exact=True)).to_be_visible()
    settle(page)
    assert "view=attention" in page.url
    expect(page.get_by_role("radio", name=re.compile(r"Needs attention \(6\)"))).to_be_checked()
    expect_rows(page, 6)
    screenshot(page, "intents-attention")

    page.get_by_text("All intents", exact=True).click()
    settle(page)
    assert "view=" not in page.url
    expect_rows(page, 12)
    # The Updated column fits at 1400 px: its header is inside the grid's box.
    box = grid_box(page)
    header = page.get_by_role("columnheader", name="Updated")
    if header.count():
        hb = header.first.bounding_box()
        assert hb and hb["x"] + hb["width"] <= box["x"] + box["width"] + 1, (hb, box)
    screenshot(page, "intents")


def test_a_new_row_is_on_top_and_a_blank_one_is_named_on_save(page: Page) -> None:
    signed_in(page)
    open_screen(page, "Intents", "Intents")
    page.get_by_role("button", name="Add intent").click()
    settle(page)
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("New intent")).to_be_visible()  # the editor opens on the new row...
    dialog.get_by_role("button", name="Cancel", exact=True).click()  # ...which stays, blank, when it is closed
    settle(page)
    for column in range(1, 9):  # empty cells, not "None"
        expect(grid_cell(page, column, 0)).not_to_have_text(re.compile("None"))
    expect(grid_cell(page, 1, 0)).to_have_text("")
    expect(page.get_by_text("Unsaved: 1 new, 0 changed, 0 to delete", exact=True)).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    settle(page)
    expect(page.get_by_text("new row 1: intent name must not be empty")).to_be_visible()
    expect(grid_cell(page, 1, 0)).to_contain_text("⚠ intent name must not be empty")  # the marked row
    screenshot(page, "intents-new-row-problems")
    page.get_by_role("button", name="Discard", exact=True).click()
    settle(page)
    expect(page.get_by_text("No unsaved changes.", exact=True)).to_be_visible()


def test_unsaved_edits_survive_a_visit_to_another_screen(page: Page) -> None:
    signed_in(page)
    open_screen(page, "Intents", "Intents")
    box = grid_box(page)
    first = grid_cell(page, 1, 0).inner_text().strip()
    edit_text_cell(page, box["x"] + 90, box["y"] + ROW_HEIGHT * 1.5, "kept_edit", column=1, row=0)
    expect(page.get_by_text("Unsaved: 0 new, 1 changed, 0 to delete", exact=True)).to_be_visible()
    open_screen(page, "Stats", "Stats")
    open_screen(page, "Intents", "Intents")
    expect(page.get_by_text("1 unsaved change kept", exact=False)).to_be_visible()
    expect(grid_cell(page, 1, 0)).to_have_text("kept_edit")
    expect(page.get_by_text("Unsaved: 0 new, 1 changed, 0 to delete", exact=True)).to_be_visible()
    page.get_by_role("button", name="Discard", exact=True).click()
    settle(page)
    expect(grid_cell(page, 1, 0)).to_have_text(first)


def test_delete_asks_naming_intents_and_assistants_and_cancel_restores(page: Page, app: App) -> None:
    signed_in(page)
    open_screen(page, "Intents", "Intents")
    box = grid_box(page)
    first = grid_cell(page, 1, 0).inner_text().strip()
    before = names_in_db(app)
    page.mouse.click(box["x"] + 17, box["y"] + ROW_HEIGHT * 1.5)  # the row marker: select the row
    page.keyboard.press("Delete")
    settle(page)
    if grid_cell(page, 1, 0).inner_text().strip() == first:  # no key binding: the toolbar's delete button
        page.get_by_role("button", name=re.compile("Delete row", re.I)).click()
        settle(page)
    expect(page.get_by_text(f"Unsaved: 0 new, 0 changed, 1 to delete (“{first}”)", exact=True)).to_be_visible()
    # the deleted row leaves the grid: no blank row stays where it was (issue 20, item 12)
    left = len(before) - 1
    expect(page.get_by_test_id("stDataFrame").first).to_have_js_property("offsetHeight", ROW_HEIGHT * (left + 1) + 3)
    page.get_by_role("button", name="Save", exact=True).click()
    settle(page)
    expect(page.get_by_text(f"Delete 1 intent: “{first}”? Undo in History below brings it back.")).to_be_visible()
    expect(page.get_by_text(re.compile(f"“{first}” is used by “"))).to_be_visible()  # goodbye: 3 assistants
    screenshot(page, "intents-delete-confirm")
    page.get_by_role("button", name="Cancel", exact=True).click()
    settle(page)
    expect(grid_cell(page, 1, 0)).to_have_text(first)
    expect(page.get_by_text("No unsaved changes.", exact=True)).to_be_visible()
    assert names_in_db(app) == before


def test_renaming_to_a_taken_name_is_refused(page: Page, app: App) -> None:
    signed_in(page)
    open_screen(page, "Intents", "Intents")
    box = grid_box(page)
    taken = grid_cell(page, 1, 0).inner_text().strip()
    edit_text_cell(page, box["x"] + 90, box["y"] + ROW_HEIGHT * 2.5, f"{taken.upper()} ", column=1, row=1)  # a trailing space: the grid's editor can swallow a leading one
    page.get_by_role("button", name="Save", exact=True).click()
    settle(page)
    expect(page.locator("li").filter(has_text=f"“{taken.upper()}”: intent name is already taken by saved intent "
                                                f"“{taken}”; choose another name")).to_be_visible()
    expect(grid_cell(page, 1, 1)).to_contain_text("⚠ intent name is already taken")
    assert names_in_db(app).count(taken) == 1 and taken.upper() not in names_in_db(app)
    page.get_by_role("button", name="Discard", exact=True).click()
    settle(page)


def test_import_reports_every_bad_row_with_the_grids_titles(page: Page) -> None:
    signed_in(page)
    open_screen(page, "Intents", "Intents")
    page.get_by_text("Import intents from CSV or JSON").click()
    upload = page.locator("[data-testid='stFileUploader'] input[type=file]")
    csv_text = ("intent_name,example_user_phrases,english_responses,russian_responses\r\n"
                "parking,Where can I park?,[],[]\r\n"  # a plain value: one phrase
                ",[],[],[]\r\n"  # no name, no phrase
                "greeting,hi,[],[]\r\n"  # alice has a greeting already
                "x,[1],[],[]\r\n")  # not a list of texts
    upload.set_input_files({"name": "intents.csv", "mimeType": "text/csv", "buffer": csv_text.encode()})
    settle(page)
    expect(page.get_by_text("2 of 4 rows have problems; fix the file and upload it again.")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Add \d+ intents?$"))).to_have_count(0)
    preview = page.get_by_test_id("stDataFrame").last
    preview.scroll_into_view_if_needed()
    headers = preview.get_by_role("columnheader")
    if headers.count():
        titles = [h.inner_text().strip() for h in headers.all()]
        assert "Intent" in titles and "intent_name" not in titles, titles
    screenshot(page, "intents-import-preview")


def test_the_intents_screen_on_a_phone(browser: Browser, app: App) -> None:
    page = new_page(browser, app, PHONE)
    try:
        signed_in(page)
        page.goto("/intents?view=attention")
        wait_for_gate(page)
        expect(page.get_by_role("heading", name="Intents", exact=True)).to_be_visible()
        settle(page)
        assert_no_exception(page, "Intents on a phone")
        expect(page.get_by_text(re.compile(r"^Showing 6 of 12 intents"))).to_be_visible()
        expect(page.get_by_role("button", name="Add intent")).to_be_visible()
        expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
        box = grid_box(page)
        assert box["width"] <= PHONE["width"], box
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "intents-phone.png"), full_page=True)
    finally:
        page.context.close()


def test_a_phrase_clash_made_in_the_editor_is_warned_before_save(page: Page) -> None:
    signed_in(page)
    open_screen(page, "Intents", "Intents")
    page.get_by_role("button", name="Add intent").click()
    settle(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Intent name").fill("farewell")
    dialog.get_by_role("button", name="Add a phrase").click()
    settle(page)
    dialog.locator("textarea").first.fill("good-bye!")
    dialog.get_by_role("button", name="Add an English response").click()
    settle(page)
    dialog.locator("textarea").nth(1).fill("Bye now!")
    dialog.get_by_role("button", name="Apply", exact=True).click()
    settle(page)
    expect(page.get_by_role("dialog")).to_have_count(0)
    warning = page.get_by_text("Your changes give intents a phrase that another intent has")
    screenshot(page, "intents-clash-warning")
    expect(warning).to_be_visible()
    expect(page.get_by_text(re.compile(r"“good-bye!” is an example phrase of “goodbye”, “farewell”"))).to_be_visible()
    page.get_by_role("button", name="Discard", exact=True).click()
    settle(page)


LONG_RU = "Мы находимся по адресу: улица Рыночная, 12, рядом с центральным вокзалом."


def responses_in_db(app: App, name: str) -> tuple[list[str], list[str], list[str]]:
    t = schema.intents
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.c.example_user_phrases, t.c.english_responses, t.c.russian_responses)
                           .where(t.c.user_id == ALICE, t.c.intent_name == name)).one()
    engine.dispose()
    return list(row[0]), list(row[1]), list(row[2])


def open_in_editor(page: Page, name: str) -> None:
    page.get_by_role("combobox", name="Edit intent").click()
    page.get_by_role("option", name=name, exact=True).click()
    settle(page)
    expect(page.get_by_role("dialog").get_by_text("Edit intent")).to_be_visible()


def test_a_response_is_read_whole_fixed_in_place_reordered_and_saved(page: Page, app: App) -> None:
    """Issue 20: the Russian response the grid cuts short is read whole in the editor, a typo is
    fixed without retyping the sentence, a phrase moves up, and Save writes exactly that."""
    signed_in(page)
    open_screen(page, "Intents", "Intents")
    phrases, english, russian = responses_in_db(app, "location")
    assert russian == [LONG_RU]  # the demo's text, cut in the grid's cell
    open_in_editor(page, "location")
    dialog = page.get_by_role("dialog")
    fields = dialog.locator("textarea")
    expect(fields).to_have_count(len(phrases) + len(english) + len(russian))
    ru_field = fields.nth(len(phrases) + len(english))
    expect(ru_field).to_have_value(LONG_RU)  # the whole sentence
    screenshot(page, "intent-editor")
    ru_field.click()
    ru_field.press("End")
    ru_field.press("Backspace")  # the full stop...
    ru_field.type("!")  # ...becomes "!": edited in place, nothing retyped
    dialog.get_by_role("button", name="arrow_upward").nth(1).click()  # the second phrase moves to the top
    settle(page)
    dialog.get_by_role("button", name="Apply", exact=True).click()
    settle(page)
    expect(page.get_by_text("Unsaved: 0 new, 1 changed, 0 to delete", exact=True)).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    settle(page)
    expect(page.get_by_text(re.compile("Saved: 0 added, 1 changed"))).to_be_visible()
    assert responses_in_db(app, "location") == ([phrases[1], phrases[0], *phrases[2:]], english,
                                                [LONG_RU[:-1] + "!"])


def test_the_editor_on_a_phone(browser: Browser, app: App) -> None:
    page = new_page(browser, app, PHONE)
    try:
        signed_in(page)
        page.goto("/intents")
        wait_for_gate(page)
        expect(page.get_by_role("heading", name="Intents", exact=True)).to_be_visible()
        settle(page)
        open_in_editor(page, "opening_hours")
        dialog = page.get_by_role("dialog")
        box = dialog.bounding_box()
        assert box and box["width"] <= PHONE["width"], box
        field = dialog.locator("textarea").first
        fb = field.bounding_box()
        assert fb and fb["width"] >= PHONE["width"] * 0.5, fb  # a text field a thumb can use, not a 145 px cell
        # an item's move and remove buttons in one row under its field, not stacked one per line (issue 20, 11)
        row = dialog.locator("[class*='st-key-editor_item_']").first
        buttons = [b.bounding_box() for b in row.get_by_role("button").all()]
        assert len(buttons) == 3 and all(b for b in buttons), buttons
        assert max(b["y"] for b in buttons) - min(b["y"] for b in buttons) < 2, buttons  # one row
        assert min(b["y"] for b in buttons) >= fb["y"] + fb["height"] - 1, (buttons, fb)  # under the field
        screenshot(page, "intent-editor-phone")
        dialog.get_by_role("button", name="Cancel", exact=True).click()
        settle(page)
        expect(page.get_by_role("dialog")).to_have_count(0)
    finally:
        page.context.close()



def russian_of(app: App, name: str) -> list[str]:
    return responses_in_db(app, name)[2]


def test_an_exported_file_edited_and_imported_updates_those_intents(browser: Browser, app: App) -> None:
    """Issue 20: what Export gives, Import takes back: intents.csv from the Export screen, one response changed
    in it (as in a spreadsheet), uploaded with "add and update": one intent updated, the others unchanged."""
    import csv
    import io

    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC", base_url=app.url,
                                  accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        signed_in(page)
        open_screen(page, "Export", "Export")
        group = page.get_by_test_id("stRadio").filter(has=page.get_by_text("Table", exact=True))
        group.get_by_text("Intents", exact=True).click()
        settle(page)
        with page.expect_download() as info:
            page.get_by_role("button", name="Download CSV", exact=True).click()
        text = Path(info.value.path()).read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        header, body = rows[0], rows[1:]
        name_at, ru_at = header.index("intent_name"), header.index("russian_responses")
        new_answer = "Мы работаем ежедневно с 9:00 до 21:00."
        for row in body:
            if row[name_at] == "opening_hours":
                row[ru_at] = json.dumps([new_answer], ensure_ascii=False)
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([header, *body])
        assert russian_of(app, "opening_hours") != [new_answer]

        open_screen(page, "Intents", "Intents")
        page.get_by_text("Import intents from CSV or JSON").click()
        page.get_by_text("Add new intents and update those I have", exact=True).click()
        settle(page)
        page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(
            {"name": "intents.csv", "mimeType": "text/csv", "buffer": ("\ufeff" + out.getvalue()).encode()})
        settle(page)
        expect(page.get_by_text(f"Ready: 0 to add, 1 to update, {len(body) - 1} unchanged, 0 left as is.")).to_be_visible()
        page.get_by_text("Import intents from CSV or JSON").scroll_into_view_if_needed()
        screenshot(page, "intents-import-update")
        page.get_by_role("button", name="Update 1 intent", exact=True).click()
        settle(page)
        expect(page.get_by_text(re.compile(r"Saved: 0 added, 1 changed"))).to_be_visible()
        assert russian_of(app, "opening_hours") == [new_answer]
        expect(page.get_by_text(re.compile(r"^Imported · 0 added, 1 changed, 0 deleted · "))).to_be_visible()
    finally:
        context.close()


def links_of(app: App, intent_id: str) -> dict[str, int]:
    """The assistants that use an intent, each with the intent's place in its list (SQL written here)."""
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        found = conn.execute(sa.text("select a.name, array_position(a.intents_used, cast(:i as uuid)) from assistants a "
                                     "where cast(:i as uuid) = any(a.intents_used)"), {"i": intent_id}).all()
    engine.dispose()
    return dict(found)


def intent_id(app: App, name: str) -> str:
    engine = sa.create_engine(app.database_url)
    with engine.connect() as conn:
        found = conn.execute(sa.select(schema.intents.c.id).where(schema.intents.c.user_id == ALICE,
                                                                   schema.intents.c.intent_name == name)).scalar_one()
    engine.dispose()
    return str(found)


def delete_first_row_and_save(page: Page) -> str:
    box = grid_box(page)
    first = grid_cell(page, 1, 0).inner_text().strip()
    page.mouse.click(box["x"] + 17, box["y"] + ROW_HEIGHT * 1.5)
    page.keyboard.press("Delete")
    settle(page)
    if grid_cell(page, 1, 0).inner_text().strip() == first:
        page.get_by_role("button", name=re.compile("Delete row", re.I)).click()
        settle(page)
    page.get_by_role("button", name="Save", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Delete 1 intent and save").click()
    settle(page)
    expect(page.get_by_text("Saved: 0 added, 0 changed, 1 deleted.", exact=True)).to_be_visible(timeout=20_000)
    return first


def undo_latest(page: Page) -> None:
    page.get_by_role("button", name="Undo this save").first.click()
    settle(page)
    page.get_by_role("button", name="Yes, undo it").click()
    settle(page)


def test_undoing_a_delete_puts_the_intent_back_on_its_assistants(page: Page, app: App) -> None:
    """Issue 20, item 3: the undo restores the assistant links as they were, and names those it could not."""
    signed_in(page)
    open_screen(page, "Intents", "Intents")
    first = grid_cell(page, 1, 0).inner_text().strip()
    ident = intent_id(app, first)
    engine = sa.create_engine(app.database_url)
    with engine.begin() as conn:  # one more assistant uses it, deleted below before the second undo
        conn.execute(sa.text("insert into assistants (user_id, vapi_assistant_id, name, intents_used) "
                             "values (:u, 'vapi_e2e_gone', 'Night line', array[cast(:i as uuid)])"),
                     {"u": ALICE, "i": ident})
    engine.dispose()
    links = links_of(app, ident)
    assert len(links) >= 2, links  # the demo's assistants that use it, and Night line

    deleted = delete_first_row_and_save(page)
    assert deleted == first and links_of(app, ident) == {}
    undo_latest(page)
    n = len(links)
    expect(page.get_by_text(re.compile(rf"^Undone: the save of .* is reverted\. {n} assistant links came back "
                                       r"with the restored intents\.$"))).to_be_visible()
    assert links_of(app, ident) == links  # the same assistants, the same places
    screenshot(page, "intents-undo-links")

    delete_first_row_and_save(page)
    engine = sa.create_engine(app.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from assistants where vapi_assistant_id = 'vapi_e2e_gone'"))
    engine.dispose()
    undo_latest(page)
    expect(page.get_by_text(re.compile(r"The link to the assistant “Night line” could not be restored: that "
                                       r"assistant was deleted since\."))).to_be_visible()
    assert links_of(app, ident) == {k: v for k, v in links.items() if k != "Night line"}
    screenshot(page, "intents-undo-links-lost")
