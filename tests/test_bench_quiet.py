"""`make bench` prints its progress and results, not the libraries' chatter; real errors stay visible."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from bench.quiet import _DropNoise

ROOT = Path(__file__).resolve().parent.parent
NOISE = ("No runtime found", "missing ScriptRunContext", "Invalid token type", "writing the demo accounts")


def test_only_the_known_printed_noise_is_dropped() -> None:
    out = io.StringIO()
    stream = _DropNoise(out)
    stream.write("Invalid token type. Token must be a <class 'bytes'>\nresult: 3 ms\nInvalid token")
    stream.write(" type. Token must be a <class 'bytes'>\nTraceback (most recent call last):\n  boom\npartial")
    stream.flush()
    assert out.getvalue() == "result: 3 ms\nTraceback (most recent call last):\n  boom\npartial"
    assert stream.dropped == 2


def test_a_bench_run_prints_progress_and_results_only(tmp_path: Path) -> None:
    report = tmp_path / "bench.md"
    run = subprocess.run([sys.executable, "-m", "bench", "--sizes", "S", "--backends", "postgresql", "--reps", "1",
                          "--screens-only", "--out", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    for line in NOISE:
        assert line not in run.stdout and line not in run.stderr, line
    assert run.stdout.startswith("# Benchmarks") and "| postgresql | S |" in run.stdout
    assert report.read_text().startswith(run.stdout.rstrip("\n"))
    progress = run.stderr.replace("\r", "\n")
    steps = re.search(r"\b(\d+)/\1\b", progress)  # the bar reached its end, whatever the number of steps
    assert "postgresql S" in progress and steps and "done" in progress
