"""The Intents screen and the Stats coverage card through the real app (AppTest), on PostgreSQL.

The demo data is made imperfect first (alice: intents without Russian or English responses, one with two
phrases, a phrase in two intents, two intents with one name; bob: no intents, but assistants and calls; carol has no data at all), and every expected
value is computed here from the rows themselves, with SQL and code of this file, not lib.screens.intent_checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from lib.ops import demo
from tests import test_screens
from tests.test_screens import all_text
from tools import tables as schema

app_on, credentials = test_screens.app_on, test_screens.credentials  # the screens' fixtures, over this database

ALICE, BOB = "user_demo_alice", "user_demo_bob"


@pytest.fixture(scope="module")
def database(pg_url: str) -> Iterator[str]:
    """A database of the module's own with the demo data, made imperfect."""
    from tools.pgcluster import new_database

    with new_database(pg_url, prefix="intents_screen") as url:
        demo.seed(url, demo.default_plans(tests=200))
        yield from _imperfect(url)


def _imperfect(url: str) -> Iterator[str]:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        def change(name: str, **values: object) -> None:
            conn.execute(sa.update(schema.intents).where(schema.intents.c.user_id == ALICE, schema.intents.c.intent_name == name).values(**values))

        change("refund", russian_responses=[])
        change("pricing", russian_responses=[])
        change("delivery", english_responses=[])
        change("payment_methods", example_user_phrases=["Do you take cards?", "Can I pay cash?"])
        change("thanks", example_user_phrases=["Thanks a lot", "thank you", "Bye!!", "cheers"])  # "bye" is goodbye's
        # a second "opening_hours", from before names were unique in the database (its rule off for this write)
        conn.execute(sa.text("alter table intents disable trigger intents_name_key"))
        change("location", intent_name="Opening_Hours ", name_key=None)
        conn.execute(sa.text("alter table intents enable trigger intents_name_key"))
        conn.execute(sa.delete(schema.intents).where(schema.intents.c.user_id == BOB))
        conn.execute(sa.update(schema.assistants).where(schema.assistants.c.user_id == BOB).values(intents_used=[]))
    engine.dispose()
    yield url


def rows(url: str, user: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.select(schema.intents.c.id, schema.intents.c.intent_name, schema.intents.c.example_user_phrases, schema.intents.c.english_responses,
                                       schema.intents.c.russian_responses).where(schema.intents.c.user_id == user)).all()
        used = conn.execute(sa.select(schema.assistants.c.name, schema.assistants.c.intents_used).where(schema.assistants.c.user_id == user)).all()
    engine.dispose()
    return [(str(r.id), r.intent_name, list(r.example_user_phrases), list(r.english_responses),
             list(r.russian_responses), sorted(a.name for a in used if str(r.id) in {str(i) for i in a.intents_used}))
            for r in found]


def expected_attention(url: str, user: str) -> set[str]:
    """Intents missing a language, with fewer than 3 phrases, sharing a phrase or a name (independently)."""
    found = rows(url, user)
    key = lambda p: re.sub(r"[\W_]+", "", p.lower())  # noqa: E731  (phrases here are plain ASCII)
    holders: dict[str, set[str]] = {}
    for ident, _, phrases, *_ in found:
        for p in phrases:
            holders.setdefault(key(p), set()).add(ident)
    names = [n.strip().lower() for _, n, *_ in found]
    return {name for ident, name, phrases, en, ru, _ in found
            if not en or not ru or len(phrases) < 3 or any(len(holders[key(p)]) > 1 for p in phrases)
            or names.count(name.strip().lower()) > 1}


def grid(at: AppTest):
    return at.dataframe[0].value


def intents_screen(at: AppTest, **params: str) -> AppTest:
    at.switch_page("../pages/intents.py")
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_coverage_card_counts_and_links_to_the_attention_filter(app_on, database: str) -> None:
    at = app_on("alice")
    found = rows(database, ALICE)
    ready = sum(1 for _, _, _, en, ru, _ in found if en and ru)
    assert (ready, len(found)) == (9, 12)
    progress = [p.proto.text for p in at.get("progress")]
    assert progress == ["9 of 12 intents ready in both languages"]
    links = [(p.proto.label, p.proto.page) for p in at.get("page_link")]
    attention = len(expected_attention(database, ALICE))
    label = f"{attention} intents need attention"
    assert any(lbl == label for lbl, _ in links), links
    link = next(p.proto for p in at.get("page_link") if p.proto.label == label)
    assert "view=attention" in link.query_string and link.page.endswith("intents")


def test_coverage_card_without_intents(app_on) -> None:
    at = app_on("bob")  # the module's fixture deleted his intents; he has assistants and calls
    assert "No intents yet" in all_text(at)
    assert not at.get("progress")


def test_grid_shows_counts_usage_and_attention_reasons(app_on, database: str) -> None:
    at = intents_screen(app_on("alice"))
    frame = grid(at)
    by_name = {r[1]: r for r in rows(database, ALICE)}
    assert sorted(frame["intent_name"]) == sorted(by_name)
    for _, row in frame.iterrows():
        _, _, phrases, en, ru, used = by_name[row["intent_name"]]
        assert row["counts"] == f"{len(phrases)} · {len(en)} · {len(ru)}"
        assert (sorted(row["used_by"].split(", ")) == used) if used else row["used_by"] == "— unused"
        assert bool(row["attention"]) == (row["intent_name"] in expected_attention(database, ALICE))
    reasons = dict(zip(frame["intent_name"], frame["attention"], strict=True))
    assert reasons["refund"] == "no Russian responses"
    assert reasons["payment_methods"] == "2 example phrases (needs 3)"
    assert "shares a phrase with “goodbye”" in reasons["thanks"]
    text = all_text(at)
    assert "12 intents · 9 of 12 intents ready in both languages" in text
    unused = sum(1 for r in by_name.values() if not r[5])
    assert f"{unused} not used by any assistant" in text


def test_needs_attention_filter_from_the_address_and_back(app_on, database: str) -> None:
    at = intents_screen(app_on("alice"), view="attention")
    assert set(grid(at)["intent_name"]) == expected_attention(database, ALICE)
    assert at.radio(key="intents_view").value == "attention"
    at.radio(key="intents_view").set_value("all").run()
    assert len(grid(at)) == 12
    assert "view" not in at.query_params
    at.text_input(key="intents_search").input("refund").run()
    assert list(grid(at)["intent_name"]) == ["refund"]
    assert at.query_params["q"] == ["refund"] or at.query_params["q"] == "refund"


def test_an_unknown_view_falls_back_with_a_notice(app_on) -> None:
    at = intents_screen(app_on("alice"), view="bogus")
    assert "Unknown view “bogus” in the address; showing all intents." in all_text(at)
    assert len(grid(at)) == 12


def test_phrase_clashes_and_duplicate_names_are_listed(app_on) -> None:
    at = intents_screen(app_on("alice"))
    text = all_text(at)
    assert "Phrase clashes (1)" in [e.proto.label for e in at.expander]
    assert re.search(r"“(Bye|Bye!!)” is an example phrase of “(goodbye|thanks)”, “(goodbye|thanks)”", text), text
    assert any(re.search(r"Some intents share a name: “(Opening_Hours |opening_hours)” \(2\)", w.value)
               for w in at.warning), [w.value for w in at.warning]


def test_a_new_row_is_on_top_counts_as_new_and_is_named_on_save(app_on, database: str) -> None:
    at = intents_screen(app_on("alice"))
    before = rows(database, ALICE)
    at.button(key="intents_add").click().run()
    frame = grid(at)
    assert len(frame) == 13 and frame.iloc[0]["intent_name"] == "" and frame.iloc[0]["phrases_shown"] == ""
    assert "Unsaved: 1 new, 0 changed, 0 to delete" in all_text(at)
    next(b for b in at.button if b.label == "Save").click().run()
    errors = [e.value for e in at.error]
    assert any("new row 1: intent name must not be empty" in e for e in errors), errors
    frame = grid(at)
    assert frame.columns[0] == "problems" and frame.iloc[0]["problems"].startswith("⚠ intent name must not be empty")
    assert rows(database, ALICE) == before  # nothing saved
    next(b for b in at.button if b.label == "Discard").click().run()
    assert len(grid(at)) == 12 and "No unsaved changes." in all_text(at)


def test_empty_states(app_on) -> None:
    at = intents_screen(app_on("carol"))
    assert "You have no intents yet" in all_text(at) and not at.dataframe
    at = intents_screen(at, view="attention")
    assert "No intent needs attention" in all_text(at)
    assert "Phrase clashes" not in all_text(at)


def _save_through_the_app() -> None:
    """Runs inside AppTest: a save by the signed-in user through the one save path (lib.store.queries)."""
    import streamlit as st

    from lib.errors import ValidationError
    from lib.models import IntentDiff, IntentInput
    from lib.store import queries

    try:
        queries.save_intents(IntentDiff(added=(IntentInput(" REFUND ", ("give my money back",), label="new row 1"),)))
    except ValidationError as err:
        st.error(str(err))
    else:
        st.success("saved")


def test_every_save_path_refuses_a_name_the_user_has(app_on, database: str) -> None:
    """The rule sits in lib.store.queries.save_intents (the grid and the import both save through it), before the
    store is called, so every backend refuses alike; nothing is written."""
    app_on("alice")  # settings and caches for this database
    at = AppTest.from_function(_save_through_the_app, default_timeout=60)
    at.session_state["user_id"] = ALICE
    before = rows(database, ALICE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] and "new row 1, intent_name: is already taken by saved intent “refund”" \
        in at.error[0].value
    assert rows(database, ALICE) == before


def test_sign_out_with_unsaved_edits_asks_first(app_on, database: str) -> None:
    """Issue 20, item 12: Sign out used to drop the grid's unsaved edits silently."""
    at = intents_screen(app_on("alice"))
    at.button(key="intents_add").click().run()
    assert "Unsaved: 1 new, 0 changed, 0 to delete" in all_text(at)
    at.sidebar.button(key="signin-sign-out").click().run()
    assert at.session_state["user_id"] == ALICE  # still signed in: asked first
    assert [w.value for w in at.sidebar.warning] == [
        "You have 1 unsaved change in the Intents grid. Signing out drops it."]
    at.sidebar.button(key="signin-sign-out-stay").click().run()
    assert not at.sidebar.warning and len(grid(at)) == 13  # the new row is still there
    at.sidebar.button(key="signin-sign-out").click().run()
    at.sidebar.button(key="signin-sign-out-anyway").click().run()
    assert "user_id" not in at.session_state


def test_sign_out_without_unsaved_edits_does_not_ask(app_on, database: str) -> None:
    at = intents_screen(app_on("alice"))
    at.sidebar.button(key="signin-sign-out").click().run()
    assert "user_id" not in at.session_state and not at.sidebar.warning
