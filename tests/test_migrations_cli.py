"""The real Supabase CLI (npm ``supabase``, pinned in the Makefile) checks the migration history.

On a throwaway cluster of its own, in a fresh database holding only what a Supabase project has
before its migrations run (the API roles, ``auth.jwt()``, Supabase's default privileges):

* ``supabase db push --db-url ...`` applies every file of supabase/migrations, and records each one
  in ``supabase_migrations.schema_migrations`` (the table the CLI creates itself);
* a second push has nothing to do and leaves that table as it was;
* ``supabase migration list`` shows every file both locally and on the database;
* ``supabase db lint --level warning --fail-on warning`` (plpgsql_check over every function) passes,
  and, so that this cannot pass vacuously, fails on a planted plpgsql function that selects a
  missing column, in a separate database.

The CLI is run with a private HOME, telemetry off and a copy of supabase/ as its work directory
(it writes supabase/.temp there), and talks to 127.0.0.1 only (``sslmode=disable``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.supabase_like import SUPABASE_DEFAULT_PRIVILEGES
from tools.pgcluster import SUPABASE_SHIM, Cluster, libpq_url

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = sorted((ROOT / "supabase" / "migrations").glob("*.sql"))
CLI = Path(os.environ.get("SUPABASE_CLI", ROOT / ".tools" / "node_modules" / ".bin" / "supabase"))
CLI_VERSION = "2.117.0"  # the Makefile's SUPABASE_CLI_VERSION

BROKEN_FUNCTION = """
create table public.things (id int primary key, name text);
create function public.broken_thing_name(p_id int) returns text
language plpgsql set search_path = '' as $$
declare
    result text;
begin
    select t.no_such_column into result from public.things t where t.id = p_id;
    return result;
end
$$;
"""


def _version_and_name(path: Path) -> tuple[str, str]:
    version, _, name = path.stem.partition("_")
    return version, name


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if not CLI.exists():
        pytest.skip(f"Supabase CLI not installed at {CLI}; `make test` installs it (npm supabase@{CLI_VERSION})")
    home = tmp_path_factory.mktemp("supabase-home")
    workdir = tmp_path_factory.mktemp("supabase-workdir")
    shutil.copytree(ROOT / "supabase" / "migrations", workdir / "supabase" / "migrations")
    env = {
        **os.environ,
        "HOME": str(home),
        "SUPABASE_TELEMETRY_DISABLED": "1",
        "DO_NOT_TRACK": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    out = subprocess.run([str(CLI), "--version"], env=env, cwd=workdir, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == CLI_VERSION, (out.stdout, out.stderr)
    return {"env": env, "workdir": workdir}


def supabase(cli_env: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI; stdout and stderr together in ``.stdout`` (it prints progress to stderr)."""
    return subprocess.run(
        [str(CLI), "--workdir", str(cli_env["workdir"]), *args],
        env=cli_env["env"],  # type: ignore[arg-type]
        cwd=cli_env["workdir"],  # type: ignore[arg-type]
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A throwaway cluster of the module's own (its ``postgres`` database is not used)."""
    c = Cluster()
    c.start()
    try:
        yield c
    finally:
        c.stop()


def fresh_database(cluster: Cluster, name: str) -> tuple[str, str]:
    """A new database with only Supabase's pre-migration setup: (libpq URL, the CLI's --db-url)."""
    with psycopg.connect(libpq_url(cluster.url), autocommit=True) as conn:
        conn.execute(f'create database "{name}" template template0')
    url = f"postgresql://{cluster.user}@127.0.0.1:{cluster.port}/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SUPABASE_SHIM)
        conn.execute(SUPABASE_DEFAULT_PRIVILEGES)
    return url, f"{url}?sslmode=disable"


def recorded(url: str) -> list[tuple[str, str, list[str]]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations order by version"
        ).fetchall()


@pytest.fixture(scope="module")
def pushed(cluster: Cluster, cli_env: dict[str, object]) -> dict[str, object]:
    """The whole history pushed once to a fresh database."""
    url, db_url = fresh_database(cluster, "cli_push")
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass('supabase_migrations.schema_migrations')").fetchone() == (None,)
    first = supabase(cli_env, "db", "push", "--db-url", db_url, "--yes")
    return {"url": url, "db_url": db_url, "first": first}


def test_push_applies_and_records_every_migration(pushed: dict[str, object]) -> None:
    first = pushed["first"]
    assert first.returncode == 0, first.stdout
    for path in MIGRATIONS:
        assert f"Applying migration {path.name}" in first.stdout, first.stdout
    assert "Finished supabase db push" in first.stdout
    rows = recorded(pushed["url"])
    assert [(v, n) for v, n, _ in rows] == [_version_and_name(p) for p in MIGRATIONS]
    assert all(statements for _, _, statements in rows)  # the CLI keeps each file's statements


def test_push_made_the_schema(pushed: dict[str, object]) -> None:
    """The pushed database has the tables and the one-engine functions the app calls."""
    with psycopg.connect(pushed["url"]) as conn:
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'").fetchall()}
        functions = {
            r[0]
            for r in conn.execute("select proname from pg_proc where pronamespace = 'public'::regnamespace").fetchall()
        }
    assert {"intents", "assistants", "assistant_tests", "assistant_settings"} <= tables, tables
    assert "dashboard_uid" in functions and "dashboard_save_intents" in functions, functions


def test_second_push_is_a_no_op(pushed: dict[str, object], cli_env: dict[str, object]) -> None:
    assert pushed["first"].returncode == 0, pushed["first"].stdout
    before = recorded(pushed["url"])
    again = supabase(cli_env, "db", "push", "--db-url", pushed["db_url"], "--yes")
    assert again.returncode == 0, again.stdout
    assert "up to date" in again.stdout.lower(), again.stdout
    assert "Applying migration" not in again.stdout, again.stdout
    assert recorded(pushed["url"]) == before


def test_migration_list_matches(pushed: dict[str, object], cli_env: dict[str, object]) -> None:
    assert pushed["first"].returncode == 0, pushed["first"].stdout
    listed = supabase(cli_env, "migration", "list", "--db-url", pushed["db_url"])
    assert listed.returncode == 0, listed.stdout
    # rows look like:   `20261125000000` | `20261125000000` | `2026-11-25 00:00:00`
    rows = re.findall(r"^\s*`?(\d{14})?`?\s*\|\s*`?(\d{14})?`?\s*\|", listed.stdout, flags=re.MULTILINE)
    versions = [_version_and_name(p)[0] for p in MIGRATIONS]
    assert rows == [(v, v) for v in versions], listed.stdout


def test_lint_passes_on_the_migrated_schema(pushed: dict[str, object], cli_env: dict[str, object]) -> None:
    assert pushed["first"].returncode == 0, pushed["first"].stdout
    lint = supabase(cli_env, "db", "lint", "--db-url", pushed["db_url"], "--level", "warning", "--fail-on", "warning")
    assert lint.returncode == 0, lint.stdout
    assert "Linting schema: public" in lint.stdout, lint.stdout  # it did look at the app's schema
    assert "No schema errors found" in lint.stdout, lint.stdout


def test_lint_fails_on_a_broken_function(cluster: Cluster, cli_env: dict[str, object]) -> None:
    """The same lint on a separate database with one plpgsql function that selects a missing column."""
    url, db_url = fresh_database(cluster, "cli_broken")
    with psycopg.connect(url) as conn:
        conn.execute(BROKEN_FUNCTION)
    lint = supabase(cli_env, "db", "lint", "--db-url", db_url, "--level", "warning", "--fail-on", "warning")
    assert lint.returncode != 0, lint.stdout
    assert "public.broken_thing_name" in lint.stdout, lint.stdout
    assert 'column "t.no_such_column" does not exist' in lint.stdout or "no_such_column" in lint.stdout, lint.stdout
    assert "42703" in lint.stdout, lint.stdout
