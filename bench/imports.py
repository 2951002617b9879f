"""``make bench-import``: the intents import on the largest and the most hostile files it accepts.

Each file is read and checked (``lib.files.importing.read_intents`` then ``lib.screens.import_preview.import_preview``,
what the Intents screen does with an upload) in a fresh process, twice: once for the time and the
peak resident memory (VmHWM, after resetting it once the modules are imported), once under
``tracemalloc`` for the peak of Python allocations.  Writes docs/import-benchmarks.md.

Targets (issue 10): 200,000 rows checked in at most 5 s; at most 300 MB for a 20 MB upload.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.files.importing import MAX_JSON_VALUES, MAX_ROWS, MAX_UPLOAD_BYTES  # noqa: E402

BOM = "\ufeff"
HEADER = "intent_name,example_user_phrases,english_responses,russian_responses\r\n"

RUN = """
import json, sys, time, tracemalloc
sys.path.insert(0, {root!r})
from lib.screens import import_preview
from lib.files import importing
from lib.errors import StoreError
data = open({path!r}, "rb").read()
def status(field):
    line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
    return int(line.split()[1]) * 1024
if {traced!r}:
    tracemalloc.start()
else:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark to the current RSS
base = status("VmRSS")
t0, c0 = time.perf_counter(), time.process_time()
try:
    preview = import_preview.import_preview(importing.read_intents(data, {name!r}))
    outcome = f"{{len(preview.intents):,}} rows, {{preview.bad_rows:,}} bad"
    message = max((len(c) for c in preview.frame["check"]), default=0)
except StoreError as err:
    outcome = "refused: " + str(err.problems[0].message)[:70]
    message = len(str(err))
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = tracemalloc.get_traced_memory()[1] if {traced!r} else status("VmHWM") - base
print(json.dumps({{"seconds": seconds, "cpu": cpu, "peak": peak, "outcome": outcome, "message": message}}))
"""


def _csv(rows: int, row: Callable[[int], str]) -> bytes:
    return (BOM + HEADER + "".join(row(n) for n in range(rows))).encode("utf-8")


def _pad_csv(size: int, row: Callable[[int], str]) -> bytes:
    """A CSV of ``row``s just under ``size`` bytes."""
    head = (BOM + HEADER).encode("utf-8")
    parts, total, n = [head], len(head), 0
    while True:
        piece = row(n).encode("utf-8")
        if total + len(piece) > size:
            break
        parts.append(piece)
        total += len(piece)
        n += 1
    return b"".join(parts)


def files() -> list[tuple[str, str, bytes]]:
    """(what, file name, bytes) of each measured upload."""
    good = lambda n: f'intent {n},"[""Привет {n}"", ""hello {n}""]","[""Hi {n}""]",[]\r\n'  # noqa: E731
    no_phrases = lambda n: f"intent {n},[],[],[]\r\n"  # noqa: E731
    long_row = lambda n: (f'intent {n},"[""{"Как дела? " * 20}{n}"", ""hello {n}""]","[""Hi {n}""]",'  # noqa: E731
                          f'"[""{"Здравствуйте! " * 10}""]"\r\n')
    faulty = lambda n: ',"[1,""""]","[1,""""]","[1,""""]"\r\n'  # noqa: E731
    json_rows = [{"intent_name": f"intent {n}", "example_user_phrases": [f"hello {n}"]} for n in range(MAX_ROWS)]
    per_item = MAX_UPLOAD_BYTES // 5 - 20
    return [
        (f"{MAX_ROWS:,} rows, no phrases (each row bad)", "a.csv", _csv(MAX_ROWS, no_phrases)),
        (f"{MAX_ROWS:,} good rows", "a.csv", _csv(MAX_ROWS, good)),
        (f"{MAX_ROWS:,} rows, 7 faults each", "a.csv", _csv(MAX_ROWS, faulty)),
        ("20 MB CSV, rows with phrases (over the row cap)", "a.csv",
         _pad_csv(MAX_UPLOAD_BYTES, lambda n: f'intent {n},"[""Привет, как дела {n}""]",[],[]\r\n')),
        ("20 MB CSV, long rows", "a.csv", _pad_csv(MAX_UPLOAD_BYTES, long_row)),
        (f"{MAX_ROWS:,}-item JSON", "a.json", json.dumps(json_rows).encode()),
        (f"{MAX_ROWS:,}-item JSON under a .csv name", "a.csv", json.dumps(json_rows).encode()),
        ("20 MB of commas (one header line)", "a.csv", b"," * (MAX_UPLOAD_BYTES - 1)),
        ("20 MB of blank lines", "a.csv", HEADER.encode() + b"\r\n" * (MAX_UPLOAD_BYTES // 2 - 40)),
        ("20 MB of [ (depth bomb)", "a.json", b"[" * MAX_UPLOAD_BYTES),
        ("20 MB JSON of 2-letter strings", "a.json",
         b'[{"intent_name": "x", "example_user_phrases": [' + b'"ab",' * per_item + b'"ab"]}]'),
        (f"JSON of {MAX_JSON_VALUES - 10:,} values (just under the budget)", "a.json",
         b'[{"intent_name": "x", "example_user_phrases": [' + b'"ab",' * (MAX_JSON_VALUES - 10) + b'"ab"]}]'),
        ("20 MB one CSV cell list", "a.csv",
         (HEADER + 'x,"[' + '""ab"",' * (MAX_UPLOAD_BYTES // 8) + '""ab""]",,\r\n').encode()),
    ]


def measure(path: str, name: str, traced: bool) -> dict:
    script = RUN.format(root=str(ROOT), path=path, name=name, traced=traced)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(out: Path) -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for what, name, data in files():
            path = f"{tmp}/upload"
            Path(path).write_bytes(data)
            plain = measure(path, name, traced=False)
            traced = measure(path, name, traced=True)
            rows.append((what, len(data), plain, traced))
            print(f"{what}: {len(data) / 1e6:.1f} MB, {plain['seconds']:.2f} s ({plain['cpu']:.2f} s CPU), RSS +{plain['peak'] / 2**20:.0f} MiB, "
                  f"traced {traced['peak'] / 2**20:.0f} MiB, message {plain['message']:,} chars: {plain['outcome']}",
                  flush=True)
    lines = [
        "# Import benchmarks", "",
        "Made by `make bench-import` (`python -m bench.imports`). Each upload is read and checked as the Intents "
        "screen does (`read_intents` then `import_preview`) in a fresh process: wall-clock time and the growth "
        "of peak resident memory (VmHWM) in one run, the peak of Python allocations (tracemalloc) in another. "
        "`message` is the longest text shown for the file (the refusal, or the longest per-row reason).", "",
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}; "
        f"load average at the start {os.getloadavg()[0]:.1f} (wall-clock times grow with it, CPU times much less).", "",
        "Targets: 200,000 rows checked in ≤ 5 s; ≤ 300 MB for a 20 MB upload.", "",
        "| upload | size | time | CPU time | peak RSS growth | peak traced | message | outcome |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for what, size, plain, traced in rows:
        lines.append(f"| {what} | {size / 2**20:.1f} MiB | {plain['seconds']:.2f} s | {plain['cpu']:.2f} s | {plain['peak'] / 2**20:.0f} MiB "
                     f"| {traced['peak'] / 2**20:.0f} MiB | {plain['message']:,} chars | {plain['outcome']} |")
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "import-benchmarks.md"))
    raise SystemExit(main(Path(parser.parse_args().out)))
