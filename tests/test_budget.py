"""One time budget per render (lib.store.budget), at the store: the reads of a render share it, retries
included, and once a read found the database unavailable the next ones fail at once without a request.
Writes keep their own limit.  (tests/test_e2e_deadline.py times the same in a browser.)"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lib.errors import NotLoaded
from lib.models import IntentDiff, IntentInput
from lib.store import budget
from lib.store.rest import RestStore
from tests.postgrest_server import Fault, PostgrestServer
from tests.rest_fixtures import JWT_SECRET, service_key

USER = "user_budget"
TIMEOUT = 2.0  # each request's own timeout
BUDGET = 1.0  # the render's, shorter: it decides


@pytest.fixture
def server(pg_clean: str) -> Iterator[PostgrestServer]:
    srv = PostgrestServer(pg_clean, JWT_SECRET)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def store(server: PostgrestServer) -> Iterator[RestStore]:
    s = RestStore(server.base_url, service_key(), jwt_secret=JWT_SECRET, timeout=TIMEOUT)
    yield s
    s.close()


def test_reads_of_a_render_share_one_budget_retries_included(server: PostgrestServer, store: RestStore) -> None:
    server.inject(Fault("slow", seconds=30, path="/rpc/", times=100))
    user = store.for_user(USER)
    started = time.monotonic()
    with budget.render(BUDGET):
        for read in (user.versions, user.list_intents, user.list_assistants, user.get_settings):
            with pytest.raises(NotLoaded):
                read()
    took = time.monotonic() - started
    assert took < BUDGET + 0.5, f"four hung reads took {took:.1f} s with a {BUDGET} s budget"
    assert len(server.requests) == 1  # one request, no retry past the budget, the other reads never sent


def test_a_slow_answer_within_the_budget_is_taken_and_the_rest_is_shared(server: PostgrestServer,
                                                                         store: RestStore) -> None:
    server.inject(Fault("slow", seconds=0.6, path="/rpc/", times=100))
    user = store.for_user(USER)
    with budget.render(BUDGET):
        assert user.list_intents() == []  # 0.6 s: within the budget
        started = time.monotonic()
        with pytest.raises(NotLoaded):
            user.list_assistants()  # 0.4 s left: cut short there, not after its own 2 s timeout
        assert time.monotonic() - started < 0.7


def test_a_write_keeps_its_own_limit(server: PostgrestServer, store: RestStore) -> None:
    """A spent budget fails the render's next read at once, but a save still goes through (its own limit)."""
    user = store.for_user(USER)
    with budget.render(0.05):
        time.sleep(0.1)
        with pytest.raises(NotLoaded):
            user.list_intents()
        result = user.save_intents(IntentDiff(added=(IntentInput("kept", ("hello",), ("Hi!",), ("Привет!",)),)))
    assert result.added == 1
    assert [i.intent_name for i in user.list_intents()] == ["kept"]  # outside the render: no budget
