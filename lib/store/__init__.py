"""The store: the only way to user data is a handle bound to one user, ``store.for_user(user_id)``.

One implementation (lib.store.calls: each method one ``dashboard_*`` SQL function) over two transports
chosen by configuration (see ``open_store``): PostgreSQL direct (psycopg, lib.store.direct) and
Supabase REST (lib.store.rest).  Both run the functions as role ``authenticated`` under RLS.
"""

from __future__ import annotations

from lib.config import Settings as AppSettings
from lib.store.calls import CallStore as Store
from lib.store.calls import UserCalls as UserStore

__all__ = ["Store", "UserStore", "open_store"]


def open_store(settings: AppSettings) -> Store:
    """The transport the settings name: Supabase REST, PostgreSQL at DATABASE_URL, or (DATABASE_URL
    unset) the embedded PostgreSQL server under data/ (started, migrated and seeded on first use)."""
    if settings.supabase_url:
        from lib.store.rest import RestStore

        return RestStore(settings.supabase_url, settings.supabase_key, jwt_secret=settings.supabase_jwt_secret,
                         timeout=settings.db_timeout_seconds, export_timeout=settings.export_timeout_seconds,
                         exports=settings.export_concurrency)
    from lib.store.direct import DirectStore

    url = settings.database_url
    if not url:
        from lib.ops.embedded import database_url

        url = database_url()
    return DirectStore(url, statement_timeout_ms=int(settings.db_timeout_seconds * 1000),
                       export_timeout_ms=int(settings.export_timeout_seconds * 1000),
                       exports=settings.export_concurrency)
