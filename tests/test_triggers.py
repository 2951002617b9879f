"""The database's own bookkeeping under concurrent writers (PostgreSQL): the daily rollups and the
per-user change versions stay exact and never deadlock, whoever writes and however they interleave.

A smaller version of the writers benchmark (bench/writers.py): 8 threads, each its own connection in
autocommit, doing what a call webhook does (insert a call as initiated, then in_progress, then
completed or failed) for one user and day across two assistants, then a mixed insert/update/delete
load.  Expected values are counted with GROUP BY over the calls themselves.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import psycopg
import pytest
from psycopg import errors

from tools.pgcluster import libpq_url

USER, OTHER = "user_trig_alice", "user_trig_bob"
WRITERS, SEQUENCES = 8, 30

ROLLUP_CHECKS = {  # rollup -> the GROUP BY over the calls it must equal
    "assistant_test_daily": "user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, "
                            "coalesce(language, ''), coalesce(status, '')",
    "assistant_test_daily_status": "user_id, coalesce(created_at::date, date '0001-01-01'), coalesce(language, ''), "
                                   "coalesce(status, '')",
    "assistant_test_daily_assistant": "user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id",
    "assistant_test_hourly_status": "user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01'), "
                                    "coalesce(language, ''), coalesce(status, '')",
}


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(libpq_url(url), autocommit=True)


def _run_writers(url: str, work: Callable[[psycopg.Connection, random.Random], None]) -> list[BaseException]:
    """WRITERS threads start together, each on its own connection; the database errors they met."""
    failures: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> None:
        with _connect(url) as conn:
            conn.execute("set deadlock_timeout = '50ms'")  # a deadlock, if any, is found fast
            start.wait()
            rng = random.Random(n)
            for _ in range(SEQUENCES):
                try:
                    work(conn, rng)
                except psycopg.DatabaseError as err:
                    failures.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def _webhook_call(conn: psycopg.Connection, rng: random.Random) -> None:
    assistant = rng.choice(("asst_a", "asst_b"))
    (call_id,) = conn.execute(
        "insert into assistant_tests (user_id, assistant_id, test_phrase, language, status, created_at) "
        "values (%s, %s, 'book a table', 'english', 'initiated', '2026-11-20 10:00:00') returning id",
        (USER, assistant)).fetchone()
    conn.execute("update assistant_tests set status = 'in_progress', updated_at = now() where id = %s", (call_id,))
    conn.execute("update assistant_tests set status = %s, updated_at = now() where id = %s",
                 (rng.choice(("completed", "failed")), call_id))


def _mixed(conn: psycopg.Connection, rng: random.Random) -> None:
    """Inserts, updates (status and assistant) and deletes of several calls at once, grouped by call_id
    as the writers benchmark's mixed load is: a statement's own rows are found in one scan order, so
    any deadlock left would be the rollups' (the calls' own row locks cannot cross)."""
    roll, key = rng.random(), f"c{rng.randint(1, 20)}"
    if roll < 0.4:
        conn.execute(
            "insert into assistant_tests (user_id, assistant_id, test_phrase, language, status, call_id, created_at) "
            "select %s, %s, 'x', %s, 'initiated', %s, timestamp '2026-11-19 10:00' + (g %% 2) * interval '1 day' "
            "from generate_series(1, %s) g",
            (USER, rng.choice(("asst_a", "asst_b")), rng.choice(("english", "russian", None)), key, rng.randint(1, 3)))
    elif roll < 0.8:
        conn.execute("update assistant_tests set status = %s, assistant_id = %s where user_id = %s and call_id = %s",
                     (rng.choice(("in_progress", "completed", "failed", None)), rng.choice(("asst_a", "asst_b")),
                      USER, key))
    else:
        conn.execute("delete from assistant_tests where user_id = %s and call_id = %s", (USER, key))


def _rollups_match_the_calls(conn: psycopg.Connection) -> None:
    for rollup, keys in ROLLUP_CHECKS.items():
        kept = set(conn.execute(f"select * from {rollup} where tests <> 0").fetchall())
        counted = set(conn.execute(f"select {keys}, count(*) from assistant_tests group by {keys}").fetchall())
        assert kept == counted, rollup


def _versions(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    return {(u, t): v for u, t, v in conn.execute("select user_id, topic, version from user_data_versions")}


def test_webhook_writers_never_deadlock_and_rollups_stay_exact(pg_clean: str) -> None:
    failures = _run_writers(pg_clean, _webhook_call)
    assert [type(f).__name__ for f in failures] == []
    with _connect(pg_clean) as conn:
        assert conn.execute("select count(*) from assistant_tests").fetchone() == (WRITERS * SEQUENCES,)
        assert conn.execute("select count(*) from assistant_tests where status not in ('completed', 'failed')"
                            ).fetchone() == (0,)
        _rollups_match_the_calls(conn)


def test_mixed_writers_never_deadlock_and_rollups_stay_exact(pg_clean: str) -> None:
    with _connect(pg_clean) as conn:  # something to update and delete from the start
        conn.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, status, call_id, created_at) "
                     "select %s, 'asst_a', 'x', 'initiated', 'c' || (1 + g %% 20), '2026-11-19 10:00' "
                     "from generate_series(1, 40) g", (USER,))
    failures = _run_writers(pg_clean, _mixed)
    assert [type(f).__name__ for f in failures] == []
    with _connect(pg_clean) as conn:
        _rollups_match_the_calls(conn)


def test_a_status_change_leaves_the_per_assistant_rollup_untouched(pg_clean: str) -> None:
    with _connect(pg_clean) as conn:
        (call_id,) = conn.execute(
            "insert into assistant_tests (user_id, assistant_id, test_phrase, status, created_at) "
            "values (%s, 'asst_a', 'x', 'initiated', '2026-11-20 10:00') returning id", (USER,)).fetchone()
        row_version = "select xmin::text from assistant_test_daily_assistant where user_id = %s"
        before = conn.execute(row_version, (USER,)).fetchone()
        conn.execute("update assistant_tests set status = 'completed' where id = %s", (call_id,))
        assert conn.execute(row_version, (USER,)).fetchone() == before  # no net change: not rewritten
        assert conn.execute("select status, tests from assistant_test_daily_status where user_id = %s order by 1",
                            (USER,)).fetchall() == [("completed", 1), ("initiated", 0)]  # zero rows stay, unread
        _rollups_match_the_calls(conn)


def test_truncate_empties_the_rollups_and_advances_versions(pg_clean: str) -> None:
    with _connect(pg_clean) as conn:
        conn.execute("insert into assistant_tests (user_id, assistant_id, test_phrase) values (%s, 'a', 'x'), "
                     "(%s, 'a', 'y')", (USER, OTHER))
        before = _versions(conn)
        conn.execute("truncate assistant_tests")
        assert conn.execute("select count(*) from assistant_test_daily").fetchone() == (0,)
        assert conn.execute("select count(*) from assistant_test_daily_status").fetchone() == (0,)
        assert conn.execute("select count(*) from assistant_test_daily_assistant").fetchone() == (0,)
        assert conn.execute("select count(*) from assistant_test_hourly_status").fetchone() == (0,)
        after = _versions(conn)
        for user in (USER, OTHER):
            assert after[(user, "assistant_tests")] > before[(user, "assistant_tests")]


@pytest.mark.parametrize("table, insert", [
    ("intents", "insert into intents (user_id, intent_name) values (%s, 'x')"),
    ("assistants", "insert into assistants (user_id, vapi_assistant_id, name) values (%s, 'v', 'n')"),
    ("assistant_settings", "insert into assistant_settings (user_id) values (%s)"),
    ("assistant_tests", "insert into assistant_tests (user_id, assistant_id, test_phrase) values (%s, 'a', 'x')"),
    ("subscriptions", "insert into subscriptions (user_id, status) values (%s, 'active')"),
])
def test_every_write_advances_only_its_user_and_table(pg_clean: str, table: str, insert: str) -> None:
    with _connect(pg_clean) as conn:
        conn.execute(insert, (OTHER,))
        start = _versions(conn)
        conn.execute(insert, (USER,))
        v1 = _versions(conn)
        assert set(v1) - set(start) == {(USER, table)}
        assert v1[(OTHER, table)] == start[(OTHER, table)]
        conn.execute(f"update {table} set updated_at = now() where user_id = %s", (USER,))
        v2 = _versions(conn)
        assert v2[(USER, table)] > v1[(USER, table)] and v2[(OTHER, table)] == start[(OTHER, table)]
        conn.execute(f"delete from {table} where user_id = %s", (USER,))
        v3 = _versions(conn)
        assert v3[(USER, table)] > v2[(USER, table)] and v3[(OTHER, table)] == start[(OTHER, table)]
        conn.execute(f"update {table} set updated_at = now() where user_id = 'user_nobody'")  # no rows: no change
        assert _versions(conn) == v3


def test_writers_of_different_users_do_not_wait_for_each_other(pg_clean: str) -> None:
    """A webhook's open transaction for one user never blocks a write for another user."""
    with _connect(pg_clean) as holder, _connect(pg_clean) as other:
        holder.execute("begin")
        holder.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, created_at) "
                       "values (%s, 'asst_a', 'x', '2026-11-20 10:00')", (USER,))
        holder.execute("insert into intents (user_id, intent_name) values (%s, 'x')", (USER,))
        other.execute("set lock_timeout = '2s'")  # waiting on the holder would raise LockNotAvailable
        other.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, created_at) "
                      "values (%s, 'asst_a', 'x', '2026-11-20 10:00')", (OTHER,))
        other.execute("insert into intents (user_id, intent_name) values (%s, 'x')", (OTHER,))
        other.execute("update assistant_tests set status = 'completed' where user_id = %s", (OTHER,))
        holder.execute("commit")
        _rollups_match_the_calls(holder)


def test_the_same_user_waits_rather_than_fails(pg_clean: str) -> None:
    """Two writers of one user serialize on the user's version row: the second waits, then succeeds."""
    with _connect(pg_clean) as holder, _connect(pg_clean) as second:
        holder.execute("begin")
        holder.execute("insert into intents (user_id, intent_name) values (%s, 'x')", (USER,))
        second.execute("set lock_timeout = '200ms'")
        with pytest.raises(errors.LockNotAvailable):
            second.execute("insert into intents (user_id, intent_name) values (%s, 'y')", (USER,))
        holder.execute("commit")
        second.execute("insert into intents (user_id, intent_name) values (%s, 'y')", (USER,))
        assert holder.execute("select count(*) from intents where user_id = %s", (USER,)).fetchone() == (2,)


def _spanning_users(conn: psycopg.Connection, rng: random.Random) -> set[str]:
    """One statement over both users' calls, in either user order; the users whose calls it wrote."""
    roll, key = rng.random(), f"c{rng.randint(1, 10)}"
    users = rng.sample((USER, OTHER), 2)
    if roll < 0.4:
        rows = conn.execute(
            "insert into assistant_tests (user_id, assistant_id, test_phrase, language, status, call_id, created_at) "
            "select u, %s, 'x', 'english', 'initiated', %s, timestamp '2026-11-19 10:00' + (g %% 2) * interval '1 day' "
            "from unnest(%s::text[]) u, generate_series(1, 2) g returning user_id",
            (rng.choice(("asst_a", "asst_b")), key, users)).fetchall()
    elif roll < 0.8:
        rows = conn.execute("update assistant_tests set status = %s, created_at = created_at + %s * interval '1 day' "
                            "where call_id = %s returning user_id",
                            (rng.choice(("in_progress", "completed", "failed")), rng.choice((-1, 1)), key)).fetchall()
    else:
        rows = conn.execute("delete from assistant_tests where call_id = %s returning user_id", (key,)).fetchall()
    return {u for (u,) in rows}


def test_statements_over_two_users_keep_rollups_and_versions_exact(pg_clean: str) -> None:
    """Writers whose statements write both users' calls (moving them between days and statuses) in either
    user order: no deadlock, rollups equal to the calls, and each user's version advanced by exactly the
    number of statements that wrote that user's calls."""
    with _connect(pg_clean) as conn:
        conn.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, status, call_id, created_at) "
                     "select u, 'asst_a', 'x', 'initiated', 'c' || (1 + g %% 10), '2026-11-19 10:00' "
                     "from unnest(array[%s, %s]) u, generate_series(1, 20) g", (USER, OTHER))
        start = _versions(conn)
    touched: list[set[str]] = []

    def work(conn: psycopg.Connection, rng: random.Random) -> None:
        touched.append(_spanning_users(conn, rng))

    failures = _run_writers(pg_clean, work)
    assert [type(f).__name__ for f in failures] == []
    with _connect(pg_clean) as conn:
        _rollups_match_the_calls(conn)
        end = _versions(conn)
    for user in (USER, OTHER):
        writes = sum(user in users for users in touched)
        assert writes > 0
        assert end[(user, "assistant_tests")] - start[(user, "assistant_tests")] == writes, user


def test_a_waiting_writer_holds_no_rollup_row(pg_clean: str) -> None:
    """The lock order that keeps writers free of deadlocks: a writer takes its user's version row before any
    rollup row, so one that waits for another writer of the same user holds none of the rollup rows it is
    about to change (another session can still lock them)."""
    with _connect(pg_clean) as setup:
        setup.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, status, created_at) "
                      "values (%s, 'asst_z', 'x', 'failed', '2026-11-21 10:00')", (USER,))  # its rollup rows exist
    with _connect(pg_clean) as holder, _connect(pg_clean) as waiter, _connect(pg_clean) as probe:
        holder.execute("begin")
        holder.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, status, created_at) "
                       "values (%s, 'asst_a', 'x', 'initiated', '2026-11-20 10:00')", (USER,))
        done = threading.Event()

        def second_writer() -> None:  # another day, assistant and status: rollup rows the holder never touched
            waiter.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, status, created_at) "
                           "values (%s, 'asst_z', 'y', 'failed', '2026-11-21 11:00')", (USER,))
            done.set()

        thread = threading.Thread(target=second_writer)
        thread.start()
        try:
            for _ in range(200):  # until the second writer waits for a lock
                if probe.execute("select wait_event_type from pg_stat_activity where pid = %s",
                                 (waiter.info.backend_pid,)).fetchone() == ("Lock",):
                    break
                threading.Event().wait(0.02)
            else:
                pytest.fail("the second writer of the user did not wait")
            assert not done.is_set()
            probe.execute("begin")
            for rollup in ROLLUP_CHECKS:  # the daily rollups and the hourly one (kept by triggers fired after them)
                when = "date_trunc('day', hour)" if rollup == "assistant_test_hourly_status" else "day"
                probe.execute(f"select tests from {rollup} where user_id = %s and {when} = '2026-11-21' "
                              "for update nowait", (USER,))  # LockNotAvailable if the waiter held it
            probe.execute("rollback")
        finally:
            holder.execute("commit")
            thread.join()
        _rollups_match_the_calls(probe)
