"""The scripted user journeys the load benchmark replays, over ``bench/protocol.py``.

Dashboard: sign in (the first run, which shows Stats), change the period, open Tests, go to page 2,
filter by status, open Intents, edit one intent's name in the grid, Save, back to Stats.
Naive page: sign in, change the period, change it back.

Widgets are found in the last run's elements by type and label, never by position or a computed id,
so other screens' changes (a live-refresh fragment, keyset paging) do not break the replay.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.protocol import ProtocolError, Run, Session

STEPS = ("sign_in", "stats_period", "tests", "tests_page_2", "tests_filter", "intents", "intents_edit",
         "intents_save", "stats")
NAIVE_STEPS = ("sign_in", "stats_period", "stats_period_back")
AUTO = "auto_refresh"  # fragment reruns the frontend's timers send during think time


@dataclass
class Sample:
    step: str
    latency: float
    cpu: float | None = None  # server CPU seconds from this step's send to the next one's (N = 1 only)


@dataclass
class Record:
    samples: list[Sample] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    journeys: int = 0
    completed: int = 0
    parked: int = 0  # sessions done with their last journey, kept connected


class StepFailed(Exception):
    pass


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise StepFailed(what)


def _page_title(run: Run) -> str:
    return next((h.body for _, h in run.of_type("heading")), "")


async def _sign_in(s: Session, ctx: dict) -> Run:
    run = await s.rerun()
    _need(run.has_text("Signed in as"), f"not signed in (warnings: {run.alerts('warning')})")
    _need(_page_title(run) == "Stats", f"first screen is {_page_title(run)!r}, not Stats")
    return run


async def _period(s: Session, ctx: dict, choice: str = "90 days") -> Run:
    radio = s.last.widget("radio", "Period")
    _need(choice in radio.options, f"no period option {choice!r}")
    s.set_string(radio.id, choice)
    run = await s.rerun()
    _need(run.widget("radio", "Period").id == radio.id, "the period radio changed identity")
    return run


async def _open(s: Session, title: str, heading: str) -> Run:
    run = await s.rerun(page=title)
    _need(_page_title(run) == heading, f"{title}: heading {_page_title(run)!r}")
    return run


async def _tests_page_2(s: Session, ctx: dict) -> Run:
    step = s.last.widget("button", "Next", first=True)  # the pager above the table (it is below it too)
    _need(not step.disabled, "fewer than two pages of tests")
    run = await s.rerun(triggers=[step.id])
    _need(run.has_text("Rows **51–100**"), "page 2 does not show rows 51–100")
    return run


async def _tests_filter(s: Session, ctx: dict) -> Run:
    status = s.last.widget("multiselect", "Status")
    _need("Failed" in status.options, "no 'Failed' status option")
    s.set_strings(status.id, ["Failed"])
    run = await s.rerun()
    _need(run.has_text("Rows **1–"), "the filtered list does not start at row 1")
    return run


def _editor(run: Run):
    editors = [d for _, d in run.of_type("dataframe") if d.id and d.editing_mode]
    _need(len(editors) == 1, f"expected one editable grid, found {len(editors)}")
    return editors[0]


async def _intents_edit(s: Session, ctx: dict) -> Run:
    grid = _editor(s.last)
    ctx["edit"] = {"edited_rows": {"0": {"intent_name": ctx["new_name"]}}, "added_rows": [], "deleted_rows": []}
    s.set_json(grid.id, ctx["edit"])
    run = await s.rerun()
    _need(run.has_text("Unsaved: 0 new, 1 changed, 0 to delete"),
          f"the edit was not taken (page {_page_title(run)!r}, grid {_editor(run).id == grid.id}, "
          f"{[t for t in run.texts() if 'saved' in t.lower()]})")
    return run


async def _intents_save(s: Session, ctx: dict) -> Run:
    save = s.last.widget("button", "Save")
    _need(not save.disabled, "Save is disabled")
    run = await s.rerun(triggers=[save.id])
    _need(any(a.startswith("Saved: 0 added, 1 changed") for a in run.alerts("success")),
          f"no 'Saved' message (errors: {run.alerts('error')})")
    return run


JOURNEY: tuple[tuple[str, Callable[[Session, dict], Awaitable[Run]]], ...] = (
    ("sign_in", _sign_in),
    ("stats_period", _period),
    ("tests", lambda s, c: _open(s, "Tests", "Tests")),
    ("tests_page_2", _tests_page_2),
    ("tests_filter", _tests_filter),
    ("intents", lambda s, c: _open(s, "Intents", "Intents")),
    ("intents_edit", _intents_edit),
    ("intents_save", _intents_save),
    ("stats", lambda s, c: _open(s, "Stats", "Stats")),
)
NAIVE_JOURNEY: tuple[tuple[str, Callable[[Session, dict], Awaitable[Run]]], ...] = (
    ("sign_in", _sign_in),
    ("stats_period", _period),
    ("stats_period_back", lambda s, c: _period(s, c, "30 days")),
)
assert tuple(n for n, _ in JOURNEY) == STEPS and tuple(n for n, _ in NAIVE_JOURNEY) == NAIVE_STEPS


async def think(s: Session, seconds: float, record: Record) -> None:
    """Wait like a person reading the screen, sending the fragment reruns the browser's timers would."""
    end = time.perf_counter() + seconds
    due = {f: time.perf_counter() + every for f, every in s.auto_reruns.items()}
    while (now := time.perf_counter()) < end:
        ready = [f for f, t in due.items() if t <= now and f in s.auto_reruns]
        if not ready:
            await asyncio.sleep(min([end, *due.values()]) - now)
            continue
        for fragment in ready:
            run = await s.rerun(fragment=fragment)
            record.samples.append(Sample(AUTO, run.latency))
            due[fragment] = time.perf_counter() + s.auto_reruns.get(fragment, 1e9)


async def journey(base_url: str, token: str, record: Record, *, naive: bool = False, think_s: float = 2.0,
                  rng: random.Random | None = None, cpu: Callable[[], float] | None = None,
                  name: str = "edited", keep_open: asyncio.Event | None = None) -> None:
    """One session from sign-in to the last step; every failure is recorded, never raised.

    ``cpu`` (N = 1 only) reads the server's CPU seconds: each step is charged from its send to the
    next step's send, so the collection Streamlit runs after script_finished counts for its step.
    ``keep_open``: stay connected until it is set (RSS is read with every session open)."""
    rng = rng or random.Random()
    steps = NAIVE_JOURNEY if naive else JOURNEY
    record.journeys += 1
    session = Session(base_url, cookies={"__session": token})
    ctx = {"new_name": f"{name} {rng.randrange(10**9)}"}
    marks: list[tuple[str, float, float]] = []  # step, latency, cpu at send
    try:
        await session.connect()
    except (OSError, TimeoutError, ProtocolError) as err:
        record.errors.append(("connect", f"{type(err).__name__}: {err}"))
        return
    step = "sign_in"
    try:
        for n, (step, action) in enumerate(steps):
            if n:
                await think(session, think_s * rng.uniform(0.5, 1.5), record)
            before = cpu() if cpu else 0.0
            run = await action(session, ctx)
            problems = run.problems()
            if problems:
                raise StepFailed("; ".join(problems))
            marks.append((step, run.latency, before))
        await think(session, think_s, record)  # the last step's share of CPU ends here
        end = cpu() if cpu else 0.0
        for i, (step, latency, before) in enumerate(marks):
            after = marks[i + 1][2] if i + 1 < len(marks) else end
            record.samples.append(Sample(step, latency, (after - before) if cpu else None))
        record.completed += 1
        if keep_open is not None:
            record.parked += 1
            await keep_open.wait()
    except (StepFailed, ProtocolError) as err:
        record.errors.append((step, f"{err} [{name}]"))
        record.samples += [Sample(done, latency) for done, latency, _ in marks]  # the steps it did finish
    finally:
        await session.close()
