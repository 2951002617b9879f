"""The Intents screen's History panel through the real app (AppTest), on PostgreSQL: the empty
state, a save listed with its fields, undo with its confirm step, and the conflict message.  Saves are
made through the store as another session would; what the database holds is read with SQL written here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib.models import IntentDiff, IntentEdit, IntentInput
from lib.ops import demo
from lib.screens import history_panel
from lib.store.direct import DirectStore
from tests.test_fresh_data import own_cluster  # noqa: F401  (a fixture)
from tests.test_screens import _use, credentials, open_screen, signed_in  # noqa: F401  (credentials: a fixture)
from tools import tables as schema

ALICE = "user_demo_alice"


@pytest.fixture
def url(pg_clean: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        credentials: Path) -> Iterator[str]:  # noqa: F811
    """The suite's PostgreSQL, emptied and seeded with the demo (few test calls), the app configured for it."""
    found = pg_clean
    demo.seed(found, demo.default_plans(tests=20))
    _use(monkeypatch, tmp_path, credentials, found)
    yield found
    st.cache_resource.clear()


def first_intent(url: str) -> tuple[str, str]:
    """alice's newest intent (the grid's first row): id and name, read with SQL."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        r = conn.execute(sa.select(schema.intents.c.id, schema.intents.c.intent_name).where(schema.intents.c.user_id == ALICE)
                         .order_by(schema.intents.c.created_at.desc(), schema.intents.c.id).limit(1)).one()
    engine.dispose()
    return str(r.id), r.intent_name


def name_of(url: str, intent_id: str) -> str | None:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.select(schema.intents.c.intent_name).where(schema.intents.c.id == intent_id)).scalar_one_or_none()
    engine.dispose()
    return found


def rename(url: str, intent_id: str, new: str) -> None:
    """Another session renames one of alice's intents in the grid."""
    store = DirectStore(url)
    alice = store.for_user(ALICE)
    row = next(i for i in alice.list_intents() if i.id == intent_id)
    alice.save_intents(IntentDiff(edited=(IntentEdit(row.id, row.updated_at, IntentInput(
        new, row.example_user_phrases, row.english_responses, row.russian_responses)),)))
    store.close()


def latest_record(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.select(schema.intent_history.c.id).where(schema.intent_history.c.user_id == ALICE)
                             .order_by(schema.intent_history.c.created_at.desc()).limit(1)).scalar_one()
    engine.dispose()
    return str(uuid.UUID(str(found)))


def panel_titles(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if str(m.value).startswith("**") and " · " in str(m.value)]


def undo_buttons(at: AppTest) -> list:
    return [b for b in at.button if b.label == "Undo this save"]


def test_no_saves_yet_is_an_empty_state(url: str) -> None:
    at = open_screen(signed_in("alice"), "intents")
    assert [s.value for s in at.subheader] == ["History"]
    assert [i.value for i in at.info] == [history_panel.EMPTY]
    assert not undo_buttons(at)


def test_a_save_is_listed_with_its_fields(url: str) -> None:
    intent_id, old = first_intent(url)
    rename(url, intent_id, "renamed by the test")
    at = open_screen(signed_in("alice"), "intents")
    assert panel_titles(at) == ["**Saved in the grid** · 0 added, 1 changed, 0 deleted · just now"]
    assert len(at.dataframe) == 1  # the fields are read only when asked for
    at.session_state[f"history_fields_{latest_record(url)}"] = True  # the user opens "What changed"
    at.run()
    detail = at.dataframe[1].value  # the grid is the first frame
    assert detail.to_dict("records") == [{"Intent": "renamed by the test", "Change": "changed", "Field": "Intent",
                                          "Before": old, "After": "renamed by the test"}]
    assert not at.info  # no empty state any more
    [button] = undo_buttons(at)
    assert not button.disabled


def test_undo_asks_first_then_puts_the_old_value_back(url: str) -> None:
    intent_id, old = first_intent(url)
    rename(url, intent_id, "renamed by the test")
    at = open_screen(signed_in("alice"), "intents")
    undo_buttons(at)[0].click()
    at.run()
    assert name_of(url, intent_id) == "renamed by the test"  # nothing happens before the confirm
    assert any("Undo this save?" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Yes, undo it").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert name_of(url, intent_id) == old
    assert at.success and at.success[0].value.startswith("Undone: the save of ")
    assert old in set(at.dataframe[0].value["intent_name"])  # the grid shows the old value
    assert "renamed by the test" not in set(at.dataframe[0].value["intent_name"])
    titles = panel_titles(at)
    assert titles[0].startswith("**Undo** · 0 added, 1 changed, 0 deleted") and len(titles) == 2
    first, second = undo_buttons(at)
    assert not first.disabled and second.disabled  # a save is undone once (its undo can be undone)
    assert any("undone" in c.value for c in at.caption)


def test_undo_after_another_change_explains_the_conflict_and_changes_nothing(url: str) -> None:
    intent_id, _ = first_intent(url)
    rename(url, intent_id, "first rename")
    at = open_screen(signed_in("alice"), "intents")
    rename(url, intent_id, "second rename")  # another session, after this screen was drawn
    at.run()
    save_of_first = undo_buttons(at)[-1]  # the older of the two saves
    save_of_first.click()
    at.run()
    next(b for b in at.button if b.label == "Yes, undo it").click()
    at.run()
    assert not at.exception
    [error] = at.error
    assert "Nothing was undone" in error.value and "“first rename”" in error.value
    assert name_of(url, intent_id) == "second rename"
    # the refused undo's confirm is closed: the refusal shows in its place (issue 20, item 12)
    assert not any("Undo this save?" in w.value for w in at.warning)
    assert not any(b.label == "Yes, undo it" for b in at.button)


def test_change_rows_list_only_what_differs() -> None:
    from datetime import datetime

    from lib.models import IntentChange, IntentValues

    t = datetime(2026, 11, 27, 12, 0)
    a = IntentValues("a", ("hi", "hello"), ("Hi!",), (), t, t)
    b = IntentValues("a", ("hi",), ("Hi!",), (), t, t)
    rows = history_panel.change_rows((IntentChange("1", a, b), IntentChange("2", None, b), IntentChange("3", a, None),
                                      IntentChange("4", a, a)))
    assert rows == [("a", "changed", "Example phrases", "hi · hello", "hi"),
                    ("a", "added", "Intent", "", "a"), ("a", "added", "Example phrases", "", "hi"),
                    ("a", "added", "English responses", "", "Hi!"),
                    ("a", "deleted", "Intent", "a", ""), ("a", "deleted", "Example phrases", "hi · hello", ""),
                    ("a", "deleted", "English responses", "Hi!", ""),
                    ("a", "changed", "—", "", "(no visible change)")]


def test_undo_is_paused_while_the_database_is_unreachable(own_cluster) -> None:  # noqa: F811
    from tests.test_fresh_data import _pg_ctl

    intent_id, _ = first_intent(own_cluster.url)
    rename(own_cluster.url, intent_id, "renamed before the outage")
    at = open_screen(signed_in("alice"), "intents")
    assert not undo_buttons(at)[0].disabled
    _pg_ctl(own_cluster, "stop")
    at.run()  # the history it showed stays (cached), and Undo is off like Save
    assert not at.exception
    assert panel_titles(at) and panel_titles(at)[0].startswith("**Saved in the grid** · 0 added, 1 changed")
    [button] = undo_buttons(at)
    assert button.disabled
    _pg_ctl(own_cluster, "start")
