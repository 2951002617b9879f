"""Stats by the user's local day (issue 20, item 2): ``python -m bench.local_days [--tests 300000]``.

Seeds a throwaway database as ``make bench`` does (the measured user with ``--tests`` calls over 90 days) and
times, as ``authenticated`` for that user, the stats screen's one query (``dashboard_stats``) for 7, 30 and 90
days ending at local midnight in UTC, Moscow (UTC+3), Los Angeles and Kolkata (UTC+5:30), median of ``--reps``;
and, for comparison, the same per-local-day chart counted from the calls alone.  Prints JSON and the plans
(EXPLAIN ANALYZE) of the 30-day Moscow query.  The function's signature is read from the database, so the same
script measures the code before this issue (no zone: UTC days) and after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

ZONES = ("UTC", "Europe/Moscow", "America/Los_Angeles", "Asia/Kolkata")
CALLS_ONLY = """
select (created_at at time zone 'UTC' at time zone %(zone)s)::date as day,
       coalesce(nullif(status, ''), 'initiated') as status, count(*)
from public.assistant_tests where user_id = %(uid)s and created_at >= %(start)s and created_at < %(end)s
group by 1, 2
"""


def bounds(zone: str, days: int, today: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)

    def utc(d: date) -> datetime:
        return datetime.combine(d, datetime.min.time(), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)

    return utc(today - timedelta(days=days - 1)), utc(today + timedelta(days=1))


def timed(conn: psycopg.Connection, sql: str, params: dict, reps: int) -> float:
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        conn.execute(sql, params).fetchall()
        runs.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(runs), 2)


def measure(url: str, uid: str, reps: int, calls_only: bool = True) -> dict:
    from tools.pgcluster import libpq_url

    out: dict = {"stats": {}, "calls_only": {}}
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        zoned = conn.execute("select count(*) from pg_proc where proname = 'dashboard_stats' "
                             "and 'p_zone' = any(proargnames)").fetchone()[0] > 0
        out["zoned"] = zoned
        conn.execute("select set_config('role', 'authenticated', false), set_config('request.jwt.claims', %s, false)",
                     [json.dumps({"sub": uid, "role": "authenticated"})])
        today = conn.execute("select (now() at time zone 'UTC')::date").fetchone()[0]
        stats_sql = ("select public.dashboard_stats(p_start => %(start)s, p_end => %(end)s"
                     + (", p_zone => %(zone)s)" if zoned else ")"))
        for zone in ZONES:
            for days in (7, 30, 90):
                start, end = bounds(zone, days, today)
                p = {"start": start, "end": end, "zone": zone, "uid": uid}
                out["stats"][f"{zone} {days}d"] = timed(conn, stats_sql, p, reps)
                if calls_only:
                    out["calls_only"][f"{zone} {days}d"] = timed(conn, CALLS_ONLY, p, reps)
        start, end = bounds("Europe/Moscow", 30, today)
        p = {"start": start, "end": end, "zone": "Europe/Moscow", "uid": uid}
        out["plan_calls_only"] = [r[0] for r in conn.execute("explain (analyze, buffers) " + CALLS_ONLY, p)]
        if zoned:  # the per-local-day part of the function, as it runs it
            out["plan_hourly"] = [r[0] for r in conn.execute(
                "explain (analyze, buffers) select (r.hour at time zone 'UTC' at time zone %(zone)s)::date, "
                "r.status, sum(r.tests) from public.assistant_test_hourly_status r where r.user_id = %(uid)s "
                "and r.hour >= %(start)s and r.hour < %(end)s group by 1, 2", p)]
        conn.execute("reset role")
        own_trigger = conn.execute("select count(*) from pg_trigger where tgname = 'assistant_tests_hourly_insert'"
                                   ).fetchone()[0]
        if zoned and own_trigger:  # what the hourly rollup's own trigger added to a webhook's single-row insert
            # (alternating, median); since 20261204100000 the daily triggers' statement keeps it (bench.writers)
            out["insert_us"] = insert_cost(conn, uid)
    return out


def insert_cost(conn: psycopg.Connection, uid: str, n: int = 400) -> dict:
    sql = ("insert into public.assistant_tests (user_id, assistant_id, test_phrase, status, created_at) "
           "values (%s, 'bench_asst', 'bench', 'completed', now() at time zone 'UTC')")
    runs: dict[str, list[float]] = {"with hourly trigger": [], "without": []}
    for k in range(2 * n):
        on = k % 2 == 0
        conn.execute(f"alter table public.assistant_tests {'enable' if on else 'disable'} trigger "
                     "assistant_tests_hourly_insert")
        t = time.perf_counter()
        conn.execute(sql, [uid])
        runs["with hourly trigger" if on else "without"].append((time.perf_counter() - t) * 1e6)
    conn.execute("alter table public.assistant_tests enable trigger assistant_tests_hourly_insert")
    return {k: round(statistics.median(v)) for k, v in runs.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=300_000)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--stats-only", action="store_true", help="leave out the counts from the calls alone")
    args = ap.parse_args()
    from bench.datasets import MEASURED, dataset

    with dataset(args.tests) as url:
        print(json.dumps(measure(url, MEASURED, args.reps, not args.stats_only), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
