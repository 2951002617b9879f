"""What idle live sessions cost (part of ``make bench``; ``python -m bench.idle`` runs it alone).

N sessions sign in (Clerk tokens, as ``make bench-load`` does), open the Tests screen and then sit
there, answering the live fragment's timer the way the browser does (a fragment rerun every
LIVE_REFRESH_SECONDS).  Over a fixed window it reads the server process's CPU from /proc and the
statements it runs (an idle dashboard runs only the version check: reads of user_data_versions
in pg_stat_user_tables), with live refresh on, and off as the baseline.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadenv, quiet  # noqa: E402
from bench.protocol import Session  # noqa: E402
from tools.pgcluster import libpq_url  # noqa: E402

SESSIONS, WINDOW, INTERVAL = 50, 60.0, 5.0


@dataclass
class Idle:
    live_seconds: float
    sessions: int
    window: float
    statements_per_s: float
    cpu_per_s: float  # server CPU seconds per wall second
    fragment_runs: int
    rss_mb: float


def _version_reads(db: str) -> int:
    """Reads of user_data_versions so far: in an idle dashboard the only statements it runs."""
    with psycopg.connect(libpq_url(db), autocommit=True) as conn:
        return int(conn.execute("select coalesce(idx_scan, 0) + seq_scan from pg_stat_user_tables "
                                "where relname = 'user_data_versions'").fetchone()[0])


async def _sit(session: Session, until: float) -> int:
    """Answer the page's auto-rerun timers until ``until``, as the browser's setInterval does."""
    runs = 0
    timers = dict(session.auto_reruns)
    if not timers:
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        return 0
    fragment, every = next(iter(timers.items()))
    while time.monotonic() + every < until:
        await asyncio.sleep(every)
        await session.rerun(fragment=fragment)
        runs += 1
    return runs


async def _measure(srv: loadenv.Server, db: str, keys: loadenv.Keys, n: int, window: float) -> tuple[int, float, int]:
    sessions = [Session(srv.url, cookies={"__session": keys.token(loadenv.user_id(i % loadenv.USERS), ttl=600)})
                for i in range(n)]
    for s in sessions:
        await s.connect()
        await s.rerun()
        await s.rerun(page="tests")
    await asyncio.sleep(11.0)  # an idle backend flushes its statistics within 10 s
    reads, cpu = _version_reads(db), srv.cpu_seconds()
    until = time.monotonic() + window
    runs = await asyncio.gather(*(_sit(s, until) for s in sessions))
    elapsed_cpu = srv.cpu_seconds() - cpu
    await asyncio.sleep(11.0)
    elapsed_reads = _version_reads(db) - reads
    for s in sessions:
        await s.close()
    return elapsed_reads, elapsed_cpu, sum(runs)


def measure(n: int = SESSIONS, window: float = WINDOW) -> list[Idle]:
    keys = loadenv.Keys()
    out = []
    with loadenv.database("S") as db:
        step = quiet.Progress("idle sessions", [f"live {INTERVAL:g} s", "live off"])
        for live in (INTERVAL, 0.0):
            step(f"live {live:g} s" if live else "live off")
            env = {"LIVE_REFRESH_SECONDS": str(live)}
            with loadenv.server(loadenv.APP, db, keys.public_pem, env=env) as srv:
                xacts, cpu, runs = asyncio.run(_measure(srv, db, keys, n, window))
                out.append(Idle(live, n, window, xacts / window, cpu / window, runs, srv.rss_mb()))
        step.close()
    return out


def report(rows: list[Idle]) -> list[str]:
    lines = ["", "## Idle live sessions", "",
             f"{rows[0].sessions} sessions signed in on the Tests screen and left alone for {rows[0].window:.0f} s, "
             "answering the live fragment's timer as a browser does (`python -m bench.idle`); statements are the "
             "version checks (reads of `user_data_versions`, from pg_stat_user_tables), server CPU is read from /proc.", "",
             "| live refresh | statements/s | per session per interval | server CPU (share of one core) | "
             "fragment runs | server RSS |", "|---|---|---|---|---|---|"]
    for r in rows:
        per = f"{r.statements_per_s * r.live_seconds / r.sessions:.2f}" if r.live_seconds else "—"
        refresh = f"every {r.live_seconds:g} s" if r.live_seconds else "off"
        lines.append(f"| {refresh} | {r.statements_per_s:.1f} | "
                     f"{per} | {r.cpu_per_s * 100:.1f}% | {r.fragment_runs:,} | {r.rss_mb:,.0f} MB |")
    return lines


if __name__ == "__main__":
    print("\n".join(report(measure())))
