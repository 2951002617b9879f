"""Undo through Supabase REST when the API fails: sent once; a lost answer is settled by reading the
undo's record back (it carries the call's time); a failure before it ran changes nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from lib.errors import AlreadyUndone, StoreUnavailable
from lib.models import IntentDiff, IntentEdit
from lib.store.rest import RestStore
from tests.postgrest_server import Fault, PostgrestServer
from tests.test_rest_faults import USER, count, intent, rows, server, store  # noqa: F401  (server, store: fixtures)

UNDO_PATH = "/rest/v1/rpc/dashboard_undo_save"


def undo_records(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(str(i), str(r)) for i, r in conn.execute(sa.text(
            "select id, reverts from intent_history where user_id = :u and kind = 'undo'"), {"u": USER})]


def _saved(store: RestStore, engine: sa.Engine) -> tuple[str, list[tuple]]:  # noqa: F811
    """A save that renames "old" to "new"; its record id and the intents before it."""
    handle = store.for_user(USER)
    handle.save_intents(IntentDiff(added=(intent("old"),)))
    before = rows(engine)
    old = handle.list_intents()[0]
    handle.save_intents(IntentDiff(edited=(IntentEdit(old.id, old.updated_at, intent("new")),)))
    return handle.list_history()[0].id, before


@pytest.mark.parametrize("fault", [Fault("drop", after=True), Fault("status", status=503, after=True),
                                   Fault("malformed", after=True)], ids=["dropped", "503", "malformed"])
def test_an_undo_whose_answer_is_lost_is_checked_and_reported_done(server: PostgrestServer,  # noqa: F811
                                                                   store: RestStore, engine: sa.Engine,  # noqa: F811
                                                                   fault: Fault) -> None:
    record, before = _saved(store, engine)
    server.clear()
    server.inject(replace(fault, method="POST", path=UNDO_PATH))
    undo_id = store.for_user(USER).undo_save(record).history_id
    assert count(server, "POST", UNDO_PATH) == 1
    assert rows(engine) == before and undo_records(engine) == [(undo_id, record)]
    with pytest.raises(AlreadyUndone):  # clicking again is harmless
        store.for_user(USER).undo_save(record)


@pytest.mark.parametrize("fault", [Fault("status", status=503), Fault("drop")], ids=["503", "dropped"])
def test_an_undo_that_failed_before_it_ran_changes_nothing(server: PostgrestServer, store: RestStore,  # noqa: F811
                                                          engine: sa.Engine, fault: Fault) -> None:
    record, _ = _saved(store, engine)
    after = rows(engine)
    server.clear()
    server.inject(replace(fault, method="POST", path=UNDO_PATH))
    with pytest.raises(StoreUnavailable):
        store.for_user(USER).undo_save(record)
    assert count(server, "POST", UNDO_PATH) == 1 and rows(engine) == after and undo_records(engine) == []
    assert store.for_user(USER).undo_save(record)  # once the API is back, it works
    assert [r[0] for r in rows(engine)] == ["old"]
