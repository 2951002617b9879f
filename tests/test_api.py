"""The HTTP API over real HTTP: ``streamlit run dashboard/server.py`` against a real PostgreSQL (the demo data
plus rows written here with SQL, as the web app or a call webhook would), requests with urllib.

Expected values come from SQL run here (counts, ids, the link key), never from the code under test."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest

from tests.e2e_support import App, seed_demo, serving_app
from tools.pgcluster import libpq_url, new_database

ALICE, BOB = "user_demo_alice", "user_demo_bob"
ENDPOINTS = ("tests.csv", "intents.csv", "intents.json", "stats.json", "failures.csv")
PER_MINUTE = 600
MARK = "zq" + uuid.uuid4().hex[:8]  # in every row written here, so a search finds exactly those rows


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[App]:
    with new_database(pg_url, prefix="api") as database_url:
        seed_demo(database_url)
        _seed_markers(database_url)
        env = {"API_REQUESTS_PER_MINUTE": str(PER_MINUTE)}
        with serving_app(tmp_path_factory.mktemp("api-app"), database_url, env=env) as running:
            yield running
    assert "Traceback" not in running.log_text(), running.log_text()[-4000:]


def _sql(app: App, statement: str, args: object = None) -> list[tuple]:
    with psycopg.connect(libpq_url(app.database_url), autocommit=True) as conn:
        cur = conn.execute(statement, args)
        return cur.fetchall() if cur.description else []


def _seed_markers(database_url: str) -> None:
    """For alice and bob each: an assistant, an intent and hostile test calls, all named after the user."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        for user in (ALICE, BOB):
            who = user.rsplit("_", 1)[-1]
            conn.execute("insert into assistants (user_id, vapi_assistant_id, name) values (%s, %s, %s)",
                         [user, f"asst_{who}_{MARK}", f"=HYPERLINK(\"x\") {who} {MARK}"])
            conn.execute("insert into intents (user_id, intent_name, example_user_phrases) values (%s, %s, %s)",
                         [user, f"{who}_{MARK}", [f"=cmd|' /C calc'!A0 {who}", f"{MARK} {who} фраза"]])
            for phrase in (f"=cmd|' /C calc'!A0 {who} {MARK}", f"+1+1 {who} {MARK}", f"@SUM(1) {who} {MARK}",
                           f"-2 {who} {MARK}", f"\tTab {who} {MARK}", f"line\r\nbreak, \"quoted\" {who} {MARK}",
                           f"'=already {who} {MARK}", f"Ёжик {who} {MARK} 🦔"):
                conn.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, language, status, "
                             "created_at) values (%s, %s, %s, 'russian', 'failed', timezone('utc', now()))",
                             [user, f"asst_{who}_{MARK}", phrase])


def _token(app: App, user: str, *, days: int = 30) -> tuple[str, str]:
    """A new personal access token of ``user`` (made as the Export screen makes it) and its id."""
    from lib.store.api_access import ApiAccess
    from lib.store.direct import DirectStore

    store = DirectStore(libpq_url(app.database_url))
    try:
        token, row = ApiAccess(store, user).create_token(f"test {uuid.uuid4().hex[:6]}", days)
    finally:
        store.close()
    return token, row.id


def get(app: App, path: str, token: str | None = None, headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(app.url + path, headers={**({"Authorization": f"Bearer {token}"} if token else {}),
                                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def _url(endpoint: str, **query: str) -> str:
    return f"/api/v1/{endpoint}" + ("?" + urlencode(query, quote_via=quote) if query else "")


# -- tenancy ------------------------------------------------------------------------------------------

FILTERS = [{}, {"period": "all"}, {"period": "all", "q": MARK}, {"period": "7d", "status": "failed"},
           {"period": "all", "language": "russian,english"}, {"period": "custom", "from": "2000-01-01", "to": "2100-12-31"}]


@pytest.mark.parametrize("me, other", [(ALICE, BOB), (BOB, ALICE)])
def test_a_token_reads_only_its_users_data(app: App, me: str, other: str) -> None:
    token, _id = _token(app, me)
    mine, theirs = me.rsplit("_", 1)[-1], other.rsplit("_", 1)[-1]
    other_ids = {str(r[0]) for r in _sql(app, "select id from assistant_tests where user_id = %s union all "
                                              "select id from intents where user_id = %s", [other, other])}
    for endpoint in ENDPOINTS:
        for filters in [*FILTERS, {"period": "all", "assistant": f"asst_{theirs}_{MARK}"},
                        {"period": "all", "phrase": f"+1+1 {theirs} {MARK}"}, {"q": f"{theirs}_{MARK}"}]:
            allowed = {"intents.csv": {"q"}, "intents.json": {"q"}}.get(endpoint)
            if allowed is not None and set(filters) - allowed:
                continue
            if endpoint == "failures.csv":
                filters = {k: v for k, v in filters.items() if k not in ("status", "phrase")}
            status, _h, body = get(app, _url(endpoint, **filters), token)
            assert status == 200, (endpoint, filters, body[:300])
            text = body.decode("utf-8")
            assert f"{theirs} {MARK}" not in text and f"{theirs}_{MARK}" not in text, (endpoint, filters)
            assert not any(i in text for i in other_ids), (endpoint, filters)
        if endpoint != "stats.json":
            _s, _h, body = get(app, _url(endpoint, q=MARK) if endpoint.startswith("intents") else
                               _url(endpoint, period="all", q=MARK), token)
            assert MARK in body.decode("utf-8") and mine in body.decode("utf-8"), endpoint  # my own rows are there


def test_tests_csv_has_exactly_the_users_rows(app: App) -> None:
    token, _id = _token(app, BOB)
    _s, _h, body = get(app, _url("tests.csv", period="all"), token)
    ids = {row[0] for row in list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))[1:]}
    expected = {str(r[0]) for r in _sql(app, "select id from assistant_tests where user_id = %s", [BOB])}
    assert ids == expected


def test_stats_json_days_are_local_days_in_tz(app: App) -> None:
    """stats.json's days are the local days of its tz (the screens' one clock), counted here by `at time zone`."""
    token, _id = _token(app, ALICE)
    for tz in ("Europe/Moscow", "America/Los_Angeles"):
        status, _h, body = get(app, _url("stats.json", period="30d", tz=tz), token)
        assert status == 200, body[:300]
        doc = json.loads(body)
        days: dict[str, int] = {}
        for d in doc["tests_per_day"]:
            days[d["day"]] = days.get(d["day"], 0) + d["count"]
        local = "(created_at at time zone 'UTC' at time zone %s)"
        expected = {str(day): n for day, n in _sql(
            app, f"select {local}::date, count(*) from assistant_tests where user_id = %s and {local}::date "
                 f"between ((now() at time zone %s)::date - 29) and (now() at time zone %s)::date group by 1",
            [tz, ALICE, tz, tz, tz])}
        assert days == expected, tz
        assert doc["tests"] == sum(expected.values()), tz


# -- credentials -------------------------------------------------------------------------------------

def test_every_refused_token_gets_the_same_401(app: App) -> None:
    live, _live_id = _token(app, ALICE)
    revoked, revoked_id = _token(app, ALICE)
    expired, expired_id = _token(app, ALICE)
    _sql(app, "update api_tokens set revoked_at = timezone('utc', now()) where id = %s", [revoked_id])
    _sql(app, "update api_tokens set expires_at = timezone('utc', now()) - interval '1 second' where id = %s",
         [expired_id])
    tampered = live[:-1] + ("A" if live[-1] != "A" else "B")
    refused = [revoked, expired, tampered, "ghp_" + live[4:], "xad_" + live[4:], live[:-1], "vad_", "", "Bearer",
               live.upper()]
    bodies = set()
    for token in refused:
        status, headers, body = get(app, "/api/v1/intents.csv", headers={"Authorization": f"Bearer {token}"})
        assert status == 401, token
        assert headers["content-type"] == "application/problem+json"
        bodies.add(body)
    status, headers, body = get(app, "/api/v1/intents.csv")
    assert status == 401
    bodies.add(body)
    assert len(bodies) == 1, bodies
    problem = json.loads(bodies.pop())
    assert problem["status"] == 401 and problem["title"] and "select" not in json.dumps(problem).lower()
    assert get(app, "/api/v1/intents.csv", live)[0] == 200  # the same request with the live token


def test_revocation_is_at_once_and_last_use_is_recorded(app: App) -> None:
    token, token_id = _token(app, ALICE)
    assert get(app, "/api/v1/intents.json", token)[0] == 200
    used = _sql(app, "select last_used_at from api_tokens where id = %s", [token_id])[0][0]
    assert used is not None
    from lib.store.api_access import ApiAccess
    from lib.store.direct import DirectStore

    store = DirectStore(libpq_url(app.database_url))
    try:
        assert ApiAccess(store, ALICE).revoke_token(token_id)
        assert not ApiAccess(store, BOB).revoke_token(token_id)  # not bob's to revoke
    finally:
        store.close()
    assert get(app, "/api/v1/intents.json", token)[0] == 401


def test_no_user_reads_a_hash(app: App) -> None:
    _token(app, ALICE)
    with psycopg.connect(libpq_url(app.database_url)) as conn:
        conn.execute("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                     [json.dumps({"sub": ALICE, "role": "authenticated"})])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select token_hash from api_tokens")
        conn.rollback()
        conn.execute("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                     [json.dumps({"sub": BOB, "role": "authenticated"})])
        assert conn.execute("select count(*) from api_tokens where user_id = %s", [ALICE]).fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select public.api_token_user(repeat('a', 64))")


def test_at_most_20_active_tokens(app: App) -> None:
    from lib.store.api_access import ApiAccess, TooManyTokens
    from lib.store.direct import DirectStore

    user = "user_api_limit"
    store = DirectStore(libpq_url(app.database_url))
    try:
        access = ApiAccess(store, user)
        made = [access.create_token(f"t{n}", 30)[1] for n in range(20)]
        with pytest.raises(TooManyTokens):
            access.create_token("one too many", 90)
        access.revoke_token(made[0].id)
        access.create_token("replaces the revoked one", 365)
    finally:
        store.close()
    assert _sql(app, "select count(*) from api_tokens where user_id = %s and revoked_at is null", [user])[0][0] == 20


# -- signed links ---------------------------------------------------------------------------------------

def _link(app: App, user: str, endpoint: str, query: str, days: int = 7) -> str:
    from lib.screens.api_panel import signed_url
    from lib.store.api_access import ApiAccess
    from lib.store.direct import DirectStore

    store = DirectStore(libpq_url(app.database_url))
    try:
        return signed_url(ApiAccess(store, user), "", endpoint, query, days)
    finally:
        store.close()


def test_signed_link_works_and_any_changed_byte_is_403(app: App) -> None:
    link = _link(app, ALICE, "tests.csv", f"period=all&q={MARK}&status=failed")
    token, _id = _token(app, ALICE)
    status, _h, body = get(app, link)
    assert status == 200
    assert body == get(app, _url("tests.csv", period="all", q=MARK, status="failed"), token)[2]
    start = len("/api/v1/")
    for i in range(start, len(link)):
        for replacement in {"0", "a", "Z", "%"} - {link[i]}:
            changed = link[:i] + replacement + link[i + 1:]
            status, headers, _b = get(app, changed)
            assert status == 403, (changed, status)
            assert headers["content-type"] == "application/problem+json"
            break  # one replacement per position keeps the test short; every position is changed


def test_expired_link_is_410_and_rotation_revokes(app: App) -> None:
    link = _link(app, BOB, "intents.csv", "")
    assert get(app, link)[0] == 200
    # a genuine signature (the key read by the superuser, HMAC computed here) on an expiry in the past
    key = bytes(_sql(app, "select key from dashboard_private.link_keys where user_id = %s", [BOB])[0][0])
    exp = int(time.time()) - 5
    message = "\n".join(["vad-link-v1", BOB, "/api/v1/intents.csv", "", str(exp)]).encode()
    sig = hmac.new(key, message, hashlib.sha256).hexdigest()
    expired = "/api/v1/intents.csv?" + urlencode({"exp": exp, "sig": sig, "u": BOB})
    status, _h, body = get(app, expired)
    assert status == 410, body
    future = "/api/v1/intents.csv?" + urlencode({"exp": exp + 86400, "sig": hmac.new(key, message.replace(
        str(exp).encode(), str(exp + 86400).encode()), hashlib.sha256).hexdigest(), "u": BOB})
    assert get(app, future)[0] == 200  # the same HMAC, written independently, is accepted
    _sql(app, "select set_config('role', 'authenticated', false), set_config('request.jwt.claims', %s, false), "
              "public.dashboard_api_rotate_link_key()", [json.dumps({"sub": BOB, "role": "authenticated"})])
    assert get(app, link)[0] == 403
    assert get(app, future)[0] == 403


# -- conditional requests -------------------------------------------------------------------------------

def test_etag_304_then_200_after_a_webhook_insert(app: App) -> None:
    token, _id = _token(app, BOB)
    path = _url("tests.csv", period="7d", q=MARK)
    status, headers, body = get(app, path, token)
    assert status == 200 and headers["etag"]
    status, again, body304 = get(app, path, token, {"If-None-Match": headers["etag"]})
    assert status == 304 and body304 == b"" and again["etag"] == headers["etag"]
    head = urllib.request.Request(app.url + path, method="HEAD", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(head, timeout=30) as resp:
        assert resp.status == 200 and resp.headers["etag"] == headers["etag"] and resp.read() == b""
    new_id = str(uuid.uuid4())
    _sql(app, "insert into assistant_tests (id, user_id, assistant_id, test_phrase, language, status, created_at) "
              "values (%s, %s, 'asst_webhook', %s, 'english', 'completed', timezone('utc', now()))",
         [new_id, BOB, f"webhook {MARK}"])
    status, after, body2 = get(app, path, token, {"If-None-Match": headers["etag"]})
    assert status == 200 and after["etag"] != headers["etag"]
    assert new_id.encode() in body2 and new_id.encode() not in body
    # another user's write changes nothing for bob
    _sql(app, "insert into assistant_tests (user_id, assistant_id, test_phrase) values (%s, 'asst_x', 'x')", [ALICE])
    assert get(app, path, token, {"If-None-Match": after["etag"]})[0] == 304


# -- limits, errors, log --------------------------------------------------------------------------------

def test_rate_limit_answers_429_with_retry_after(app: App) -> None:
    token, _id = _token(app, ALICE)
    _s, headers, _b = get(app, "/api/v1/intents.json", token)
    tag = headers["etag"]
    sent = 0
    while sent < PER_MINUTE + 50:
        status, headers, body = get(app, "/api/v1/intents.json", token, {"If-None-Match": tag})
        if status == 429:
            break
        assert status == 304
        sent += 1
    assert status == 429, "no 429 after more requests than the limit"
    assert sent >= PER_MINUTE - 5  # not before the limit (the bucket refills a little meanwhile)
    assert int(headers["retry-after"]) >= 1
    assert json.loads(body)["status"] == 429
    other, _id = _token(app, ALICE)
    assert get(app, "/api/v1/intents.json", other)[0] == 200  # per token, not per user


def test_bad_query_is_400_problem(app: App) -> None:
    token, _id = _token(app, ALICE)
    for path in ("/api/v1/tests.csv?period=yesterday", "/api/v1/tests.csv?status=done", "/api/v1/tests.csv?x=1",
                 "/api/v1/intents.csv?period=7d", "/api/v1/stats.json?period=7d&period=30d",
                 "/api/v1/tests.csv?tz=Mars/Olympus", "/api/v1/failures.csv?limit=0"):
        status, headers, body = get(app, path, token)
        assert status == 400, path
        problem = json.loads(body)
        assert headers["content-type"] == "application/problem+json" and problem["errors"], path
    assert get(app, "/api/v1/nothing.csv", token)[0] == 404


def test_request_log_names_the_token_id_never_the_token(app: App) -> None:
    token, token_id = _token(app, BOB)
    get(app, _url("intents.csv", q=MARK), token)
    get(app, _url("tests.csv", period="all"), token)
    log = app.log_text()
    assert token not in log and token[4:] not in log
    rows = _sql(app, "select count(*) from assistant_tests where user_id = %s", [BOB])[0][0]
    for line in (f"token={token_id} user={BOB} endpoint=/api/v1/intents.csv status=200 rows=1 ",
                 f"token={token_id} user={BOB} endpoint=/api/v1/tests.csv status=200 rows={rows} "):
        deadline = time.monotonic() + 5
        while line not in app.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert line in app.log_text(), line


def test_openapi_document_and_schemathesis(app: App, tmp_path: Path) -> None:
    status, _headers, body = get(app, "/api/v1/openapi.json")
    doc = json.loads(body)
    assert status == 200 and set(doc["paths"]) == {f"/api/v1/{e}" for e in ENDPOINTS}
    token, _id = _token(app, ALICE)
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{app.url}/api/v1/openapi.json", "-u", app.url,
         "-H", f"Authorization: Bearer {token}", "--max-examples", "8", "--seed", "21", "--no-color",
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "30",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                     "response_schema_conformance,response_headers_conformance"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


# -- the Export screen: the API access section, and the API's bytes against the Download buttons' ----------------

@pytest.fixture
def page(browser, app: App):
    from tests.e2e_support import VIEWPORT

    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-US", timezone_id="UTC",
                                  base_url=app.url)
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def _signed_in(page, path: str, user: str = "alice") -> None:
    from tests.e2e_support import settle, sign_in, wait_for_gate

    page.goto(path)
    if not wait_for_gate(page):
        sign_in(page, user, "demo", user.capitalize())
    settle(page)


@pytest.mark.browser
def test_csv_equals_the_download_buttons_bytes(page, app: App) -> None:
    from playwright.sync_api import expect

    from tests.e2e_support import download, settle

    token, _id = _token(app, ALICE)
    _signed_in(page, f"/export?period=all&q={MARK}")
    prepare = page.get_by_role("button", name="Prepare CSV of 8 test calls")
    prepare.click()
    label = "Download tests.csv (8 rows)"
    expect(page.get_by_role("button", name=label, exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    button = download(page, label)
    status, _h, api = get(app, _url("tests.csv", period="all", q=MARK), token)
    assert status == 200 and api == button
    assert all(c in api for c in (b"'=cmd|", b"'+1+1", b"'@SUM", b"'-2", b"'=HYPERLINK", b"'\tTab"))  # neutralized

    page.get_by_test_id("stRadio").filter(has=page.get_by_text("Table", exact=True)).get_by_text(
        "Intents", exact=True).click()
    settle(page)
    page.get_by_label("Name or phrase contains", exact=True).fill(MARK)
    page.get_by_label("Name or phrase contains", exact=True).press("Enter")
    settle(page)
    button = download(page, "Download CSV")
    status, _h, api = get(app, _url("intents.csv", q=MARK), token)
    assert status == 200 and api == button and MARK.encode() in api


@pytest.mark.browser
def test_api_access_section_creates_lists_and_revokes(page, app: App) -> None:
    from playwright.sync_api import expect

    from tests.e2e_support import screenshot, settle

    _signed_in(page, "/export", "bob")
    page.get_by_text("API access: pull your data", exact=False).click()
    settle(page)
    name = f"laptop {uuid.uuid4().hex[:8]}"
    page.get_by_label("Token name", exact=True).fill(name)
    page.get_by_role("button", name="Create token", exact=True).click()
    settle(page)
    expect(page.get_by_text("Copy it now", exact=False)).to_be_visible()
    token = page.get_by_test_id("stCode").first.inner_text().strip()
    assert token.startswith("vad_") and len(token) == 47
    assert token in page.get_by_test_id("stCode").nth(1).inner_text()  # the curl example carries it
    stored = _sql(app, "select token_hash, expires_at - created_at from api_tokens where user_id = %s and name = %s",
                  [BOB, name])
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(), stored[0][1])] and stored[0][1].days == 90
    status, _h, body = get(app, "/api/v1/intents.csv", token)
    assert status == 200 and f"bob_{MARK}".encode() in body
    screenshot(page, "api-access")
    page.get_by_role("button", name="I have copied it", exact=True).click()
    settle(page)
    expect(page.get_by_text(token, exact=True)).to_have_count(0)  # shown once
    expect(page.get_by_text(name, exact=True)).to_have_count(1)  # the list (a grid: its accessible table)
    page.get_by_label("Token to revoke", exact=True).click()
    page.get_by_role("option", name=f"{name} (…{token[-4:]})", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Revoke", exact=True).click()
    settle(page)
    assert _sql(app, "select revoked_at is not null from api_tokens where user_id = %s and name = %s", [BOB, name]) \
        == [(True,)]
    assert get(app, "/api/v1/intents.csv", token)[0] == 401


def test_exports_beyond_the_slots_get_503_with_retry_after(tmp_path: Path, pg_url: str) -> None:
    """EXPORT_CONCURRENCY=1: an export whose client does not read holds the one slot (it waits for the client,
    its memory bounded); another export is refused with 503 and Retry-After; once the first is gone, it runs."""
    with new_database(pg_url, prefix="api_slots") as database_url:
        seed_demo(database_url)
        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            conn.execute("insert into assistant_tests (user_id, assistant_id, test_phrase, created_at) "
                         "select %s, 'asst_many', repeat('x', 600) || i, timezone('utc', now()) "
                         "from generate_series(1, 100000) i", [ALICE])
        with serving_app(tmp_path, database_url, env={"EXPORT_CONCURRENCY": "1"}) as slots_app:
            token, _id = _token(slots_app, ALICE)
            request = urllib.request.Request(slots_app.url + "/api/v1/tests.csv?period=all",
                                             headers={"Authorization": f"Bearer {token}"})
            holder = urllib.request.urlopen(request, timeout=60)  # headers read, body left unread
            try:
                assert holder.status == 200
                status, headers, body = get(slots_app, "/api/v1/tests.csv?period=all", token)
                assert status == 503 and int(headers["retry-after"]) >= 1, (status, body[:200])
                assert json.loads(body)["type"].endswith("busy")
                assert get(slots_app, "/api/v1/intents.csv", token)[0] == 200  # not an export: never queued
            finally:
                holder.close()
            deadline = time.monotonic() + 30
            while (status := get(slots_app, "/api/v1/tests.csv?period=all&q=x1", token)[0]) == 503:
                assert time.monotonic() < deadline, "the slot was never given back"
            assert status == 200


def test_a_clerk_session_token_reads_its_users_data(tmp_path: Path, pg_url: str) -> None:
    """AUTH_MODE=clerk: the web app's session token (RS256, verified as at sign-in) stands for its ``sub``; a
    token signed by another key, or expired, gets the same 401 as a bad personal token."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def session(signer, sub: str = BOB, exp: int = 60) -> str:
        now = int(time.time())
        return jwt.encode({"sub": sub, "iat": now - 1, "nbf": now - 1, "exp": now + exp}, signer, algorithm="RS256")

    with new_database(pg_url, prefix="api_clerk") as database_url:
        seed_demo(database_url)
        _seed_markers(database_url)
        with serving_app(tmp_path, database_url, env={"AUTH_MODE": "clerk", "CLERK_JWT_KEY": pem}) as clerk_app:
            status, headers, body = get(clerk_app, _url("intents.csv", q=MARK), session(key))
            assert status == 200 and f"bob_{MARK}".encode() in body and f"alice_{MARK}".encode() not in body
            refused = {get(clerk_app, "/api/v1/intents.csv", t)[2]
                       for t in (session(other), session(key, exp=-120), "vad_" + "A" * 43)}
            assert len(refused) == 1 and json.loads(refused.pop())["status"] == 401
            assert get(clerk_app, "/api/v1/intents.csv", session(key),
                       {"If-None-Match": headers["etag"]})[0] == 200  # another query: another tag
            assert get(clerk_app, _url("intents.csv", q=MARK), session(key), {"If-None-Match": headers["etag"]})[0] == 304


@pytest.mark.browser
def test_api_access_section_makes_and_revokes_signed_links(page, app: App) -> None:
    from playwright.sync_api import expect

    from tests.e2e_support import screenshot, settle

    _signed_in(page, "/export", "alice")
    page.get_by_text("API access: pull your data", exact=False).click()
    settle(page)
    page.get_by_label("Filters (as in the screen's URL)", exact=True).fill(f"period=all&q={MARK}")
    page.get_by_role("button", name="Create link", exact=True).click()
    settle(page)
    link = page.get_by_test_id("stCode").first.inner_text().strip()
    assert link.startswith(app.url + "/api/v1/tests.csv?") and "sig=" in link
    path = link.removeprefix(app.url)
    status, _h, body = get(app, path)
    assert status == 200 and f"alice {MARK}".encode() in body and f"bob {MARK}".encode() not in body
    expect(page.get_by_text(f"period=all&q={MARK}", exact=True)).to_have_count(1)  # listed
    screenshot(page, "api-access-links")
    page.get_by_role("button", name="Revoke all signed links", exact=True).click()
    settle(page)
    assert get(app, path)[0] == 403
