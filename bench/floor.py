"""The app against its floor (bench/floor_app.py), for ``make bench-load``: the N = 1 journey replayed on
the dashboard and on the floor app alternately (bench/compare.py's machinery), on the same data, in the
same run; per step, the app's server CPU and latency as a multiple of the floor's (goal: 1.3 times)."""

from __future__ import annotations

from bench import loadenv
from bench.compare import Side, alternate, table

FLOOR_APP = "bench/floor_app.py"
GOAL = 1.3


def floor_section(db: str, keys: loadenv.Keys, *, rounds: int, think: float, size: str) -> str:
    with loadenv.server(FLOOR_APP, db, keys.public_pem) as floor_srv, \
            loadenv.server(loadenv.APP, db, keys.public_pem) as app_srv:
        floor, app = Side("floor", floor_srv), Side("app", app_srv)
        alternate(floor, app, keys, rounds=rounds, think=think)
        lines, over = table(floor, app, limit=GOAL)
    verdict = (f"Over {GOAL}× the floor: {', '.join(over)}." if over else f"Every step within {GOAL}× the floor.")
    return "\n".join([
        "### The app against its floor (N = 1)", "",
        f"`bench/floor_app.py` renders each step's elements with the same data prepared in memory (no database, "
        f"no cache look-ups, no sign-in); it and the app replay the journey alternately, {rounds} measured "
        f"journeys each, size {size}, think {think:g} s, mean CPU and median latency; ratio = app / floor. Server CPU of a step runs "
        "from its send to the next step's send (the live fragments' reruns while the user reads are in it).", "",
        *lines, "", verdict, ""])
