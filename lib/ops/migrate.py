"""Apply supabase/migrations/ to a PostgreSQL database without the Supabase CLI.

``make run`` must not need the CLI (a Go binary installed through npm): the dashboard's embedded
server (lib.ops.embedded) and the test/bench clusters (tools.pgcluster) are migrated by
:func:`apply_migrations` instead.  It records each file exactly as ``supabase db push`` does, in
``supabase_migrations.schema_migrations (version text primary key, statements text[], name text)``
(version = the file name's timestamp prefix, name = the rest without ``.sql``, statements = the
file's statements), so a later ``supabase db push`` on the same database sees them applied and
pushes only newer files.

A plain PostgreSQL lacks what every Supabase project has and the migrations grant to: the API
roles (anon, authenticated, service_role), the ``auth`` schema and ``auth.jwt()``.
:data:`SUPABASE_SHIM` creates them, each only if missing, so on a real Supabase database it
changes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent.parent
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"

# What a Supabase project has and a plain PostgreSQL lacks: the API roles and auth.jwt().
SUPABASE_SHIM = """
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit; end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls; end if;
end
$$;
grant anon, authenticated, service_role to current_user;
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;
do $$
begin
    if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                   where n.nspname = 'auth' and p.proname = 'jwt') then
        create function auth.jwt() returns jsonb language sql stable as $f$
            select coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                            nullif(current_setting('request.jwt.claims', true), ''))::jsonb
        $f$;
        grant execute on function auth.jwt() to anon, authenticated, service_role;
    end if;
end
$$;
"""

# The Supabase CLI's history table (pkg/migration/history.go), created the same way.
HISTORY_TABLE = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
"""

# One key for every process that migrates this database (two dashboards starting together).
_LOCK_KEY = 0x5B_D4_5B_0A

_FILE = re.compile(r"^(\d+)_(.*)\.sql$")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """The migration files in the order the CLI applies them (by version)."""
    files = [p for p in directory.glob("*.sql") if _FILE.match(p.name)]
    return sorted(files, key=lambda p: _FILE.match(p.name).group(1))  # type: ignore[union-attr]


def version_and_name(path: Path) -> tuple[str, str]:
    match = _FILE.match(path.name)
    if not match:
        raise ValueError(f"{path.name}: a migration is named <timestamp>_<name>.sql")
    return match.group(1), match.group(2)


def split_statements(sql: str) -> list[str]:
    """The file's statements, split at top-level semicolons (not inside quotes, dollar quotes or
    comments), without the semicolon, trimmed, empty ones dropped: what the CLI stores in ``statements``
    (checked against ``supabase db push`` 2.117.0 on this repository's migrations)."""
    out: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif c == "/" and sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c in "'\"":
            i += 1
            while i < n:
                if sql[i] == c:
                    if i + 1 < n and sql[i + 1] == c:  # doubled quote
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif c == "$" and (tag := re.match(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$", sql[i:])):
            end = sql.find(tag.group(0), i + len(tag.group(0)))
            i = n if end < 0 else end + len(tag.group(0))
        elif c == ";":
            out.append(sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    out.append(sql[start:])
    return [s.strip() for s in out if s.strip()]


def applied_versions(conn: psycopg.Connection) -> set[str]:
    exists = conn.execute("select to_regclass('supabase_migrations.schema_migrations')").fetchone()
    if not exists or exists[0] is None:
        return set()
    return {r[0] for r in conn.execute("select version from supabase_migrations.schema_migrations")}


def apply_migrations(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Create the shim and the history table, then apply each migration file not yet recorded, in
    version order, each in its own transaction together with its history row.  Returns the versions
    applied now (empty when the database was up to date).  Concurrent callers wait on an advisory lock."""
    applied_now: list[str] = []
    with psycopg.connect(libpq_url(conninfo), autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            with conn.transaction():
                conn.execute(SUPABASE_SHIM)
                conn.execute(HISTORY_TABLE)
            done = applied_versions(conn)
            for path in migration_files(directory):
                version, name = version_and_name(path)
                if version in done:
                    continue
                sql = path.read_text()
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute("insert into supabase_migrations.schema_migrations (version, name, statements) "
                                 "values (%s, %s, %s)", (version, name, split_statements(sql)))
                applied_now.append(version)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def libpq_url(url: str) -> str:
    """A libpq conninfo from a URL that may carry SQLAlchemy's driver suffix."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
