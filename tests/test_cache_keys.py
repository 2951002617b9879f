"""Every cached read of lib.store.queries is keyed on every table it reads (issue 18, item 14): for each read and
each table it depends on, a write by another writer (the web app, a webhook: SQL from outside the dashboard) to
that table changes what the read returns on the next render.  A read cached without one of its tables keeps
returning the old result and fails here."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from lib.models import TestFilter
from lib.store import queries
from tests import test_queries
from tests.test_queries import ALICE, as_user, helper, render  # noqa: F401  (helper: the fixture)

ASSISTANT = "00000000-0000-0000-0000-0000000000e1"
CALL = "00000000-0000-0000-0000-0000000000c1"
ALL = TestFilter()


def _sql(statement: str, **params: object) -> None:
    engine = sa.create_engine(test_queries._owner_url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)
    engine.dispose()


def _seed() -> None:
    """alice: the helper's intents a1, a2; an assistant using a1; a failed call of it; settings; a subscription."""
    _sql("insert into assistants (id, user_id, vapi_assistant_id, name, intents_used) values "
         "(:a, :u, 'vapi_1', 'Front desk', array(select id from intents where user_id = cast(:u as varchar) "
         "and intent_name = 'a1'))",
         a=ASSISTANT, u=ALICE)
    _sql("insert into assistant_tests (id, user_id, assistant_id, test_phrase, language, status, created_at) values "
         "(:c, :u, 'vapi_1', 'book a table', 'english', 'failed', '2026-11-20 10:00')", c=CALL, u=ALICE)
    _sql("insert into assistant_settings (user_id, is_active) values (:u, true)", u=ALICE)
    _sql("insert into subscriptions (user_id, status, plan_type) values (:u, 'active', 'pro')", u=ALICE)


# read -> (what the screen calls, the tables it depends on); the tables are written out here, from what each
# SQL function reads, not taken from lib.store.queries
READS = {
    "intents": (queries.intents, ("intents",)),
    "history": (queries.history, ("intent_history",)),
    "assistants": (queries.assistants, ("assistants", "intents")),
    "assistant_settings": (queries.assistant_settings, ("assistant_settings",)),
    "subscription": (queries.subscription, ("subscriptions",)),
    "stats": (lambda: queries.stats(ALL), ("assistant_tests", "intents", "assistants")),
    "count_tests": (lambda: queries.count_tests(ALL), ("assistant_tests",)),
    "first_test_at": (queries.first_test_at, ("assistant_tests",)),
    "tests": (lambda: queries.tests(ALL), ("assistant_tests",)),
    "failure_drilldown": (lambda: queries.failure_drilldown(ALL), ("assistant_tests", "assistants")),
}

# one write per table by another writer, each one that every read of that table shows
WRITES = {
    "intents": "update intents set intent_name = 'a1 renamed', created_at = '2026-11-02' "
               "where user_id = :u and intent_name = 'a1'",
    "intent_history": "insert into intent_history (user_id, kind) values (:u, 'grid')",
    "assistants": "update assistants set name = 'Reception' where user_id = :u",
    "assistant_settings": "update assistant_settings set is_active = false where user_id = :u",
    "subscriptions": "update subscriptions set status = 'past_due' where user_id = :u",
    "assistant_tests": "insert into assistant_tests (user_id, assistant_id, test_phrase, language, status, created_at) "
                       "values (:u, 'vapi_1', 'book a table', 'english', 'failed', '2026-11-19 10:00')",
}

CASES = [(read, table) for read, (_, tables) in READS.items() for table in tables]


def _comparable(value: object) -> object:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    return value


def test_every_cached_read_of_the_helper_is_listed() -> None:
    public = {name for name in ("intents", "history", "assistants", "assistant_settings", "subscription", "stats",
                                "count_tests", "first_test_at", "tests", "failure_drilldown")}
    cached = {name.lstrip("_") for name, fn in vars(queries).items() if hasattr(fn, "clear") and name.startswith("_")
              and not name.startswith("__") and name not in ("_known",)}
    assert {"intents", "history", "assistants", "settings", "subscription", "stats", "count_tests", "first_test_at",
            "tests", "failures"} == cached  # a new cached read must be added to READS
    assert public == set(READS)


@pytest.mark.parametrize(("read", "table"), CASES, ids=[f"{r}-{t}" for r, t in CASES])
def test_a_write_by_another_writer_to_each_table_a_read_depends_on_changes_its_result(
        helper: list[str], read: str, table: str) -> None:  # noqa: F811
    _seed()
    as_user(ALICE)
    render()
    fn = READS[read][0]
    before = _comparable(fn())
    assert _comparable(fn()) == before  # cached, and stable
    _sql(WRITES[table], u=ALICE)
    render()  # the next render reads the versions again
    assert _comparable(fn()) != before, f"{read} still shows the data from before {table} changed"
