"""The database's tables for tests that seed or check rows: SQLAlchemy ``Table`` objects *reflected*
from the migrated PostgreSQL (lazily, on first use), instead of a hand-written mirror of the schema.

``tables.intents``, ``tables.assistants``, ... ; ``ALL_TABLES`` (every table in ``public``, rollups
included, dependency order), ``USER_TABLES`` (the users' five tables), ``VERSIONED`` (those and
``intent_history``).  The suite's
``pg_url`` fixture calls ``use(url)``; any migrated database of the same history reflects the same.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

# The users' own tables (the reference's five); VERSIONED adds intent_history (writes advance a version).
USER_TABLE_NAMES = ("subscriptions", "intents", "assistant_settings", "assistants", "assistant_tests")

_lock = threading.Lock()
_url: str | None = None
_meta: sa.MetaData | None = None


def use(url: str) -> None:
    """The database to reflect from (reflected once, on first attribute access)."""
    global _url
    _url = url


def _reflected() -> sa.MetaData:
    global _meta
    with _lock:
        if _meta is None:
            if _url is None:
                raise RuntimeError("tests.tables: no database yet (use the pg_url fixture first)")
            engine = sa.create_engine(_url)
            try:
                meta = sa.MetaData()
                meta.reflect(engine, schema="public")
            finally:
                engine.dispose()
            for t in list(meta.tables.values()):  # by bare name, as the old lib.schema had them
                t.schema = None
                for col in t.c:  # ids as text, as the store returns them
                    if isinstance(col.type, sa.Uuid):
                        col.type = sa.Uuid(as_uuid=False)
            _meta = meta
        return _meta


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    meta = _reflected()
    if name == "ALL_TABLES":
        return list(meta.sorted_tables)
    if name == "USER_TABLES":
        return [_table(meta, n) for n in USER_TABLE_NAMES]
    if name == "VERSIONED":
        return [_table(meta, n) for n in (*USER_TABLE_NAMES, "intent_history")]
    return _table(meta, name)


def _table(meta: sa.MetaData, name: str) -> sa.Table:
    for key, table in meta.tables.items():
        if key.rsplit(".", 1)[-1] == name:
            return table
    raise AttributeError(name)
