"""The cached query helper: per-user cache keys, and a write refreshes only the writer's reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
import streamlit as st

from lib.config import setting_names
from lib.models import IntentDiff, IntentInput, TestFilter
from lib.store import queries

ALICE, BOB = "user_q_alice", "user_q_bob"
_owner_url = ""  # the database the helper's store uses, for writes from outside the store


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch, pg_clean: str) -> Iterator[list[str]]:
    """queries on a store on the emptied PostgreSQL; yields the list of functions the store calls
    (each call is one ``dashboard_*`` function in one transaction)."""
    global _owner_url
    _owner_url = pg_clean
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", pg_clean)
    st.cache_resource.clear()
    st.cache_data.clear()
    statements: list[str] = []
    store = queries.store()
    original = store.call

    def call(uid: str, fn: str, params: dict, **kwargs: object) -> object:
        statements.append(fn)
        return original(uid, fn, params, **kwargs)

    monkeypatch.setattr(store, "call", call)
    for user, names in ((ALICE, ("a1", "a2")), (BOB, ("b1",))):
        queries.store().for_user(user).save_intents(IntentDiff(added=tuple(IntentInput(n, ("p",)) for n in names)))
    statements.clear()
    yield statements
    st.session_state.pop(queries.USER_KEY, None)
    store.close()
    st.cache_resource.clear()
    st.cache_data.clear()


def as_user(user_id: str) -> None:
    st.session_state[queries.USER_KEY] = user_id


def names() -> list[str]:
    return sorted(i.intent_name for i in queries.intents())


def test_two_users_reads_never_mix(helper: list[str]) -> None:
    as_user(ALICE)
    assert names() == ["a1", "a2"]
    as_user(BOB)
    assert names() == ["b1"]  # same function, same arguments: bob's own entry
    as_user(ALICE)
    assert names() == ["a1", "a2"]
    assert queries.stats(TestFilter()).intents == 2
    as_user(BOB)
    assert queries.stats(TestFilter()).intents == 1


def render() -> None:
    """What dashboard/app.py does at the top of every render: read the user's versions once."""
    queries.check()


def test_a_warm_render_is_one_small_call(helper: list[str]) -> None:
    for _ in range(2):  # the first read of the settings creates them: a write, so one more cold read
        for user in (ALICE, BOB):
            as_user(user)
            render()
            names()
            queries.stats(TestFilter())
            queries.assistant_settings()
    helper.clear()
    for user in (ALICE, BOB):
        as_user(user)
        render()
        assert names() == (["a1", "a2"] if user == ALICE else ["b1"])
        queries.stats(TestFilter())
        queries.assistant_settings()
    assert helper == ["dashboard_versions", "dashboard_versions"]  # one per render


def test_a_write_refreshes_the_writer_and_leaves_others_cached(helper: list[str]) -> None:
    for user in (ALICE, BOB):
        as_user(user)
        render()
        names()
    as_user(ALICE)
    queries.save_intents(IntentDiff(added=(IntentInput("a3", ("p",)),)))
    helper.clear()
    assert names() == ["a1", "a2", "a3"]  # fresh at once, in the same render
    assert "dashboard_list_intents" in helper
    helper.clear()
    as_user(BOB)
    render()
    helper.clear()
    assert names() == ["b1"]
    assert helper == []  # bob's entry was not flushed by alice's write


def _webhook(sql: str, **params: object) -> None:
    """Another writer (the web app, a call webhook) on the same database, outside the store."""
    engine = sa.create_engine(_owner_url)
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    engine.dispose()


def test_writes_by_another_writer_show_on_the_next_render(helper: list[str]) -> None:
    as_user(ALICE)
    render()
    assert names() == ["a1", "a2"]
    assert queries.count_tests(TestFilter()) == 0
    _webhook("insert into intents (id, user_id, intent_name, example_user_phrases, english_responses, "
             "russian_responses, created_at, updated_at) values ('00000000-0000-0000-0000-0000000000a4', :u, 'a4', "
             "'{p}', '{}', '{}', '2026-11-01 10:00:00', '2026-11-01 10:00:00')", u=ALICE)
    for i in range(3):
        _webhook("insert into assistant_tests (id, user_id, assistant_id, test_phrase, language, status, created_at, "
                 "updated_at) values (:id, :u, 'asst_1', 'hi', 'english', 'initiated', '2026-11-20 10:00:00', "
                 "'2026-11-20 10:00:00')", id=f"00000000-0000-0000-0000-00000000010{i}", u=ALICE)
    assert names() == ["a1", "a2"]  # this render already read its versions: the cache stands until the next
    render()
    assert names() == ["a1", "a2", "a4"]
    assert queries.count_tests(TestFilter()) == 3
    assert queries.stats(TestFilter()).tests_completed == 0
    _webhook("update assistant_tests set status = 'completed' where id = '00000000-0000-0000-0000-000000000100'")
    render()
    assert queries.stats(TestFilter()).tests_completed == 1
    helper.clear()
    assert names() == ["a1", "a2", "a4"]
    assert helper == []  # a test call changed: the intents list stays cached
    as_user(BOB)
    render()
    assert names() == ["b1"]
    assert queries.count_tests(TestFilter()) == 0


def test_settings_toggle_refreshes_the_writer(helper: list[str]) -> None:
    as_user(ALICE)
    render()
    assert queries.assistant_settings().is_active is True
    queries.set_active(False)
    assert queries.assistant_settings().is_active is False
    as_user(BOB)
    assert queries.assistant_settings().is_active is True


def test_no_user_no_data(helper: list[str]) -> None:
    st.session_state.pop(queries.USER_KEY, None)
    with pytest.raises(queries.NotSignedIn):
        queries.intents()
    assert helper == []
