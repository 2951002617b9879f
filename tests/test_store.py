"""The store's contract, run on both transports to the same PostgreSQL: direct (psycopg) and Supabase REST."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from lib.errors import ConflictError, ValidationError
from lib.files import csv_encoding
from lib.models import TEST_EXPORT_COLUMNS, IntentDiff, IntentEdit, IntentInput, IntentRef, TestFilter
from lib.store.validation import MAX_INTENT_NAME, MAX_ITEM_LENGTH, MAX_LIST_ITEMS
from tools import tables as schema

NOW = datetime(2026, 11, 25, 12, 0, 0)
ALICE, BOB = "user_test_alice", "user_test_bob"


def intent(name: str, phrases: tuple[str, ...] = ("hello",), en: tuple[str, ...] = ("Hi!",),
           ru: tuple[str, ...] = ("Привет!",), label: str = "") -> IntentInput:
    return IntentInput(name, phrases, en, ru, label=label)


def add(handle, *intents: IntentInput):
    handle.save_intents(IntentDiff(added=intents))
    return handle.list_intents()


def snapshot(engine: sa.Engine) -> dict[str, list]:
    """Every row of every table, to prove a failed save wrote nothing."""
    with engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(sa.select(t)).all())) for t in schema.ALL_TABLES}


def seed_tests(engine: sa.Engine, user_id: str, n: int, *, assistant: str = "asst_1", start: datetime = NOW,
               every: timedelta = timedelta(hours=1), statuses: tuple[str, ...] = ("completed",),
               languages: tuple[str, ...] = ("english",), phrase: str = "hello {i}") -> None:
    rows = [{"id": str(uuid.uuid4()), "user_id": user_id, "assistant_id": assistant,
             "test_phrase": phrase.format(i=i), "language": languages[i % len(languages)], "call_id": f"call_{i}",
             "status": statuses[i % len(statuses)], "created_at": start - i * every,
             "updated_at": start - i * every} for i in range(n)]
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), rows)


# -- intents ---------------------------------------------------------------------------------

def test_saved_intent_is_listed_trimmed(store) -> None:
    alice = store.for_user(ALICE)
    [got] = add(alice, intent("  greeting ", ("  hi ", "hello"), ("Hello!",), ("Здравствуйте!",)))
    assert got.intent_name == "greeting"
    assert got.example_user_phrases == ("hi", "hello")
    assert got.russian_responses == ("Здравствуйте!",)
    assert got.created_at is not None and got.updated_at == got.created_at


def test_edit_delete_and_add_in_one_save(store) -> None:
    alice = store.for_user(ALICE)
    rows = add(alice, intent("a"), intent("b"))
    by_name = {r.intent_name: r for r in rows}
    a, b = by_name["a"], by_name["b"]
    result = alice.save_intents(IntentDiff(
        added=(intent("c", ("new phrase",)),),
        edited=(IntentEdit(a.id, a.updated_at, intent("a2", ("x", "y"))),),
        deleted=(IntentRef(b.id, b.updated_at),),
    ))
    assert (result.added, result.edited, result.deleted) == (1, 1, 1)
    after = {r.intent_name: r for r in alice.list_intents()}
    assert set(after) == {"a2", "c"}
    assert after["a2"].example_user_phrases == ("x", "y")
    assert after["a2"].id == a.id and after["a2"].updated_at > a.updated_at


def test_stale_edit_is_a_conflict_and_writes_nothing(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    [a] = add(alice, intent("a"))
    alice.save_intents(IntentDiff(edited=(IntentEdit(a.id, a.updated_at, intent("changed elsewhere")),)))
    before = snapshot(engine_for)
    with pytest.raises(ConflictError) as err:
        alice.save_intents(IntentDiff(added=(intent("new"),),
                                      edited=(IntentEdit(a.id, a.updated_at, intent("mine")),)))
    assert err.value.ids == [a.id]
    assert "another session" in str(err.value)
    assert snapshot(engine_for) == before


def test_stale_delete_is_a_conflict(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    [a] = add(alice, intent("a"))
    alice.save_intents(IntentDiff(edited=(IntentEdit(a.id, a.updated_at, intent("a2")),)))
    before = snapshot(engine_for)
    with pytest.raises(ConflictError):
        alice.save_intents(IntentDiff(deleted=(IntentRef(a.id, a.updated_at),)))
    assert snapshot(engine_for) == before


def test_deleting_a_row_deleted_elsewhere_is_a_conflict(store) -> None:
    alice = store.for_user(ALICE)
    [a] = add(alice, intent("a"))
    alice.save_intents(IntentDiff(deleted=(IntentRef(a.id, a.updated_at),)))
    with pytest.raises(ConflictError):
        alice.save_intents(IntentDiff(edited=(IntentEdit(a.id, a.updated_at, intent("a2")),)))
    assert alice.list_intents() == []


BAD_INTENTS = [
    (intent(""), "intent_name"),
    (intent("   "), "intent_name"),
    (intent("x" * (MAX_INTENT_NAME + 1)), "intent_name"),
    (intent("ok", ()), "example_user_phrases"),
    (intent("ok", ("  ",)), "example_user_phrases"),
    (intent("ok", ("fine", "")), "example_user_phrases"),
    (intent("ok", ("p" * (MAX_ITEM_LENGTH + 1),)), "example_user_phrases"),
    (intent("ok", tuple(f"p{i}" for i in range(MAX_LIST_ITEMS + 1))), "example_user_phrases"),
    (intent("ok", ("hi",), ("",)), "english_responses"),
    (intent("ok", ("hi",), ("fine",), (" ",)), "russian_responses"),
    (IntentInput("ok", ("hi", 5)), "example_user_phrases"),  # type: ignore[arg-type]
    (IntentInput("ok", "hi"), "example_user_phrases"),  # type: ignore[arg-type]
    # characters PostgreSQL text cannot hold are refused by every backend
    (intent("a\x00b"), "intent_name"),
    (intent("a\ud800b"), "intent_name"),
    (intent("ok", ("fine", "nul\x00")), "example_user_phrases"),
    (intent("ok", ("hi",), ("\udfff",)), "english_responses"),
    (intent("ok", ("hi",), (), ("\x00",)), "russian_responses"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_INTENTS)
def test_every_validation_rule_rejects_and_writes_nothing(store, engine_for, bad, field) -> None:
    alice = store.for_user(ALICE)
    add(alice, intent("existing"))
    before = snapshot(engine_for)
    with pytest.raises(ValidationError) as err:
        alice.save_intents(IntentDiff(added=(intent("good one"), IntentInput(
            bad.intent_name, bad.example_user_phrases, bad.english_responses, bad.russian_responses,
            label="row 7"))))
    assert next((p.row, p.field) for p in err.value.problems) == ("row 7", field)
    assert "Nothing was saved" in str(err.value)
    assert snapshot(engine_for) == before


def test_one_error_names_every_bad_row_and_field(store) -> None:
    alice = store.for_user(ALICE)
    [a] = add(alice, intent("a"))
    with pytest.raises(ValidationError) as err:
        alice.save_intents(IntentDiff(
            added=(intent("", label="row 3"), intent("ok", (), label="row 4")),
            edited=(IntentEdit(a.id, a.updated_at, intent("a", ("",), label="row 1")),),
        ))
    found = {(p.row, p.field) for p in err.value.problems}
    assert {("row 3", "intent_name"), ("row 4", "example_user_phrases"), ("row 1", "example_user_phrases")} <= found
    message = str(err.value)
    assert "row 3" in message and "row 4" in message and "row 1" in message
    assert [i.intent_name for i in alice.list_intents()] == ["a"]


def test_lists_round_trip_unicode_and_quotes(store) -> None:
    alice = store.for_user(ALICE)
    phrases = ('Say "hi", please', "comma, inside", "{braces}", "back\\slash", "Ёлки-палки", "emoji 🎙️", "NULL")
    [got] = add(alice, intent("quotes", phrases))
    assert got.example_user_phrases == phrases


# -- assistants, settings, subscription ------------------------------------------------------

def test_assistants_resolve_intent_names(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    rows = {i.intent_name: i.id for i in add(alice, intent("greeting"), intent("pricing"))}
    with engine_for.begin() as conn:
        conn.execute(sa.insert(schema.assistants), [{
            "id": str(uuid.uuid4()), "user_id": ALICE, "vapi_assistant_id": "vapi_1", "name": "Front desk",
            "config": {"voice": {"provider": "11labs"}, "firstMessage": "Привет"},
            "intents_used": [rows["greeting"], rows["pricing"], str(uuid.uuid4())],
            "created_at": NOW, "updated_at": NOW}])
    [a] = alice.list_assistants()
    assert a.name == "Front desk" and a.vapi_assistant_id == "vapi_1"
    assert a.intents_used == ("greeting", "pricing", "(deleted intent)")
    assert a.config == {"voice": {"provider": "11labs"}, "firstMessage": "Привет"}
    assert store.for_user(BOB).list_assistants() == []


def test_settings_created_active_on_first_read_and_toggled(store) -> None:
    alice = store.for_user(ALICE)
    assert alice.get_settings().is_active is True
    assert alice.set_active(False).is_active is False
    assert alice.get_settings().is_active is False
    assert store.for_user(BOB).get_settings().is_active is True
    assert alice.get_settings().is_active is False


def test_subscription_absent_or_present(store, engine_for) -> None:
    assert store.for_user(ALICE).get_subscription() is None
    with engine_for.begin() as conn:
        conn.execute(sa.insert(schema.subscriptions), [{
            "id": str(uuid.uuid4()), "user_id": ALICE, "stripe_customer_id": "cus_123456", "status": "past_due",
            "plan_type": "pro", "billing_cycle": "monthly", "current_period_start": NOW,
            "current_period_end": NOW + timedelta(days=30), "created_at": NOW, "updated_at": NOW}])
    sub = store.for_user(ALICE).get_subscription()
    assert (sub.status, sub.plan_type, sub.billing_cycle) == ("past_due", "pro", "monthly")
    assert sub.current_period_end == NOW + timedelta(days=30)
    assert store.for_user(BOB).get_subscription() is None


# -- tests and stats -------------------------------------------------------------------------

def test_counts_stay_exact_past_a_thousand_rows(store, engine_for) -> None:
    seed_tests(engine_for, ALICE, 2500, every=timedelta(minutes=30), statuses=("completed", "failed"),
               languages=("english", "russian", "english"))
    seed_tests(engine_for, BOB, 1200)
    alice = store.for_user(ALICE)
    stats = alice.stats(TestFilter())
    assert stats.tests == 2500
    assert stats.tests_completed == 1250
    assert sum(d.count for d in stats.tests_per_day) == 2500
    assert dict(stats.tests_per_language) == {"english": 1667, "russian": 833}
    assert alice.count_tests(TestFilter()) == 2500
    assert alice.list_tests(TestFilter(), page=1, page_size=50).total == 2500
    assert sum(len(c) for c in alice.iter_tests(TestFilter(), chunk_size=700)) == 2500


def test_stats_groups_by_day_assistant_and_week(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    add(alice, intent("a"), intent("b"))
    with engine_for.begin() as conn:
        conn.execute(sa.insert(schema.assistants), [{
            "id": str(uuid.uuid4()), "user_id": ALICE, "vapi_assistant_id": "asst_named", "name": "Front desk",
            "config": {}, "intents_used": [], "created_at": NOW, "updated_at": NOW}])
    seed_tests(engine_for, ALICE, 6, assistant="asst_named", every=timedelta(hours=12),
               statuses=("completed", "failed"))
    seed_tests(engine_for, ALICE, 2, assistant="asst_gone", start=NOW - timedelta(days=10))
    stats = alice.stats(TestFilter())
    assert (stats.intents, stats.assistants, stats.tests, stats.tests_completed) == (2, 1, 8, 5)
    assert stats.tests_per_assistant == (("asst_named", "Front desk", 6), ("asst_gone", "asst_gone", 2))
    days = {(d.day.isoformat(), d.status): d.count for d in stats.tests_per_day}
    assert days == {("2026-11-25", "completed"): 1, ("2026-11-25", "failed"): 1,
                    ("2026-11-24", "completed"): 1, ("2026-11-24", "failed"): 1,
                    ("2026-11-23", "completed"): 1, ("2026-11-23", "failed"): 1,
                    ("2026-11-15", "completed"): 2}
    [(week, n)] = stats.intents_per_week
    assert week.weekday() == 0 and n == 2
    assert stats.success_rate == pytest.approx(5 / 8)
    ranged = alice.stats(TestFilter(start=NOW - timedelta(days=1), end=NOW + timedelta(seconds=1)))
    assert ranged.tests == 3


def test_empty_user_stats(store) -> None:
    stats = store.for_user("user_nobody").stats(TestFilter())
    assert stats.is_empty and stats.tests == 0 and stats.success_rate is None
    assert stats.tests_per_day == () and stats.intents_per_week == ()


def test_test_filters(store, engine_for) -> None:
    seed_tests(engine_for, ALICE, 10, assistant="a1", languages=("english", "russian"),
               statuses=("completed", "failed"), phrase="Book a table {i}")
    seed_tests(engine_for, ALICE, 4, assistant="a2", start=NOW - timedelta(days=5), languages=("russian",),
               phrase="Забронировать СТОЛИК {i}")
    seed_tests(engine_for, ALICE, 1, assistant="a2", start=NOW - timedelta(days=6), phrase="100% sure_x")
    seed_tests(engine_for, BOB, 5, assistant="a1")
    alice = store.for_user(ALICE)

    def total(**kw: object) -> int:
        f = TestFilter(**kw)
        page = alice.list_tests(f, page=1, page_size=100)
        assert page.total == alice.count_tests(f) == len(page.rows) == alice.stats(f).tests
        assert sum(len(c) for c in alice.iter_tests(f)) == page.total
        return page.total

    assert total() == 15
    assert total(assistant_ids=("a2",)) == 5
    assert total(languages=("russian",)) == 9
    assert total(statuses=("failed",)) == 5
    assert total(statuses=("failed", "completed"), languages=("english",)) == 6
    assert total(start=NOW - timedelta(days=5, minutes=1)) == 11
    assert total(start=NOW - timedelta(days=7), end=NOW - timedelta(days=1)) == 5
    assert total(search="table") == 10
    assert total(search="столик") == 4  # Cyrillic, case-insensitive
    assert total(search="100%") == 1  # % is literal
    assert total(search="e_x") == 1  # _ is literal
    assert total(search="%") == 1
    assert total(search="nothing like this") == 0


def test_paging_is_ordered_newest_first_without_overlap(store, engine_for) -> None:
    seed_tests(engine_for, ALICE, 23)
    alice = store.for_user(ALICE)
    pages = [alice.list_tests(TestFilter(), page=p, page_size=10) for p in (1, 2, 3)]
    assert [len(p.rows) for p in pages] == [10, 10, 3]
    assert pages[0].pages == 3
    stamps = [r.created_at for p in pages for r in p.rows]
    assert stamps == sorted(stamps, reverse=True)
    assert len({r.id for p in pages for r in p.rows}) == 23
    exported = [row for c in alice.iter_tests(TestFilter()) for row in c["created_at"]]
    assert exported == sorted(stamps, reverse=True)  # the export is in the screen's order


def test_bad_filters_are_rejected(store) -> None:
    alice = store.for_user(ALICE)
    with pytest.raises(ValidationError, match="language"):
        alice.list_tests(TestFilter(languages=("klingon",)))
    with pytest.raises(ValidationError, match="status"):
        alice.stats(TestFilter(statuses=("exploded",)))
    with pytest.raises(ValidationError, match="start must be before"):
        alice.count_tests(TestFilter(start=NOW, end=NOW - timedelta(days=1)))


@pytest.mark.parametrize("bad", ["", " user_x", "x" * 256])
def test_bad_user_ids_are_refused(store, bad: str) -> None:
    with pytest.raises(ValidationError):
        store.for_user(bad)


def test_counts_from_the_daily_rollup_match_counting_the_calls(store, engine_for) -> None:
    """Whole-day filters count from the trigger-kept rollups (the narrowest with every dimension the
    filter and the aggregate need); a phrase search counts the calls.
    Both must agree through inserts, updates and deletes, and with null language/status/created_at."""
    seed_tests(engine_for, ALICE, 40, assistant="a1", every=timedelta(hours=7), statuses=("completed", "failed"),
               languages=("english", "russian"), phrase="hello {i}")
    seed_tests(engine_for, ALICE, 9, assistant="a2", every=timedelta(hours=13), phrase="hello again {i}")
    seed_tests(engine_for, BOB, 5, assistant="a1", phrase="hello {i}")
    T = schema.assistant_tests
    with engine_for.begin() as conn:
        conn.execute(sa.insert(T), [{"id": str(uuid.uuid4()), "user_id": ALICE, "assistant_id": "a3",
                                     "test_phrase": "hello null", "language": None, "status": None,
                                     "created_at": None, "updated_at": None}])
        conn.execute(sa.update(T).where(T.c.user_id == ALICE, T.c.status == "failed",
                                        T.c.language == "russian").values(status="completed"))
        conn.execute(sa.update(T).where(T.c.user_id == ALICE, T.c.assistant_id == "a2")
                     .values(created_at=NOW - timedelta(days=4, hours=3)))
        conn.execute(sa.delete(T).where(T.c.user_id == ALICE, T.c.test_phrase.like("hello 1%")))
    alice = store.for_user(ALICE)
    midnight = datetime(NOW.year, NOW.month, NOW.day)
    filters = [TestFilter(), TestFilter(start=midnight - timedelta(days=5), end=midnight + timedelta(days=1)),
               TestFilter(assistant_ids=("a2", "a3")), TestFilter(languages=("russian",)),
               TestFilter(statuses=("completed",), start=midnight - timedelta(days=3)),
               TestFilter(assistant_ids=("a1",), languages=("russian",)), TestFilter(statuses=("failed",)),
               # periods in other time zones (UTC+3, UTC-5): whole UTC days from the rollups, part-days from the calls
               TestFilter(start=midnight - timedelta(days=5, hours=3), end=midnight - timedelta(hours=3)),
               TestFilter(start=midnight - timedelta(days=4) + timedelta(hours=5), end=midnight + timedelta(hours=5),
                          statuses=("completed",)),
               TestFilter(start=midnight - timedelta(days=3, hours=3), assistant_ids=("a1",)),
               TestFilter(end=midnight - timedelta(days=1, hours=3), languages=("russian",)),
               TestFilter(start=midnight - timedelta(days=1, hours=3), end=midnight - timedelta(hours=3))]
    for f in filters:
        rollup = alice.stats(f)
        calls = alice.stats(replace(f, search="hello"))  # every phrase has it: same rows, counted one by one
        assert rollup == calls, f
        assert alice.count_tests(f) == rollup.tests == alice.list_tests(f).total
    everything = alice.stats(TestFilter())
    assert everything.tests == 40 + 9 + 1 - 11  # 'hello 1', 'hello 10'..'hello 19' deleted
    assert dict(everything.tests_per_language)["english"] >= 1  # the null language counts as english
    assert sum(d.count for d in everything.tests_per_day) == everything.tests - 1  # no day for a null created_at


def _local_midnight(day: datetime, zone: str) -> datetime:
    """The local midnight starting ``day`` in ``zone``, as a naive UTC instant (as the screens' periods)."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day.date(), datetime.min.time(), tzinfo=ZoneInfo(zone)).astimezone(
        ZoneInfo("UTC")).replace(tzinfo=None)


def test_stats_days_are_the_users_local_days(store, engine_for) -> None:
    """The per-day chart counts each call on its local date in the zone asked for (issue 20: in Moscow a call at
    01:00 belonged to the previous UTC day), in a zone on whole hours (the hourly rollup), one on half hours (the
    calls) and UTC (the daily rollups); its days sum to the total, and lie within the period.  Expected values: the
    calls grouped by `at time zone`, counted apart from the function."""
    T = schema.assistant_tests
    # every 37 minutes for four days, across local midnights in every zone; three statuses, two languages, two
    # assistants; then a status change, a moved call and a deletion (the hourly rollup follows every writer)
    seed_tests(engine_for, ALICE, 160, assistant="a1", every=timedelta(minutes=37),
               statuses=("completed", "failed", "in_progress"), languages=("english", "russian"))
    seed_tests(engine_for, ALICE, 20, assistant="a2", start=NOW - timedelta(minutes=11), every=timedelta(hours=5))
    seed_tests(engine_for, BOB, 30, every=timedelta(minutes=50))  # another user's calls count for nobody here
    with engine_for.begin() as conn:
        conn.execute(sa.update(T).where(T.c.user_id == ALICE, T.c.test_phrase == "hello 3").values(status="completed"))
        conn.execute(sa.update(T).where(T.c.user_id == ALICE, T.c.test_phrase == "hello 4")
                     .values(created_at=NOW - timedelta(days=2, minutes=20)))
        conn.execute(sa.delete(T).where(T.c.user_id == ALICE, T.c.test_phrase == "hello 5"))
    alice = store.for_user(ALICE)
    day = datetime(NOW.year, NOW.month, NOW.day)
    for zone in ("Europe/Moscow", "America/Los_Angeles", "Asia/Kolkata", "UTC"):
        start, end = _local_midnight(day - timedelta(days=3), zone), _local_midnight(day + timedelta(days=1), zone)
        for f in (TestFilter(start=start, end=end), TestFilter(start=start, end=end, languages=("russian",)),
                  TestFilter(start=start, end=end, statuses=("completed", "failed")),
                  TestFilter(start=start, end=end, assistant_ids=("a2",)),
                  TestFilter(start=start, end=end, search="hello 1"), TestFilter(start=start)):
            where = "user_id = :u and created_at >= :s" + (" and created_at < :e" if f.end else "")
            where += " and language = any(:l)" if f.languages else ""
            where += " and status = any(:st)" if f.statuses else ""
            where += " and assistant_id = any(:a)" if f.assistant_ids else ""
            where += " and test_phrase ilike :q" if f.search else ""
            with engine_for.connect() as conn:
                expected = {(d, st): n for d, st, n in conn.execute(sa.text(
                    "select (created_at at time zone 'UTC' at time zone :z)::date, status, count(*) "
                    f"from assistant_tests where {where} group by 1, 2"),
                    {"z": zone, "u": ALICE, "s": f.start, "e": f.end, "l": list(f.languages),
                     "st": list(f.statuses), "a": list(f.assistant_ids), "q": f"%{f.search}%"})}
            stats = alice.stats(f, zone)
            got = {(d.day, d.status): d.count for d in stats.tests_per_day}
            assert got == expected, (zone, f)
            assert stats.tests == sum(expected.values()) == alice.count_tests(f), (zone, f)
            if f.end:
                assert min(d for d, _st in got) >= (day - timedelta(days=3)).date(), (zone, f)  # no stub day before
                assert max(d for d, _st in got) <= day.date(), (zone, f)
    # which count answers: the hourly rollup for every hour within one local day, the calls for an hour a local
    # midnight cuts (Kolkata, +05:30: 18:00-19:00 UTC).  Both are exact, so only a rollup changed behind the triggers'
    # back tells them apart (put back afterwards).
    f = TestFilter(start=_local_midnight(day - timedelta(days=3), "Europe/Moscow"),
                   end=_local_midnight(day + timedelta(days=1), "Europe/Moscow"))
    kolkata = TestFilter(start=_local_midnight(day - timedelta(days=3), "Asia/Kolkata"),
                         end=_local_midnight(day + timedelta(days=1), "Asia/Kolkata"))
    honest = (alice.stats(f, "Europe/Moscow").tests, alice.stats(kolkata, "Asia/Kolkata").tests)

    def tamper(n: int, hour: datetime) -> None:
        with engine_for.begin() as conn:
            conn.execute(sa.text("insert into assistant_test_hourly_status as r values (:u, :h, 'english', "
                                 "'completed', :n) on conflict (user_id, hour, language, status) "
                                 "do update set tests = r.tests + excluded.tests"), {"n": n, "u": ALICE, "h": hour})

    within, cut = NOW.replace(minute=0), NOW.replace(hour=18, minute=0) - timedelta(days=1)
    assert within.hour != 18
    tamper(1000, within)
    tamper(1000, cut)
    try:
        assert alice.stats(f, "Europe/Moscow").tests_per_day != alice.stats(replace(f, search="hello"),
                                                                            "Europe/Moscow").tests_per_day
        kolkata_days = {(d.day, d.status): d.count for d in alice.stats(kolkata, "Asia/Kolkata").tests_per_day}
        counted = {(d.day, d.status): d.count
                   for d in alice.stats(replace(kolkata, search="hello"), "Asia/Kolkata").tests_per_day}
        changed = {k for k in kolkata_days.keys() | counted.keys() if kolkata_days.get(k) != counted.get(k)}
        assert [k[1] for k in changed] == ["completed"] and sum(kolkata_days.values()) - sum(counted.values()) == 1000
    finally:
        tamper(-1000, within)
        tamper(-1000, cut)
    assert (alice.stats(f, "Europe/Moscow").tests, alice.stats(kolkata, "Asia/Kolkata").tests) == honest
    # the zone changes only where days start: UTC gives the UTC dates, and an unknown zone is UTC
    f = TestFilter(start=day - timedelta(days=3), end=day + timedelta(days=1))
    assert alice.stats(f, "Not/AZone") == alice.stats(f, "UTC") == alice.stats(f)
    assert alice.stats(f, "Europe/Moscow").tests_per_day != alice.stats(f).tests_per_day


# -- one rule for NULL language/status; paging order; the export's bytes ---------------------

HOSTILE_PHRASES = ("=SUM(A1:A9)", "+1", "-2", "@cmd", "\tTab", "\rCR", "'=already", "''+twice", "'", "plain",
                   'say "hi", please', "line\nbreak", "crlf\r\ninside", "Ёлки-палки 🎙️", "", "\\.", "\\N", " space",
                   "back\\slash\\n and \\x41 \\101", "ctrl\x08\x0b\x0c\x01\x7f")


def seed_hostile(engine: sa.Engine, user_id: str) -> list[dict]:
    """Calls with every formula trigger, quotes, newlines, unicode, NULL and '' language/status, NULL
    created_at, with and without microseconds; returned as seeded."""
    rows = []
    for i, phrase in enumerate(HOSTILE_PHRASES):
        rows.append({
            "id": str(uuid.UUID(int=i + 1)), "user_id": user_id, "assistant_id": "=asst" if i == 3 else f"asst_{i % 2}",
            "test_phrase": phrase, "language": (None, "", "russian", "english")[i % 4],
            "call_id": (None, "call,1", 'c"2', "")[i % 4], "status": (None, "completed", "", "failed", "initiated")[i % 5],
            "created_at": None if i in (4, 9) else NOW - timedelta(days=i % 3, minutes=i, microseconds=0 if i % 2 else 120),
            "updated_at": None if i == 7 else NOW - timedelta(seconds=i, microseconds=5 * (i % 3)),
        })
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), rows)
    return rows


def _shown(row: dict) -> dict:
    """A seeded row as every screen and export shows it: NULL or '' language/status is the default."""
    return {**row, "language": row["language"] or "english", "status": row["status"] or "initiated"}


def _newest_first(rows: list[dict]) -> list[dict]:
    dated = sorted((r for r in rows if r["created_at"] is not None), key=lambda r: (r["created_at"], r["id"]),
                   reverse=True)
    return dated + sorted((r for r in rows if r["created_at"] is None), key=lambda r: r["id"], reverse=True)


def test_null_language_and_status_are_the_defaults_everywhere(store, engine_for) -> None:
    rows = seed_hostile(engine_for, ALICE)
    alice = store.for_user(ALICE)
    english = [r for r in rows if not r["language"] or r["language"] == "english"]
    initiated = [r for r in rows if not r["status"] or r["status"] == "initiated"]
    midnight = datetime(NOW.year, NOW.month, NOW.day)
    for f, expected in ((TestFilter(languages=("english",)), english), (TestFilter(statuses=("initiated",)), initiated),
                        (TestFilter(languages=("english",), search="e"), [r for r in english if "e" in r["test_phrase"].lower()]),
                        (TestFilter(statuses=("initiated",), start=midnight - timedelta(days=5)),
                         [r for r in initiated if r["created_at"] is not None])):
        page = alice.list_tests(f, page=1, page_size=100)
        assert page.total == alice.count_tests(f) == alice.stats(f).tests == len(expected), f
        assert {r.id for r in page.rows} == {r["id"] for r in expected}, f
        assert sum(len(c) for c in alice.iter_tests(f)) == len(expected), f
    shown = alice.list_tests(TestFilter(), page=1, page_size=100).rows
    assert {r.language for r in shown} == {"english", "russian"}
    assert {r.status for r in shown} == {"initiated", "completed", "failed"}
    exported = pd.concat(list(alice.iter_tests(TestFilter())))
    assert set(exported["language"]) == {"english", "russian"} and set(exported["status"]) == {"initiated", "completed",
                                                                                               "failed"}
    stats = alice.stats(TestFilter())
    assert dict(stats.tests_per_language)["english"] == len(english)


def test_pages_and_the_export_follow_one_order(store, engine_for) -> None:
    """Newest first by (created_at, id), calls without created_at last (the oldest); any page size, any
    page, read straight or by jumping, gives the same sequence on every backend; so does the export."""
    rows = seed_hostile(engine_for, ALICE)
    seed_tests(engine_for, ALICE, 30, every=timedelta(hours=5))
    with engine_for.connect() as conn:
        rows += [dict(r._mapping) for r in conn.execute(sa.select(schema.assistant_tests).where(
            schema.assistant_tests.c.user_id == ALICE, schema.assistant_tests.c.test_phrase.like("hello %")))]
    expected = [r["id"] for r in _newest_first(rows)]
    alice = store.for_user(ALICE)
    for size in (1, 7, 50):
        pages = -(-len(expected) // size)
        got = [r.id for p in range(1, pages + 1) for r in alice.list_tests(TestFilter(), page=p, page_size=size).rows]
        assert got == expected, size
        assert alice.list_tests(TestFilter(), page=pages + 1, page_size=size).rows == ()
    last = alice.list_tests(TestFilter(), page=len(expected), page_size=1)
    assert [r.id for r in last.rows] == expected[-1:] and last.total == len(expected)
    exported = [i for c in alice.iter_tests(TestFilter(), chunk_size=11) for i in c["id"]]
    assert exported == expected


def seed_assistant_names(engine: sa.Engine) -> dict[str, str]:
    """Alice names one of seed_hostile's Vapi ids (a hostile name), not the others; bob names another of
    them, which alice's export must never show.  Returns alice's names by Vapi id."""
    now = datetime(2026, 11, 1)
    mine = {"asst_0": '=Front desk, "main"\nline'}
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistants), [
            {"id": str(uuid.uuid4()), "user_id": user, "vapi_assistant_id": vapi_id, "name": name, "config": {},
             "intents_used": [], "created_at": now, "updated_at": now}
            for user, vapi_id, name in ((ALICE, "asst_0", mine["asst_0"]), (BOB, "asst_1", "Bob's own line"))])
    return mine


def test_exported_csv_is_to_csv_of_the_rows_byte_for_byte(store, engine_for) -> None:
    """Every backend's export (PostgreSQL: the database writes the CSV) equals lib.files.csv_encoding.to_csv of the
    seeded rows, with the null rule applied, newest first like the screen, with the assistant's name
    (the user's own; empty when the user has no assistant with that Vapi id): every hostile payload included."""
    rows = seed_hostile(engine_for, ALICE)
    names = seed_assistant_names(engine_for)
    frame = pd.DataFrame([{**_shown(r), "assistant_name": names.get(r["assistant_id"])} for r in _newest_first(rows)],
                         columns=list(TEST_EXPORT_COLUMNS))
    assert frame["assistant_name"].notna().any() and frame["assistant_name"].isna().any()
    out = io.BytesIO()
    n = store.for_user(ALICE).export_tests_csv(TestFilter(), out)
    assert n == len(rows)
    assert out.getvalue() == csv_encoding.to_csv(frame)
    assert store.for_user(BOB).export_tests_csv(TestFilter(), io.BytesIO()) == 0
    filtered = io.BytesIO()
    f = TestFilter(languages=("english",), statuses=("initiated", "failed"))
    store.for_user(ALICE).export_tests_csv(f, filtered)
    keep = frame[(frame["language"] == "english") & frame["status"].isin(["initiated", "failed"])]
    assert len(keep) and filtered.getvalue() == csv_encoding.to_csv(keep)


def test_excel_json_and_parquet_exports_hold_the_same_rows(store, engine_for) -> None:
    """The Export screen's other formats of the test calls: the seeded rows (hostile payloads, missing
    times) in the same order, names and values as the seed, in chunks written one after another."""
    import json
    import zipfile
    from functools import partial

    import pyarrow.parquet as pq

    from lib.files import formats

    rows = _newest_first(seed_hostile(engine_for, ALICE))
    names = seed_assistant_names(engine_for)
    alice = store.for_user(ALICE)

    def export(writer) -> bytes:
        out = io.BytesIO()
        assert alice.export_tests(TestFilter(), partial(writer, out=out)) == len(rows)
        return out.getvalue()

    def iso(t: datetime | None) -> str | None:
        return None if t is None else t.isoformat(timespec="microseconds").removesuffix(".000000") + "Z"

    records = json.loads(export(formats.write_json))
    assert [r["id"] for r in records] == [r["id"] for r in rows]
    assert [(r["test_phrase"], r["call_id"], r["status"], r["language"], r["assistant_name"]) for r in records] == [
        (r["test_phrase"], r["call_id"], _shown(r)["status"], _shown(r)["language"], names.get(r["assistant_id"]))
        for r in rows]
    assert [(r["created_at"], r["updated_at"]) for r in records] == [(iso(r["created_at"]), iso(r["updated_at"])) for r in rows]

    table = pq.read_table(io.BytesIO(export(partial(formats.write_parquet, schema=formats.tests_schema())))).to_pylist()
    assert [(r["id"], r["test_phrase"], r["assistant_name"]) for r in table] == [
        (r["id"], r["test_phrase"], names.get(r["assistant_id"])) for r in rows]
    assert [r["created_at"] and r["created_at"].replace(tzinfo=None) for r in table] == [r["created_at"] for r in rows]

    with zipfile.ZipFile(io.BytesIO(export(formats.write_excel))) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count("<row ") == len(rows) + 1 and "<f>" not in sheet  # a header, a row per call, no formula
    assert alice.export_tests(TestFilter(languages=("russian",)), partial(formats.write_json, out=io.BytesIO())) == \
        sum(r["language"] == "russian" for r in rows)
    assert store.for_user(BOB).export_tests(TestFilter(), partial(formats.write_json, out=io.BytesIO())) == 0


def test_a_long_export_with_line_feeds_in_some_cells_is_still_to_csv_byte_for_byte(store, engine_for) -> None:
    """1,200 calls, newest first: the direct path reads COPY's rows in batches and turns each row's LF into CRLF;
    the calls whose phrase holds a line feed (a quoted cell) sit in a few batches only, next to batches
    without any, and every row of either kind ends with CRLF while the line feeds inside cells stay as they are."""
    phrases = [f"hello {i}" if i % 400 not in (7, 8) else ("two\nlines, quoted" if i % 2 else 'say "hi"\r\nok')
               for i in range(1200)]
    rows = [{"id": str(uuid.UUID(int=i + 1)), "user_id": ALICE, "assistant_id": "asst_0", "test_phrase": p,
             "language": "english", "call_id": f"call_{i}", "status": "completed",
             "created_at": NOW - timedelta(minutes=i), "updated_at": NOW - timedelta(minutes=i, microseconds=i % 7)}
            for i, p in enumerate(phrases)]
    with engine_for.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), rows)
    frame = pd.DataFrame([{**r, "assistant_name": None} for r in rows], columns=list(TEST_EXPORT_COLUMNS))
    out = io.BytesIO()
    assert store.for_user(ALICE).export_tests_csv(TestFilter(), out) == 1200
    assert out.getvalue() == csv_encoding.to_csv(frame)
    assert out.getvalue().count(b"\r\n") == 1201 + 3  # header, rows, and the three phrases with CRLF inside


def test_exports_have_bounded_slots_and_say_when_busy(store) -> None:
    from lib.errors import ExportBusy

    gate = store.export_gate
    gate._wait = 0.05  # the test does not wait the real few seconds
    with gate.slot(), gate.slot():
        with pytest.raises(ExportBusy, match="Too many exports"):
            store.for_user(ALICE).export_tests_csv(TestFilter(), io.BytesIO())
        assert store.for_user(ALICE).count_tests(TestFilter()) == 0  # screens are not held up meanwhile
    assert store.for_user(ALICE).export_tests_csv(TestFilter(), io.BytesIO()) == 0


def test_an_export_past_its_time_limit_is_stopped_with_a_clear_message(pg_clean: str) -> None:
    """PostgreSQL: the export's own statement timeout (here 0.5 s) cuts a COPY that waits on a lock; the
    screens' pool is not used by the export, and keeps answering."""
    import threading

    from lib.errors import ExportTimeout
    from lib.store.direct import DirectStore

    store = DirectStore(pg_clean, export_timeout_ms=500)
    owner = sa.create_engine(pg_clean)
    seed_tests(owner, ALICE, 3)
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with owner.begin() as conn:
            conn.exec_driver_sql("lock table assistant_tests in access exclusive mode")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        locked.wait(10)
        with pytest.raises(ExportTimeout, match=r"stopped after 0\.5 seconds"):
            store.for_user(ALICE).export_tests_csv(TestFilter(), io.BytesIO())
        assert store.pool.get_stats().get("requests_num", 0) == 0  # the export never took a screen connection
    finally:
        release.set()
        holder.join()
    assert store.for_user(ALICE).export_tests_csv(TestFilter(), io.BytesIO()) == 3
    store.close()
    owner.dispose()


def test_deep_pages_in_a_busy_day_with_ties(store, engine_for) -> None:
    """Hundreds of calls on one day, some at the very same instant: a page deep into the day is the same
    slice of the one order as reading every call, ties broken by id."""
    day = datetime(2026, 11, 20, 23, 0)
    seed_tests(engine_for, ALICE, 400, start=day, every=timedelta(seconds=90))
    seed_tests(engine_for, ALICE, 40, start=day - timedelta(seconds=90 * 300), every=timedelta(0), phrase="tie {i}")
    seed_tests(engine_for, ALICE, 20, start=day - timedelta(days=1))  # an older day after the busy one
    with engine_for.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            sa.select(schema.assistant_tests).where(schema.assistant_tests.c.user_id == ALICE))]
    expected = [str(r["id"]).replace("-", "") for r in _newest_first(rows)]
    assert len(expected) == 460
    alice = store.for_user(ALICE)
    for size in (7, 50):
        got = [r.id.replace("-", "") for p in range(1, -(-460 // size) + 1)
               for r in alice.list_tests(TestFilter(), page=p, page_size=size).rows]
        assert got == expected, size
