"""Every screen through the real app (AppTest): a populated user, an empty user, a past_due user,
filters, and that no screen renders another user's rows.  Runs on the suite's PostgreSQL (direct)."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib.config import setting_names
from lib.identity.credentials import ensure_credentials_file
from lib.models import TestFilter
from lib.ops import demo
from lib.screens.controls import day_range
from tools import tables as schema

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
SCREENS = ["stats", "intents", "assistants", "tests", "billing", "export"]


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("creds") / "credentials.yaml"
    ensure_credentials_file(path)
    return path


@pytest.fixture(scope="module")
def database(pg_url: str) -> Iterator[str]:
    """A database of the module's own, on the suite's PostgreSQL, with the demo users (alice: active
    pro, bob: past_due, carol: no subscription)."""
    from tools.pgcluster import new_database

    with new_database(pg_url, prefix="screens") as url:
        demo.seed(url, demo.default_plans(tests=1500))
        engine = sa.create_engine(url)
        share_a_vapi_id(engine)
        engine.dispose()
        yield url


TWIN_NAME = "Bob's twin line"


def share_a_vapi_id(engine: sa.Engine) -> None:
    """Give bob an assistant with alice's first Vapi id under another name, and calls on it: each user
    must see only their own name for it, on every screen."""
    import uuid
    from datetime import datetime, timedelta

    A, T = schema.assistants, schema.assistant_tests
    with engine.begin() as conn:
        vapi_id = conn.execute(sa.select(A.c.vapi_assistant_id).where(A.c.user_id == "user_demo_alice")
                               .order_by(A.c.vapi_assistant_id).limit(1)).scalar_one()
        now = datetime.now().replace(microsecond=0) - timedelta(hours=1)
        conn.execute(sa.insert(A).values(id=str(uuid.uuid4()), user_id="user_demo_bob", vapi_assistant_id=vapi_id,
                                         name=TWIN_NAME, config={}, intents_used=[], created_at=now, updated_at=now))
        conn.execute(sa.insert(T), [{"id": str(uuid.uuid4()), "user_id": "user_demo_bob", "assistant_id": vapi_id,
                                     "test_phrase": f"twin call {i}", "language": "english", "call_id": f"twin_{i}",
                                     "status": "completed", "created_at": now, "updated_at": now} for i in range(4)])


def _use(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, credentials: Path, url: str) -> None:
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    creds = tmp_path / "credentials.yaml"
    shutil.copy(credentials, creds)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("AUTH_CREDENTIALS_PATH", str(creds))
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, credentials: Path, database: str):
    """Sign a demo user in on the demo database; returns the AppTest on the stats screen."""
    _use(monkeypatch, tmp_path, credentials, database)
    yield lambda username: signed_in(username)
    st.cache_resource.clear()


def signed_in(username: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    next(t for t in at.text_input if t.label == "Username").input(username)
    next(t for t in at.text_input if t.label == "Password").input("demo")
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception, at.exception
    assert any(b.label == "Sign out" for b in at.sidebar.button)
    return at


def open_screen(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"../pages/{name}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error or name in ("billing",), [e.value for e in at.error]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def all_text(at: AppTest) -> str:
    """Everything the screen shows as text: markdown, metrics, captions, tables, code."""
    parts = [str(e.value) for kind in ("markdown", "caption", "title", "subheader", "info", "error", "success",
                                        "warning", "code", "metric") for e in at.get(kind)]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    parts += [chart.proto.spec for chart in at.get("plotly_chart")]  # chart labels and hover text
    return "\n".join(parts)


def owner_counts(url: str, user_id: str, filters: TestFilter) -> int:
    """The expected count, from the rows themselves (SQL written here, filtered here), not from the store."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        t = schema.assistant_tests
        rows = conn.execute(sa.select(t.c.created_at, t.c.status, t.c.test_phrase).where(t.c.user_id == user_id)).all()
    engine.dispose()
    return sum(1 for created, status, phrase in rows
               if (filters.start is None or (created is not None and created >= filters.start))
               and (filters.end is None or (created is not None and created < filters.end))
               and (not filters.statuses or (status or "initiated") in filters.statuses)
               and filters.search.casefold() in phrase.casefold())


def test_populated_user_sees_every_screen(app_on, database: str) -> None:
    at = app_on("alice")
    start, end = day_range(30)
    assert at.title[0].value == "Stats"
    assert metric(at, "Intents") == "12"
    assert metric(at, "Assistants") == "3"
    assert metric(at, "Tests") == f"{owner_counts(database, 'user_demo_alice', TestFilter(start, end)):,}"
    assert metric(at, "Plan") == "Pro"
    assert metric(at, "Assistant service") == "Active"
    assert len(at.get("plotly_chart")) == 4
    for name in SCREENS:
        open_screen(at, name)
    open_screen(at, "billing")
    assert "Active" in all_text(at) and not at.error
    assert "Pro plan" in all_text(at)
    assert "••••" in all_text(at)  # Stripe ids masked


def test_period_control_changes_the_numbers(app_on, database: str) -> None:
    at = app_on("alice")
    at.radio(key="stats_preset").set_value("All time").run()
    assert metric(at, "Tests") == f"{owner_counts(database, 'user_demo_alice', TestFilter()):,}" == "1,500"
    at.radio(key="stats_preset").set_value("7 days").run()
    week = owner_counts(database, "user_demo_alice", TestFilter(*day_range(7)))
    assert metric(at, "Tests") == f"{week:,}" and week < 1500


def the_tests_card(at: AppTest):
    return next(m for m in at.metric if m.label == "Tests")


def test_tests_card_compares_only_what_is_fair(app_on, database: str) -> None:
    """The demo's calls span the last 90 days: on 90 days the days before hold none of alice's history, so no
    percentage (it once said +8857.6%); on 7 days there is a base and the change is a percentage of it."""
    at = app_on("alice")
    at.radio(key="stats_preset").set_value("90 days").run()
    card = the_tests_card(at)
    assert card.proto.delta == "new" and "first test call" in card.proto.help
    at.radio(key="stats_preset").set_value("7 days").run()
    today = datetime.now(UTC).date()  # AppTest's browser zone is UTC; today is left out of both sides
    day = lambda d: datetime.combine(d, time())  # noqa: E731
    now = owner_counts(database, "user_demo_alice", TestFilter(day(today - timedelta(days=6)), day(today)))
    before = owner_counts(database, "user_demo_alice", TestFilter(day(today - timedelta(days=12)),
                                                                  day(today - timedelta(days=6))))
    assert before >= 20  # the fixture's 1,500 calls over 90 days: a base worth a percentage
    pct = (now - before) / before * 100
    assert the_tests_card(at).proto.delta == ("0.0%" if round(pct, 1) == 0 else f"{pct:+.1f}%")


def test_test_filters_change_what_is_shown(app_on, database: str) -> None:
    at = open_screen(app_on("alice"), "tests")
    base = TestFilter(*day_range(30))
    assert metric(at, "Matching test calls") == f"{owner_counts(database, 'user_demo_alice', base):,}"
    at.multiselect(key="tests_statuses").set_value(["failed"]).run()
    failed = owner_counts(database, "user_demo_alice", TestFilter(*day_range(30), statuses=("failed",)))
    assert metric(at, "Matching test calls") == f"{failed:,}"
    table = at.dataframe[0].value
    assert set(table["Status"]) == {"Failed"} and len(table) == min(50, failed)
    at.text_input(key="tests_search").input("Привет").run()
    table = at.dataframe[0].value if at.dataframe else None
    shown = 0 if table is None else len(table)
    expected = owner_counts(database, "user_demo_alice",
                            TestFilter(*day_range(30), statuses=("failed",), search="Привет"))
    assert shown == min(50, expected)
    if table is not None:
        assert all("Привет" in p for p in table["Phrase"])


def test_past_due_user_sees_a_banner(app_on) -> None:
    at = open_screen(app_on("bob"), "billing")
    assert any("payment failed" in e.value for e in at.error)
    assert "Past due" in all_text(at)


def test_user_without_subscription(app_on) -> None:
    at = app_on("carol")  # the demo's account with no data at all: Stats welcomes her instead of charting
    assert any("nothing to chart yet" in s.value for s in at.subheader) and not at.metric
    at = open_screen(at, "billing")
    assert "No subscription" in all_text(at)


def test_no_screen_renders_another_users_rows(app_on, database: str) -> None:
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        others = conn.execute(sa.select(schema.assistants.c.vapi_assistant_id, schema.assistants.c.name)
                              .where(schema.assistants.c.user_id != "user_demo_alice")).all()
        own = set(conn.execute(sa.select(schema.assistants.c.vapi_assistant_id)
                               .where(schema.assistants.c.user_id == "user_demo_alice")).scalars())
        own_names = set(conn.execute(sa.select(schema.assistants.c.name)
                                     .where(schema.assistants.c.user_id == "user_demo_alice")).scalars())
        other_calls = set(conn.execute(sa.select(schema.assistant_tests.c.call_id)
                                       .where(schema.assistant_tests.c.user_id != "user_demo_alice")
                                       .where(schema.assistant_tests.c.call_id.is_not(None))).scalars())
    engine.dispose()
    assert TWIN_NAME in {n for _v, n in others} and own & {v for v, _n in others}  # a shared Vapi id
    at = app_on("alice")
    at.query_params["user_id"] = "user_demo_bob"  # a query parameter changes nothing
    at.radio(key="stats_preset").set_value("All time").run()
    for name in SCREENS:
        at = open_screen(at, name)
        text = all_text(at)
        for vapi_id, other_name in others:
            if vapi_id not in own:
                assert vapi_id not in text, name
            if other_name not in own_names:
                assert other_name not in text, (name, other_name)
        if name == "tests":
            calls = set(at.dataframe[0].value["Call id"])
            assert calls and not calls & other_calls


@pytest.fixture
def empty_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, credentials: Path, pg_clean: str) -> Iterator[AppTest]:
    url = pg_clean  # the schema, no rows
    _use(monkeypatch, tmp_path, credentials, url)
    yield signed_in("alice")
    st.cache_resource.clear()


def test_empty_user_gets_friendly_empty_states(empty_app: AppTest) -> None:
    at = empty_app
    assert "nothing to chart yet" in all_text(at)
    assert not at.get("plotly_chart")
    expectations = {
        "intents": "no intents yet",
        "assistants": "no assistants yet",
        "tests": "No test calls match",
        "billing": "No subscription",
        "export": "Prepare CSV of 0 test calls",
    }
    for name, phrase in expectations.items():
        at = open_screen(at, name)
        shown = all_text(at) + " ".join(b.label for b in at.button)
        assert phrase in shown, (name, shown)


def test_assistant_details_link_to_its_filtered_tests(app_on) -> None:
    at = open_screen(app_on("alice"), "assistants")
    box = at.selectbox(key="assistants_chosen_id")
    chosen, name = box.value, box.options[box.index]  # a Vapi assistant id, shown by name
    next(b for b in at.button if b.label == "See its test calls").click()
    at.run()
    assert not at.exception
    assert at.title[0].value == "Tests"
    assert at.multiselect(key="tests_assistants").value == [chosen]
    assert set(at.dataframe[0].value["Assistant"]) == {name}


def sql_count(url: str, user_id: str, start: object, end: object) -> int:
    """The user's test calls in [start, end), counted with SQL written here (not by the store)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("select count(*) from assistant_tests where user_id = :u and created_at >= :s "
                                 "and created_at < :e"), {"u": user_id, "s": start, "e": end}).scalar_one()
    engine.dispose()
    return int(n)


def test_a_prepared_export_lives_only_while_it_is_offered(app_on, database: str) -> None:
    """The Tests screen's CSV: in this session's own directory, replaced by the next one, deleted when
    its filters no longer match, and the whole directory removed at sign-out."""
    at = open_screen(app_on("alice"), "tests")
    expected = sql_count(database, "user_demo_alice", *day_range(30))
    next(b for b in at.button if b.label == f"Prepare CSV of {expected:,} test calls").click()
    at.run()
    assert not at.exception and not at.error
    assert any(b.label == f"Download tests.csv ({expected:,} rows)" for b in at.get("download_button"))
    folder = at.session_state["export_files"].path  # no reference to the object itself: it must be collectable
    first = Path(at.session_state["tests_export_file"]["path"])
    data = first.read_bytes()
    assert first.parent == folder and data.startswith(b"\xef\xbb\xbfid,assistant_id,assistant_name,test_phrase,")
    assert data.count(b"\r\n") == expected + 1  # header + rows (demo phrases hold no line breaks)

    next(b for b in at.button if b.label.startswith("Prepare CSV")).click()
    at.run()
    assert [p.name for p in folder.iterdir()] == [first.name]  # replaced, not added

    at.radio(key="tests_preset").set_value("7 days").run()
    assert not first.exists()  # no longer offered: deleted
    assert not [b for b in at.get("download_button") if b.label.startswith("Download tests.csv")]

    next(b for b in at.button if b.label.startswith("Prepare CSV")).click()
    at.run()
    assert first.exists()
    next(b for b in at.sidebar.button if b.label == "Sign out").click()
    at.run()
    gc.collect()
    assert not folder.exists()  # the session state let go of it: the directory went with it


def test_status_words_are_the_same_on_tests_and_the_export_preview(app_on, database: str) -> None:
    """Issue 20, item 12: the Export preview said "completed" where Tests said "Completed"; the files keep the
    stored values."""
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        stored = set(conn.execute(sa.text("select distinct status from assistant_tests "
                                          "where user_id = 'user_demo_alice'")).scalars())
    engine.dispose()
    at = open_screen(app_on("alice"), "tests")
    on_tests = set(at.dataframe[0].value["Status"])
    at = open_screen(at, "export")
    preview = at.dataframe[0].value
    on_export = set(preview["Status"])
    assert on_export <= on_tests | {s.replace("_", " ").capitalize() for s in stored}, (on_export, on_tests)
    assert "Completed" in on_export and not on_export & stored  # no raw value shown
    assert {str(v) for v in preview["Language"]} <= {"English", "Russian"}
