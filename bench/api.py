"""The HTTP API at scale (issue 21): ``python -m bench.api [--tests N]``, and a section of ``make bench``.

In one run, on one seeded database: the dashboard started as in production (``streamlit run
dashboard/server.py``), a personal access token for the measured user, then, interleaved ``--reps`` times:

* ``GET /api/v1/tests.csv?period=all`` read to the end into a file, against the floor, ``COPY (...) TO
  STDOUT WITH CSV`` of the same rows (bench.export_paging's), and against the store's own export in a process
  of its own (what the Download button runs), and the server process's peak RSS meanwhile;
* the 304 path: the same request with its ETag in If-None-Match (median of 30), against ``/healthz`` (the
  HTTP round trip with no database at all) and the 200 of ``intents.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import export_paging  # noqa: E402
from bench.datasets import MEASURED, dataset  # noqa: E402

EXPORT = "/api/v1/tests.csv?period=all"


def _request(url: str, token: str | None = None, headers: dict[str, str] | None = None, out: Path | None = None
             ) -> tuple[int, dict[str, str], float, int]:
    """One GET: status, headers, seconds to the last byte, bytes (written to ``out`` if given)."""
    request = urllib.request.Request(url, headers={**({"Authorization": f"Bearer {token}"} if token else {}),
                                                   **(headers or {})})
    t0, size = time.perf_counter(), 0
    try:
        resp = urllib.request.urlopen(request, timeout=3600)
    except urllib.error.HTTPError as err:
        resp = err
    with resp, (open(out, "wb") if out else open(os.devnull, "wb")) as f:
        while block := resp.read(1 << 20):
            f.write(block)
            size += len(block)
    return resp.status, {k.lower(): v for k, v in resp.headers.items()}, time.perf_counter() - t0, size


def _server_pid() -> int | None:
    """The ``streamlit run`` child of this process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"streamlit" in cmd:
            return int(entry)
    return None


def _rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0.0
    return int(line.split()[1]) / 1024


def _token(url: str) -> str:
    from lib.store.api_access import ApiAccess
    from lib.store.direct import DirectStore
    from tools.pgcluster import libpq_url

    store = DirectStore(libpq_url(url))
    try:
        return ApiAccess(store, MEASURED).create_token("bench", 30)[0]
    finally:
        store.close()


def measure(url: str, reps: int = 3) -> dict[str, float]:
    """The figures above, in seconds (``api_*``), for the harness's Run.m."""
    from tests.e2e_support import serving_app

    token = _token(url)
    with tempfile.TemporaryDirectory() as tmp, serving_app(Path(tmp), url, env={"API_REQUESTS_PER_MINUTE": "100000",
                                                                                 "EXPORT_TIMEOUT_SECONDS": "3600"}) as app:
        pid = _server_pid()
        _request(app.url + "/api/v1/intents.json", token)  # warm: the store, its pool, the token path
        ours, floor, store, peaks, size, rows = [], [], [], [], 0, 0
        for _ in range(reps):
            base, peak, done = _rss_mb(pid), [0.0], threading.Event()

            def watch(base: float = base, peak: list[float] = peak, done: threading.Event = done) -> None:
                while not done.wait(0.05):
                    peak[0] = max(peak[0], _rss_mb(pid) - base)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            status, headers, seconds, size = _request(app.url + EXPORT, token, out=Path(tmp) / "api.csv")
            done.set()
            watcher.join()
            assert status == 200, status
            ours.append(seconds)
            peaks.append(peak[0])
            floor.append(export_paging.export_run(url, "copy")["seconds"])
            store.append(export_paging.export_run(url, "app")["seconds"])  # the Download button's own path
        rows = sum(1 for _ in open(Path(tmp) / "api.csv", "rb")) - 1  # lines (a phrase may hold a CRLF: about)
        tag = headers["etag"]
        not_modified = [_request(app.url + EXPORT, token, {"If-None-Match": tag})[2] for _ in range(30)]
        assert _request(app.url + EXPORT, token, {"If-None-Match": tag})[0] == 304
        health = [_request(app.url + "/healthz")[2] for _ in range(30)]
        small = [_request(app.url + "/api/v1/intents.json", token)[2] for _ in range(10)]
    return {"api_export": statistics.median(ours), "api_export_floor": statistics.median(floor),
            "api_export_ratio": statistics.median(ours) / statistics.median(floor),
            "api_export_store": statistics.median(store),
            "api_export_rss_mb": max(peaks), "api_export_bytes": size, "api_export_lines": rows,
            "api_304": statistics.median(not_modified), "api_healthz": statistics.median(health),
            "api_intents_json": statistics.median(small)}


def report(m: dict[str, float], label: str) -> list[str]:
    """The section's lines for docs/benchmarks.md."""
    if "api_export" not in m:
        return []
    return [
        "", f"## HTTP API ({label})", "",
        "| measurement | time | against |",
        "| --- | ---: | --- |",
        f"| `GET {EXPORT}` to the last byte ({m['api_export_bytes'] / 1e6:,.1f} MB) | {m['api_export']:.2f} s | "
        f"COPY TO STDOUT {m['api_export_floor']:.2f} s: **{m['api_export_ratio']:.2f}×** (goal ≤ 1.3×) |",
        f"| the same file by the store in-process (the Download button's path) | {m['api_export_store']:.2f} s | "
        f"the API adds {m['api_export'] / m['api_export_store']:.2f}× to it (HTTP, streaming) |",
        f"| server RSS growth during the export | {m['api_export_rss_mb']:,.0f} MB | flat: streamed |",
        f"| 304 (If-None-Match, unchanged) | {m['api_304'] * 1000:.1f} ms | /healthz {m['api_healthz'] * 1000:.1f} ms; "
        f"intents.json 200 {m['api_intents_json'] * 1000:.1f} ms |",
        "",
        "The 304 path is one database statement (`api_token_user`: the token's user and that user's change "
        "versions), then the ETag is compared; no data is read.",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1_000_000, help="the measured user's test calls")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = stack.enter_context(dataset(args.tests))
        m = measure(url, args.reps)
    print(json.dumps(m, indent=1))
    print("\n".join(report(m, f"{args.tests:,} calls")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
