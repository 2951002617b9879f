"""The README's figures for the embedded server: ``python -m tools.embedded_figures [--fresh] [DATA_DIR]``.

Times ``lib.ops.embedded.database_url`` in a new process (``--fresh``: after removing DATA_DIR/pg, so
initdb + migrations + demo seed), then prints the server's memory (RSS summed over its processes, which
counts shared buffers once per process, and PSS, which shares them out) and its disk use.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time

import psutil

from lib.ops import embedded


def _memory(pids: list[int]) -> dict[str, int]:
    rss = pss = 0
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.NoSuchProcess:  # a short-lived worker ended meanwhile
            continue
        rss, pss = rss + info.rss, pss + info.pss
    return {"rss_mb": round(rss / 2**20), "pss_mb": round(pss / 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", default="data")
    parser.add_argument("--fresh", action="store_true", help="remove DATA_DIR/pg first (stop the dashboard before)")
    args = parser.parse_args()
    pgdata = embedded.pgdata_of(args.data_dir)
    if args.fresh:
        shutil.rmtree(pgdata, ignore_errors=True)
    started = time.monotonic()
    embedded.database_url(args.data_dir)
    took = time.monotonic() - started
    disk = sum(p.stat().st_size for p in pgdata.rglob("*") if p.is_file())
    print(json.dumps({"start_s": round(took, 2), "processes": len(embedded.server_pids(pgdata)),
                      **_memory(embedded.server_pids(pgdata)), "disk_mb": round(disk / 2**20)}))


if __name__ == "__main__":
    main()
