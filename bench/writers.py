"""Concurrent writers on PostgreSQL: what the rollup and change-version triggers cost, and whether
they deadlock (part of ``make bench``; ``python -m bench.writers`` runs it alone).

pgbench drives 8 clients on one throwaway cluster, each command in its own transaction, as call
webhooks write: insert a call as ``initiated``, move it to ``in_progress``, then to ``completed`` or
``failed``, for one user and day across two assistants.  A mixed load inserts, updates (status and
assistant) and deletes calls of the same user.  Each load runs with the triggers of this release,
with no triggers at all, and with the first release's rollup triggers; afterwards every rollup is
compared with a GROUP BY over the calls.  A bulk insert of 100,000 calls measures what the version
triggers add to the rollups' cost.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import quiet  # noqa: E402
from tools.pgcluster import MIGRATIONS, Cluster, libpq_url, pg_bindir  # noqa: E402

CLIENTS, SECONDS, BULK = 8, 5, 100_000
USER = "user_bench_webhooks"

WEBHOOK = f"""
\\set a random(1, 2)
\\set ok random(0, 4)
insert into public.assistant_tests (user_id, assistant_id, test_phrase, language, status, created_at) values ('{USER}', 'asst_' || :a, 'book a table', 'english', 'initiated', '2026-11-20 10:00') returning id \\gset
update public.assistant_tests set status = 'in_progress', updated_at = now() where id = :id;
update public.assistant_tests set status = case when :ok = 0 then 'failed' else 'completed' end, updated_at = now() where id = :id;
"""

MIXED = f"""
\\set r random(1, 10)
\\set k random(1, 2000)
\\set a random(1, 2)
\\set s random(1, 4)
\\if :r <= 4
insert into public.assistant_tests (user_id, assistant_id, test_phrase, language, status, call_id, created_at) values ('{USER}', 'asst_' || :a, 'x', case when :s = 1 then null else 'english' end, 'initiated', 'c' || :k, timestamp '2026-11-19 10:00' + (:a || ' days')::interval);
\\elif :r <= 8
update public.assistant_tests set status = (array['in_progress', 'completed', 'failed', null])[:s], assistant_id = 'asst_' || :a where call_id = 'c' || :k;
\\else
delete from public.assistant_tests where call_id = 'c' || :k;
\\endif
"""

ROLLUPS = {
    "assistant_test_daily": "user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, "
                            "coalesce(language, ''), coalesce(status, '')",
    "assistant_test_daily_status": "user_id, coalesce(created_at::date, date '0001-01-01'), coalesce(language, ''), "
                                   "coalesce(status, '')",
    "assistant_test_daily_assistant": "user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id",
    "assistant_test_hourly_status": "user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01'), "
                                    "coalesce(language, ''), coalesce(status, '')",
}
# The rollup functions' version bump (the first sub-statement of each): a no-op for "rollups only".
VERSION_BUMP = re.compile(r"insert into public\.user_data_versions as v .*?returning 1", re.S)


@dataclass
class Load:
    name: str
    triggers: str  # 'current' | 'none' | 'previous release' | 'first release'
    sequences_per_s: float
    sequences: int
    failed: int
    deadlocks: int
    rollups_exact: bool | None  # None: no rollups kept (no triggers)


def _pgbench(url: str, script: str, seconds: int) -> tuple[float, int, int, int]:
    """(sequences per second, sequences done, failed, deadlock failures) of one pgbench run."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [str(pg_bindir() / "pgbench"), "-n", "-M", "prepared", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds),
             "--failures-detailed", "-f", f.name, libpq_url(url).replace("postgresql+psycopg", "postgresql")],
            capture_output=True, text=True, check=True).stdout
    finally:
        Path(f.name).unlink()

    def number(pattern: str) -> float:
        found = re.search(pattern, out)
        return float(found.group(1).replace(",", "")) if found else 0.0

    return (number(r"tps = ([\d.]+) \(without initial connection time\)"),
            int(number(r"number of transactions actually processed: (\d+)")),
            int(number(r"number of failed transactions: (\d+)")),
            int(number(r"number of deadlock failures: (\d+)")))


def _rollups_exact(conn: psycopg.Connection, which: str) -> bool:
    for rollup, keys in ROLLUPS.items():
        if which == "first release" and rollup == "assistant_test_hourly_status":
            continue  # the first release had no hourly rollup (its triggers do not keep it)
        diff = conn.execute(
            f"select count(*) from ((select * from public.{rollup} where tests <> 0 except "
            f"select {keys}, count(*) from public.assistant_tests group by {keys}) union all "
            f"(select {keys}, count(*) from public.assistant_tests group by {keys} except "
            f"select * from public.{rollup} where tests <> 0)) d").fetchone()[0]
        if diff:
            return False
    return True


def _set_triggers(conn: psycopg.Connection, which: str) -> None:
    """Put the triggers of ``which`` on assistant_tests: this release's ('current'), 'none', the
    'first release' rollup triggers, the release before the hourly rollup joined the daily triggers' one
    statement ('previous release': every migration but 20261204100000_one_trigger), or this release's
    without the change versions
    ('rollups only')."""
    conn.execute("alter table public.assistant_tests enable trigger user")
    for path in MIGRATIONS:  # this release's triggers and functions
        if not (which == "previous release" and path.name.endswith("_one_trigger.sql")):
            conn.execute(path.read_text())
    if which == "none":
        conn.execute("alter table public.assistant_tests disable trigger user")
    elif which == "first release":
        conn.execute(MIGRATIONS[0].read_text())  # its rollup function, which the later migration replaced
    elif which == "rollups only":
        ours = next(p for p in MIGRATIONS if p.name.endswith("_one_trigger.sql")).read_text()
        stripped = VERSION_BUMP.sub("select 1", ours)
        assert stripped.count("select 1),") == 3, "the version bump of each rollup function"
        conn.execute(stripped)


def _reset(conn: psycopg.Connection) -> None:
    conn.execute("truncate public.assistant_tests, public.assistant_test_daily, public.assistant_test_daily_status, "
                 "public.assistant_test_daily_assistant")


def writers(url: str, reps: int = 3) -> list[Load]:
    """Each load with each set of triggers; 'current', 'none' and 'previous release' alternate ``reps``
    times (medians), so a busy machine slows them alike."""
    loads: list[Load] = []
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("create index if not exists bench_call_id on public.assistant_tests (call_id)")
        order = ["current", "none", "previous release"] * reps + ["first release"]
        step = quiet.Progress("writers", [f"{name}: {which} ({i})" for name in ("webhook", "mixed")
                                          for i, which in enumerate(order)])
        for name, script in (("webhook", WEBHOOK), ("mixed", MIXED)):
            runs: dict[str, list[tuple[float, int, int, int, bool | None]]] = {}
            for i, which in enumerate(order):
                step(f"{name}: {which} ({i})")
                _set_triggers(conn, which)
                _reset(conn)
                rate, done, failed, deadlocks = _pgbench(url, script, SECONDS)
                exact = None if which == "none" else _rollups_exact(conn, which)
                runs.setdefault(which, []).append((rate, done, failed, deadlocks, exact))
            for which, rs in runs.items():
                loads.append(Load(name, which, statistics.median(r[0] for r in rs), sum(r[1] for r in rs),
                                  sum(r[2] for r in rs), sum(r[3] for r in rs),
                                  None if which == "none" else all(r[4] for r in rs)))
        _set_triggers(conn, "current")
        _reset(conn)
        step.close()
    return loads


def bulk_insert(url: str, reps: int = 5) -> dict[str, float]:
    """Median seconds to insert BULK calls in one statement, with each set of triggers."""
    times: dict[str, list[float]] = {}
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        order = ("all", "rollups only", "none") * reps  # interleaved: a busy moment hits each alike
        step = quiet.Progress("bulk insert", [f"{which} ({i})" for i, which in enumerate(order)])
        for i, which in enumerate(order):
            step(f"{which} ({i})")
            _set_triggers(conn, "current" if which == "all" else which)
            _reset(conn)
            conn.execute("vacuum analyze public.assistant_tests")
            conn.execute("checkpoint")  # no checkpoint of the previous run's writes inside the timing
            t0 = time.perf_counter()
            conn.execute(
                "insert into public.assistant_tests (user_id, assistant_id, test_phrase, language, status, "
                "created_at) select 'user_bulk_' || (g %% 50), 'asst_' || (g %% 7), 'phrase ' || g, "
                "(array['english', 'russian'])[1 + g %% 2], (array['completed', 'failed', 'initiated'])[1 + g %% 3], "
                "timestamp '2026-09-01' + (g %% 90) * interval '1 day' + (g %% 86400) * interval '1 second' "
                "from generate_series(1, %s) g", (BULK,))
            times.setdefault(which, []).append(time.perf_counter() - t0)
        _set_triggers(conn, "current")
        _reset(conn)
        step.close()
    return {which: statistics.median(t) for which, t in times.items()}


def measure() -> tuple[list[Load], dict[str, float]]:
    with Cluster() as url:
        return writers(url), bulk_insert(url)


def report(loads: list[Load], bulk: dict[str, float]) -> list[str]:
    lines = ["", "## Concurrent writers (PostgreSQL)", "",
             f"pgbench, {CLIENTS} clients, every command its own transaction; *current*, *none* and *previous "
             f"release* alternate three "
             f"times for {SECONDS} s each (median rate, totals summed), *first release* runs once. *webhook*: a "
             "sequence inserts a call as `initiated`, then moves it to `in_progress`, then to `completed` or "
             "`failed` (one user, one day, two assistants). *mixed*: 40% inserts, 40% updates of status and "
             "assistant, 20% deletes, on the same user's calls. *current*: this release's triggers (rollups and "
             "change versions and the hourly rollup, one trigger and one statement per call statement); *none*: no "
             "triggers; *previous release*: the same, with the hourly rollup kept by triggers of its own (before "
             "20261204100000); *first "
             "release*: the rollup triggers of the first migration.",
             "", "| load | triggers | sequences/s | done | failed | deadlocks | rollups = GROUP BY |",
             "|---|---|---|---|---|---|---|"]
    for ld in loads:
        exact = "—" if ld.rollups_exact is None else ("yes" if ld.rollups_exact else "**no**")
        lines.append(f"| {ld.name} | {ld.triggers} | {ld.sequences_per_s:,.0f} | {ld.sequences:,} | {ld.failed:,} | "
                     f"{ld.deadlocks:,} | {exact} |")
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for name in ("webhook", "mixed"):
        cur = next(ld for ld in loads if ld.name == name and ld.triggers == "current")
        none = next(ld for ld in loads if ld.name == name and ld.triggers == "none")
        lines.append(f"| {name}: 0 deadlocks, 0 failures | {cur.deadlocks} deadlocks, {cur.failed} failed | "
                     f"{'yes' if cur.failed == 0 else '**no**'} |")
        lines.append(f"| {name}: rollups equal a GROUP BY afterwards | {'equal' if cur.rollups_exact else 'differ'} | "
                     f"{'yes' if cur.rollups_exact else '**no**'} |")
        ratio = cur.sequences_per_s / none.sequences_per_s
        lines.append(f"| {name}: throughput ≥ 1/3 of no triggers | {cur.sequences_per_s:,.0f} vs "
                     f"{none.sequences_per_s:,.0f}/s ({ratio:.2f}) | {'yes' if ratio >= 1 / 3 else '**no**'} |")
        prev = next(ld for ld in loads if ld.name == name and ld.triggers == "previous release")
        lines.append(f"| {name}: previous release, for comparison | {prev.sequences_per_s:,.0f} vs "
                     f"{none.sequences_per_s:,.0f}/s ({prev.sequences_per_s / none.sequences_per_s:.2f}) | — |")
    ratio = bulk["all"] / bulk["rollups only"]
    lines.append(f"| bulk insert of {BULK:,} calls: version triggers ≤ 1.3× | {bulk['all'] * 1000:,.0f} ms with them vs "
                 f"{bulk['rollups only'] * 1000:,.0f} ms with the rollups only ({ratio:.2f}×; no triggers at all: "
                 f"{bulk['none'] * 1000:,.0f} ms) | {'yes' if ratio <= 1.3 else '**no**'} |")
    lines += ["", "- **Where the writers' time goes** (issue 22; server CPU of one connection's backend, from /proc, "
              "per webhook sequence, 2,000 sequences, median of 5 alternating runs, load average 14 on 2 cores): no "
              "triggers 245 µs; the same trigger functions with empty bodies 395 µs (min 230: firing and the "
              "transition tables cost little); previous release 825 µs; this release 795 µs. The three version "
              "upserts alone add about 150 µs (a separate run). So the cost is the rows written, not the statements that write "
              "them: a sequence writes 14 rollup and version rows (insert: 3 rollups + version; each status change: "
              "-1/+1 in two rollups + version), about 40 µs each, against the call statements' own ~80 µs each. "
              "Merging the four statements of a trigger call into one (20261203230000) saves about 4% CPU and "
              "serialises one user's writers on the version row instead of on the shared rollup rows; pgbench's "
              "webhook ratio moved 0.25 → 0.29 in the same run, mixed unchanged within noise. The hourly rollup (issue 20) "
              "then came with triggers of its own, a second firing per call statement; since 20261204100000 the "
              "daily triggers' one statement keeps it too (one firing, one pass over the transition tables): "
              "*previous release* against *current* above. What is left is the rows: a sequence writes 19 rollup and "
              "version rows (insert: 4 rollups + version; each status change: -1/+1 in three rollups + version). "
              "1/3 of no triggers needs the triggers to add at most 2× the statements' own cost: fewer rows per "
              "statement, e.g. the status rollups derived from the full daily one, or an append-only delta table "
              "folded in by the readers; both change every reader of the rollups and were not done."]
    return lines


if __name__ == "__main__":
    print("\n".join(report(*measure())))
