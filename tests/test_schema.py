"""The migrations create the seed's schema exactly (plus the additions the README lists), idempotently."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lib.errors import StoreUnavailable
from lib.models import TestFilter
from tools import tables as schema

# (table, column) -> (type as information_schema spells it, nullable, default contains)
SEED = {
    "subscriptions": {
        "id": ("uuid", False), "user_id": ("character varying(255)", False),
        "stripe_customer_id": ("character varying(255)", True), "stripe_subscription_id": ("character varying(255)", True),
        "status": ("character varying(50)", True), "plan_type": ("character varying(20)", True),
        "billing_cycle": ("character varying(10)", True), "current_period_start": ("timestamp without time zone", True),
        "current_period_end": ("timestamp without time zone", True), "created_at": ("timestamp without time zone", True),
        "updated_at": ("timestamp without time zone", True),
    },
    "intents": {
        "id": ("uuid", False), "user_id": ("character varying(255)", False), "intent_name": ("text", False),
        "example_user_phrases": ("text[]", False), "english_responses": ("text[]", False),
        "russian_responses": ("text[]", False), "created_at": ("timestamp without time zone", True),
        "updated_at": ("timestamp without time zone", True),  # addition, listed in README
        "row_version": ("bigint", False), "name_key": ("text", True),  # additions (20261203140000), in README
    },
    "assistant_settings": {
        "user_id": ("character varying(255)", False), "is_active": ("boolean", True),
        "created_at": ("timestamp without time zone", True), "updated_at": ("timestamp without time zone", True),
        "row_version": ("bigint", False),  # addition (20261203140000), in README
    },
    "assistants": {
        "id": ("uuid", False), "user_id": ("character varying(255)", False),
        "vapi_assistant_id": ("character varying(255)", False), "name": ("character varying(255)", False),
        "config": ("jsonb", False), "intents_used": ("uuid[]", False),
        "created_at": ("timestamp without time zone", True), "updated_at": ("timestamp without time zone", True),
    },
    "assistant_tests": {
        "id": ("uuid", False), "user_id": ("character varying(255)", False),
        "assistant_id": ("character varying(255)", False), "test_phrase": ("text", False),
        "language": ("character varying(50)", True), "call_id": ("character varying(255)", True),
        "status": ("character varying(50)", True), "created_at": ("timestamp without time zone", True),
        "updated_at": ("timestamp without time zone", True),
    },
}
SEED_INDEXES = {
    "idx_intents_user_id": "(user_id)", "idx_intents_user_created": "(user_id, created_at DESC)",
    "idx_assistant_settings_user_id": "(user_id)", "idx_assistants_user_id": "(user_id)",
    "idx_assistants_user_created": "(user_id, created_at)", "idx_assistant_tests_user_id": "(user_id)",
    "idx_assistant_tests_user_created": "(user_id, created_at)",
}


@pytest.fixture(scope="module")
def pg(pg_url: str):
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def test_columns_types_and_nullability_match_the_seed(pg) -> None:
    rows = pg.execute(sa.text(
        "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), not a.attnotnull "
        "from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped")).all()
    found: dict[str, dict[str, tuple[str, bool]]] = {}
    for table, column, typ, nullable in rows:
        found.setdefault(table, {})[column] = (typ, nullable)
    assert {t: found[t] for t in SEED} == SEED
    # additions listed in the README: the rollups, the change versions, the intents' history, sign-in attempts
    assert set(found) == {*SEED, "assistant_test_daily", "assistant_test_daily_status",
                          "assistant_test_daily_assistant", "assistant_test_hourly_status", "user_data_versions",
                          "intent_history", "api_tokens", "api_links", "signin_attempts", "intent_links_removed"}


def test_seed_defaults_unique_and_primary_keys(pg) -> None:
    defaults = dict(pg.execute(sa.text(
        "select table_name || '.' || column_name, column_default from information_schema.columns "
        "where table_schema = 'public' and column_default is not null")).all())
    assert defaults["assistant_settings.is_active"] == "true"
    assert "now()" in defaults["assistant_settings.created_at"] and "now()" in defaults["assistant_settings.updated_at"]
    assert defaults["assistant_tests.language"].startswith("'english'")
    assert defaults["assistant_tests.status"].startswith("'initiated'")
    constraints = {(t, kind, cols) for t, kind, cols in pg.execute(sa.text(
        "select conrelid::regclass::text, contype, (select string_agg(attname, ',' order by attnum) "
        "from pg_attribute where attrelid = conrelid and attnum = any(conkey)) "
        "from pg_constraint where connamespace = 'public'::regnamespace and contype in ('p', 'u')"))}
    assert ("subscriptions", "u", "user_id") in constraints
    assert ("assistants", "u", "user_id,vapi_assistant_id") in constraints
    assert ("assistant_settings", "p", "user_id") in constraints
    for table in ("subscriptions", "intents", "assistants", "assistant_tests"):
        assert (table, "p", "id") in constraints


def test_every_seed_index_exists(pg) -> None:
    indexes = dict(pg.execute(sa.text("select indexname, indexdef from pg_indexes where schemaname = 'public'")).all())
    for name, columns in SEED_INDEXES.items():
        assert name in indexes, name
        assert indexes[name].endswith(f"USING btree {columns}"), indexes[name]


CATALOG = {  # what applying the migrations again must leave exactly as it was
    "columns": "select table_name, column_name, data_type, is_nullable, column_default from "
               "information_schema.columns where table_schema = 'public'",
    "indexes": "select indexname, indexdef from pg_indexes where schemaname = 'public'",
    "constraints": "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint "
                   "where connamespace = 'public'::regnamespace",
    "policies": "select tablename, policyname, permissive, roles::text, cmd, qual, with_check from pg_policies "
                "where schemaname = 'public'",
    "rls": "select relname, relrowsecurity, relforcerowsecurity from pg_class "
           "where relnamespace = 'public'::regnamespace and relkind = 'r'",
    "triggers": "select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) from pg_trigger "
                "where not tgisinternal and tgrelid::regclass::text not like 'pg_%'",
    "functions": "select p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)), p.proacl::text from pg_proc p "
                 "where p.pronamespace = 'public'::regnamespace",
    "grants": "select table_name, grantee, privilege_type from information_schema.role_table_grants "
              "where table_schema = 'public'",
}


def _catalog_and_data(engine: sa.Engine) -> dict[str, list]:
    with engine.connect() as conn:
        found = {name: sorted(map(tuple, conn.execute(sa.text(q)).all())) for name, q in CATALOG.items()}
        for table in schema.ALL_TABLES:  # the rollups included: a second backfill must not double them
            found[table.name] = sorted(map(repr, conn.execute(sa.select(table)).all()))
    return found


def test_applying_the_migrations_again_changes_nothing(engine: sa.Engine, pg_clean: str) -> None:
    from datetime import datetime

    from lib.models import IntentDiff, IntentInput
    from lib.store.direct import DirectStore
    from tools.pgcluster import reapply_migrations

    store = DirectStore(pg_clean)
    store.for_user("user_twice").save_intents(IntentDiff(added=(IntentInput("kept", ("hi",)),)))
    store.for_user("user_twice").set_active(False)
    store.close()
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), [
            {"id": f"00000000-0000-4000-8000-{i:012d}", "user_id": "user_twice", "assistant_id": "asst_1",
             "test_phrase": f"call {i}", "language": "russian", "status": "failed",
             "created_at": datetime(2026, 11, 20, i), "updated_at": datetime(2026, 11, 20, i)} for i in range(5)])
    before = _catalog_and_data(engine)
    assert before["intents"] and before["assistant_test_daily"] and before["policies"]
    reapply_migrations(pg_clean)  # every file again, whatever the history table says
    after = _catalog_and_data(engine)
    for name in before:
        assert after[name] == before[name], name


def test_a_database_that_is_down_gives_a_typed_error_without_secrets() -> None:
    from lib.store.direct import DirectStore

    store = DirectStore("postgresql://dashboard:s3cret-password@127.0.0.1:9/nowhere", statement_timeout_ms=2000)
    with pytest.raises(StoreUnavailable) as err:
        store.for_user("user_x").stats(TestFilter())
    message = str(err.value)
    assert "try again" in message
    assert "s3cret" not in message and "127.0.0.1" not in message and "Traceback" not in message
    store.close()


def test_a_slow_query_gives_a_typed_error(pg_clean: str) -> None:
    """A call that waits past the statement timeout (here on a table lock) is StoreUnavailable."""
    from lib.store.direct import DirectStore

    store = DirectStore(pg_clean, statement_timeout_ms=200)
    owner = sa.create_engine(pg_clean)
    try:
        with owner.begin() as conn:
            conn.execute(sa.text("lock table intents in access exclusive mode"))
            with pytest.raises(StoreUnavailable):
                store.for_user("user_x").list_intents()
        assert store.for_user("user_x").list_intents() == []
    finally:
        store.close()
        owner.dispose()
