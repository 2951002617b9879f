"""``make bench-compare REF=<git ref>``: the N = 1 load journey against REF and the working tree, in one run.

A git worktree of REF is made in a temporary folder (and removed afterwards).  Two PostgreSQL servers are
seeded with the same data (``bench/loadenv.py``, size S by default), one with the working tree's SQL and
one with REF's (its migrations run again on top: ``ref_database``); REF's server and the working tree's run
side by side, each on its own, each warmed up by one unmeasured journey, and the journey (``bench/journey.py``, signed in as the
L user) is replayed against them alternately, ABBA..., so both see the same data and the same background
load of this shared machine.  Per step it prints the mean server CPU (the server process's, from the
step's send to the next step's) and the median latency of each, their ratios (working tree / REF), and
flags every step more than 10% (and 20 ms) worse on either.  Only ratios from one run mean anything here.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadenv  # noqa: E402
from bench.journey import STEPS, Record, journey  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-compare:start -->", "<!-- bench-compare:end -->"
WORSE = 1.10  # a step more than 10% worse than REF is flagged ...
NOISE = 0.020  # ... and by at least 20 ms (two of /proc's 10 ms CPU ticks), so one tick is never a regression


@contextmanager
def ref_tree(ref: str) -> Iterator[tuple[Path, str]]:
    """A detached git worktree of ``ref`` in a temporary folder; yields (its path, the commit)."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    path = Path(tempfile.mkdtemp(prefix="bench-compare-")) / "ref"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        yield path, commit
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, capture_output=True)
        shutil.rmtree(path.parent, ignore_errors=True)


@contextmanager
def ref_database(size: str, tree: Path) -> Iterator[str]:
    """The same data set for the ref, with the ref's own SQL: seeded as the work tree's database is, then
    every migration of the ref run again in order (each can be: tests/test_schema.py), so its functions
    and triggers replace this tree's (a function the work tree dropped or renamed is back for it)."""
    import psycopg

    from tools.pgcluster import libpq_url

    with loadenv.database(size) as url:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            for path in sorted((tree / "supabase" / "migrations").glob("*.sql")):
                conn.execute(path.read_text(encoding="utf-8"))
        yield url


def entry_script(tree: Path) -> str:
    """The tree's entry point: dashboard/server.py (an st.App) where it exists, else dashboard/app.py."""
    return "dashboard/server.py" if (tree / "dashboard" / "server.py").exists() else "dashboard/app.py"


@dataclass
class Side:
    name: str  # "REF <sha>" | "working tree"
    srv: loadenv.Server
    record: Record = field(default_factory=Record)

    def cpu(self, step: str) -> list[float]:
        return [s.cpu for s in self.record.samples if s.step == step and s.cpu is not None]

    def latency(self, step: str) -> list[float]:
        return [s.latency for s in self.record.samples if s.step == step]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(values: list[float]) -> float | None:
    """CPU is read from /proc in clock ticks (10 ms): a mean of several journeys resolves finer than a median."""
    return statistics.fmean(values) if values else None


def run_journey(side: Side, keys: loadenv.Keys, *, think: float, seed: int, measured: bool = True) -> None:
    record = side.record if measured else Record()
    asyncio.run(journey(side.srv.url, keys.token(loadenv.L_USER), record, think_s=think, rng=random.Random(seed),
                        cpu=side.srv.cpu_seconds, name=f"compare {side.name} {seed}"))
    if record.errors:
        raise RuntimeError(f"{side.name}: the journey failed: {record.errors[:3]}")


def alternate(a: Side, b: Side, keys: loadenv.Keys, *, rounds: int, think: float) -> None:
    """One unmeasured journey on each, then ``rounds`` measured journeys on each, ABBA..."""
    for side in (a, b):
        run_journey(side, keys, think=0.2, seed=0, measured=False)  # imports, pool, caches
    for r in range(rounds):
        for side in ((a, b) if r % 2 == 0 else (b, a)):
            run_journey(side, keys, think=think, seed=r + 1)
            print(f"  round {r + 1}: {side.name} done", file=sys.stderr, flush=True)


def table(a: Side, b: Side, *, limit: float = WORSE) -> tuple[list[str], list[str]]:
    """The markdown table (per step: median CPU and latency of each side, ratios b / a, a flag when a ratio
    is over ``limit``) and the flagged steps."""
    lines = [f"| step | CPU {a.name} | CPU {b.name} | CPU ratio | latency {a.name} | latency {b.name} "
             "| latency ratio | |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    flagged: list[str] = []
    ms = lambda x: "—" if x is None else f"{x * 1000:,.0f} ms"  # noqa: E731
    ratio = lambda x, y: None if not x or y is None else y / x  # noqa: E731
    fmt = lambda r: "—" if r is None else f"{r:.2f}×"  # noqa: E731
    for step in STEPS:
        c0, c1 = _mean(a.cpu(step)), _mean(b.cpu(step))
        l0, l1 = _median(a.latency(step)), _median(b.latency(step))
        rc, rl = ratio(c0, c1), ratio(l0, l1)
        over = [what for what, r, x, y in (("CPU", rc, c0, c1), ("latency", rl, l0, l1))
                if r is not None and r > limit and y - x >= NOISE]
        if over:
            flagged.append(f"{step} ({', '.join(over)})")
        lines.append(f"| {step} | {ms(c0)} | {ms(c1)} | {fmt(rc)} | {ms(l0)} | {ms(l1)} | {fmt(rl)} | "
                     f"{'**over ' + f'{limit:.2f}× on ' + ', '.join(over) + '**' if over else ''} |")
    total0 = sum(_mean(a.cpu(s)) or 0 for s in STEPS)
    total1 = sum(_mean(b.cpu(s)) or 0 for s in STEPS)
    lines.append(f"| **journey** | {ms(total0)} | {ms(total1)} | {fmt(ratio(total0, total1))} | | | | |")
    return lines, flagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True, help="git ref to compare the working tree against")
    parser.add_argument("--size", default="S", choices=list(loadenv.SIZES))
    parser.add_argument("--rounds", type=int, default=3, help="journeys per side (alternating ABBA...)")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between steps, seconds")
    parser.add_argument("--write", action="store_true", help="also put the table into docs/benchmarks.md")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    keys = loadenv.Keys()
    with ExitStack() as stack:
        ref_path, commit = stack.enter_context(ref_tree(args.ref))
        db = stack.enter_context(loadenv.database(args.size))
        ref_db = stack.enter_context(ref_database(args.size, ref_path))
        ref = Side(f"{commit[:7]}", stack.enter_context(
            loadenv.server(entry_script(ref_path), ref_db, keys.public_pem, root=ref_path)))
        work = Side("work tree", stack.enter_context(loadenv.server(entry_script(ROOT), db, keys.public_pem)))
        alternate(ref, work, keys, rounds=args.rounds, think=args.think)
        lines, flagged = table(ref, work)
    took = time.perf_counter() - t0
    head = (f"`make bench-compare REF={args.ref}` ({commit[:7]}): N = 1, size {args.size} "
            f"({loadenv.SIZES[args.size][0]:,} calls for the L user), {args.rounds} journeys per side alternating, "
            f"think {args.think:g} s, mean CPU and median latency; {took / 60:.0f} min on this shared machine.")
    verdict = (f"Flagged (> {WORSE - 1:.0%} and 20 ms worse): {', '.join(flagged)}." if flagged
               else f"No step more than {WORSE - 1:.0%} worse.")
    out = "\n".join([head, "", *lines, "", verdict])
    print(out)
    if args.write:
        write_doc(out)
    return 1 if flagged else 0


def write_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    block = f"{START}\n\n## `make bench-compare`\n\n{section}\n\n{END}"
    if START in text and END in text:
        text = text.split(START)[0] + block + text.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
