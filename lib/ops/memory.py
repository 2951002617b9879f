"""Garbage collection for the long-running server process.

Streamlit runs a full collection, ``gc.collect(2)``, after every script run (the hidden option
``runner.postScriptGC``, on by default). Over this app's heap (pandas, plotly, pyarrow and psycopg:
hundreds of thousands of long-lived objects) that one pass was most of the server's CPU per click
(profile in docs/benchmarks.md). ``.streamlit/config.toml`` turns it off, and then, once per process,
:func:`freeze_startup_heap` moves the start-up heap (modules, classes, the libraries' tables) into the
permanent generation with ``gc.freeze()``: Python's own generational collections still collect what
script runs leave behind, and the rare full ones no longer walk the libraries. RSS over a soak of
many sessions is measured by ``make bench-load`` (docs/benchmarks.md).
"""

from __future__ import annotations

import gc
import threading

import streamlit as st

_lock = threading.Lock()
_frozen = False


def freeze_startup_heap() -> bool:
    """Freeze the heap once per process, after importing what the screens use; True when it froze now.

    Only when the post-run collection is off: with Streamlit's default the process behaves exactly
    as before (the load benchmark's "post-run GC on" run is that default).
    """
    global _frozen
    if _frozen or st.get_option("runner.postScriptGC"):
        return False
    with _lock:
        if _frozen:
            return False
        # The screens' heavy imports, so that they are part of the frozen start-up heap.
        import plotly.graph_objects
        import plotly.io  # noqa: F401
        import pyarrow  # noqa: F401

        from lib.files import csv_encoding  # noqa: F401
        from lib.screens import charts, intents_grid, widgets  # noqa: F401

        gc.collect()  # do not freeze garbage
        gc.freeze()
        _frozen = True
        return True
