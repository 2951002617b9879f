"""``make bench``: the dashboard at scale, against the database's own floor and a naive dashboard.

On a throwaway PostgreSQL, for each size (S, M, L tests for the measured user,
5,000 intents, 200 assistants, among 50 other users with data) it records, in one run, the median
of several repetitions, prints a table and writes it to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import SIZES, main  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,M", help=f"comma-separated, of {', '.join(SIZES)} (default S,M)")
    parser.add_argument("--backends", default="postgresql", help="postgresql (the only engine)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per measurement (median reported)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--screens-only", action="store_true",
                        help="skip the concurrent-writers and idle-sessions sections (a quick run)")
    args = parser.parse_args()
    raise SystemExit(main([s.strip().upper() for s in args.sizes.split(",") if s.strip()],
                          [b.strip() for b in args.backends.split(",") if b.strip()], args.reps, Path(args.out),
                          writers_and_idle=not args.screens_only))
