"""The two transports agree: the Supabase REST transport (lib.store.rest, through the PostgREST stand-in)
and the direct one (lib.store.direct) on the same PostgreSQL give the same rows, the same order and the
same errors; plus what only REST has (keys, the JWT secret, an unreachable API, one client many threads)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lib.errors import ConfigError, ConflictError, NotLoaded, StoreError, StoreUnavailable, ValidationError
from lib.models import LANGUAGES, TEST_STATUSES, IntentDiff, IntentEdit, IntentInput, IntentRef, TestFilter
from lib.store.direct import DirectStore
from lib.store.rest import RestStore
from tools import tables as schema

NOW = datetime(2026, 11, 25, 12, 0, 0, 123456)
ALICE, BOB = "user_rest_alice", "user_rest_bob"


@pytest.fixture
def sql_store(pg_clean: str) -> Iterator[DirectStore]:
    store = DirectStore(pg_clean)
    yield store
    store.close()


@pytest.fixture
def rest(rest_store: RestStore, pg_clean: str) -> RestStore:
    return rest_store


def intent(name: str, phrases: tuple[str, ...] = ("hello",), label: str = "") -> IntentInput:
    return IntentInput(name, phrases, ("Hi!",), ("Привет!",), label=label)


def snapshot(engine: sa.Engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(sa.select(t)).all())) for t in schema.ALL_TABLES}


def seed_tests(engine: sa.Engine, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), [
            {"id": str(uuid.uuid4()), "call_id": None, "updated_at": r.get("created_at"), **r} for r in rows])


def many_tests(user: str, n: int, *, same_time: bool = False) -> list[dict]:
    return [{"user_id": user, "assistant_id": f"asst_{i % 3}", "test_phrase": f"phrase {i}",
             "language": LANGUAGES[i % 2], "status": TEST_STATUSES[i % 5],
             "created_at": NOW if same_time else NOW - timedelta(minutes=7 * i)} for i in range(n)]


def whole(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def same_everywhere(rest: object, ref: object, f: TestFilter = TestFilter()) -> None:  # noqa: B008
    """Every read of the REST handle equals the SQL reference's."""
    assert rest.list_intents() == ref.list_intents()  # type: ignore[attr-defined]
    assert rest.list_assistants() == ref.list_assistants()  # type: ignore[attr-defined]
    assert rest.get_subscription() == ref.get_subscription()  # type: ignore[attr-defined]
    assert rest.count_tests(f) == ref.count_tests(f)  # type: ignore[attr-defined]
    assert rest.list_tests(f, page=1, page_size=25) == ref.list_tests(f, page=1, page_size=25)  # type: ignore[attr-defined]
    assert rest.stats(f) == ref.stats(f)  # type: ignore[attr-defined]


# -- basics ----------------------------------------------------------------------------------

def test_backend_name_and_user_id_validation(rest: RestStore) -> None:
    assert rest.backend == "supabase"
    for bad in ("", " user", "x" * 256):
        with pytest.raises(ValidationError):
            rest.for_user(bad)


def test_public_keys_and_bad_urls_are_configuration_errors(rest_url: str) -> None:
    from tests.rest_fixtures import JWT_SECRET, anon_key, service_key

    with pytest.raises(ConfigError):
        RestStore(rest_url, anon_key(), jwt_secret=JWT_SECRET)
    with pytest.raises(ConfigError):
        RestStore(rest_url, "sb_publishable_abc", jwt_secret=JWT_SECRET)
    with pytest.raises(ConfigError):
        RestStore("not a url", service_key(), jwt_secret=JWT_SECRET)
    with pytest.raises(ConfigError):
        RestStore(rest_url, "", jwt_secret=JWT_SECRET)
    with pytest.raises(ConfigError, match="SUPABASE_JWT_SECRET"):
        RestStore(rest_url, service_key(), jwt_secret="")


# -- intents -----------------------------------------------------------------------------------

def test_save_list_edit_delete_like_the_direct_transport(rest: RestStore, sql_store: DirectStore) -> None:
    alice = rest.for_user(ALICE)
    assert alice.save_intents(IntentDiff()).summary() == "0 added, 0 changed, 0 deleted"
    phrases = ('Say "hi", please', "comma, inside", "{braces}", "back\\slash", "Ёлки-палки", "emoji 🎙️", "NULL")
    result = alice.save_intents(IntentDiff(added=(intent("  a ", (" hi ",)), intent("b"), intent("q", phrases))))
    assert (result.added, result.edited, result.deleted) == (3, 0, 0)
    rows = alice.list_intents()
    assert rows == sql_store.for_user(ALICE).list_intents()
    by = {r.intent_name: r for r in rows}
    assert by["a"].example_user_phrases == ("hi",) and by["q"].example_user_phrases == phrases
    a, b = by["a"], by["b"]
    result = alice.save_intents(IntentDiff(added=(intent("c"),), edited=(IntentEdit(a.id, a.updated_at, intent("a2")),),
                                           deleted=(IntentRef(b.id, b.updated_at),)))
    assert (result.added, result.edited, result.deleted) == (1, 1, 1)
    after = {r.intent_name: r for r in alice.list_intents()}
    assert set(after) == {"a2", "c", "q"}
    assert after["a2"].id == a.id and after["a2"].updated_at > a.updated_at
    assert alice.list_intents() == sql_store.for_user(ALICE).list_intents()


def test_updated_at_round_trips_so_edits_chain_across_backends(rest: RestStore, sql_store: DirectStore) -> None:
    alice, ref = rest.for_user(ALICE), sql_store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"),)))
    for n in range(3):  # alternate backends: each must see the other's microsecond-exact updated_at
        handle = alice if n % 2 == 0 else ref
        [row] = handle.list_intents()
        handle.save_intents(IntentDiff(edited=(IntentEdit(row.id, row.updated_at, intent(f"v{n}")),)))
    [row] = alice.list_intents()
    assert row.intent_name == "v2"


def test_conflicts_name_the_rows_and_write_nothing(rest: RestStore, sql_store: DirectStore, engine: sa.Engine) -> None:
    alice = rest.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"), intent("b"), intent("c"))))
    by = {r.intent_name: r for r in alice.list_intents()}
    a, b, c = by["a"], by["b"], by["c"]
    sql_store.for_user(ALICE).save_intents(IntentDiff(
        edited=(IntentEdit(a.id, a.updated_at, intent("a elsewhere")), IntentEdit(b.id, b.updated_at, intent("b2"))),
        deleted=(IntentRef(c.id, c.updated_at),)))
    before = snapshot(engine)
    diff = IntentDiff(added=(intent("new"),),
                      edited=(IntentEdit(a.id, a.updated_at, intent("mine")), IntentEdit(b.id, b.updated_at, intent("b3"))),
                      deleted=(IntentRef(c.id, c.updated_at, label="row 3"),))
    with pytest.raises(ConflictError) as got:
        alice.save_intents(diff)
    assert got.value.ids == [c.id, a.id, b.id]  # deleted rows first, like the SQL store
    assert "“row 3”" in str(got.value) and "“mine”" in str(got.value)
    assert snapshot(engine) == before
    with pytest.raises(ConflictError) as ref:
        sql_store.for_user(ALICE).save_intents(diff)
    assert ref.value.ids == got.value.ids and str(ref.value) == str(got.value)


def test_validation_errors_match_and_write_nothing(rest: RestStore, engine: sa.Engine) -> None:
    alice = rest.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"),)))
    [a] = alice.list_intents()
    before = snapshot(engine)
    with pytest.raises(ValidationError) as err:
        alice.save_intents(IntentDiff(added=(intent("", label="row 3"), intent("ok", (), label="row 4")),
                                      edited=(IntentEdit(a.id, a.updated_at, intent("a", ("",), label="row 1")),)))
    assert {("row 3", "intent_name"), ("row 4", "example_user_phrases"), ("row 1", "example_user_phrases")} <= \
        {(p.row, p.field) for p in err.value.problems}
    assert snapshot(engine) == before


def test_database_refusals_are_generic_store_errors(rest: RestStore) -> None:
    alice = rest.for_user(ALICE)
    with pytest.raises(StoreError) as err:
        alice.save_intents(IntentDiff(edited=(IntentEdit("not-a-uuid", None, intent("x")),)))
    assert type(err.value) is StoreError
    assert str(err.value) == "The database refused the request. Nothing was changed."
    assert "uuid" not in str(err.value) and "eyJ" not in str(err.value)


# -- assistants, settings, subscription -----------------------------------------------------------

def test_assistants_and_more_than_1000_intents(rest: RestStore, sql_store: DirectStore, engine: sa.Engine) -> None:
    ids = [str(uuid.uuid4()) for _ in range(1203)]
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.intents), [
            {"id": i, "user_id": ALICE, "intent_name": f"intent {n}", "example_user_phrases": ["hi"],
             "english_responses": [], "russian_responses": [], "created_at": NOW - timedelta(seconds=n % 400),
             "updated_at": NOW} for n, i in enumerate(ids)])
        conn.execute(sa.insert(schema.assistants), [
            {"id": str(uuid.uuid4()), "user_id": ALICE, "vapi_assistant_id": f"vapi_{n}", "name": f"Desk {n}",
             "config": {"n": n, "voice": {"lang": "ру"}}, "intents_used": [ids[-1 - n], ids[n], str(uuid.uuid4())],
             "created_at": NOW - timedelta(seconds=n % 7), "updated_at": NOW} for n in range(1100)])
    alice = rest.for_user(ALICE)
    intents = alice.list_intents()
    assert len(intents) == 1203
    assistants = alice.list_assistants()
    assert len(assistants) == 1100
    assert assistants[0].intents_used[2] == "(deleted intent)"
    same_everywhere(alice, sql_store.for_user(ALICE))
    assert rest.for_user(BOB).list_assistants() == [] and rest.for_user(BOB).list_intents() == []


def test_settings_like_the_direct_transport(rest: RestStore, sql_store: DirectStore) -> None:
    alice, ref = rest.for_user(ALICE), sql_store.for_user(ALICE)
    first = alice.get_settings()
    assert first.is_active is True and first.created_at is not None
    assert alice.get_settings() == first == ref.get_settings()
    off = alice.set_active(False)
    assert off.is_active is False and off.created_at == first.created_at and off.updated_at >= first.updated_at
    assert ref.get_settings() == off == alice.get_settings()
    assert rest.for_user(BOB).set_active(False).is_active is False  # no row yet: created inactive
    assert rest.for_user(BOB).get_settings().is_active is False
    assert alice.set_active(True).is_active is True


def test_subscription_like_the_direct_transport(rest: RestStore, sql_store: DirectStore, engine: sa.Engine) -> None:
    assert rest.for_user(ALICE).get_subscription() is None
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.subscriptions), [{
            "id": str(uuid.uuid4()), "user_id": ALICE, "stripe_customer_id": "cus_1", "status": "past_due",
            "plan_type": "pro", "billing_cycle": "monthly", "current_period_start": NOW,
            "current_period_end": NOW + timedelta(days=30), "created_at": NOW, "updated_at": None}])
    got = rest.for_user(ALICE).get_subscription()
    assert got == sql_store.for_user(ALICE).get_subscription()
    assert got is not None and got.current_period_start == NOW and got.updated_at is None
    assert rest.for_user(BOB).get_subscription() is None


# -- tests, paging, export, stats -------------------------------------------------------------------

def test_more_than_1000_tests_exact_counts_pages_export_and_stats(
        rest: RestStore, sql_store: DirectStore, engine: sa.Engine) -> None:
    seed_tests(engine, many_tests(ALICE, 2500) + many_tests(BOB, 40))
    alice, ref = rest.for_user(ALICE), sql_store.for_user(ALICE)
    everything = TestFilter()
    assert alice.count_tests(everything) == 2500
    stats = alice.stats(everything)
    assert stats.tests == 2500 and stats == ref.stats(everything)
    for page, size in ((1, 50), (2, 50), (50, 50), (3, 1000), (51, 50), (99, 50), (1, 5000)):
        got = alice.list_tests(everything, page=page, page_size=size)
        assert got == ref.list_tests(everything, page=page, page_size=size), (page, size)
        assert got.total == 2500
    assert len(alice.list_tests(everything, page=3, page_size=1000).rows) == 500
    assert alice.list_tests(everything, page=99, page_size=50).rows == ()
    for chunk in (50_000, 1000, 333):
        frames = list(alice.iter_tests(everything, chunk_size=chunk))
        assert all(len(f) <= chunk for f in frames)
        pd.testing.assert_frame_equal(whole(frames), whole(list(ref.iter_tests(everything, chunk_size=chunk))))
    assert len(whole(frames)) == 2500
    ranged = TestFilter(start=NOW - timedelta(days=5), end=NOW - timedelta(days=1), statuses=("completed", "failed"))
    same_everywhere(alice, ref, ranged)
    pd.testing.assert_frame_equal(whole(list(alice.iter_tests(ranged))), whole(list(ref.iter_tests(ranged))))


def test_export_keyset_survives_equal_timestamps_and_null_created_at(
        rest: RestStore, sql_store: DirectStore, engine: sa.Engine) -> None:
    rows = many_tests(ALICE, 2100, same_time=True)
    for r in rows[:1003]:
        r["created_at"] = None
    seed_tests(engine, rows)
    alice, ref = rest.for_user(ALICE), sql_store.for_user(ALICE)
    got = whole(list(alice.iter_tests(TestFilter())))
    assert len(got) == 2100 and got["id"].is_unique
    pd.testing.assert_frame_equal(got, whole(list(ref.iter_tests(TestFilter()))))
    for page in (1, 20, 21, 42):
        assert alice.list_tests(TestFilter(), page=page, page_size=50) == ref.list_tests(TestFilter(), page=page,
                                                                                            page_size=50)


def test_empty_export_and_empty_stats(rest: RestStore, sql_store: DirectStore) -> None:
    alice = rest.for_user(ALICE)
    assert list(alice.iter_tests(TestFilter())) == []
    assert alice.stats(TestFilter()).is_empty
    assert alice.list_tests(TestFilter(), page=3).total == 0
    same_everywhere(alice, sql_store.for_user(ALICE))


PHRASES = ["hello 1", "HELLO world", "50% off", "under_score", "back\\slash", "a*b star", "aXb", "a*", "Привет мир",
           "привет", "ПРИВЕТ", "x_y", "(paren)", "comma, here", 'quote "q"', "dot.dot", "ёж", "Ёж", "tab\there",
           "%%", "__", "*", "plain"]
ASSISTANTS = ["asst_1", "asst_2", "a,b", "asst (1)", 'q"uote']
SEARCHES = ["", "hello", "HELLO", "%", "_", "\\", "*", "a*b", "a*", "50%", "x_y", "привет", "ПРИВЕТ", "ёж", "(",
            ",", '"', ".", "o", "tab\t", "xyz"]


@pytest.fixture
def varied(engine: sa.Engine) -> None:
    rows = []
    for i in range(160):
        rows.append({"user_id": ALICE if i % 9 else BOB, "assistant_id": ASSISTANTS[i % len(ASSISTANTS)],
                     "test_phrase": f"{PHRASES[i % len(PHRASES)]} #{i}",
                     "language": None if i % 11 == 0 else LANGUAGES[i % 2],
                     "status": None if i % 13 == 0 else TEST_STATUSES[i % 5],
                     "created_at": NOW - timedelta(hours=5 * i, microseconds=i)})
    seed_tests(engine, rows)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistants), [
            {"id": str(uuid.uuid4()), "user_id": ALICE, "vapi_assistant_id": "asst_1", "name": "Front desk",
             "config": {}, "intents_used": [], "created_at": NOW, "updated_at": NOW},
            {"id": str(uuid.uuid4()), "user_id": BOB, "vapi_assistant_id": "asst_2", "name": "Bob's",
             "config": {}, "intents_used": [], "created_at": NOW, "updated_at": NOW}])


TIMES = [None, NOW - timedelta(days=30), NOW - timedelta(days=10), NOW - timedelta(hours=5 * 40, microseconds=40),
         NOW - timedelta(days=2), NOW + timedelta(days=1)]
filters = st.builds(
    TestFilter,
    start=st.sampled_from(TIMES), end=st.sampled_from(TIMES),
    assistant_ids=st.lists(st.sampled_from([*ASSISTANTS, "ghost"]), max_size=3, unique=True).map(tuple),
    languages=st.lists(st.sampled_from(LANGUAGES), max_size=2, unique=True).map(tuple),
    statuses=st.lists(st.sampled_from(TEST_STATUSES), max_size=3, unique=True).map(tuple),
    search=st.one_of(st.sampled_from(SEARCHES), st.text(alphabet="ab*%_\\ХхAa ", max_size=4)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=filters)
@example(f=TestFilter(search="*"))
@example(f=TestFilter(search="a*b"))
@example(f=TestFilter(search="%"))
@example(f=TestFilter(search="_"))
@example(f=TestFilter(search="\\"))
@example(f=TestFilter(search="ПРИВЕТ", languages=("russian",)))
@example(f=TestFilter(assistant_ids=("a,b", 'q"uote', "asst (1)")))
@example(f=TestFilter(start=TIMES[2], end=TIMES[4], statuses=("initiated", "completed")))
def test_every_filter_selects_what_the_direct_transport_selects(rest: RestStore, sql_store: DirectStore, varied: None,
                                                         f: TestFilter) -> None:
    alice, ref = rest.for_user(ALICE), sql_store.for_user(ALICE)
    try:
        expected = ref.list_tests(f, page=1, page_size=200)
    except ValidationError:
        with pytest.raises(ValidationError):
            alice.list_tests(f)
        with pytest.raises(ValidationError):
            alice.stats(f)
        return
    assert alice.list_tests(f, page=1, page_size=200) == expected
    assert alice.count_tests(f) == expected.total
    assert alice.stats(f) == ref.stats(f)
    pd.testing.assert_frame_equal(whole(list(alice.iter_tests(f))), whole(list(ref.iter_tests(f))))


def test_literal_search_characters(rest: RestStore, varied: None) -> None:
    alice = rest.for_user(ALICE)
    for text, must in (("a*b", "a*b star"), ("%%", "%%"), ("__", "__"), ("back\\slash", "back\\slash"),
                       ("ПРИВЕТ", "привет")):
        rows = alice.list_tests(TestFilter(search=text), page_size=200).rows
        assert rows and all(text.lower() in r.test_phrase.lower() for r in rows), text
        assert any(must in r.test_phrase for r in rows)
    assert all("*" in r.test_phrase for r in alice.list_tests(TestFilter(search="*"), page_size=200).rows)


# -- tenancy and failures ---------------------------------------------------------------------

def test_two_users_never_see_or_change_each_other(rest: RestStore, sql_store: DirectStore, engine: sa.Engine) -> None:
    seed_tests(engine, many_tests(ALICE, 30) + many_tests(BOB, 1200))
    alice, bob = rest.for_user(ALICE), rest.for_user(BOB)
    alice.save_intents(IntentDiff(added=(intent("alice's"),)))
    bob.save_intents(IntentDiff(added=(intent("bob's"),)))
    [mine] = alice.list_intents()
    before = snapshot(engine)
    with pytest.raises(ConflictError):  # bob aims at alice's row: it does not exist for him
        bob.save_intents(IntentDiff(edited=(IntentEdit(mine.id, mine.updated_at, intent("stolen")),)))
    with pytest.raises(ConflictError):
        bob.save_intents(IntentDiff(deleted=(IntentRef(mine.id, mine.updated_at),)))
    assert snapshot(engine) == before
    assert [i.intent_name for i in alice.list_intents()] == ["alice's"]
    assert alice.count_tests(TestFilter()) == 30 and bob.count_tests(TestFilter()) == 1200
    assert alice.stats(TestFilter()).tests == 30 and bob.stats(TestFilter()).tests == 1200
    assert len(whole(list(bob.iter_tests(TestFilter())))) == 1200
    bob.set_active(False)
    assert alice.get_settings().is_active is True
    for user, handle in ((ALICE, alice), (BOB, bob)):
        same_everywhere(handle, sql_store.for_user(user))


def test_unreachable_supabase_is_store_unavailable() -> None:
    import socket

    from tests.rest_fixtures import JWT_SECRET, service_key

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = service_key()
    store = RestStore(f"http://127.0.0.1:{port}", key, jwt_secret=JWT_SECRET, timeout=2)
    try:
        with pytest.raises(StoreUnavailable) as err:
            store.for_user(ALICE).list_intents()
        assert str(err.value) == str(NotLoaded())  # the direct transport's text, word for word
        assert key not in str(err.value) and str(port) not in str(err.value)
        with pytest.raises(StoreUnavailable):
            store.for_user(ALICE).save_intents(IntentDiff(added=(intent("x"),)))
    finally:
        store.close()


def test_a_wrong_jwt_secret_is_a_configuration_error(rest_url: str) -> None:
    """User tokens minted with another secret are refused by the API (PGRST301): a clear setup error."""
    from tests.rest_fixtures import service_key

    store = RestStore(rest_url, service_key(), jwt_secret="some-other-secret-of-at-least-32-bytes!")
    try:
        with pytest.raises(ConfigError) as err:
            store.for_user(ALICE).list_intents()
        assert "SUPABASE_JWT_SECRET" in str(err.value) and "some-other" not in str(err.value)
    finally:
        store.close()


def test_each_request_carries_its_users_token_and_the_shared_client_none(rest: RestStore) -> None:
    """The user's token is minted per user (sub = the user, role and aud authenticated, 5 minutes)."""
    import jwt

    from tests.rest_fixtures import JWT_SECRET

    claims = jwt.decode(rest.token(ALICE), JWT_SECRET, algorithms=["HS256"], audience="authenticated")
    assert (claims["sub"], claims["role"], claims["aud"]) == (ALICE, "authenticated", "authenticated")
    assert claims["exp"] - claims["iat"] == 300
    assert rest.token(BOB) != rest.token(ALICE)
    assert "Authorization" not in rest._rest.session.headers or \
        rest._rest.session.headers["Authorization"].split()[-1] not in (rest.token(ALICE), rest.token(BOB))


def test_one_client_serves_many_threads(rest: RestStore, engine: sa.Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    seed_tests(engine, many_tests(ALICE, 1500) + many_tests(BOB, 700))
    users = (ALICE, BOB)

    def work(n: int) -> tuple[str, int, int, int]:
        handle = rest.for_user(users[n % 2])
        handle.save_intents(IntentDiff(added=(intent(f"thread {n}"),)))
        return (users[n % 2], handle.count_tests(TestFilter()), handle.stats(TestFilter()).tests,
                len(handle.list_tests(TestFilter(), page=2, page_size=100).rows))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(24)))
    expected = {ALICE: 1500, BOB: 700}
    assert all(count == stats == expected[user] and rows == 100 for user, count, stats, rows in results)
    assert sorted(i.intent_name for i in rest.for_user(ALICE).list_intents()) == \
        sorted(f"thread {n}" for n in range(0, 24, 2))
