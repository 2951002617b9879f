"""Import as the other half of export (issue 20): the Export screen's intents.csv, edited and uploaded again,
updates those intents; unchanged rows stay as they are; new rows are added; nothing is refused for having the
name it already had.  Pure functions over fixed intents (the file made by the Export screen's own writer)."""

from __future__ import annotations

from datetime import datetime

from lib.files import csv_encoding, frames
from lib.files.importing import read_intent_file
from lib.models import Intent
from lib.screens.import_preview import import_preview

T = datetime(2026, 11, 1, 9, 30)
MINE = (
    Intent("11111111-1111-4111-8111-111111111111", "greeting", ("Hello", "Hi"), ("Hello! How can I help?",),
           ("Здравствуйте!",), T, T, version=3),
    Intent("22222222-2222-4222-8222-222222222222", "refund", ("I want a refund", "Money back"),
           ("Refunds take 5 days.",), (), T, T, version=1),
)


def exported() -> str:
    """intents.csv as the Export screen writes it (BOM, CRLF, lists as JSON arrays)."""
    return csv_encoding.to_csv(frames.intents_frame(MINE)).decode("utf-8-sig")


def preview_of(text: str, *, update: bool):
    found = read_intent_file(text.encode("utf-8-sig"), "intents.csv")
    return import_preview(found.rows, found.problems, MINE, update=update)


def test_the_export_uploaded_again_changes_nothing_and_refuses_nothing() -> None:
    for update in (False, True):
        p = preview_of(exported(), update=update)
        assert p.bad_rows == 0 and not p.added and not p.updated
        assert (p.unchanged, p.left) == ((2, 0) if update else (0, 2))


def test_an_edited_export_updates_those_intents_by_id() -> None:
    text = exported().replace('"[""Здравствуйте!""]"', '"[""Здравствуйте! Чем могу помочь?""]"')
    text = text.replace("refund,", "refunds,")  # renamed in the file: the id still names the intent
    text += ',closing_time,"[""When do you close?""]",[],[],,\r\n'  # a new row: no id, no times
    p = preview_of(text, update=True)
    assert p.bad_rows == 0 and p.unchanged == 0
    assert [a.intent_name for a in p.added] == ["closing_time"]
    edits = {e.id: e for e in p.updated}
    assert set(edits) == {MINE[0].id, MINE[1].id}
    assert edits[MINE[0].id].values.russian_responses == ("Здравствуйте! Чем могу помочь?",)
    assert edits[MINE[0].id].version == 3  # the version it was read at: Save's conflict check compares it
    assert edits[MINE[1].id].values.intent_name == "refunds"
    checks = list(p.frame["check"])
    assert checks[0] == "✓ updates “greeting”" and checks[1] == "✓ updates “refund”" and checks[2] == "✓ new"
    only_add = preview_of(text, update=False)  # the other choice: the intents you have are left as they are
    assert [a.intent_name for a in only_add.added] == ["closing_time"] and not only_add.updated
    assert only_add.left == 2 and only_add.frame["check"][0] == "– you have “greeting”: left as is"


def test_a_row_without_an_id_updates_the_intent_of_its_name() -> None:
    text = ('intent_name,example_user_phrases,english_responses,russian_responses\r\n'
            'GREETING ,"Hello\nHi\nGood morning",[],[]\r\n')  # name as typed, phrases one per line (Alt+Enter)
    p = preview_of(text, update=True)
    assert p.bad_rows == 0 and len(p.updated) == 1
    assert p.updated[0].id == MINE[0].id
    assert p.updated[0].values.example_user_phrases == ("Hello", "Hi", "Good morning")


def test_two_rows_for_one_intent_and_a_rename_onto_another_are_refused() -> None:
    header = "id,intent_name,example_user_phrases,english_responses,russian_responses\r\n"
    text = header + (f'{MINE[0].id},greeting,Hello,[],[]\r\n'
                     f',greeting,Hi,[],[]\r\n'  # the same intent again, by name
                     f'{MINE[1].id},Greeting,Money back,[],[]\r\n')  # refund renamed onto greeting's name
    p = preview_of(text, update=True)
    assert p.bad_rows == 2
    checks = list(p.frame["check"])
    assert checks[1].startswith("✗") and "updates the same intent as line 2" in checks[1]
    assert checks[2].startswith("✗") and "is the name of another of your intents" in checks[2]
