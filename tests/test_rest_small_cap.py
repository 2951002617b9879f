"""The REST store against a server capped at 7 rows per response (PostgREST's db-max-rows), below the
store's page size: every list is still whole, read page by page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from lib.models import IntentDiff, IntentInput, TestFilter
from lib.store.rest import RestStore
from tests.postgrest_server import PostgrestServer
from tests.rest_fixtures import JWT_SECRET, service_key
from tests.test_store import seed_tests

CAP = 7
USER = "user_small_cap"


@pytest.fixture
def capped(pg_clean: str) -> Iterator[RestStore]:
    with PostgrestServer(pg_clean, JWT_SECRET, max_rows=CAP) as url:
        store = RestStore(url, service_key())
        yield store
        store.close()


def test_lists_are_whole_past_a_small_server_cap(capped: RestStore, engine: sa.Engine) -> None:
    handle = capped.for_user(USER)
    names = [f"intent {k:02d}" for k in range(3 * CAP + 2)]  # 23 rows: four capped responses
    handle.save_intents(IntentDiff(added=tuple(IntentInput(n, ("hi",)) for n in names)))
    assert sorted(i.intent_name for i in handle.list_intents()) == names
    seed_tests(engine, USER, 30, start=datetime(2026, 11, 20, 12), every=timedelta(minutes=5))
    page = handle.list_tests(TestFilter(), page=1, page_size=20)
    assert page.total == 30 and len(page.rows) == 20
    assert [t.test_phrase for t in page.rows] == [f"hello {i}" for i in range(20)]  # newest first
    exported = sum(len(chunk) for chunk in handle.iter_tests(TestFilter(), chunk_size=8))
    assert exported == 30
