"""The database's tables for tests and benchmarks that seed or check rows: SQLAlchemy ``Table`` objects
*reflected* from a migrated PostgreSQL, lazily, so the migrations stay the only copy of the schema.

    t = tables(url_or_engine)          # reflected once per database URL, then cached
    conn.execute(sa.insert(t.intents), rows)
    t.ALL_TABLES, t.USER_TABLES, t.VERSIONED, t.ROLLUPS

or module-style, after ``use(url)`` once (the test suite's ``pg_url`` fixture): ``tools.tables.intents``.
Tables are named without their schema (``intents``, not ``public.intents``) and uuid columns give
and take text, as the store does.  SQLAlchemy is a test/bench dependency only (requirements-dev.txt).
"""

from __future__ import annotations

import threading
from datetime import date
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

# The users' own tables (the reference's five); VERSIONED adds intent_history (writes advance a version).
USER_TABLE_NAMES = ("subscriptions", "intents", "assistant_settings", "assistants", "assistant_tests")
VERSIONED_NAMES = (*USER_TABLE_NAMES, "intent_history")
# Rollups of assistant_tests, kept by the migrations' triggers: the daily ones, the widest first, and the hourly one
# (local days, 20261203200000_local_days.sql).
ROLLUP_NAMES = ("assistant_test_daily", "assistant_test_daily_status", "assistant_test_daily_assistant",
                "assistant_test_hourly_status")
NO_DAY = date(1, 1, 1)  # the rollups' day for a test call without created_at

_lock = threading.Lock()
_cache: dict[str, SimpleNamespace] = {}
_default_url: str | None = None


def _key(bind: str | sa.Engine) -> str:
    url = bind.url if isinstance(bind, sa.Engine) else sa.engine.make_url(bind)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def tables(bind: str | sa.Engine) -> SimpleNamespace:
    """The tables of the database at ``bind`` (a URL or an Engine), reflected on first use."""
    key = _key(bind)
    with _lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = _reflect(bind if isinstance(bind, sa.Engine) else key)
        return found


def _reflect(bind: str | sa.Engine) -> SimpleNamespace:
    engine = sa.create_engine(bind) if isinstance(bind, str) else bind
    try:
        meta = sa.MetaData()
        meta.reflect(engine, schema="public")
    finally:
        if isinstance(bind, str):
            engine.dispose()
    by_name: dict[str, sa.Table] = {}
    for table in meta.tables.values():
        table.schema = None  # by bare name, as the connection's search_path finds them
        for col in table.c:
            if isinstance(col.type, sa.Uuid):
                col.type = sa.Uuid(as_uuid=False)  # ids as text
        by_name[table.name] = table
    ns = SimpleNamespace(**by_name)
    ns.USER_TABLES = tuple(by_name[n] for n in USER_TABLE_NAMES)
    ns.VERSIONED = tuple(by_name[n] for n in VERSIONED_NAMES)
    ns.ROLLUPS = tuple(by_name[n] for n in ROLLUP_NAMES)
    ns.ALL_TABLES = tuple(meta.sorted_tables)  # every table in public, dependency order
    ns.NO_DAY = NO_DAY
    ns.metadata = meta
    return ns


def use(url: str) -> None:
    """The database module-level attribute access reflects (``tools.tables.intents``)."""
    global _default_url
    _default_url = url


def __getattr__(name: str) -> Any:
    if name.startswith("__") or _default_url is None:
        raise AttributeError(name)
    try:
        return getattr(tables(_default_url), name)
    except AttributeError:
        raise AttributeError(f"tools.tables has no table {name!r}") from None
