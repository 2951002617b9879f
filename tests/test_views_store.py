"""The failure drill-down, the exact phrase filter and the period-bound intents chart, on every backend
(PostgreSQL direct and Supabase REST), against counts made here with an independent GROUP BY."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from lib.errors import ValidationError
from lib.models import IntentDiff, IntentInput, TestFilter
from tools import tables as schema

NOW = datetime(2026, 11, 25, 12, 0, 0)
ALICE, BOB = "user_views_alice", "user_views_bob"
PHRASES = ["Book a table", "Opening hours?", "Забронировать столик", "100% sure_x", "Cancel my order"]
STATUSES = ["completed", "failed", "cancelled", "in_progress", None, ""]


def seed_mixed(engine: sa.Engine, user_id: str, n: int, seed: int) -> None:
    """``n`` calls over 20 days with random phrases, assistants, languages and statuses (nulls included)."""
    rnd = random.Random(seed)
    rows = [{"id": str(uuid.uuid4()), "user_id": user_id, "assistant_id": rnd.choice(["asst_a", "asst_b", "asst_c"]),
             "test_phrase": rnd.choice(PHRASES), "language": rnd.choice(["english", "russian", None]),
             "call_id": f"c{i}", "status": rnd.choice(STATUSES),
             "created_at": NOW - timedelta(minutes=rnd.randrange(0, 20 * 24 * 60)), "updated_at": NOW}
            for i in range(n)]
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), rows)
        conn.execute(sa.insert(schema.assistants), [{
            "id": str(uuid.uuid4()), "user_id": user_id, "vapi_assistant_id": "asst_a", "name": f"Front desk {user_id}",
            "config": {}, "intents_used": [], "created_at": NOW, "updated_at": NOW}])


def expected(engine: sa.Engine, user_id: str, column: str, start: datetime | None = None,
             end: datetime | None = None, language: str | None = None) -> dict[str, tuple[int, int, int]]:
    """key -> (total, failed, cancelled) by a GROUP BY written here, for keys with a failure."""
    where = "user_id = :u"
    if start is not None:
        where += " and created_at >= :s"
    if end is not None:
        where += " and created_at < :e"
    if language is not None:
        where += " and coalesce(nullif(language, ''), 'english') = :l"
    sql = (f"select {column}, count(*), sum(case when status = 'failed' then 1 else 0 end), "
           f"sum(case when status = 'cancelled' then 1 else 0 end) from assistant_tests where {where} "
           f"group by {column}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql), {"u": user_id, "s": start, "e": end, "l": language}).all()
    return {k: (int(n), int(f), int(c)) for k, n, f, c in rows if f + c > 0}


def shown(groups) -> dict[str, tuple[int, int, int]]:
    return {g.key: (g.total, g.failed, g.cancelled) for g in groups}


def test_failure_drilldown_counts_match_a_group_by(store, engine_for) -> None:
    seed_mixed(engine_for, ALICE, 600, seed=1)
    seed_mixed(engine_for, BOB, 300, seed=2)
    alice = store.for_user(ALICE)
    everything = alice.failure_drilldown(TestFilter(), limit=100)
    assert shown(everything.phrases) == expected(engine_for, ALICE, "test_phrase")
    assert shown(everything.assistants) == expected(engine_for, ALICE, "assistant_id")
    names = {g.key: g.name for g in everything.assistants}
    assert names["asst_a"] == f"Front desk {ALICE}" and names["asst_b"] == "asst_b"  # never bob's name
    fails = [g.failures for g in everything.phrases]
    assert fails == sorted(fails, reverse=True)
    top = everything.phrases[0]
    assert top.rate == pytest.approx((top.failed + top.cancelled) / top.total)

    start, end = NOW - timedelta(days=7, hours=5), NOW - timedelta(days=1, minutes=13)  # not midnights
    week = alice.failure_drilldown(TestFilter(start=start, end=end, languages=("english",),
                                              statuses=("completed",), phrase="ignored"), limit=100)
    assert shown(week.phrases) == expected(engine_for, ALICE, "test_phrase", start, end, "english")
    assert shown(week.assistants) == expected(engine_for, ALICE, "assistant_id", start, end, "english")

    two = alice.failure_drilldown(TestFilter(), limit=2)
    assert len(two.phrases) == 2 and [g.failures for g in two.phrases] == fails[:2]


def test_failure_drilldown_of_a_user_without_failures_is_empty(store, engine_for) -> None:
    seed_mixed(engine_for, BOB, 50, seed=3)
    nobody = store.for_user(ALICE).failure_drilldown(TestFilter())
    assert nobody.phrases == () and nobody.assistants == ()


def test_the_phrase_filter_is_exact_on_every_read(store, engine_for) -> None:
    seed_mixed(engine_for, ALICE, 400, seed=4)
    alice = store.for_user(ALICE)
    with engine_for.connect() as conn:
        want = conn.execute(sa.text("select count(*) from assistant_tests where user_id = :u and test_phrase = :p "
                                    "and status in ('failed', 'cancelled')"),
                            {"u": ALICE, "p": "100% sure_x"}).scalar_one()
    f = TestFilter(phrase="100% sure_x", statuses=("failed", "cancelled"))
    page = alice.list_tests(f, page=1, page_size=1000)
    assert want > 0 and page.total == len(page.rows) == alice.count_tests(f) == alice.stats(f).tests == want
    assert {r.test_phrase for r in page.rows} == {"100% sure_x"}
    assert alice.count_tests(TestFilter(phrase="100%")) == 0  # exact, not a substring
    day = TestFilter(start=datetime(2026, 11, 20), end=datetime(2026, 11, 22), phrase="Book a table")
    assert alice.count_tests(day) == sum(1 for r in alice.list_tests(TestFilter(start=day.start, end=day.end),
                                                                     page_size=1000).rows
                                         if r.test_phrase == "Book a table")
    with pytest.raises(ValidationError, match="phrase"):
        alice.count_tests(TestFilter(phrase="x" * 2001))


def test_intents_per_week_follow_the_period(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(IntentInput("new", ("hi",), ("Hi",), ("Привет",)),)))
    with engine_for.begin() as conn:
        conn.execute(sa.update(schema.intents).where(schema.intents.c.user_id == ALICE)
                     .values(created_at=datetime(2026, 11, 18, 9)))
        conn.execute(sa.insert(schema.intents), [{
            "id": str(uuid.uuid4()), "user_id": ALICE, "intent_name": "old", "example_user_phrases": [],
            "english_responses": [], "russian_responses": [], "created_at": datetime(2026, 9, 1, 9),
            "updated_at": datetime(2026, 9, 1, 9)}])
    assert sum(n for _, n in alice.stats(TestFilter()).intents_per_week) == 2
    recent = alice.stats(TestFilter(start=datetime(2026, 11, 1), end=datetime(2026, 12, 1)))
    assert [(w.isoformat(), n) for w, n in recent.intents_per_week] == [("2026-11-16", 1)]
    assert recent.intents == 2  # the card counts all intents (and says so)


def test_the_drilldown_function_checks_the_caller(rest_url: str, pg_clean: str) -> None:
    """dashboard_failure_drilldown takes no user id: it answers about the token's user (RLS hides other
    users' rows); only a signed-in user may call it (anon and the server key are refused)."""
    import httpx

    from tests.postgrest_server import make_jwt
    from tests.rest_fixtures import JWT_SECRET

    engine = sa.create_engine(pg_clean)
    seed_mixed(engine, ALICE, 80, seed=5)
    engine.dispose()

    def call(role: str, sub: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {make_jwt(JWT_SECRET, role, sub)}", "Accept": "application/json"}
        return httpx.post(f"{rest_url}/rest/v1/rpc/dashboard_failure_drilldown", json={"p_limit": 10},
                          headers=headers, timeout=30)

    anon = call("anon", None)
    assert anon.status_code == 401 and anon.json()["code"] == "42501", anon.text
    server = call("service_role", None)
    assert server.status_code == 403 and server.json()["code"] == "42501", server.text
    own = call("authenticated", ALICE).json()
    assert own["phrases"] and own["assistants"]
    assert call("authenticated", BOB).json() == {"phrases": [], "assistants": []}
