"""Least-privilege grants (supabase/migrations/20261127140000_advisors_and_grants.sql): a signed-in
user calling the Supabase REST API with their own token may read their rows and write only what the
dashboard writes (intents; their assistant_settings row).  Subscriptions, assistants and test calls
are the service role's to write.

The writes go through the real supabase-py client, over HTTP, to the PostgREST stand-in, as role
authenticated with the user's token, exactly as an attacker holding their own session token would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import psycopg
import pytest
import sqlalchemy as sa
from postgrest.exceptions import APIError

from supabase import Client, ClientOptions, create_client
from tests.rest_fixtures import anon_key, user_token
from tests.supabase_like import supabase_like_database
from tools import tables as schema
from tools.pgcluster import libpq_url

ME, OTHER = "user_grants_me", "user_grants_other"
NOW = datetime(2026, 11, 26, 9, 0, 0)
OTHER_VAPI = "vapi-belongs-to-other"

# What role authenticated may do on each table after the migrations (read = SELECT).
EXPECTED = {
    "subscriptions": {"SELECT"},
    "intents": {"SELECT", "INSERT", "UPDATE", "DELETE"},
    "assistant_settings": {"SELECT", "INSERT", "UPDATE"},
    "assistants": {"SELECT"},
    "assistant_tests": {"SELECT"},
    "assistant_test_daily": {"SELECT"},
    "assistant_test_daily_status": {"SELECT"},
    "assistant_test_daily_assistant": {"SELECT"},
    "assistant_test_hourly_status": {"SELECT"},
    "user_data_versions": {"SELECT"},
}
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture
def seeded(engine: sa.Engine) -> dict[str, str]:
    """For ME and OTHER: a past-due starter subscription, an assistant, a test call, settings."""
    ids = {}
    with engine.begin() as conn:
        for user in (ME, OTHER):
            conn.execute(sa.insert(schema.subscriptions).values(
                id=str(uuid.uuid4()), user_id=user, status="past_due", plan_type="starter", billing_cycle="monthly",
                current_period_start=NOW, current_period_end=datetime(2026, 12, 26)))
            ids[f"{user}/assistant"] = str(uuid.uuid4())
            conn.execute(sa.insert(schema.assistants).values(
                id=ids[f"{user}/assistant"], user_id=user, name=f"{user} bot",
                vapi_assistant_id=OTHER_VAPI if user == OTHER else "vapi-mine", config={}, intents_used=[]))
            ids[f"{user}/test"] = str(uuid.uuid4())
            conn.execute(sa.insert(schema.assistant_tests).values(
                id=ids[f"{user}/test"], user_id=user, assistant_id="vapi-mine", test_phrase="hello",
                language="english", status="failed", created_at=NOW, updated_at=NOW))
            conn.execute(sa.insert(schema.assistant_settings).values(user_id=user, is_active=True))
    return ids


@pytest.fixture
def as_me(rest_url: str, pg_clean: str) -> Iterator[Client]:
    """supabase-py with ME's own session token, as the web app's browser code would hold it."""
    options = ClientOptions(headers={"Authorization": f"Bearer {user_token(ME)}"}, auto_refresh_token=False,
                            persist_session=False)
    client = create_client(rest_url, anon_key(), options=options)
    yield client


def snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for table in (schema.subscriptions, schema.assistants, schema.assistant_tests, schema.assistant_settings):
            cols = [c for c in table.c if c.name not in ("created_at", "updated_at")]
            out[table.name] = sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(*cols)))
    return out


def refused(call: Callable[[], object]) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    assert caught.value.code == "42501", caught.value  # permission denied (HTTP 403)
    return caught.value


def test_a_signed_in_user_cannot_rewrite_what_webhooks_own(as_me: Client, seeded: dict[str, str],
                                                           engine: sa.Engine) -> None:
    before = snapshot(engine)
    # their own subscription: no free enterprise plan until 2099, no new or removed subscription
    refused(lambda: as_me.table("subscriptions").update(
        {"status": "active", "plan_type": "enterprise", "current_period_end": "2099-01-01T00:00:00"})
        .eq("user_id", ME).execute())
    refused(lambda: as_me.table("subscriptions").insert({"user_id": ME, "status": "active"}).execute())
    refused(lambda: as_me.table("subscriptions").delete().eq("user_id", ME).execute())
    # assistants: none carrying another user's Vapi id, none renamed or removed
    refused(lambda: as_me.table("assistants").insert(
        {"user_id": ME, "vapi_assistant_id": OTHER_VAPI, "name": "stolen"}).execute())
    refused(lambda: as_me.table("assistants").update({"vapi_assistant_id": OTHER_VAPI})
            .eq("id", seeded[f"{ME}/assistant"]).execute())
    refused(lambda: as_me.table("assistants").delete().eq("id", seeded[f"{ME}/assistant"]).execute())
    # test calls: none forged, none marked completed, none deleted
    refused(lambda: as_me.table("assistant_tests").insert(
        {"user_id": ME, "assistant_id": "vapi-mine", "test_phrase": "forged", "status": "completed"}).execute())
    refused(lambda: as_me.table("assistant_tests").update({"status": "completed"})
            .eq("id", seeded[f"{ME}/test"]).execute())
    refused(lambda: as_me.table("assistant_tests").delete().eq("id", seeded[f"{ME}/test"]).execute())
    # settings are upserted, never deleted; derived tables are the triggers' alone
    refused(lambda: as_me.table("assistant_settings").delete().eq("user_id", ME).execute())
    refused(lambda: as_me.table("assistant_test_daily").insert(
        {"user_id": ME, "day": "2026-11-26", "assistant_id": "a", "language": "english", "status": "completed",
         "tests": 1000}).execute())
    refused(lambda: as_me.table("user_data_versions").update({"version": 0}).eq("user_id", ME).execute())
    assert snapshot(engine) == before


def test_a_signed_in_user_still_reads_everything_and_writes_what_the_dashboard_writes(
        as_me: Client, seeded: dict[str, str], engine: sa.Engine) -> None:
    for table in EXPECTED:
        rows = as_me.table(table).select("user_id").execute().data
        assert {r["user_id"] for r in rows} <= {ME}
    assert [r["status"] for r in as_me.table("subscriptions").select("status").execute().data] == ["past_due"]
    added = as_me.table("intents").insert({"user_id": ME, "intent_name": "greet", "example_user_phrases": ["hi"]}
                                          ).execute().data
    as_me.table("intents").update({"intent_name": "greeting"}).eq("id", added[0]["id"]).execute()
    as_me.table("assistant_settings").update({"is_active": False}).eq("user_id", ME).execute()
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.intents.c.intent_name)).scalars().all() == ["greeting"]
        assert conn.execute(sa.select(schema.assistant_settings.c.is_active)
                            .where(schema.assistant_settings.c.user_id == ME)).scalar_one() is False
    as_me.table("intents").delete().eq("id", added[0]["id"]).execute()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.intents)).scalar_one() == 0


@pytest.fixture(scope="module")
def supabase_db(pg_url: str) -> Iterator[psycopg.Connection]:
    with supabase_like_database(pg_url) as url, psycopg.connect(libpq_url(url)) as conn:
        yield conn


def _privileges(conn: psycopg.Connection, role: str, table: str) -> set[str]:
    return {p for p in PRIVILEGES
            if conn.execute("select has_table_privilege(%s, %s, %s)", [role, f"public.{table}", p]).fetchone()[0]}


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_grants_under_supabases_default_privileges(supabase_db: psycopg.Connection, table: str) -> None:
    """Supabase grants ALL on every new table to anon, authenticated and service_role; after the
    migrations authenticated holds exactly what the dashboard needs and anon nothing."""
    assert _privileges(supabase_db, "authenticated", table) == EXPECTED[table]
    assert _privileges(supabase_db, "anon", table) == set()
    assert not _privileges(supabase_db, "service_role", table) & {"TRUNCATE", "REFERENCES", "TRIGGER"}


def test_no_table_lets_api_roles_truncate_or_add_triggers(supabase_db: psycopg.Connection) -> None:
    """Every table in public, including ones later migrations add: TRUNCATE ignores row-level security."""
    tables = [r[0] for r in supabase_db.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind = 'r' order by 1").fetchall()]
    assert set(EXPECTED) <= set(tables)
    loose = {(role, t): sorted(_privileges(supabase_db, role, t) & {"TRUNCATE", "REFERENCES", "TRIGGER"})
             for role in ("anon", "authenticated") for t in tables}
    assert {k: v for k, v in loose.items() if v} == {}
