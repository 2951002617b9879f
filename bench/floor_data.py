"""The floor app's data (bench/floor_app.py): read once per process, as the load benchmark's L user, through
the dashboard's own store, then held in memory.  Every figure, frame and table a journey step shows is
prepared here, so a render of the floor does only Streamlit's own work."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from bench.loadenv import L_USER, user_id
from lib.models import Stats, TestFilter
from lib.screens import charts, intent_checks, intents_grid

_lock = threading.Lock()
_data: dict[str, Floor] = {}
PERIODS = {"7 days": 7, "30 days": 30, "90 days": 90}


@dataclass(frozen=True)
class Floor:
    stats: dict[str, Stats]  # period label -> the Stats screen's numbers
    figures: dict[str, list[tuple[str, go.Figure | None]]]  # period label -> the four charts
    tests_figures: dict[str, list[tuple[str, go.Figure | None]]]  # "all" / "Failed" -> the Tests charts
    tests_stats: dict[str, Stats]
    pages: dict[tuple[str, int], list[dict]]  # (status filter, page) -> the table's 50 rows
    assistants: list[str]
    grid: pd.DataFrame  # the intents grid's frame, as the Intents screen shows it
    grid_columns: list[str]  # the columns it shows (the lists as their first item and "+N more")


def _rows(page, names: dict[str, str]) -> list[dict]:
    return [{"When": f"{r.created_at:%b %-d, %H:%M}", "Assistant": names.get(r.assistant_id, r.assistant_id),
             "Phrase": r.test_phrase, "Language": (r.language or "").capitalize(),
             "Status": (r.status or "").replace("_", " ").capitalize(), "Call id": r.call_id or "—"}
            for r in page.rows]


def _load(store, uid: str) -> Floor:
    user = store.for_user(uid)
    now = datetime.now(UTC).replace(tzinfo=None)
    stats = {label: user.stats(TestFilter(start=now - timedelta(days=days), end=now))
             for label, days in PERIODS.items()}
    figures = {label: [("Tests per day", charts.tests_per_day(s)), ("Tests by language", charts.tests_by_language(s)),
                       ("Tests per assistant", charts.tests_per_assistant(s)),
                       ("Intents created per week", charts.intents_per_week(s))] for label, s in stats.items()}
    assistants = user.list_assistants()
    names = {a.vapi_assistant_id: a.name for a in assistants}
    start = now - timedelta(days=30)
    filters = {"all": TestFilter(start=start, end=now), "Failed": TestFilter(start=start, end=now, statuses=("failed",))}
    tests_stats = {k: user.stats(f) for k, f in filters.items()}
    tests_figures = {k: [("Status over time", charts.tests_per_day(s)), ("Languages", charts.tests_by_language(s))]
                     for k, s in tests_stats.items()}
    pages = {(k, p): _rows(user.list_tests(f, page=p, page_size=50), names)
             for k, f in filters.items() for p in (1, 2)}
    intents = user.list_intents()
    report = intent_checks.check_cached(intents, assistants)
    frame = intents_grid.grid_frame(intents, report=report)
    grid = intents_grid.shown(frame)
    return Floor(stats, figures, tests_figures, tests_stats, pages, [a.name for a in assistants], grid,
                 intents_grid.display_order(frame))


def floor(uid: str = L_USER) -> Floor:
    """The user's data; the first call prepares it for the first ``FLOOR_USERS`` load users (the sessions
    a load phase will bring, each its own user as in the app), so no measured render reads the database."""
    with _lock:
        if not _data:
            from lib.store.direct import DirectStore

            store = DirectStore(os.environ["DATABASE_URL"])
            try:
                for n in range(max(1, int(os.environ.get("FLOOR_USERS", "1")))):
                    _data[user_id(n)] = _load(store, user_id(n))
                if uid not in _data:
                    _data[uid] = _load(store, uid)
            finally:
                store.close()
        if uid not in _data:  # a user beyond FLOOR_USERS: read once, as the first phase would
            from lib.store.direct import DirectStore

            store = DirectStore(os.environ["DATABASE_URL"])
            try:
                _data[uid] = _load(store, uid)
            finally:
                store.close()
        return _data[uid]
