"""Tests that guard (issue 18, item 14): each fails with one of the mutation audit's surviving bugs planted (the
list and the bug each catches: /work/spec/integrity-report.md).  Expected values come from the fixtures here or
the README, never from the code under test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib.config import setting_names
from lib.errors import ValidationError
from lib.files import importing
from lib.identity.credentials import ensure_credentials_file
from lib.models import Assistant, Intent
from lib.screens import intent_checks

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
ALICE = "user_demo_alice"


# -- the Stats delta leaves today out (README: "the Stats delta compares whole days only") ------------------------

@pytest.fixture
def stats_app(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    from tools.pgcluster import new_database

    today = datetime.now(UTC).replace(tzinfo=None)
    if (today.hour == 23 and today.minute > 50) or (today.hour == 0 and today.minute < 5):
        pytest.skip("too close to midnight UTC for 'today' to stay today")
    midnight = today.replace(hour=0, minute=0, second=0, microsecond=0)
    calls = ([midnight - timedelta(days=70, hours=-12)]  # the history begins before both periods
             + [midnight - timedelta(days=40, hours=-12)] * 4  # the previous 29 whole days: 4 calls
             + [midnight - timedelta(days=2, hours=-12)] * 2  # the last 29 whole days: 2 calls
             + [today - timedelta(minutes=2)] * 6)  # today, not over yet: 6 calls
    with new_database(pg_url, prefix="guards") as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("insert into intents (user_id, intent_name) values (:u, 'Greeting')"), {"u": ALICE})
            for at in calls:
                conn.execute(sa.text("insert into assistant_tests (user_id, assistant_id, test_phrase, status, "
                                     "created_at) values (:u, 'v1', 'hi', 'completed', :t)"), {"u": ALICE, "t": at})
        engine.dispose()
        for name in setting_names():
            monkeypatch.delenv(name, raising=False)
        creds = tmp_path / "credentials.yaml"
        ensure_credentials_file(creds)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("AUTH_CREDENTIALS_PATH", str(creds))
        monkeypatch.setenv("LIVE_REFRESH_SECONDS", "0")
        st.cache_resource.clear()
        st.cache_data.clear()
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        next(t for t in at.text_input if t.label == "Username").input("alice")
        next(t for t in at.text_input if t.label == "Password").input("demo")
        next(b for b in at.button if b.label == "Sign in").click()
        at.run()
        yield at
        st.cache_resource.clear()
        st.cache_data.clear()


def test_the_stats_page_delta_compares_whole_days_without_today(stats_app: AppTest) -> None:
    assert not stats_app.exception, stats_app.exception
    tests = next(m for m in stats_app.metric if m.label == "Tests")
    assert tests.value == "8"  # the last 30 days, today included
    assert tests.delta == "-2"  # 2 calls in the last 29 whole days against 4 in the 29 before; today's 6 left out


# -- the JSON value budget: 2,000,000 values (README, "Limits on input") ------------------------------------------

README_JSON_VALUES = 2_000_000


def test_a_json_file_past_the_value_budget_is_refused_and_one_at_it_is_read() -> None:
    over = json.dumps([[0] * 999 for _ in range(README_JSON_VALUES // 1000)] + [[0]]).encode()  # budget + 2 values
    with pytest.raises(ValidationError) as refused:
        importing.read_intent_rows(over, "big.json")
    assert "2,000,000" in str(refused.value)
    at_budget = json.dumps([[0] * 999 for _ in range(README_JSON_VALUES // 1000 - 1)] + [[0] * 998]).encode()
    try:
        importing.read_intent_rows(at_budget, "big.json")
    except ValidationError as err:  # refused for being no intents, not for its size
        assert "2,000,000" not in str(err)


# -- "Used by" follows the assistants ------------------------------------------------------------------------------

def test_used_by_changes_when_only_the_assistants_change() -> None:
    now = datetime(2026, 11, 20)
    intents = (Intent(str(uuid.uuid4()), "Greeting", ("hi",), ("Hi",), ("Привет",), now, now),)
    desk = Assistant(str(uuid.uuid4()), "v1", "Front desk", {}, ("Greeting",), now, now, (intents[0].id,))
    first = intent_checks.check_cached(intents, [desk])
    assert first.checks[intents[0].id].used_by == ("Front desk",)
    renamed = Assistant(desk.id, "v1", "Reception", {}, ("Greeting",), now, now, (intents[0].id,))
    assert intent_checks.check_cached(intents, [renamed]).checks[intents[0].id].used_by == ("Reception",)
    assert intent_checks.check_cached(intents, []).checks[intents[0].id].used_by == ()


# -- the test-day counts' end bound: exclusive, at midnight -------------------------------------------------------

def test_day_counts_leave_out_the_end_day_at_a_midnight_bound(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for at in ("2026-11-19 23:59:59", "2026-11-20 00:00:00", "2026-11-20 12:00:00"):
            conn.execute(sa.text("insert into assistant_tests (user_id, assistant_id, test_phrase, created_at) "
                                 "values (:u, 'v1', 'hi', :t)"), {"u": ALICE, "t": at})
        conn.execute(sa.text("select set_config('role', 'authenticated', true), "
                             "set_config('request.jwt.claims', :c, true)"), {"c": json.dumps({"sub": ALICE})})
        for assistants in (None, ["v1"]):  # from the per-day rollup, and from the per-assistant one
            days = conn.execute(sa.text("select day::text, n from dashboard_test_day_counts("
                                        "p_start => '2026-11-19', p_end => '2026-11-20', p_assistant_ids => :a)"),
                                {"a": assistants}).all()
            assert days == [("2026-11-19", 1)]


# -- a save is undone at most once, for every writer ---------------------------------------------------------------

def test_a_second_undo_record_of_the_same_save_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        saved = conn.execute(sa.text("insert into intent_history (user_id, kind) values (:u, 'grid') returning id"),
                             {"u": ALICE}).scalar_one()
        conn.execute(sa.text("insert into intent_history (user_id, kind, reverts) values (:u, 'undo', :r)"),
                     {"u": ALICE, "r": saved})
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("insert into intent_history (user_id, kind, reverts) values (:u, 'undo', :r)"),
                     {"u": ALICE, "r": saved})
