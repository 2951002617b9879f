"""The benchmark harness behind ``make bench`` (see bench/__main__.py)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench import api, export_paging, quiet
from bench.datasets import ASSISTANTS, INTENTS, MEASURED, OTHER_TESTS_CAP, OTHER_USERS, dataset

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
SIZES = {"S": 1_000, "M": 100_000, "L": 1_000_000}
SCREENS = ("stats", "tests", "intents", "assistants")


@dataclass
class Run:
    backend: str
    size: str
    tests: int
    m: dict[str, float] = field(default_factory=dict)  # seconds unless named otherwise
    notes: dict[str, str] = field(default_factory=dict)


def median_time(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- the app through AppTest -----------------------------------------------------------------

class App:
    """The real dashboard in AppTest, signed in once; records the store calls (one SQL function each)
    every render makes."""

    def __init__(self, url: str, creds: Path, username: str) -> None:
        import streamlit as st
        from streamlit.testing.v1 import AppTest

        from lib.config import setting_names
        from lib.store import queries

        for name in setting_names():
            os.environ.pop(name, None)
        os.environ["DATABASE_URL"] = url
        os.environ["AUTH_CREDENTIALS_PATH"] = str(creds)
        st.cache_resource.clear()
        st.cache_data.clear()
        self.st = st
        self.at = AppTest.from_file(APP, default_timeout=600)
        self.at.run()
        next(t for t in self.at.text_input if t.label == "Username").input(username)
        next(t for t in self.at.text_input if t.label == "Password").input("demo")
        next(b for b in self.at.button if b.label == "Sign in").click()
        self.at.run()
        assert not self.at.exception, self.at.exception
        self.statements: list[Call] = []
        record(queries.store(), self.statements)

    def render(self, screen: str, *, cold: bool) -> tuple[float, list[tuple[str, object]]]:
        if cold:
            from lib.store import queries

            self.st.cache_data.clear()
            queries._intents.clear()  # these two are held by cache_resource (see lib/store/queries.py)
            queries._assistants.clear()
        self.at.switch_page(f"../pages/{screen}.py")
        self.statements.clear()
        t0 = time.perf_counter()
        self.at.run()
        took = time.perf_counter() - t0
        if self.at.exception:
            raise RuntimeError(f"{screen}: {self.at.exception[0].value}")
        return took, list(self.statements)

    def median_render(self, screen: str, *, cold: bool, reps: int) -> float:
        self.render(screen, cold=cold)  # warm the page's imports (and, for warm runs, the cache)
        return statistics.median(self.render(screen, cold=cold)[0] for _ in range(reps))


Call = tuple[str, str, dict]  # (user id, function, parameters): one statement on the database


def record(store: object, calls: list[Call]) -> None:
    """Append every call the store makes to ``calls`` (each is one ``select public.dashboard_*(...)``)."""
    call = store.call  # type: ignore[attr-defined]

    def recorded(uid: str, fn: str, params: dict, **kwargs: object) -> object:
        calls.append((uid, fn, dict(params)))
        return call(uid, fn, params, **kwargs)

    store.call = recorded  # type: ignore[attr-defined]


FLOOR_SCRIPT = """
import streamlit as st
from bench import harness
from lib.screens import widgets
st.data_editor(harness.FLOOR_FRAME, key="bare", num_rows="dynamic", hide_index=True, width="stretch",
               column_config=widgets.intent_columns())
"""
FLOOR_FRAME = None  # the measured user's intents grid frame, for FLOOR_SCRIPT


def intents_floor(url: str, reps: int) -> float:
    """The intents screen's floor: the same frame in a bare ``st.data_editor`` script (same process)."""
    from streamlit.testing.v1 import AppTest

    from lib.screens.intents_grid import grid_frame
    from lib.store.direct import DirectStore

    global FLOOR_FRAME
    store = DirectStore(url)
    FLOOR_FRAME = grid_frame(store.for_user(MEASURED).list_intents()).reset_index(drop=True)
    store.close()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare_editor.py"
        script.write_text(FLOOR_SCRIPT)
        at = AppTest.from_file(str(script), default_timeout=600)
        at.run()
        return median_time(at.run, reps)


def replay(url: str, calls: list[Call]) -> Callable[[], None]:
    """The floor: the very function calls a render made, each as the user (role and claims, as the
    store sets them), on one raw psycopg connection with no app, pool or parsing around them."""
    import json

    import psycopg

    from lib.store.direct import DirectStore, conninfo

    builder = DirectStore(url)
    pg = psycopg.connect(conninfo(url))
    statements = [(uid, *builder._statement(pg, fn, params)) for uid, fn, params in calls]
    pg.rollback()
    builder.close()

    def run() -> None:
        with pg.cursor() as cur:
            for uid, statement, values in statements:
                cur.execute("select set_config('role', 'authenticated', true), "
                            "set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": uid})])
                cur.execute(statement, values).fetchall()
                pg.rollback()
    return run


# -- export, save, naive ---------------------------------------------------------------------

def save_one_edit(url: str) -> tuple[list[str], int]:
    """Saving one edited row of the measured user's 5,000-intent grid: the store calls it makes, and how
    many intents the database rewrote (their updated_at moved)."""
    import psycopg

    from lib.screens.intents_grid import diff_from_editor, grid_frame
    from lib.store.direct import DirectStore, conninfo

    def stamps() -> dict:
        with psycopg.connect(conninfo(url)) as c:
            return dict(c.execute("select id, updated_at from intents where user_id = %s", [MEASURED]).fetchall())

    store = DirectStore(url)
    handle = store.for_user(MEASURED)
    frame = grid_frame(handle.list_intents())
    diff = diff_from_editor(frame, {"edited_rows": {len(frame) // 2: {"intent_name": "edited by the benchmark"}}})
    calls: list[Call] = []
    record(store, calls)
    before = stamps()
    handle.save_intents(diff)
    after = stamps()
    store.close()
    return [fn for _, fn, _ in calls], sum(1 for k, v in after.items() if before.get(k) != v)


def naive_dashboard(url: str) -> Callable[[], dict]:
    """The common Streamlit-plus-database way: every row of the user's tests into pandas, grouped there."""
    import psycopg

    from lib.store.direct import conninfo

    def frame(conn: psycopg.Connection, table: str) -> pd.DataFrame:
        cur = conn.execute(f"SELECT * FROM {table} WHERE user_id = %s", [MEASURED])
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])

    def run() -> dict:
        with psycopg.connect(conninfo(url)) as conn:
            tests, intents, assistants = (frame(conn, t) for t in ("assistant_tests", "intents", "assistants"))
        tests["day"] = pd.to_datetime(tests["created_at"]).dt.floor("D")
        return {"tests": len(tests), "per_day": tests.groupby(["day", "status"]).size(),
                "per_language": tests.groupby("language").size(), "per_assistant": tests.groupby("assistant_id").size(),
                "intents": len(intents), "assistants": len(assistants)}
    return run


def rest_comparison(url: str) -> dict[str, int]:
    """The store over Supabase REST (the PostgREST stand-in the tests run): its count is exact, one jsonb per
    call, past hosted Supabase's 1,000-row cap."""
    from lib.models import TestFilter
    from lib.store.rest import RestStore
    from tests.postgrest_server import PostgrestServer, make_jwt

    secret = "bench-secret-at-least-32-characters-long"
    with PostgrestServer(url, secret) as base:
        store = RestStore(base, make_jwt(secret, "service_role"), jwt_secret=secret)
        ours = store.for_user(MEASURED).stats(TestFilter())
        store.close()
    return {"store_rest_tests": ours.tests}


# -- the run ---------------------------------------------------------------------------------

def measure(backend: str, size: str, reps: int, creds: Path) -> Run:
    n = SIZES[size]
    run = Run(backend, size, n)
    reps = min(reps, 3) if size == "L" else reps
    full = size == "L" or size == max(SIZES_RUN, key=lambda s: SIZES[s])
    stages = ["seed", "stats", "SQL per screen", "tests", "intents", "assistants", "empty account", "save"]
    if full:
        stages += ["export", *(["pages", "concurrent exports"] if size == "L" else []), "naive dashboard", "http api"]
    step = quiet.Progress(f"{backend} {size}", stages)
    step("seed")
    with dataset(n) as url:
        step("stats")
        app = App(url, creds, "alice")
        _, stats_sql = app.render("stats", cold=True)
        run.m["floor"] = median_time(replay(url, stats_sql), reps)
        run.m["stats_cold"] = app.median_render("stats", cold=True, reps=reps)
        run.m["stats_warm"] = app.median_render("stats", cold=False, reps=reps)
        step("SQL per screen")
        for screen in SCREENS:
            run.m[f"sql_{screen}"] = len(app.render(screen, cold=True)[1])
            app.render(screen, cold=False)  # the screen's cache filled (and its settings row created)
            warm = app.render(screen, cold=False)[1]
            run.m[f"sql_warm_{screen}"] = len(warm)
            run.notes.setdefault("warm_sql", f"select public.{warm[0][1]}()" if warm else "")
        step("tests")
        run.m["tests_cold"] = app.median_render("tests", cold=True, reps=reps)
        step("intents")
        run.m["intents_cold"] = app.median_render("intents", cold=True, reps=reps)
        run.m["intents_warm"] = app.median_render("intents", cold=False, reps=reps)
        run.m["intents_floor"] = intents_floor(url, reps)
        step("assistants")
        run.m["assistants_cold"] = app.median_render("assistants", cold=True, reps=reps)
        step("empty account")
        empty = App(url, creds, "carol")
        run.m["empty_cold"] = empty.median_render("stats", cold=True, reps=reps)
        step("save")
        saved, rewritten = save_one_edit(url)
        run.m["save_updates"] = rewritten
        run.notes["save_statements"] = " + ".join(saved)
        if full:
            step("export")
            ours = export_paging.export_run(url, "app")
            floor = export_paging.export_run(url, "copy")
            run.m["export"], run.m["export_rss_mb"] = ours["seconds"], ours["rss_growth_mb"]
            run.m["export_floor"], run.m["export_floor_rss_mb"] = floor["seconds"], floor["rss_growth_mb"]
            run.m["export_rows"] = ours["rows"]
            if size == "L":
                step("pages")
                for p, t in export_paging.pages(url).items():
                    run.m[f"page_{p}"], run.m[f"page_{p}_offset"] = t["keyset_ms"] / 1000, t["offset_ms"] / 1000
                step("concurrent exports")
                for slots in (2, 10):
                    c = export_paging.concurrent_exports(url, slots)
                    run.m[f"exports_{slots}_rss_mb"] = c["rss_peak_mb"] - c["rss_base_mb"]
                    run.m[f"exports_{slots}_fds"] = c["fds_peak"] - c["fds_base"]
                    run.notes[f"exports_{slots}"] = (
                        f"{slots} slots: {c['completed']} done, {c['refused']} refused; RSS {c['rss_base_mb']:,.0f} → "
                        f"{c['rss_peak_mb']:,.0f} MB; open files {c['fds_base']} → {c['fds_peak']}; a screen query "
                        f"meanwhile {c['screen_query_p50_ms']:,.0f} ms median, {c['screen_query_max_ms']:,.0f} ms max")
            step("naive dashboard")
            naive = naive_dashboard(url)
            run.m["naive"] = median_time(naive, 1 if size == "L" else reps)
            run.m.update(rest_comparison(url))
            step("http api")
            run.m.update(api.measure(url, min(reps, 3)))
    step.close()
    return run


SIZES_RUN: list[str] = []


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal")) / 1024 / 1024
    import psycopg
    import streamlit

    from tools.pgcluster import pg_bindir
    pg = subprocess.run([str(pg_bindir() / "postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.platform()}, Python "
            f"{platform.python_version()}, {pg}, psycopg {psycopg.__version__}, "
            f"Streamlit {streamlit.__version__}")


def ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1000:,.0f} ms"


def report(runs: list[Run], took: float) -> str:
    lines = ["# Benchmarks", "",
             "Made by `make bench` (`make bench SIZE=L` for the million-row size); every figure is the median "
             "of several repetitions in one run. Times are wall-clock on the machine below.", "",
             f"Machine: {machine()}.", "",
             f"Data: the measured user has S = 1,000, M = 100,000 or L = 1,000,000 test calls over 90 days, "
             f"{INTENTS:,} intents and {ASSISTANTS} assistants, among {OTHER_USERS} other users with up to "
             f"{OTHER_TESTS_CAP:,} tests each. The stats screen shows the default 30-day period. "
             f"Run took {took / 60:.1f} min.", "",
             "| backend | size | floor (stats SQL, raw) | stats cold | stats warm | empty account | tests screen | "
             "intents screen | assistants screen | SQL per cold render (stats/tests/intents/assistants) | "
             "SQL per warm render | save one intent |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        m = r.m
        lines.append(f"| {r.backend} | {r.size} | {ms(m['floor'])} | {ms(m['stats_cold'])} | {ms(m['stats_warm'])} | "
                     f"{ms(m['empty_cold'])} | {ms(m['tests_cold'])} | {ms(m['intents_cold'])} | "
                     f"{ms(m['assistants_cold'])} | {'/'.join(str(int(m[f'sql_{s}'])) for s in SCREENS)} | "
                     f"{'/'.join(str(int(m[f'sql_warm_{s}'])) for s in SCREENS)} | {r.notes['save_statements']} |")
    lines += ["", "## Targets", "", "| backend | target | measured | met |", "|---|---|---|---|"]
    for backend in sorted({r.backend for r in runs}):
        mine = {r.size: r for r in runs if r.backend == backend}
        big = mine.get("L") or mine[max(mine, key=lambda s: SIZES[s])]
        small = mine.get("S")
        m = big.m
        rows = []
        bound = 2 * (m["floor"] + m["empty_cold"])
        rows.append((f"stats cold at {big.size} ≤ 2 × (floor + empty render)",
                     f"{ms(m['stats_cold'])} vs {ms(bound)} ({m['stats_cold'] / (m['floor'] + m['empty_cold']):.2f}×)",
                     m["stats_cold"] <= bound))
        rows.append((f"stats warm ≤ 1/10 of cold at {big.size}", f"{m['stats_warm'] / m['stats_cold']:.3f}",
                     m["stats_warm"] <= m["stats_cold"] / 10))
        if small and small is not big:
            ratio = m["stats_cold"] / small.m["stats_cold"]
            rows.append((f"growth: stats cold {big.size} / S ≤ 3", f"{ratio:.2f}×", ratio <= 3))
        counts = {s: tuple(int(r.m[f"sql_{x}"]) for x in SCREENS) for s, r in mine.items()}
        rows.append(("SQL statements per render constant across sizes", ", ".join(f"{s}: {c}" for s, c in counts.items()),
                     len(set(counts.values())) == 1))
        warm = {int(r.m[f"sql_warm_{x}"]) for r in mine.values() for x in SCREENS}
        rows.append(("SQL statements per warm render: 1 (the change-version read)",
                     f"{'/'.join(str(int(m[f'sql_warm_{x}'])) for x in SCREENS)} at every size: "
                     f"`{big.notes['warm_sql']} …`", warm == {1}))
        if "export" in m:
            rows.append((f"export at {big.size}: RSS growth < 300 MB", f"{m['export_rss_mb']:,.0f} MB "
                         f"({int(m['export_rows']):,} rows)", m["export_rss_mb"] < 300))
            rows.append((f"export at {big.size}: ≤ 1.5 × floor", f"{ms(m['export'])} vs {ms(m['export_floor'])} "
                         f"({m['export'] / m['export_floor']:.2f}×)", m["export"] <= 1.5 * m["export_floor"]))
        if "page_1" in m:
            for p in (100, 20_000):
                rows.append((f"tests page {p:,} ≤ 1.5 × page 1 at {big.size}",
                             f"{m[f'page_{p}'] * 1000:.1f} ms vs {m['page_1'] * 1000:.1f} ms "
                             f"({m[f'page_{p}'] / m['page_1']:.2f}×; plain OFFSET: {m[f'page_{p}_offset'] * 1000:,.0f} ms)",
                             m[f"page_{p}"] <= 1.5 * m["page_1"]))
            for key in sorted(k for k in big.notes if k.startswith("exports_")):
                rows.append((f"10 concurrent exports at {big.size}: RSS growth < 300 MB, < 50 more open files",
                             big.notes[key], m[f"{key}_rss_mb"] < 300 and m[f"{key}_fds"] < 50))
            rows.append((f"vs naive dashboard at {big.size}: ≥ 20× faster cold",
                         f"naive {ms(m['naive'])} vs {ms(m['stats_cold'])} ({m['naive'] / m['stats_cold']:.1f}×)",
                         m["naive"] >= 20 * m["stats_cold"]))
        if "store_rest_tests" in m:
            rows.append(("over Supabase REST the store's count is exact past the 1,000-row cap",
                         f"store {int(m['store_rest_tests']):,} (true {big.tests:,})",
                         m["store_rest_tests"] == big.tests))
        rows.append((f"intents screen ({INTENTS:,} intents) ≤ 1.3 × a bare st.data_editor of the same frame",
                     f"warm {ms(m['intents_warm'])}, cold {ms(m['intents_cold'])} vs floor {ms(m['intents_floor'])} "
                     f"({m['intents_warm'] / m['intents_floor']:.2f}× warm, {m['intents_cold'] / m['intents_floor']:.2f}× "
                     f"cold)", m["intents_warm"] <= 1.3 * m["intents_floor"]))
        rows.append(("saving one edited intent of 5,000: one call, one intent rewritten",
                     f"{big.notes['save_statements']}: {int(m['save_updates'])} intent(s) rewritten",
                     m["save_updates"] == 1 and big.notes["save_statements"] == "dashboard_save_intents"))
        lines += [f"| {backend} | {t} | {v} | {'yes' if ok else '**no**'} |" for t, v, ok in rows]
    return "\n".join(lines + notes(runs)) + "\n"


def notes(runs: list[Run]) -> list[str]:
    """What the table means, with this run's own figures."""
    out = ["", "## Notes", "",
           "- **How the stats screen stays flat.** Test calls are counted from daily rollups kept by "
           "statement-level triggers on `assistant_tests`: per day/language/status "
           "and per day/assistant for the screen's charts and counts, and one with every dimension for "
           "filtered views. A 30-day stats render reads about 30 × 10 + 30 × assistants rollup rows, "
           "whatever the number of calls; a phrase search falls back to counting the calls themselves.",
           "- **SQL per render** counts the store's calls: each is one `select public.dashboard_*(...)` in one "
           "transaction (with the user's role and claims set in the same round trip). **Floor** is the very "
           "calls a cold stats render made, replayed as the user on one raw psycopg connection: the database's "
           "own cost of the screen, its SQL functions included.",
           "- **Export.** The database writes every cell (formula neutralization, ISO 8601 UTC): on the direct "
           "path `COPY (...) TO STDOUT (FORMAT csv)` of the statements `dashboard_export_copy` gives (the "
           "nine cells; COPY quotes them, Python turns each row's LF into CRLF a block at a time), over REST "
           "5,000 lines per call of `dashboard_export_csv`, keyset-paged on (created_at, id); both run as "
           "`authenticated` under row-level security like every other call. The floor is `COPY (...) TO STDOUT "
           "WITH CSV` of the same rows, names and order as the connecting role, which neither neutralizes "
           "formulas nor formats times.",
           "- **Deep pages.** The tests list finds a page's day from per-day counts (the rollups), then reads from "
           "that day: deep into a busy day (~11,000 calls a day at L) it first walks the in-day offset over "
           "`created_at` alone (the `(user_id, created_at)` index, index-only once vacuumed) and skips only the "
           "ties. EXPLAIN ANALYZE of a page-20,000 query: about 0.6 ms to walk ~6,000 index entries for the "
           "page's timestamp and 0.6 ms more to count the newer ones; page 1 is the per-day counts (0.4 ms) and 50 "
           "rows. Reaching 1.5× would take an index on `(user_id, created_at, id)` (the exact keyset in one walk), "
           "which every insert of the webhooks would pay for; not added.",
           "- **Intents screen.** Against a bare `st.data_editor` of the same 5,000-row frame and columns, the page's "
           "own work is reading the cached intents and building the grid's frame (about 10 ms, timed inside the "
           "page), and the app around every screen (sign-in gate, navigation, the version check; the bare script "
           "has none). Cold adds the database read of 5,000 intents and their 15,000 arrays. The cached intents "
           "are handed out without a copy (they were unpickled on every rerun: 11 ms)."]
    for backend in sorted({r.backend for r in runs}):
        mine = {r.size: r for r in runs if r.backend == backend}
        big = mine.get("L") or mine[max(mine, key=lambda s: SIZES[s])]
        m = big.m
        out.append(
            f"- **What the empty-account render measures ({backend}).** An account with no data gets the "
            f"onboarding card instead of metrics and four figures, so its render ({ms(m['empty_cold'])}) is "
            f"less Streamlit work than a populated page; the populated page's own Streamlit work is its warm "
            f"render ({ms(m['stats_warm'])}, every query answered by the cache). Against that, a cold {big.size} "
            f"render ({ms(m['stats_cold'])}) is the warm render plus the floor ({ms(m['floor'])}) plus "
            f"{ms(m['stats_cold'] - m['stats_warm'] - m['floor'])} of the app's own cold-path work (building "
            f"and compiling the SQL, result objects, filling the cache). Where the floor is a few milliseconds, "
            f"2 × (floor + empty render) is smaller than the page's own Streamlit work, and that target can "
            f"miss for that reason alone."
        )
        if "S" not in mine or len(mine) < 2:
            continue
        warm, cold_s, cold_big = big.m["stats_warm"], mine["S"].m["stats_cold"], big.m["stats_cold"]
        out.append(
            f"- **Warm ≤ cold/10 and growth ≤ 3× pull against each other ({backend}).** A warm render is "
            f"Streamlit's own work (script, widgets, four figures): {ms(warm)} here, the same at every size. "
            f"The warm target asks for a cold {big.size} render of at least 10 × warm = {ms(10 * warm)}; the "
            f"growth target allows at most 3 × cold S = {ms(3 * cold_s)}. Both can hold only when a cold S "
            f"render costs at least 3.3 × a warm one, i.e. when 1,000 tests cost the database more than twice "
            f"Streamlit's own overhead, which they do not (cold S {ms(cold_s)}). We keep the screen fast at "
            f"scale (cold {big.size} {ms(cold_big)}) rather than make the cold render slower, so the warm "
            f"ratio is reported, not met, whenever the growth target is."
        )
    return out


def main(sizes: list[str], backends: list[str], reps: int, out: Path, *, writers_and_idle: bool = True) -> int:

    bad = [s for s in sizes if s not in SIZES]
    if bad:
        print(f"unknown size {bad}; choose from {list(SIZES)}", file=sys.stderr)
        return 2
    SIZES_RUN[:] = sizes
    with quiet.libraries_quiet():
        return _main(sizes, backends, reps, out, writers_and_idle)


def _main(sizes: list[str], backends: list[str], reps: int, out: Path, writers_and_idle: bool) -> int:
    from lib.identity.credentials import ensure_credentials_file

    started = time.perf_counter()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        creds = Path(tmp) / "credentials.yaml"
        ensure_credentials_file(creds)
        for backend in backends:
            for size in sizes:
                runs.append(measure(backend, size, reps, creds))
    if writers_and_idle:
        from bench import writers

        writer_lines = writers.report(*writers.measure())
        from bench import idle

        writer_lines += idle.report(idle.measure())
    else:
        writer_lines = []
    for r in runs:
        writer_lines += api.report(r.m, f"{r.backend} {r.size}")
    text = report(runs, time.perf_counter() - started) + "\n".join(writer_lines) + "\n"
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + _kept_load_section(out))
    return 0


def _kept_load_section(out: Path) -> str:
    """``make bench-load``'s section of the same file (from its start marker) and whatever follows it (the
    hand-written comparisons with earlier releases), kept across ``make bench``."""
    from bench.load import START

    old = out.read_text() if out.exists() else ""
    if START not in old:
        return ""
    return "\n" + START + old.split(START, 1)[1]

