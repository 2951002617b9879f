"""The PostgREST emulator itself, with raw HTTP: tokens and RLS, the 1,000-row cap, the protocol
subset and PostgREST's error shape.  The REST backend's tests trust these answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from tests.postgrest_server import MAX_ROWS, PostgrestServer, make_jwt
from tools import tables as schema

A, B = "user_emu_a", "user_emu_b"
NOW = datetime(2026, 11, 25, 12, 0, 0)
ERROR_KEYS = {"code", "message", "details", "hint"}


def secret() -> str:
    from tests.rest_fixtures import JWT_SECRET

    return JWT_SECRET


def bearer(role: str, sub: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_jwt(secret(), role, sub)}", "Accept": "application/json"}


SERVICE = "service_role"


@pytest.fixture
def http(rest_url: str, pg_clean: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rest_url + "/rest/v1", timeout=10) as client:
        yield client


@pytest.fixture
def seeded(engine: sa.Engine) -> dict[str, list[str]]:
    """Two intents for A, one for B; ids by user."""
    ids: dict[str, list[str]] = {A: [str(uuid.uuid4()), str(uuid.uuid4())], B: [str(uuid.uuid4())]}
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.intents), [
            {"id": i, "user_id": user, "intent_name": f"{user} {n}", "example_user_phrases": ["hi, there", "a*b"],
             "english_responses": [], "russian_responses": [], "created_at": NOW - timedelta(minutes=n),
             "updated_at": NOW}
            for user, user_ids in ids.items() for n, i in enumerate(user_ids)])
    return ids


def seed_tests(engine: sa.Engine, user: str, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), [
            {"id": str(uuid.uuid4()), "user_id": user, "assistant_id": "asst", "test_phrase": f"p{i}",
             "language": "english", "status": "completed", "created_at": NOW - timedelta(seconds=i),
             "updated_at": NOW} for i in range(n)])


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


# -- tokens ----------------------------------------------------------------------------------

def test_missing_invalid_and_expired_tokens_are_401(http: httpx.Client) -> None:
    assert_error(http.get("/intents"), 401, "PGRST302")
    assert_error(http.get("/intents", headers={"Authorization": "Bearer not.a.jwt"}), 401, "PGRST301")
    forged = make_jwt("another-secret-that-is-32-bytes-long!!", SERVICE)
    assert_error(http.get("/intents", headers={"Authorization": f"Bearer {forged}"}), 401, "PGRST301")
    expired = make_jwt(secret(), SERVICE, expires_in=-60)
    assert_error(http.get("/intents", headers={"Authorization": f"Bearer {expired}"}), 401, "PGRST303")
    superuser = make_jwt(secret(), "postgres")
    assert_error(http.get("/intents", headers={"Authorization": f"Bearer {superuser}"}), 401)
    assert http.get("/intents", headers=bearer(SERVICE)).status_code == 200


# -- row-level security from the bearer's claims ---------------------------------------------------

def test_authenticated_sees_only_own_rows(http: httpx.Client, seeded: dict[str, list[str]]) -> None:
    mine = http.get("/intents", params={"select": "id,user_id"}, headers=bearer("authenticated", A)).json()
    assert {r["id"] for r in mine} == set(seeded[A]) and {r["user_id"] for r in mine} == {A}
    aimed = http.get("/intents", params={"user_id": f"eq.{B}"}, headers=bearer("authenticated", A))
    assert aimed.status_code == 200 and aimed.json() == []
    everyone = http.get("/intents", params={"select": "id"}, headers=bearer(SERVICE)).json()
    assert len(everyone) == 3  # service_role bypasses RLS
    no_sub = http.get("/intents", headers=bearer("authenticated")).json()
    assert no_sub == []


def test_authenticated_cannot_change_another_users_rows(http: httpx.Client, seeded: dict[str, list[str]],
                                                        engine: sa.Engine) -> None:
    a_token = bearer("authenticated", A) | {"Prefer": "return=representation"}
    patched = http.patch("/intents", params={"user_id": f"eq.{B}"}, json={"intent_name": "hacked"}, headers=a_token)
    assert patched.status_code == 200 and patched.json() == []
    deleted = http.delete("/intents", params={"id": f"eq.{seeded[B][0]}"}, headers=a_token)
    assert deleted.status_code == 200 and deleted.json() == []
    forged = http.post("/intents", json={"user_id": B, "intent_name": "planted"}, headers=a_token)
    assert_error(forged, 403, "42501")  # new row violates row-level security policy
    moved = http.patch("/intents", params={"id": f"eq.{seeded[A][0]}"}, json={"user_id": B}, headers=a_token)
    assert_error(moved, 403, "42501")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.intents.c.user_id, schema.intents.c.intent_name)).all()
    assert sorted(rows) == sorted([(A, f"{A} 0"), (A, f"{A} 1"), (B, f"{B} 0")])
    own = http.patch("/intents", params={"id": f"eq.{seeded[A][0]}"}, json={"intent_name": "renamed"}, headers=a_token)
    assert own.status_code == 200 and [r["intent_name"] for r in own.json()] == ["renamed"]


def test_anon_gets_nothing(http: httpx.Client, seeded: dict[str, list[str]]) -> None:
    # PostgREST answers a permission error 401 to the anonymous role and 403 to a signed-in one.
    body = assert_error(http.get("/intents", headers=bearer("anon")), 401, "42501")
    assert "permission denied" in body["message"]
    assert_error(http.post("/rpc/dashboard_stats", json={"p_user_id": A}, headers=bearer("anon")), 401, "42501")
    assert_error(http.post("/intents", json={"user_id": A, "intent_name": "x"}, headers=bearer("anon")), 401)


def test_functions_check_the_caller(http: httpx.Client, seeded: dict[str, list[str]]) -> None:
    assert_error(http.post("/rpc/dashboard_stats", json={"p_user_id": B}, headers=bearer("authenticated", A)),
                 403, "42501")
    own = http.post("/rpc/dashboard_stats", json={"p_user_id": A}, headers=bearer("authenticated", A))
    assert own.status_code == 200 and own.json()["intents"] == 2
    assert http.post("/rpc/dashboard_stats", json={"p_user_id": B}, headers=bearer(SERVICE)).json()["intents"] == 1


# -- the 1,000-row cap ---------------------------------------------------------------------------

def test_responses_are_capped_at_1000_rows_with_the_true_count(http: httpx.Client, engine: sa.Engine) -> None:
    seed_tests(engine, A, 2500)
    seed_tests(engine, B, 3)
    counted = bearer(SERVICE) | {"Prefer": "count=exact"}
    params = {"select": "id", "user_id": f"eq.{A}", "order": "created_at.desc,id"}
    first = http.get("/assistant_tests", params=params, headers=counted)
    assert first.status_code == 206 and len(first.json()) == MAX_ROWS
    assert first.headers["content-range"] == "0-999/2500"
    uncounted = http.get("/assistant_tests", params=params, headers=bearer(SERVICE))
    assert uncounted.status_code == 200 and len(uncounted.json()) == MAX_ROWS
    assert uncounted.headers["content-range"] == "0-999/*"
    tail = http.get("/assistant_tests", params=params | {"offset": "2000", "limit": "5000"}, headers=counted)
    assert tail.status_code == 206 and len(tail.json()) == 500
    assert tail.headers["content-range"] == "2000-2499/2500"
    ranged = http.get("/assistant_tests", params=params, headers=counted | {"Range": "10-19", "Range-Unit": "items"})
    assert len(ranged.json()) == 10 and ranged.headers["content-range"] == "10-19/2500"
    head = http.head("/assistant_tests", params=params | {"limit": "1"}, headers=counted)
    assert head.status_code == 206 and head.content == b"" and head.headers["content-range"] == "0-0/2500"
    end = http.get("/assistant_tests", params=params | {"offset": "2500"}, headers=counted)
    assert end.status_code == 206 and end.json() == [] and end.headers["content-range"] == "*/2500"
    past = http.get("/assistant_tests", params=params | {"offset": "2501"}, headers=counted)
    assert_error(past, 416, "PGRST103")
    assert past.headers["content-range"] == "*/2500"
    small = http.get("/assistant_tests", params={"select": "id", "user_id": f"eq.{B}"}, headers=counted)
    assert small.status_code == 200 and small.headers["content-range"] == "0-2/3"
    none = http.get("/assistant_tests", params={"user_id": "eq.nobody"}, headers=counted)
    assert none.status_code == 200 and none.headers["content-range"] == "*/0"
    seen = {r["id"] for off in (0, 1000, 2000)
            for r in http.get("/assistant_tests", params=params | {"offset": str(off)}, headers=bearer(SERVICE)).json()}
    assert len(seen) == 2500


def test_the_cap_is_configurable(pg_clean: str, engine: sa.Engine) -> None:
    seed_tests(engine, A, 30)
    with PostgrestServer(pg_clean, secret(), max_rows=7) as url:
        r = httpx.get(url + "/rest/v1/assistant_tests", params={"limit": "20"},
                      headers=bearer(SERVICE) | {"Prefer": "count=exact"})
    assert len(r.json()) == 7 and r.headers["content-range"] == "0-6/30"


# -- filters, logic trees, writes ---------------------------------------------------------------------

def test_filters_and_logic_trees(http: httpx.Client, engine: sa.Engine) -> None:
    rows = [("t1", "a,b", "50% off", "english", "completed"), ("t2", "asst (1)", "under_score", None, None),
            ("t3", 'q"uote', "a*b star", "russian", "failed"), ("t4", "plain", "aXb", "english", "initiated")]
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), [
            {"id": str(uuid.uuid4()), "user_id": A, "assistant_id": aid, "test_phrase": phrase, "language": lang,
             "call_id": call, "status": status, "created_at": NOW - timedelta(hours=n), "updated_at": NOW}
            for n, (call, aid, phrase, lang, status) in enumerate(rows)])

    def calls(**params: str) -> list[str]:
        r = http.get("/assistant_tests", params={"select": "call_id", "order": "call_id", **params},
                     headers=bearer(SERVICE))
        assert r.status_code == 200, r.text
        return [x["call_id"] for x in r.json()]

    assert calls(assistant_id='in.("a,b","asst (1)","q\\"uote")') == ["t1", "t2", "t3"]
    assert calls(assistant_id="in.()") == []
    assert calls(language="is.null") == ["t2"]
    assert calls(language="not.is.null", status="neq.failed") == ["t1", "t4"]
    assert calls(test_phrase="ilike.%A*B%") == ["t3", "t4"]  # PostgREST: '*' is a wildcard in like patterns
    assert calls(test_phrase="like.%\\%%") == ["t1"]
    assert calls(test_phrase="imatch.A\\*B") == ["t3"]
    assert calls(created_at=f"gte.{(NOW - timedelta(hours=1)).isoformat()}") == ["t1", "t2"]
    assert calls(**{"or": f'(call_id.eq.t4,and(language.eq.english,created_at.gt."{(NOW - timedelta(hours=1)).isoformat()}"))'}) == ["t1", "t4"]
    assert calls(**{"not.or": "(status.is.null,status.in.(failed,initiated))"}) == ["t1"]
    assert calls(**{"and": "(call_id.gte.t2,not.or(call_id.eq.t3,call_id.eq.t4))"}) == ["t2"]
    r = http.get("/assistant_tests", params={"select": "call_id", "order": "language.desc.nullslast,call_id.desc"},
                 headers=bearer(SERVICE))
    assert [x["call_id"] for x in r.json()] == ["t3", "t4", "t1", "t2"]


def test_inserts_upserts_and_return_preferences(http: httpx.Client) -> None:
    service = bearer(SERVICE)
    minimal = http.post("/assistant_settings", json={"user_id": A, "is_active": True}, headers=service)
    assert minimal.status_code == 201 and minimal.content == b""
    duplicate = http.post("/assistant_settings", json={"user_id": A, "is_active": False}, headers=service)
    body = assert_error(duplicate, 409, "23505")
    assert "duplicate key" in body["message"] and body["details"]
    ignore = service | {"Prefer": "return=representation,resolution=ignore-duplicates"}
    ignored = http.post("/assistant_settings", params={"on_conflict": "user_id", "select": "is_active"},
                        json={"user_id": A, "is_active": False}, headers=ignore)
    assert ignored.status_code == 201 and ignored.json() == []
    merge = service | {"Prefer": "return=representation,resolution=merge-duplicates"}
    merged = http.post("/assistant_settings", params={"select": "user_id,is_active"},  # on the primary key
                       json={"user_id": A, "is_active": False}, headers=merge)
    assert merged.json() == [{"user_id": A, "is_active": False}]
    bulk = http.post("/intents", params={"columns": '"user_id","intent_name"', "select": "intent_name,english_responses"},
                     json=[{"user_id": A, "intent_name": "one"}, {"user_id": B, "intent_name": "two", "extra": 1}],
                     headers=service | {"Prefer": "return=representation,count=exact"})
    assert bulk.status_code == 201 and bulk.headers["content-range"] == "0-1/2"
    assert bulk.json() == [{"intent_name": "one", "english_responses": []}, {"intent_name": "two", "english_responses": []}]
    assert_error(http.post("/intents", json=[{"user_id": A, "intent_name": "x"}, {"user_id": A}], headers=service),
                 400, "PGRST102")
    gone = http.delete("/intents", params={"intent_name": "eq.one"}, headers=service)
    assert gone.status_code == 204 and gone.content == b""


# -- what the emulator refuses ------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {"id": "cs.{a}"},  # array containment
    {"intent_name": "fts.hello"},
    {"intent_name": "like(any).{a*,b*}"},
    {"or": "(intent_name.fts.x,id.eq.1)"},
    {"select": "id,assistants(*)"},  # embedding
    {"select": "name:intent_name"},  # alias
    {"select": "config->voice"},
    {"order": "config->a"},
    {"assistants.name": "eq.x"},  # filter on an embedded resource
    {"on_conflict": "id"},  # not a read parameter
])
def test_unsupported_operators_and_parameters_are_400(http: httpx.Client, params: dict[str, str]) -> None:
    body = assert_error(http.get("/intents", params=params, headers=bearer(SERVICE)), 400)
    assert body["code"] in ("EMU400", "PGRST100")
    if body["code"] == "EMU400":
        assert "not implemented by the PostgREST emulator" in body["message"]


@pytest.mark.parametrize("headers", [
    {"Prefer": "tx=rollback"},
    {"Prefer": "count=planned"},
    {"Prefer": "missing=default"},
    {"Accept": "text/csv"},
    {"Accept": "application/vnd.pgrst.object+json"},
    {"X-Custom-Header": "1"},
])
def test_unsupported_headers_are_400(http: httpx.Client, headers: dict[str, str]) -> None:
    body = assert_error(http.get("/intents", headers=bearer(SERVICE) | headers), 400, "EMU400")
    assert "not implemented" in body["message"]


def test_error_shapes_and_statuses(http: httpx.Client) -> None:
    service = bearer(SERVICE)
    assert_error(http.get("/nope", headers=service), 404, "PGRST205")
    assert_error(http.get("/intents", params={"select": "nope"}, headers=service), 400, "42703")
    assert_error(http.get("/intents", params={"id": "eq.not-a-uuid"}, headers=service), 400, "22P02")
    assert_error(http.get("/intents", params={"id": "is.maybe"}, headers=service), 400, "PGRST100")
    assert_error(http.get("/intents", params={"limit": "-1"}, headers=service), 400, "PGRST100")
    assert_error(http.get("/intents", params={"or": "(id.eq.1"}, headers=service), 400, "PGRST100")
    assert_error(http.get("/intents", headers=service | {"Accept-Profile": "auth"}), 406, "PGRST106")
    assert_error(http.post("/rpc/no_such_function", json={}, headers=service), 404, "PGRST202")
    assert_error(http.post("/rpc/dashboard_stats", json={"p_nope": 1}, headers=service), 404, "PGRST202")
    assert_error(http.get("/rpc/dashboard_stats", params={"p_user_id": A}, headers=service), 400, "EMU400")
    assert_error(http.post("/intents", content=b"{oops", headers=service | {"Content-Type": "application/json"}),
                 400, "PGRST102")
    conflict = http.post("/rpc/dashboard_save_intents", headers=service, json={
        "p_user_id": A, "p_deleted": [{"id": str(uuid.uuid4()), "updated_at": None}]})
    body = assert_error(conflict, 500, "40001")
    assert body["details"].startswith("[")
    assert_error(http.put("/intents", json={}, headers=service), 400, "EMU400")
