"""Two users whose assistants share one Vapi id, with different names, on both transports: each user's
stats and assistant list show their own assistant's name and their own counts, never the other's."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from lib.models import TestFilter
from tools import tables as schema

SHARED = "asst_shared_vapi_id"
USERS = {"user_twin_alice": ("Alice's receptionist", 3), "user_twin_bob": ("Bob's booking line", 5)}
NOW = datetime(2026, 11, 20, 9, 0)


def seed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for user, (name, calls) in USERS.items():
            conn.execute(sa.insert(schema.assistants).values(
                id=str(uuid.uuid4()), user_id=user, vapi_assistant_id=SHARED, name=name, config={},
                intents_used=[], created_at=NOW, updated_at=NOW))
            conn.execute(sa.insert(schema.assistant_tests), [
                {"id": str(uuid.uuid4()), "user_id": user, "assistant_id": SHARED, "test_phrase": f"call {i}",
                 "language": "english", "call_id": f"{user}_{i}", "status": "completed",
                 "created_at": NOW, "updated_at": NOW} for i in range(calls)])


def test_each_user_sees_their_own_name_for_a_shared_vapi_id(store, engine_for) -> None:
    seed(engine_for)
    for user, (name, calls) in USERS.items():
        handle = store.for_user(user)
        for f in (TestFilter(), TestFilter(search="call"), TestFilter(start=datetime(2026, 11, 20, 8, 30))):
            stats = handle.stats(f)  # the rollup, the calls with a search, and the calls for part of a day
            assert stats.tests_per_assistant == ((SHARED, name, calls),), (user, f)
            assert stats.assistants == 1 and stats.tests == calls
        assert [(a.vapi_assistant_id, a.name) for a in handle.list_assistants()] == [(SHARED, name)]
