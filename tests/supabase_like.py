"""A database set up the way a Supabase project is before its migrations run, for the advisor and
grant tests: the API roles and ``auth.jwt()`` (tools.pgcluster's shim), plus Supabase's default
privileges, which hand every new table, function and sequence in ``public`` to anon, authenticated
and service_role (ALL: TRUNCATE, REFERENCES and TRIGGER included).  Then every migration is applied.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from tools.pgcluster import new_database

SUPABASE_DEFAULT_PRIVILEGES = """
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
"""


def supabase_like_database(pg_url: str) -> AbstractContextManager[str]:
    """SQLAlchemy URL of a new database on ``pg_url``'s server, migrated under Supabase's defaults."""
    return new_database(pg_url, prefix="supabase_like", setup=SUPABASE_DEFAULT_PRIVILEGES)
