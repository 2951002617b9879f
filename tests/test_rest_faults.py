"""The Supabase REST backend when the API fails: 500/503 answers, slow answers, refused and dropped
connections, malformed JSON.  supabase-py over real HTTP against the PostgREST stand-in (tests/postgrest_server.py)
with injected faults; what was written is checked with SQL on the database behind it.

Reads are retried (three tries at most, only for gateway and network failures); writes are sent
once and, when their answer is lost, settled by reading the rows back.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from lib.errors import ConflictError, NotLoaded, SaveOutcomeUnknown, StoreError, StoreUnavailable
from lib.models import IntentDiff, IntentEdit, IntentInput, SaveToken
from lib.store.rest import RestStore
from tests.postgrest_server import Fault, PostgrestServer
from tests.rest_fixtures import JWT_SECRET, service_key

USER = "user_faulty_rest"
RPC = "/rest/v1/rpc/"
SAVE_PATH = RPC + "dashboard_save_intents"
INTENTS_PATH = RPC + "dashboard_list_intents"  # list_intents, and the read-back that settles a save
TIMEOUT = 0.5  # the store's request timeout; a "slow" fault waits longer than this


@pytest.fixture
def server(pg_clean: str) -> Iterator[PostgrestServer]:
    """A stand-in of its own (faults injected here touch no other test), on the emptied database."""
    srv = PostgrestServer(pg_clean, JWT_SECRET)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def store(server: PostgrestServer) -> Iterator[RestStore]:
    s = RestStore(server.base_url, service_key(), jwt_secret=JWT_SECRET, timeout=TIMEOUT)
    yield s
    s.close()


def intent(name: str) -> IntentInput:
    return IntentInput(name, ("hello",), ("Hi!",), ("Привет!",))


def rows(engine: sa.Engine) -> list[tuple]:
    """The user's intents as the database holds them (name, updated_at), by SQL written here."""
    with engine.connect() as conn:
        return conn.execute(sa.text("select intent_name, updated_at from intents where user_id = :u "
                                    "order by intent_name"), {"u": USER}).all()


def count(server: PostgrestServer, method: str, path: str) -> int:
    return sum(1 for m, p in server.requests if m == method and p == path)


# -- reads -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [Fault("status", status=503, times=2), Fault("status", status=502, times=2),
                                   Fault("slow", seconds=TIMEOUT * 3, times=2), Fault("drop", times=2)],
                         ids=["503", "502", "timeout", "dropped"])
def test_a_read_is_retried_through_transient_failures(server: PostgrestServer, store: RestStore, fault: Fault,
                                                      engine: sa.Engine) -> None:
    store.for_user(USER).save_intents(IntentDiff(added=(intent("kept"),)))
    server.clear()
    server.inject(replace(fault, method="POST", path=INTENTS_PATH))
    assert [i.intent_name for i in store.for_user(USER).list_intents()] == ["kept"]
    assert count(server, "POST", INTENTS_PATH) == 3  # two failures, then the answer


def test_a_read_gives_up_after_three_tries_with_the_sql_message(server: PostgrestServer, store: RestStore) -> None:
    server.inject(Fault("status", status=503, times=5, method="POST"))
    with pytest.raises(StoreUnavailable) as err:
        store.for_user(USER).list_intents()
    assert str(err.value) == str(NotLoaded())  # the direct transport's text
    assert count(server, "POST", INTENTS_PATH) == 3


def test_a_500_is_not_retried_and_says_unavailable(server: PostgrestServer, store: RestStore) -> None:
    server.inject(Fault("status", status=500, times=5, method="POST"))
    with pytest.raises(StoreUnavailable) as err:
        store.for_user(USER).get_subscription()
    assert str(err.value) == str(NotLoaded())  # a read: "could not be loaded"
    assert count(server, "POST", RPC + "dashboard_subscription") == 1


def test_malformed_json_in_a_read_is_a_clear_error(server: PostgrestServer, store: RestStore) -> None:
    server.inject(Fault("malformed", method="POST", path=INTENTS_PATH))
    with pytest.raises(StoreError) as err:
        store.for_user(USER).list_intents()
    assert "cannot read" in str(err.value) and "{" not in str(err.value)
    assert count(server, "POST", INTENTS_PATH) == 1  # not a transient failure: not retried


def test_the_stats_function_is_a_read_and_is_retried(server: PostgrestServer, store: RestStore) -> None:
    from lib.models import TestFilter

    server.inject(Fault("status", status=503, times=1, path="/rest/v1/rpc/dashboard_stats"))
    assert store.for_user(USER).stats(TestFilter()).tests == 0
    assert count(server, "POST", "/rest/v1/rpc/dashboard_stats") == 2


def test_refused_connections_then_the_server_comes_back(pg_clean: str, engine: sa.Engine) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = RestStore(f"http://127.0.0.1:{port}", service_key(), jwt_secret=JWT_SECRET, timeout=TIMEOUT)
    try:
        with pytest.raises(StoreUnavailable) as err:
            store.for_user(USER).list_intents()
        assert str(err.value) == str(NotLoaded())  # a read: "could not be loaded"
        diff = IntentDiff(added=(intent("while down"),), token=SaveToken.new())
        with pytest.raises(StoreUnavailable) as err:
            store.for_user(USER).save_intents(diff)  # never sent: certainly not saved, nothing to settle
        assert type(err.value) is StoreUnavailable and str(err.value) == str(StoreUnavailable())
        assert rows(engine) == []
        with PostgrestServer(pg_clean, JWT_SECRET, port=port):  # back on the same address
            assert store.for_user(USER).save_intents(diff).added == 1
            assert [i.intent_name for i in store.for_user(USER).list_intents()] == ["while down"]
    finally:
        store.close()


# -- writes ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [Fault("status", status=503), Fault("status", status=500),
                                   Fault("drop")], ids=["503", "500", "dropped"])
def test_a_failed_write_is_sent_once_checked_and_reported_not_saved(server: PostgrestServer, store: RestStore,
                                                                   engine: sa.Engine, fault: Fault) -> None:
    server.inject(replace(fault, method="POST", path=SAVE_PATH))
    with pytest.raises(StoreUnavailable) as err:
        store.for_user(USER).save_intents(IntentDiff(added=(intent("a"), intent("b"))))
    assert type(err.value) is StoreUnavailable and str(err.value) == str(StoreUnavailable())
    assert count(server, "POST", SAVE_PATH) == 1  # never retried blindly
    assert rows(engine) == []


@pytest.mark.parametrize("fault", [Fault("status", status=503, after=True), Fault("status", status=500, after=True),
                                   Fault("drop", after=True), Fault("slow", seconds=TIMEOUT * 3, after=True),
                                   Fault("malformed", after=True)],
                         ids=["503", "500", "dropped", "timeout", "malformed"])
def test_a_write_whose_answer_is_lost_is_checked_and_reported_saved(server: PostgrestServer, store: RestStore,
                                                                  engine: sa.Engine, fault: Fault) -> None:
    handle = store.for_user(USER)
    handle.save_intents(IntentDiff(added=(intent("old"),)))
    old = handle.list_intents()[0]
    server.clear()
    server.inject(replace(fault, method="POST", path=SAVE_PATH))
    token = SaveToken.new()
    diff = IntentDiff(added=(intent("a"), intent("b")), edited=(IntentEdit(old.id, old.updated_at, intent("new")),),
                      token=token)
    result = handle.save_intents(diff)
    assert result.checked and (result.added, result.edited) == (2, 1)
    assert result.notice().startswith("Checked after a dropped connection: saved")
    assert count(server, "POST", SAVE_PATH) == 1
    expected = [("a", token.at), ("b", token.at), ("new", token.at)]
    assert rows(engine) == expected
    # The user saves again (the page kept the edits): recognised, nothing doubled.
    again = handle.save_intents(diff)
    assert again.checked and rows(engine) == expected


def test_a_write_whose_answer_is_lost_while_the_api_stays_down_is_unknown_then_settled(
        server: PostgrestServer, store: RestStore, engine: sa.Engine) -> None:
    server.inject(Fault("drop", after=True, method="POST", path=SAVE_PATH))
    server.inject(Fault("status", status=503, times=100, method="POST", path=INTENTS_PATH))
    diff = IntentDiff(added=(intent("a"),), token=SaveToken.new())
    with pytest.raises(SaveOutcomeUnknown) as err:
        store.for_user(USER).save_intents(diff)
    assert "could not be reached to check" in str(err.value) and "never applied twice" in str(err.value)
    server.clear()  # the API is back
    result = store.for_user(USER).save_intents(diff)
    assert result.checked and [r[0] for r in rows(engine)] == ["a"]


def test_set_active_whose_answer_is_lost_is_checked(server: PostgrestServer, store: RestStore,
                                                     engine: sa.Engine) -> None:
    handle = store.for_user(USER)
    assert handle.get_settings().is_active
    server.inject(Fault("drop", after=True, method="POST", path=RPC + "dashboard_set_active"))
    assert handle.set_active(False).is_active is False
    with engine.connect() as conn:
        assert conn.execute(sa.text("select is_active from assistant_settings where user_id = :u"),
                            {"u": USER}).scalar_one() is False


def test_a_conflict_is_still_a_conflict(server: PostgrestServer, store: RestStore, engine: sa.Engine) -> None:
    handle = store.for_user(USER)
    handle.save_intents(IntentDiff(added=(intent("x"),)))
    seen = handle.list_intents()[0]
    handle.save_intents(IntentDiff(edited=(IntentEdit(seen.id, seen.updated_at, intent("first")),)))
    with pytest.raises(ConflictError):
        handle.save_intents(IntentDiff(edited=(IntentEdit(seen.id, seen.updated_at, intent("second")),),
                                       token=SaveToken.new()))
    assert [r[0] for r in rows(engine)] == ["first"]
