"""Export and deep-page measurements at L (issue 9 items 3 and 4): ``python -m bench.export_paging``.

* export: ``store.export_tests_csv`` of the measured user's 1,000,000 calls against the floor
  (PostgreSQL: plain ``COPY (...) TO STDOUT WITH CSV`` of the same rows, names and order; SQLite: the csv
  module over a raw cursor),
  each in a fresh process, interleaved, median of ``--reps``;
* pages: ``list_tests`` pages 1, 100 and 20,000 (50 rows a page, all time), median of 7, against
  the same pages read with a plain OFFSET;
* concurrency: 10 exports started at once in one process (as 10 sessions of one server would), with
  the default 2 export slots and with 10: completed, refused, peak RSS, peak open files, and the
  latency of a screen query meanwhile.

Uses the databases named by ``--pg-url`` / ``--sqlite`` (seeded as ``make bench`` seeds L), or seeds
throwaway ones (a minute or two each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import MEASURED, dataset  # noqa: E402

APP_SCRIPT = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from lib.store.sql import SqlStore
from lib.models import TestFilter
store = SqlStore({url!r}, statement_timeout_ms=0, export_timeout_ms=3_600_000)
store.for_user({user!r}).count_tests(TestFilter())
t0, c0 = time.perf_counter(), time.process_time()
with open({path!r}, "wb") as f:
    rows = store.for_user({user!r}).export_tests_csv(TestFilter(), f)
print(json.dumps({{"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "rows": rows}}))
"""


EXPORT_SCRIPT = """
import json, sys, time
sys.path.insert(0, {root!r})
from lib.store.sql import SqlStore
from lib.models import TestFilter
from lib.files import csv_encoding, formats, frames
store = SqlStore({url!r}, statement_timeout_ms=0, export_timeout_ms=3_600_000)
store.for_user({user!r}).count_tests(TestFilter())  # connect and warm up before the baseline
def status(field):
    line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
    return int(line.split()[1])  # kB
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the high-water mark (VmHWM) to the current RSS
base = status("VmRSS")
t0 = time.perf_counter()
if {mode!r} == "app":
    with open({path!r}, "wb") as f:
        rows = store.for_user({user!r}).export_tests_csv(TestFilter(), f)
elif {mode!r} == "copy":
    raw = store.engine.raw_connection()
    with raw.driver_connection.cursor() as cur, open({path!r}, "wb") as f:
        with cur.copy("COPY (SELECT t.id, t.assistant_id, a.name, t.test_phrase, t.language, t.call_id, t.status, "
                      "t.created_at, t.updated_at FROM assistant_tests t LEFT JOIN assistants a ON a.user_id = "
                      "t.user_id AND a.vapi_assistant_id = t.assistant_id WHERE t.user_id = %s "
                      "ORDER BY t.created_at DESC, t.id DESC) TO STDOUT WITH CSV HEADER", ({user!r},)) as copy:
            for block in copy:
                f.write(block)
    rows = None
else:  # sqlite floor: the raw cursor into the csv module
    import csv, sqlite3
    con = sqlite3.connect({url!r}.removeprefix("sqlite:///"))
    cur = con.execute("SELECT t.id, t.assistant_id, a.name, t.test_phrase, t.language, t.call_id, t.status, "
                      "t.created_at, t.updated_at FROM assistant_tests t LEFT JOIN assistants a ON a.user_id = "
                      "t.user_id AND a.vapi_assistant_id = t.assistant_id WHERE t.user_id = ? "
                      "ORDER BY t.created_at DESC, t.id DESC", ({user!r},))
    with open({path!r}, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([d[0] for d in cur.description])
        while batch := cur.fetchmany(50000):
            w.writerows(batch)
    rows = None
took = time.perf_counter() - t0
peak = status("VmHWM")
print(json.dumps({{"seconds": took, "rss_growth_mb": (peak - base) / 1024, "rows": rows}}))
"""


def export_run(url: str, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = EXPORT_SCRIPT.format(root=str(ROOT), url=url, user=MEASURED, mode=mode, path=f"{tmp}/out.csv")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        result["bytes"] = os.path.getsize(f"{tmp}/out.csv")
        return result


def _run(script: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def export_ratio(url: str, reps: int) -> dict:
    floor_mode = "copy" if url.startswith("postgresql") else "sqlite-floor"
    ours, floor, size = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            a = _run(APP_SCRIPT.format(root=str(ROOT), url=url, user=MEASURED, path=f"{tmp}/app.csv"))
            b = _run(EXPORT_SCRIPT.format(root=str(ROOT), url=url, user=MEASURED, mode=floor_mode,
                                          path=f"{tmp}/floor.csv"))
            ours.append(a["seconds"])
            floor.append(b["seconds"])
            size = {"rows": a["rows"], "bytes": os.path.getsize(f"{tmp}/app.csv"),
                    "floor_bytes": os.path.getsize(f"{tmp}/floor.csv")}
    return {"export_s": statistics.median(ours), "floor_s": statistics.median(floor),
            "ratio": statistics.median(ours) / statistics.median(floor), "runs": ours, "floor_runs": floor, **size}


def pages(url: str) -> dict:
    import sqlalchemy as sa
    from lib.store.sql import SqlStore

    from lib.models import TestFilter
    from tools.tables import tables

    store = SqlStore(url, statement_timeout_ms=0)
    handle = store.for_user(MEASURED)
    T = tables(url).assistant_tests

    def offset_page(p: int) -> None:  # the old way: OFFSET over every newer row
        with store.engine.connect() as conn:
            conn.execute(sa.select(T).where(T.c.user_id == MEASURED).order_by(T.c.created_at.desc(), T.c.id.desc())
                         .offset((p - 1) * 50).limit(50)).all()

    result = {}
    for p in (1, 100, 20_000):
        handle.list_tests(TestFilter(), page=p, page_size=50)
        t = []
        for _ in range(7):
            t0 = time.perf_counter()
            page = handle.list_tests(TestFilter(), page=p, page_size=50)
            t.append(time.perf_counter() - t0)
        assert len(page.rows) == 50, (p, len(page.rows))
        o = []
        for _ in range(3):
            t0 = time.perf_counter()
            offset_page(p)
            o.append(time.perf_counter() - t0)
        result[p] = {"keyset_ms": statistics.median(t) * 1000, "offset_ms": statistics.median(o) * 1000}
    store.close()
    return result


def _status(field: str) -> int:
    return int(next(line for line in open("/proc/self/status") if line.startswith(field + ":")).split()[1])


def concurrent_exports(url: str, slots: int, n: int = 10) -> dict:
    from lib.store.sql import SqlStore

    from lib.errors import ExportBusy
    from lib.models import TestFilter

    store = SqlStore(url, export_timeout_ms=3_600_000, exports=slots)
    handle = store.for_user(MEASURED)
    handle.count_tests(TestFilter())
    base_rss, base_fds = _status("VmRSS"), len(os.listdir("/proc/self/fd"))
    peak = {"rss": base_rss, "fds": base_fds}
    outcome: list[str] = []
    done = threading.Event()
    screen_ms: list[float] = []

    def watch() -> None:
        while not done.is_set():
            peak["rss"] = max(peak["rss"], _status("VmRSS"))
            peak["fds"] = max(peak["fds"], len(os.listdir("/proc/self/fd")))
            t0 = time.perf_counter()
            handle.list_tests(TestFilter(), page=1, page_size=50)  # a screen render's query meanwhile
            screen_ms.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.2)

    with tempfile.TemporaryDirectory() as tmp:
        def one(i: int) -> None:
            try:
                with open(f"{tmp}/{i}.csv", "wb") as f:
                    handle.export_tests_csv(TestFilter(), f)
                outcome.append("done")
            except ExportBusy:
                outcome.append("busy")
            finally:
                os.unlink(f"{tmp}/{i}.csv")

        watcher = threading.Thread(target=watch)
        watcher.start()
        t0 = time.perf_counter()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - t0
        done.set()
        watcher.join()
    store.close()
    return {"slots": slots, "completed": outcome.count("done"), "refused": outcome.count("busy"), "seconds": took,
            "rss_base_mb": base_rss / 1024, "rss_peak_mb": peak["rss"] / 1024,
            "fds_base": base_fds, "fds_peak": peak["fds"],
            "screen_query_p50_ms": statistics.median(screen_ms) if screen_ms else None,
            "screen_query_max_ms": max(screen_ms) if screen_ms else None}


def measure(url: str, reps: int) -> dict:
    out = {"export": export_ratio(url, reps), "pages": pages(url)}
    if url.startswith("postgresql"):
        out["concurrent"] = [concurrent_exports(url, 2), concurrent_exports(url, 10)]
    else:
        out["concurrent"] = [concurrent_exports(url, 2)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_paging", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url")
    parser.add_argument("--sqlite", help="path of a seeded SQLite file")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    results = {}
    with ExitStack() as stack:
        for backend in args.backends.split(","):
            url = args.pg_url if backend == "postgresql" else (f"sqlite:///{args.sqlite}" if args.sqlite else None)
            if url is None:
                url = stack.enter_context(dataset(backend, 1_000_000))
            results[backend] = measure(url, args.reps)
            print(json.dumps({backend: results[backend]}, indent=1, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
