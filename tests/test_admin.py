"""`python -m lib.ops.admin orphans`: rows with user_id = '' counted, assigned or deleted in one transaction,
a dry run unless --yes; the dashboard never reaches them.  Run as the real command (a subprocess) on
PostgreSQL; every expected figure comes from the seed below or an independent count."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tools import tables as schema
from tools.pgcluster import libpq_url

ROOT = Path(__file__).resolve().parent.parent
ALICE = "user_admin_alice"
DAY = datetime(2026, 11, 20, 9, 30)
SEEDED = {"subscriptions": 1, "assistant_settings": 1, "intents": 2, "assistants": 1, "assistant_tests": 3}


@pytest.fixture
def db(pg_clean: str) -> str:
    return pg_clean


def seed(url: str, *, alice_settings: bool = False) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.subscriptions), [{"id": str(uuid.uuid4()), "user_id": "", "status": "active",
                                                        "plan_type": "starter"}])
        conn.execute(sa.insert(schema.assistant_settings), [{"user_id": "", "is_active": False}]
                     + ([{"user_id": ALICE, "is_active": True}] if alice_settings else []))
        conn.execute(sa.insert(schema.intents), [
            {"id": str(uuid.uuid4()), "user_id": user, "intent_name": name, "example_user_phrases": ["hi"],
             "english_responses": ["Hello"], "russian_responses": ["Привет"]}
            for user, name in [("", "old greeting"), ("", "old refund"), (ALICE, "greeting")]])
        conn.execute(sa.insert(schema.assistants), [{"id": str(uuid.uuid4()), "user_id": "", "vapi_assistant_id": "va_old",
                                                     "name": "Legacy", "config": {}, "intents_used": []}])
        conn.execute(sa.insert(schema.assistant_tests), [
            {"id": str(uuid.uuid4()), "user_id": user, "assistant_id": "va_old", "test_phrase": "hi",
             "language": "english", "status": "completed", "created_at": DAY}
            for user in ["", "", "", ALICE]])
    engine.dispose()


def counts(url: str, user: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = {t: conn.execute(sa.text(f"select count(*) from {t} where user_id = :u"), {"u": user}).scalar_one()
                 for t in SEEDED}
        found["rollup"] = conn.execute(sa.text(
            "select coalesce(sum(tests), 0) from assistant_test_daily where user_id = :u"), {"u": user}).scalar_one()
    engine.dispose()
    return found


def admin(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("SUPABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "lib.ops.admin", "orphans", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def printed_counts(stdout: str) -> dict[str, int]:
    rows = [line.split() for line in stdout.splitlines() if line.startswith("  ")]
    return {table: int(n.replace(",", "")) for table, n in rows}


def test_counts_orphans_per_table(db: str) -> None:
    seed(db)
    run = admin(db)
    assert run.returncode == 0, run.stderr
    assert printed_counts(run.stdout) == SEEDED
    assert counts(db, "") == {**SEEDED, "rollup": 3}  # nothing changed


def test_dry_run_changes_nothing_and_yes_assigns_in_one_go(db: str) -> None:
    seed(db)
    before_alice = counts(db, ALICE)
    dry = admin(db, "--assign-to", ALICE)
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: 8 rows would be assigned" in dry.stdout
    assert counts(db, "") == {**SEEDED, "rollup": 3}
    assert counts(db, ALICE) == before_alice

    done = admin(db, "--assign-to", ALICE, "--yes")
    assert done.returncode == 0, done.stderr
    assert "8 rows assigned" in done.stdout
    assert counts(db, "") == dict.fromkeys(SEEDED, 0) | {"rollup": 0}
    after = counts(db, ALICE)
    assert after == {t: before_alice[t] + n for t, n in SEEDED.items()} | {"rollup": before_alice["rollup"] + 3}
    assert printed_counts(admin(db).stdout) == dict.fromkeys(SEEDED, 0)


def test_delete_removes_only_orphans(db: str) -> None:
    seed(db)
    alice = counts(db, ALICE)
    run = admin(db, "--delete", "--yes")
    assert run.returncode == 0, run.stderr
    assert "8 rows deleted" in run.stdout
    assert counts(db, "") == dict.fromkeys(SEEDED, 0) | {"rollup": 0}
    assert counts(db, ALICE) == alice


def test_a_taken_unique_row_refuses_the_whole_fix(db: str) -> None:
    seed(db, alice_settings=True)
    run = admin(db, "--assign-to", ALICE, "--yes")
    assert run.returncode == 1
    assert "Nothing was changed" in run.stderr and "assistant_settings" in run.stderr
    assert "Traceback" not in run.stderr
    assert counts(db, "") == {**SEEDED, "rollup": 3}  # not even the other tables moved
    # ...and the way out it names works: delete that table's orphan, then assign the rest.
    assert admin(db, "--delete", "--table", "assistant_settings", "--yes").returncode == 0
    assert admin(db, "--assign-to", ALICE, "--yes").returncode == 0
    assert counts(db, "")["intents"] == 0 and counts(db, ALICE)["intents"] == 3


@pytest.mark.parametrize("bad", ["", "alice", "user_", "user_ x", "user_2abc;drop table intents", "' or 1=1 --"])
def test_refuses_an_invalid_user_id(db: str, bad: str) -> None:
    seed(db)
    run = admin(db, "--assign-to", bad, "--yes")
    assert run.returncode == 1
    assert "is not a Clerk user id" in run.stderr
    assert counts(db, "") == {**SEEDED, "rollup": 3}


def test_assign_and_delete_together_is_a_usage_error(db: str) -> None:
    run = admin(db, "--assign-to", ALICE, "--delete")
    assert run.returncode == 2 and "not allowed with" in run.stderr


def test_the_dashboard_never_reaches_orphans(db: str) -> None:
    """The dashboard reads through the dashboard_* functions as the token's user: an empty user id is
    refused (42501, as no user), and a user sees only their own rows."""
    seed(db)

    def intent_names(sub: str) -> list[str]:
        with psycopg.connect(libpq_url(db)) as conn:
            conn.execute("select set_config('role', 'authenticated', true), "
                         "set_config('request.jwt.claims', %s, true)", (f'{{"sub": "{sub}", "role": "authenticated"}}',))
            return [i["intent_name"] for i in conn.execute("select public.dashboard_list_intents()").fetchone()[0]]

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        intent_names("")
    assert intent_names(ALICE) == ["greeting"]


def test_refuses_an_id_with_a_trailing_newline(db: str) -> None:
    seed(db)
    run = admin(db, "--assign-to", ALICE + "\n", "--yes")
    assert run.returncode == 1 and "is not a Clerk user id" in run.stderr
    assert counts(db, "") == {**SEEDED, "rollup": 3}


def _link_orphans(url: str) -> None:
    """The orphan assistant uses both orphan intents."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("update assistants set intents_used = (select array_agg(id) from intents "
                             "where user_id = '') where user_id = ''"))
    engine.dispose()


@pytest.mark.parametrize("table", ["intents", "assistants"])
def test_table_refuses_to_split_an_assistant_from_its_intents(db: str, table: str) -> None:
    seed(db)
    _link_orphans(db)
    run = admin(db, "--assign-to", ALICE, "--table", table, "--yes")
    assert run.returncode == 1 and "Nothing was changed" in run.stderr and "--table intents --table assistants" in run.stderr
    assert counts(db, "") == {**SEEDED, "rollup": 3}
    both = admin(db, "--assign-to", ALICE, "--table", "intents", "--table", "assistants", "--yes")
    assert both.returncode == 0, both.stderr
    engine = sa.create_engine(db)
    with engine.connect() as conn:  # the assistant still uses both intents, all alice's now
        used = conn.execute(sa.text("select count(*) from assistants a, unnest(a.intents_used) u(id) "
                                    "join intents i on i.id = u.id where a.user_id = :u and i.user_id = :u"),
                            {"u": ALICE}).scalar_one()
    engine.dispose()
    assert used == 2


def test_delete_without_yes_is_a_dry_run(db: str) -> None:
    seed(db)
    run = admin(db, "--delete")
    assert run.returncode == 0, run.stderr
    assert "Dry run: 8 rows would be deleted" in run.stdout
    assert counts(db, "") == {**SEEDED, "rollup": 3}
