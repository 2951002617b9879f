"""A database set up the way a Supabase project is before its migrations run, for the advisor and
grant tests: the API roles and ``auth.jwt()`` (tools.pgcluster's shim), plus Supabase's default
privileges, which hand every new table, function and sequence in ``public`` to anon, authenticated
and service_role (ALL: TRUNCATE, REFERENCES and TRIGGER included).  Then every migration is applied.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa

from tools.pgcluster import apply_migrations, libpq_url

SUPABASE_DEFAULT_PRIVILEGES = """
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
"""


@contextmanager
def supabase_like_database(pg_url: str) -> Iterator[str]:
    """SQLAlchemy URL of a new database on ``pg_url``'s server, migrated under Supabase's defaults."""
    base = sa.engine.make_url(pg_url)
    name = f"supabase_like_{secrets.token_hex(4)}"
    admin = libpq_url(base.render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(SUPABASE_DEFAULT_PRIVILEGES)
        apply_migrations(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
