"""Benchmark output that shows the benchmark: a progress bar per measured size, then the results.

Running the dashboard outside a Streamlit server (AppTest, the export subprocesses) makes libraries
talk: Streamlit warns "No runtime found, using MemoryCacheStorageManager" and "missing
ScriptRunContext" at WARNING, and streamlit-authenticator ``print``s "Invalid token type..." whenever
its re-login cookie is absent.  None of that is news to a benchmark reader.  ``libraries_quiet``
raises Streamlit's log level to ERROR, drops exactly those printed
lines, and leaves every other line (errors included) alone.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

# Lines a library prints (not logs) that say nothing about the run; anything else passes through.
PRINTED_NOISE = re.compile(r"^Invalid token type\. Token must be a <class 'bytes'>$")


class _DropNoise(io.TextIOBase):
    """A text stream that forwards whole lines to ``target`` except those matching PRINTED_NOISE."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.partial = ""
        self.dropped = 0

    def write(self, text: str) -> int:
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            if PRINTED_NOISE.match(line):
                self.dropped += 1
            else:
                self.target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        if self.partial and not PRINTED_NOISE.match(self.partial):
            self.target.write(self.partial)
            self.partial = ""
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()


@contextmanager
def libraries_quiet() -> Iterator[None]:
    from streamlit import config
    from streamlit import logger as st_logger

    config.set_option("logger.level", "error")  # a later config parse (AppTest's) would reset the level
    st_logger.set_log_level("error")
    logging.getLogger("lib.identity.credentials").setLevel(logging.ERROR)  # "writing the demo accounts": the bench's own file
    stdout, sys.stdout = sys.stdout, _DropNoise(sys.stdout)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = stdout


class Progress:
    """``step = Progress("sqlite S", ["seed", "stats", ...])``; ``step("stats")`` marks the stages
    before it done and names the current one; ``step.close()`` completes the bar."""

    def __init__(self, label: str, stages: list[str]) -> None:
        self.stages = stages
        self.bar = tqdm(total=len(stages), desc=label, unit="step", file=sys.stderr, leave=True, ascii=" #",
                        bar_format="{desc:<14} |{bar:30}| {n_fmt}/{total_fmt} {postfix} [{elapsed}]",
                        mininterval=0 if sys.stderr.isatty() else 30)

    def __call__(self, stage: str) -> None:
        done = self.stages.index(stage)
        self.bar.update(done - self.bar.n)
        self.bar.set_postfix_str(stage)

    def close(self) -> None:
        self.bar.update(len(self.stages) - self.bar.n)
        self.bar.set_postfix_str("done")
        self.bar.close()
