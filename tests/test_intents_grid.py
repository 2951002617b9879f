"""The intents grid's save path: editor state (by row position) -> diff -> one transaction.

AppTest cannot edit a data_editor, so the mapping is tested as a pure function here, on real
stores; the grid itself is driven with the keyboard in the browser test (tests/test_e2e.py).
"""

from __future__ import annotations

import pytest

from lib.errors import ConflictError, ValidationError
from lib.models import IntentDiff, IntentEdit, IntentInput
from lib.screens.intents_grid import diff_from_editor, grid_frame
from tests.test_store import snapshot


@pytest.fixture
def alice(store):
    handle = store.for_user("user_grid_alice")
    handle.save_intents(IntentDiff(added=(
        IntentInput("greeting", ("hello", "Привет"), ("Hi!",), ("Привет!",)),
        IntentInput("pricing", ("how much",), ("It costs $29.",), ("Стоит 2 500 ₽.",)),
        IntentInput("goodbye", ("bye",), ("Bye!",), ("Пока!",)),
    )))
    return handle


def test_frame_has_no_user_ids_and_filters_by_name_or_phrase(alice) -> None:
    intents = alice.list_intents()
    frame = grid_frame(intents)
    assert list(frame.columns) == ["intent_name", "example_user_phrases", "english_responses", "russian_responses",
                                   "created_at", "updated_at", "version"]
    assert len(frame) == 3
    assert list(grid_frame(intents, "PRIC")["intent_name"]) == ["pricing"]
    assert list(grid_frame(intents, "привет")["intent_name"]) == ["greeting"]
    assert grid_frame(intents, "nothing").empty


def test_valid_edit_writes_only_the_changed_row(alice) -> None:
    frame = grid_frame(alice.list_intents())
    pos = list(frame["intent_name"]).index("pricing")
    other = list(frame["intent_name"]).index("goodbye")
    state = {"edited_rows": {pos: {"intent_name": "prices", "example_user_phrases": ["how much", "cost?"]},
                             other: {"intent_name": "goodbye"}},  # edited back to the same value
             "added_rows": [{"intent_name": "hours", "example_user_phrases": ["when open"]}],
             "deleted_rows": []}
    diff = diff_from_editor(frame, state)
    assert [e.values.intent_name for e in diff.edited] == ["prices"]
    assert [a.intent_name for a in diff.added] == ["hours"]
    result = alice.save_intents(diff)
    assert (result.added, result.edited, result.deleted) == (1, 1, 0)
    after = {i.intent_name: i for i in alice.list_intents()}
    assert set(after) == {"greeting", "prices", "goodbye", "hours"}
    assert after["prices"].example_user_phrases == ("how much", "cost?")
    assert after["prices"].russian_responses == ("Стоит 2 500 ₽.",)


def test_positions_map_to_ids_in_a_filtered_grid(alice) -> None:
    frame = grid_frame(alice.list_intents(), "bye")
    diff = diff_from_editor(frame, {"deleted_rows": [0]})
    assert len(diff.deleted) == 1
    alice.save_intents(diff)
    assert sorted(i.intent_name for i in alice.list_intents()) == ["greeting", "pricing"]


def test_invalid_edit_names_rows_and_fields_and_writes_nothing(alice, engine_for) -> None:
    frame = grid_frame(alice.list_intents())
    before = snapshot(engine_for)
    state = {"edited_rows": {1: {"intent_name": "  "}, 2: {"english_responses": ["ok", " "]}},
             "added_rows": [{"intent_name": "new", "example_user_phrases": []}], "deleted_rows": [0]}
    with pytest.raises(ValidationError) as err:
        alice.save_intents(diff_from_editor(frame, state))
    found = {(p.row, p.field) for p in err.value.problems}
    names = list(frame["intent_name"])  # problems name the row as the user finds it: by its intent name
    assert found == {(f"“{names[1]}”", "intent_name"), (f"“{names[2]}”", "english_responses"),
                     ("new row 1", "example_user_phrases")}
    assert snapshot(engine_for) == before


def test_a_blank_new_row_is_counted_and_named_not_dropped(alice, engine_for) -> None:
    """Issue 13.3: a row added and left blank is a new row; Save names it instead of dropping it."""
    frame = grid_frame(alice.list_intents())
    diff = diff_from_editor(frame, {"added_rows": [{}]})
    assert len(diff.added) == 1
    before = snapshot(engine_for)
    with pytest.raises(ValidationError) as err:
        alice.save_intents(diff)
    assert ("new row 1", "intent_name") in {(p.row, p.field) for p in err.value.problems}
    assert snapshot(engine_for) == before


def test_row_changed_in_another_session_is_refused(store, alice) -> None:
    frame = grid_frame(alice.list_intents())  # this session loads the grid
    other_session = store.for_user("user_grid_alice")
    row = next(i for i in other_session.list_intents() if i.intent_name == "greeting")
    other_session.save_intents(IntentDiff(edited=(IntentEdit(row.id, row.updated_at,
                                                             IntentInput("greeting v2", ("hello",))),)))
    pos = list(frame["intent_name"]).index("greeting")
    with pytest.raises(ConflictError) as err:
        alice.save_intents(diff_from_editor(frame, {"edited_rows": {pos: {"intent_name": "mine"}}}))
    assert "greeting" in str(err.value) or "mine" in str(err.value)
    names = sorted(i.intent_name for i in alice.list_intents())
    assert names == ["goodbye", "greeting v2", "pricing"]


def test_what_changed_underneath_an_open_editor_is_named(alice, store, engine_for) -> None:
    """Another tab (or the web app) edits, deletes and adds intents while this grid has unsaved edits."""
    import sqlalchemy as sa

    from lib.screens.intents_grid import underneath
    from tools import tables as schema

    editing = grid_frame(alice.list_intents())
    by_name = {i.intent_name: i for i in alice.list_intents()}
    other = store.for_user("user_grid_alice")  # a second session of the same user
    other.save_intents(IntentDiff(
        added=(IntentInput("hours", ("when do you open",)),),
        edited=(IntentEdit(by_name["pricing"].id, by_name["pricing"].updated_at,
                           IntentInput("pricing", ("how much is it",))),),
    ))
    with engine_for.begin() as conn:  # and a webhook deletes one with raw SQL
        conn.execute(sa.delete(schema.intents).where(schema.intents.c.id == by_name["goodbye"].id))
    found = underneath(editing, grid_frame(alice.list_intents()))
    assert (found.changed, found.deleted, found.added) == (("pricing",), ("goodbye",), 1)
    assert "changed: “pricing”" in found.notice() and "deleted: “goodbye”" in found.notice()
    assert underneath(editing, editing).notice() is None


def test_a_row_edited_before_is_saved_against_its_updated_at(alice, engine_for) -> None:
    """Rows edited before have updated_at != created_at; the grid must send updated_at as the version
    (sending created_at would refuse every such row as changed in another session)."""
    import sqlalchemy as sa

    from tools import tables as schema

    first = {i.intent_name: i for i in alice.list_intents()}["pricing"]
    with engine_for.begin() as conn:  # an earlier edit, a day after creation (another writer did it)
        conn.execute(sa.update(schema.intents).where(schema.intents.c.id == first.id)
                     .values(updated_at=first.created_at.replace(year=first.created_at.year + 1)))
    intents = alice.list_intents()
    frame = grid_frame(intents)
    pos = [i.id for i in intents].index(first.id)
    assert frame.iloc[pos]["created_at"] != frame.iloc[pos]["updated_at"]
    diff = diff_from_editor(frame, {"edited_rows": {pos: {"intent_name": "prices"}}})
    assert alice.save_intents(diff).edited == 1
    assert "prices" in {i.intent_name for i in alice.list_intents()}


def test_assistants_carry_the_ids_of_the_intents_they_use(store, alice, engine_for) -> None:
    """The Intents screen's "Used by" matches by id (names can repeat): every backend hands the ids over."""
    import uuid
    from datetime import datetime

    import sqlalchemy as sa

    from tools import tables as schema

    ids = {i.intent_name: i.id for i in alice.list_intents()}
    now = datetime(2026, 11, 1, 12, 0)
    with engine_for.begin() as conn:
        conn.execute(sa.insert(schema.assistants).values(
            id=str(uuid.uuid4()), user_id="user_grid_alice", vapi_assistant_id="vapi_grid", name="Front desk",
            config={}, intents_used=[ids["pricing"], ids["goodbye"]], created_at=now, updated_at=now))
    (assistant,) = alice.list_assistants()
    assert assistant.intent_ids == (ids["pricing"], ids["goodbye"])
    assert assistant.intents_used == ("pricing", "goodbye")


def test_a_list_cell_shows_how_many_more_before_the_text() -> None:
    """The grid's list cells are narrow: the count comes first, so a long first item never hides it."""
    from lib.screens.intents_grid import SUMMARY_LENGTH, summary

    long = "Мы находимся по адресу: улица Рыночная, 12, рядом с центральным вокзалом."
    assert summary(()) == "" and summary(("Hello",)) == "Hello"
    assert summary((long, "Hi", "Hey")) == f"(+2) {long[:SUMMARY_LENGTH]}…"
