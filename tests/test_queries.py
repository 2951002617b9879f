"""The cached query helper: per-user cache keys, and a write refreshes only the writer's reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st

from lib import queries
from lib.config import setting_names
from lib.models import IntentDiff, IntentInput, TestFilter

ALICE, BOB = "user_q_alice", "user_q_bob"


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """queries on a fresh SQLite store; yields the list of SQL statements the store runs."""
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'q.db'}")
    st.cache_resource.clear()
    st.cache_data.clear()
    statements: list[str] = []
    sa.event.listen(queries.store().engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))
    for user, names in ((ALICE, ("a1", "a2")), (BOB, ("b1",))):
        queries.store().for_user(user).save_intents(IntentDiff(added=tuple(IntentInput(n, ("p",)) for n in names)))
    statements.clear()
    yield statements
    st.session_state.pop(queries.USER_KEY, None)
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


def test_reads_are_cached_and_a_write_refreshes_only_the_writer(helper: list[str]) -> None:
    as_user(ALICE)
    names()
    as_user(BOB)
    names()
    helper.clear()
    as_user(ALICE)
    names()
    as_user(BOB)
    names()
    assert helper == []  # both served from the cache
    as_user(ALICE)
    queries.save_intents(IntentDiff(added=(IntentInput("a3", ("p",)),)))
    helper.clear()
    assert names() == ["a1", "a2", "a3"]  # fresh at once, not after the TTL
    assert any("FROM intents" in s for s in helper)
    helper.clear()
    as_user(BOB)
    assert names() == ["b1"]
    assert helper == []  # bob's entry was not flushed by alice's write


def test_settings_toggle_refreshes_the_writer(helper: list[str]) -> None:
    as_user(ALICE)
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
