"""Yo and ie (Cyrillic) are one letter in searches (issue 19): the Tests screen's phrase search (dashboard_tests_where, on
both backends) and the Intents grid's search, against phrases counted here."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from lib.models import Intent, TestFilter
from lib.screens import intents_grid
from tools import tables as schema

NOW = datetime(2026, 12, 3, 12, 0)
USER = "user_search_yo"
PHRASES = ["Это всё, спасибо", "Это все, спасибо", "ЁЛКА зелёная", "Елка зеленая", "Хорошего вечера", "thanks"]


def seed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), [
            {"id": str(uuid.uuid4()), "user_id": USER, "assistant_id": "asst_a", "test_phrase": p,
             "language": "russian", "call_id": f"c{n}", "status": "completed", "created_at": NOW, "updated_at": NOW}
            for n, p in enumerate(PHRASES)])


def test_the_phrase_search_treats_yo_as_ye(store, engine_for) -> None:
    seed(engine_for)
    user = store.for_user(USER)

    def found(search: str) -> set[str]:
        return {r.test_phrase for r in user.list_tests(TestFilter(search=search), page=1, page_size=100).rows}

    assert found("всё") == found("все") == {"Это всё, спасибо", "Это все, спасибо"}
    assert found("ёлка") == found("елка") == {"ЁЛКА зелёная", "Елка зеленая"}
    assert user.count_tests(TestFilter(search="зелёная")) == 2
    assert found("вечера") == {"Хорошего вечера"}  # е stays е: no other letter is folded
    assert user.count_tests(TestFilter(phrase="Это все, спасибо")) == 1  # the exact phrase stays exact


def test_the_intents_search_treats_yo_as_ye() -> None:
    t = datetime(2026, 12, 3)
    intents = [Intent("1", "прощание", ("Это всё, спасибо",), (), (), t, t),
               Intent("2", "ёлка", ("Новый год",), (), (), t, t), Intent("3", "other", ("hello",), (), (), t, t)]
    assert list(intents_grid.grid_frame(intents, "все спасибо").index) == []  # the comma is part of the search
    assert list(intents_grid.grid_frame(intents, "Это все").index) == ["1"]
    assert list(intents_grid.grid_frame(intents, "елка").index) == ["2"]
