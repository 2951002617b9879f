"""Fresh data from every writer, through the real app (AppTest), on PostgreSQL, over both transports (direct and Supabase REST).

Rows written outside the store with raw SQL, as the web app or a call webhook would, appear on the
next render of the Tests and Intents screens, in the same session and in a new one; a warm render
costs the database one statement (one request on REST); while the database is unreachable a screen
shows what it had under a dated banner and saving is paused; the Assistants toggle shows the stored
setting and survives a failing save.  Expected values are counted with SQL written here.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib.config import setting_names
from lib.identity.credentials import ensure_credentials_file
from lib.models import utcnow
from lib.ops import demo
from lib.store import queries
from tests.test_screens import metric, signed_in
from tools.pgcluster import Cluster

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
ALICE = "user_demo_alice"


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("creds") / "credentials.yaml"
    ensure_credentials_file(path)
    return path


def _settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, credentials: Path, **env: str) -> None:
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    creds = tmp_path / "credentials.yaml"
    shutil.copy(credentials, creds)
    monkeypatch.setenv("AUTH_CREDENTIALS_PATH", str(creds))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    st.cache_data.clear()


def _seed(url: str) -> None:
    demo.seed(url, demo.default_plans(tests=300))


@pytest.fixture(params=["direct", "rest"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
            credentials: Path) -> Iterator[tuple[str, sa.Engine]]:
    """The demo data, the app on one transport; yields (transport, an owner engine for raw writes)."""
    url = request.getfixturevalue("pg_clean")
    _seed(url)
    if request.param == "direct":
        _settings_env(monkeypatch, tmp_path, credentials, DATABASE_URL=url)
    else:
        from tests.rest_fixtures import JWT_SECRET, service_key

        _settings_env(monkeypatch, tmp_path, credentials, SUPABASE_URL=request.getfixturevalue("rest_url"),
                      SUPABASE_KEY=service_key(), SUPABASE_JWT_SECRET=JWT_SECRET)
    engine = sa.create_engine(url)
    yield request.param, engine
    engine.dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


def open_screen(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"../pages/{name}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def count(engine: sa.Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def webhook_calls(engine: sa.Engine, n: int, *, status: str = "initiated") -> list[str]:
    """n test calls for alice inserted as a call webhook would: raw SQL, now, outside the store."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into assistant_tests (id, user_id, assistant_id, test_phrase, language, status, created_at, "
            "updated_at) values (:id, :u, 'asst_webhook', 'is the webhook live?', 'english', :s, :t, :t)"),
            [{"id": i, "u": ALICE, "s": status, "t": now} for i in ids])
    return ids


def thirty_days(engine: sa.Engine, extra: str = "") -> int:
    """alice's calls in the screens' default period (the last 30 UTC days, today included)."""
    start = datetime.combine(utcnow().date() - timedelta(days=29), datetime.min.time())
    return count(engine, f"select count(*) from assistant_tests where user_id = :u and created_at >= :s {extra}",
                 u=ALICE, s=start)


def test_webhook_calls_show_on_the_next_render_in_this_session_and_a_new_one(backend) -> None:
    _, engine = backend
    at = open_screen(signed_in("alice"), "tests")
    before = thirty_days(engine)
    assert metric(at, "Matching test calls") == f"{before:,}"
    ids = webhook_calls(engine, 5)
    at.run()  # the next render of the same session
    assert metric(at, "Matching test calls") == f"{before + 5:,}"
    assert set(at.dataframe[0].value["Phrase"][:5]) == {"is the webhook live?"}  # newest first
    completed = thirty_days(engine, "and status = 'completed'")
    with engine.begin() as conn:  # the calls finish: initiated -> completed
        conn.execute(sa.text("update assistant_tests set status = 'completed' where id in :ids")
                     .bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids[:3]})
    at.run()
    assert metric(at, "Completed") == f"{completed + 3:,}"
    fresh = open_screen(signed_in("alice"), "tests")  # a brand-new session
    assert metric(fresh, "Matching test calls") == f"{before + 5:,}"
    assert metric(fresh, "Completed") == f"{completed + 3:,}"


def test_intents_from_the_web_app_show_on_the_next_render(backend) -> None:
    _, engine = backend
    at = open_screen(signed_in("alice"), "intents")
    assert "opening_hours_web" not in set(at.dataframe[0].value["intent_name"])
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into intents (id, user_id, intent_name, example_user_phrases, english_responses, "
            "russian_responses, created_at, updated_at) values (:id, :u, 'opening_hours_web', :p, :e, :r, :t, :t)"),
            {"id": str(uuid.uuid4()), "u": ALICE, "t": now,
             "p": ["When are you open?"], "e": [], "r": []})
    expected = count(engine, "select count(*) from intents where user_id = :u", u=ALICE)
    at.run()
    names = list(at.dataframe[0].value["intent_name"])
    assert len(names) == expected and names[0] == "opening_hours_web"  # newest first
    fresh = open_screen(signed_in("alice"), "intents")
    assert list(fresh.dataframe[0].value["intent_name"]) == names


def test_a_warm_render_costs_one_call(backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """One function call per warm render (the versions), on the wire: an HTTP request over REST, a
    statement on the connection directly."""
    name, _ = backend
    at = signed_in("alice")
    calls: list[str] = []
    store = queries.store()
    if name == "rest":
        store._rest.session.event_hooks["request"].append(lambda req: calls.append(str(req.url.path)))
    else:
        original = store.call

        def call(uid: str, fn: str, params: dict, **kwargs: object) -> object:
            calls.append(fn)
            return original(uid, fn, params, **kwargs)

        monkeypatch.setattr(store, "call", call)
    for screen in ("stats", "tests", "intents", "assistants", "billing"):
        open_screen(at, screen)
        at.run()  # the first render of a screen may create the settings row: a write, so once more
        calls.clear()
        at.run()
        assert len(calls) == 1 and "dashboard_versions" in calls[0], (screen, calls, [e.value for e in at.error], [e.value for e in at.warning])


# -- the database goes away ---------------------------------------------------------------------

@pytest.fixture
def own_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, credentials: Path) -> Iterator[Cluster]:
    """A PostgreSQL of this test's own, which it may stop and start, with the demo data."""
    cluster = Cluster()
    url = cluster.start()
    _seed(url)
    _settings_env(monkeypatch, tmp_path, credentials, DATABASE_URL=url, DB_TIMEOUT_SECONDS="3")
    yield cluster
    cluster.stop()
    st.cache_resource.clear()
    st.cache_data.clear()


def _pg_ctl(cluster: Cluster, action: str) -> None:
    cluster._run("pg_ctl", "-D", str(cluster.data), "-l", str(cluster.dir / "log"), "-m", "immediate", "-w", action)


def test_unreachable_database_shows_cached_data_under_a_banner_and_pauses_saving(own_cluster: Cluster) -> None:
    at = signed_in("alice")
    open_screen(at, "billing")
    plan_text = " ".join(str(m.value) for m in at.markdown)
    open_screen(at, "intents")
    assert not at.warning
    _pg_ctl(own_cluster, "stop")

    at.run()  # the intents it showed stay, dated, and Save is off
    banner = [w.value for w in at.warning]
    assert banner and re.match(r"Showing data from \d\d:\d\d; the database is unreachable", banner[0]), banner
    assert len(at.dataframe[0].value) == 12  # alice's demo intents (lib.ops.demo.default_plans)
    assert next(b for b in at.button if b.label == "Save").disabled
    open_screen(at, "billing")
    assert " ".join(str(m.value) for m in at.markdown) == plan_text and at.warning
    at.switch_page("../pages/tests.py")  # never opened in this process: nothing cached to show
    at.run()
    shown = " ".join(str(e.value) for e in [*at.error, *at.warning])
    assert not at.exception
    assert "not reachable" in shown or "unreachable" in shown
    for secret in ("postgresql", "127.0.0.1", str(own_cluster.port), "Traceback", "psycopg"):
        assert secret not in shown

    _pg_ctl(own_cluster, "start")
    open_screen(at, "tests")
    assert not at.warning and not at.error
    assert metric(at, "Matching test calls") == f"{thirty_days(sa.create_engine(own_cluster.url)):,}"


def test_a_new_session_with_the_database_down_gets_a_clear_message(own_cluster: Cluster) -> None:
    _pg_ctl(own_cluster, "stop")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    next(t for t in at.text_input if t.label == "Username").input("alice")
    next(t for t in at.text_input if t.label == "Password").input("demo")
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception
    shown = " ".join(str(e.value) for e in at.error)
    assert "not reachable" in shown and "127.0.0.1" not in shown and "postgres" not in shown.lower()


# -- the Assistants toggle ---------------------------------------------------------------------

@pytest.fixture
def toggle_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, credentials: Path, pg_clean: str) -> Iterator[sa.Engine]:
    url = pg_clean
    _seed(url)
    _settings_env(monkeypatch, tmp_path, credentials, DATABASE_URL=url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()
    st.cache_resource.clear()


def _active(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("select is_active from assistant_settings where user_id = :u"),
                                 {"u": ALICE}).scalar_one())


def test_the_toggle_shows_a_change_made_elsewhere(toggle_app: sa.Engine) -> None:
    at = open_screen(signed_in("alice"), "assistants")
    assert at.toggle(key="assistant_active").value is True
    with toggle_app.begin() as conn:
        conn.execute(sa.text("update assistant_settings set is_active = false where user_id = :u"), {"u": ALICE})
    at.run()
    assert at.toggle(key="assistant_active").value is False


def test_a_failing_toggle_save_is_reported_and_the_toggle_put_back(toggle_app: sa.Engine) -> None:
    at = open_screen(signed_in("alice"), "assistants")
    with toggle_app.begin() as conn:  # the database now refuses every change of the settings
        conn.execute(sa.text("create function public.test_refuse() returns trigger language plpgsql as "
                             "$$ begin raise exception 'refused'; end $$"))
        conn.execute(sa.text("create trigger refuse before insert or update on assistant_settings "
                             "for each row execute function public.test_refuse()"))
    at.toggle(key="assistant_active").set_value(False).run()
    assert _active(toggle_app) is True and at.toggle(key="assistant_active").value is True  # it asks first
    at.button(key="assistant_pause_yes").click().run()
    assert not at.exception
    assert [e.value for e in at.error] and "was not paused" in at.error[0].value
    assert "refused" not in at.error[0].value.lower().replace("the database refused", "")  # no driver text
    assert at.toggle(key="assistant_active").value is True
    assert _active(toggle_app) is True
    with toggle_app.begin() as conn:
        conn.execute(sa.text("drop trigger refuse on assistant_settings"))
        conn.execute(sa.text("drop function public.test_refuse()"))
    at.toggle(key="assistant_active").set_value(False).run()
    at.button(key="assistant_pause_no").click().run()  # "Keep it on": nothing changes
    assert _active(toggle_app) is True and not at.success
    at.toggle(key="assistant_active").set_value(False).run()
    with toggle_app.connect() as conn:
        n = conn.execute(sa.text("select count(*) from assistants where user_id = :u"), {"u": ALICE}).scalar_one()
    assert any(f"Pause all {n} of your assistants?" in w.value for w in at.warning)  # how many it stops, named
    at.button(key="assistant_pause_yes").click().run()
    assert any("paused" in i.value for i in at.info) and not at.success  # neutral, no green tick
    assert _active(toggle_app) is False and at.toggle(key="assistant_active").value is False
    assert "paused" in at.toggle(key="assistant_active").label  # the label says the state it is in
    at.toggle(key="assistant_active").set_value(True).run()  # turning it back on needs no confirmation
    assert _active(toggle_app) is True and "on" in at.toggle(key="assistant_active").label

