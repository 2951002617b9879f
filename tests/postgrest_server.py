"""A stand-in for Supabase's PostgREST, for the test suite, on the suite's real PostgreSQL.

It serves on 127.0.0.1 what the dashboard's REST transport and the tests use, with PostgREST's
semantics (v12), so the REST transport runs against the same schema, roles, grants and row-level
security as production, without Docker or a Supabase project:

* ``POST /rest/v1/rpc/<fn>`` with named JSON arguments, for functions that return one value (the
  ``dashboard_*`` functions return one jsonb): how the dashboard reads and writes;
* ``GET /rest/v1/<table>`` with ``select=`` (``*`` or column names) and ``col=eq.value`` filters, and
  ``POST`` (insert one object or an array), ``PATCH`` and ``DELETE`` with ``eq`` filters: what
  tests/test_grants.py tries as a signed-in user holding their own token;
* every request runs in its own transaction as the role of its bearer JWT (HS256, the server's
  secret): ``set_config('role', ...)`` and ``set_config('request.jwt.claims', ...)``, so RLS applies;
* errors as PostgREST's JSON ``{"code", "message", "details", "hint"}`` with PostgREST's statuses
  (SQLSTATE 23505 -> 409, 42501 -> 401 for anon / 403 otherwise, 40001 -> 500, ...).

Failure modes for the tests (``PostgrestServer.inject(Fault(...))``): an HTTP status with a gateway's
non-JSON body (500, 502, 503, 504), a slow answer (beyond the client's timeout), a dropped connection
(no answer at all) and a malformed JSON body, each either before the request runs or after it ran and
committed (``after=True``: the answer to a write is lost).  ``PostgrestServer.requests`` logs every
request as (method, path), so a test can count tries.

Anything else -- another operator, query parameter, ``Prefer`` value, a set-returning function -- is
answered 400 (code ``EMU400``) naming what is missing, so the transport cannot come to rely on
something this stand-in would only fake.  SQL is composed with ``psycopg.sql`` only: identifiers as
``sql.Identifier``, values as bound parameters.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import psycopg
from psycopg import sql

SCHEMA = "public"
ROLES = ("anon", "authenticated", "service_role")
ANON_ROLE = "anon"
NOT_IMPLEMENTED = "EMU400"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def make_jwt(secret: str, role: str, sub: str | None = None, *, expires_in: int = 3600, **claims: Any) -> str:
    """An HS256 token as Supabase mints them: ``role`` (anon / authenticated / service_role), ``sub``."""
    now = int(time.time())
    payload: dict[str, Any] = {"role": role, "iat": now, "exp": now + expires_in, **claims}
    if sub is not None:
        payload["sub"] = sub
    return jwt.encode(payload, secret, algorithm="HS256")


class PgrstError(Exception):
    """An error response in PostgREST's shape."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None,
                 hint: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.hint = status, code, message, details, hint
        self.headers = headers or {}

    def body(self) -> bytes:
        return json.dumps({"code": self.code, "details": self.details, "hint": self.hint,
                           "message": self.message}).encode()


def _unsupported(what: str) -> PgrstError:
    return PgrstError(400, NOT_IMPLEMENTED, f"{what} is not implemented by the PostgREST stand-in",
                      hint="See the supported subset in tests/postgrest_server.py")


def _status_for(sqlstate: str, role: str) -> int:
    """PostgREST's mapping of SQLSTATE to HTTP status."""
    exact = {"23503": 409, "23505": 409, "25006": 405, "P0001": 400, "42883": 404, "42P01": 404,
             "42P17": 500, "57014": 500}
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "42501":
        return 401 if role == ANON_ROLE else 403
    prefixes = {"08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500,
                "39": 500, "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500,
                "F0": 500, "HV": 500, "P0": 500, "XX": 500}
    return prefixes.get(sqlstate[:2], 400)


def _column(name: str) -> sql.Identifier:
    if not _IDENT.match(name):
        raise _unsupported(f"the column expression {name!r}")
    return sql.Identifier(name)


@dataclass
class _Request:
    method: str
    name: str
    query: list[tuple[str, str]]
    body: bytes
    role: str
    claims: dict[str, Any]
    representation: bool  # Prefer: return=representation


def _prefer(values: list[str]) -> bool:
    representation = False
    for value in values:
        for item in (p.strip() for p in value.split(",")):
            if item == "return=representation":
                representation = True
            elif item and item != "return=minimal":
                raise _unsupported(f"the preference {item!r}")
    return representation


def _query(req: _Request, allowed: set[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A table request's ``select``/``columns`` and its ``col=eq.value`` filters."""
    single: dict[str, str] = {}
    filters: list[tuple[str, str]] = []
    for key, value in req.query:
        if key in allowed and key not in single:
            single[key] = value
        elif _IDENT.match(key) and key not in ("select", "columns") and value.startswith("eq."):
            filters.append((key, value.removeprefix("eq.")))
        else:
            raise _unsupported(f"the query parameter {key}={value!r} on {req.method}")
    return single, filters


def _where(filters: list[tuple[str, str]]) -> tuple[sql.Composable, dict[str, Any]]:
    params = {f"p{i}": v for i, (_, v) in enumerate(filters)}
    conds = [sql.SQL("_t.{} = {}").format(_column(c), sql.Placeholder(f"p{i}")) for i, (c, _) in enumerate(filters)]
    return (sql.SQL(" AND ").join(conds) if conds else sql.SQL("TRUE")), params


def _returning(single: dict[str, str]) -> sql.Composable:
    raw = single.get("select", "*")
    items = raw.split(",")
    return sql.SQL(", ").join(sql.SQL("_t.*") if s == "*" else sql.SQL("_t.{}").format(_column(s)) for s in items)


# -- the database side -------------------------------------------------------------------------

class _Pool:
    """A few reusable autocommit connections; every request gets its own transaction on one."""

    def __init__(self, conninfo: str, size: int) -> None:
        self._conninfo = conninfo
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self._slots.acquire(timeout=30):
            raise PgrstError(504, "PGRST003", "Timed out acquiring connection from connection pool.")
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                try:
                    conn = psycopg.connect(self._conninfo, autocommit=True, application_name="postgrest-stand-in")
                except psycopg.OperationalError as err:
                    raise PgrstError(503, "PGRST000", "Database client error. Retrying the connection.",
                                     str(err)) from err
            yield conn
        finally:
            if conn is not None:
                if self._closed or conn.broken or conn.closed or \
                        conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.close()
                else:
                    self._idle.put(conn)
            self._slots.release()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class _App:
    def __init__(self, conninfo: str, jwt_secret: str, pool_size: int) -> None:
        self.secret = jwt_secret
        self.pool = _Pool(conninfo, pool_size)

    def authenticate(self, headers: Any) -> tuple[str, dict[str, Any]]:
        auth = headers.get("Authorization")
        www = {"WWW-Authenticate": "Bearer"}
        if not auth:
            raise PgrstError(401, "PGRST302", "Anonymous access is disabled", headers=www)
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise PgrstError(401, "PGRST301", "No suitable key or wrong key type", headers=www)
        try:
            claims = jwt.decode(token.strip(), self.secret, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.ExpiredSignatureError as err:
            raise PgrstError(401, "PGRST303", "JWT expired", headers=www) from err
        except jwt.PyJWTError as err:
            raise PgrstError(401, "PGRST301", "JWSError JWSInvalidSignature", headers=www) from err
        role = claims.get("role", ANON_ROLE)
        if role not in ROLES:
            raise PgrstError(401, "PGRST301", f"role {role!r} is not allowed by the stand-in", headers=www)
        return role, claims

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(target)
        parts = url.path.split("/")
        if len(parts) == 5 and parts[:4] == ["", "rest", "v1", "rpc"] and _IDENT.match(parts[4]):
            kind = "rpc"
        elif len(parts) == 4 and parts[:3] == ["", "rest", "v1"] and _IDENT.match(parts[3]):
            kind = "table"
        else:
            raise _unsupported(f"the path {url.path!r}")
        if headers.get("Range") is not None:
            raise _unsupported("the Range header")
        for key in ("Accept-Profile", "Content-Profile"):
            if headers.get(key) not in (None, SCHEMA):
                raise PgrstError(406, "PGRST106", f"The schema must be one of the following: {SCHEMA}")
        role, claims = self.authenticate(headers)
        query = parse_qsl(url.query, keep_blank_values=True)
        req = _Request(method, parts[-1], query, body, role, claims, _prefer(headers.get_all("Prefer") or []))
        if kind == "rpc":
            if method != "POST" or query:
                raise _unsupported(f"{method} with query parameters on functions (only POST with a JSON body)")
            return self.run(req, self.rpc)
        handlers = {"GET": self.read, "POST": self.insert, "PATCH": self.update, "DELETE": self.delete}
        if method not in handlers:
            raise _unsupported(f"the method {method}")
        return self.run(req, handlers[method])

    def run(self, req: _Request, fn: Any) -> tuple[int, dict[str, str], bytes]:
        with self.pool.connection() as conn:
            try:
                with conn.transaction():
                    conn.execute("select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
                                 [req.role, json.dumps(req.claims)])
                    return fn(conn, req)
            except psycopg.Error as err:
                if err.sqlstate is None:
                    raise PgrstError(503, "PGRST000", "Database client error. Retrying the connection.") from err
                diag = err.diag
                raise PgrstError(_status_for(err.sqlstate, req.role), err.sqlstate,
                                 diag.message_primary or "database error", diag.message_detail,
                                 diag.message_hint) from err

    @staticmethod
    def relation(conn: psycopg.Connection, name: str) -> sql.Identifier:
        if conn.execute("select to_regclass(%s)", [f"{SCHEMA}.{name}"]).fetchone() == (None,):
            raise PgrstError(404, "PGRST205", f"Could not find the table '{SCHEMA}.{name}' in the schema cache")
        return sql.Identifier(SCHEMA, name)

    @staticmethod
    def json_body(req: _Request) -> Any:
        try:
            return json.loads(req.body or b"")
        except ValueError as err:
            raise PgrstError(400, "PGRST102", "Empty or invalid json") from err

    # -- tables (test_grants: what a signed-in user may and may not do with their token) ---------------

    def read(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        table = self.relation(conn, req.name)
        single, filters = _query(req, {"select"})
        where, params = _where(filters)
        stmt = sql.SQL("SELECT coalesce(json_agg(_r), '[]')::text FROM (SELECT {} FROM {} AS _t WHERE {}) AS _r"
                       ).format(_returning(single), table, where)
        (body,) = conn.execute(stmt, params).fetchone()
        return 200, {}, body.encode()

    def mutated(self, conn: psycopg.Connection, req: _Request, stmt: sql.Composable, params: dict[str, Any],
                created: bool) -> tuple[int, dict[str, str], bytes]:
        (body,) = conn.execute(sql.SQL("WITH _m AS ({}) SELECT coalesce(json_agg(_m), '[]')::text FROM _m"
                                       ).format(stmt), params).fetchone()
        if req.representation:
            return (201 if created else 200), {}, body.encode()
        return (201 if created else 204), {}, b""

    def insert(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        table = self.relation(conn, req.name)
        single, _ = _query(req, {"select", "columns"})
        payload = self.json_body(req)
        rows = payload if isinstance(payload, list) else [payload]
        if not rows or not all(isinstance(r, dict) and r for r in rows):
            raise PgrstError(400, "PGRST102", "Empty or invalid json", "expected objects with columns")
        columns = single["columns"].split(",") if "columns" in single else sorted(rows[0])
        cols = sql.SQL(", ").join(_column(c) for c in columns)
        stmt = sql.SQL("INSERT INTO {table} AS _t ({cols}) SELECT {cols} FROM "
                       "json_populate_recordset(NULL::{table}, %(rows)s::json) RETURNING {ret}"
                       ).format(table=table, cols=cols, ret=_returning(single))
        return self.mutated(conn, req, stmt, {"rows": json.dumps(rows)}, created=True)

    def update(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        table = self.relation(conn, req.name)
        single, filters = _query(req, {"select"})
        payload = self.json_body(req)
        if not isinstance(payload, dict) or not payload:
            raise PgrstError(400, "PGRST102", "Empty or invalid json", "PATCH takes one JSON object")
        where, params = _where(filters)
        cols = sorted(payload)
        stmt = sql.SQL("UPDATE {table} AS _t SET ({cols}) = (SELECT {bcols} FROM "
                       "json_populate_record(NULL::{table}, %(row)s::json) AS _b) WHERE {where} RETURNING {ret}"
                       ).format(table=table, cols=sql.SQL(", ").join(_column(c) for c in cols),
                                bcols=sql.SQL(", ").join(sql.SQL("_b.{}").format(_column(c)) for c in cols),
                                where=where, ret=_returning(single))
        return self.mutated(conn, req, stmt, {**params, "row": json.dumps(payload)}, created=False)

    def delete(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        table = self.relation(conn, req.name)
        single, filters = _query(req, {"select"})
        where, params = _where(filters)
        stmt = sql.SQL("DELETE FROM {} AS _t WHERE {} RETURNING {}").format(table, where, _returning(single))
        return self.mutated(conn, req, stmt, params, created=False)

    # -- functions (how the dashboard reads and writes) ---------------------------------------------

    def rpc(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        args = self.json_body(req) if req.body.strip() else {}
        if not isinstance(args, dict):
            raise _unsupported("a function call whose body is not one JSON object of named arguments")
        candidates = conn.execute(
            "select p.oid, coalesce(p.proargnames, '{}'), p.pronargs, p.pronargdefaults, p.proretset, "
            "p.proargmodes is null "
            "from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = %s and p.proname = %s and p.prokind = 'f'",
            [SCHEMA, req.name]).fetchall()
        matches = []
        for oid, names, nargs, ndefaults, retset, plain in candidates:
            names = list(names)[:nargs]
            if plain and len(names) == nargs and all(names) and \
                    set(args) <= set(names) and set(names[:nargs - ndefaults]) <= set(args):
                matches.append((oid, names, retset))
        if len(matches) != 1:
            keys = ", ".join(sorted(args))
            raise PgrstError(404, "PGRST202", f"Could not find the function {SCHEMA}.{req.name}({keys}) in the "
                             "schema cache", "Searched for the function with the given named arguments, but no "
                             "(or more than one) match was found.")
        oid, names, retset = matches[0]
        if retset:
            raise _unsupported("set-returning functions")
        types = dict(conn.execute(
            "select a.name, array[tn.nspname::text, t.typname::text] "
            "from unnest((select proargnames from pg_catalog.pg_proc where oid = %s), "
            "            (select proargtypes::oid[] from pg_catalog.pg_proc where oid = %s)) as a(name, typ) "
            "join pg_catalog.pg_type t on t.oid = a.typ join pg_catalog.pg_namespace tn on tn.oid = t.typnamespace",
            [oid, oid]).fetchall())
        given = [n for n in names if n in args]
        call = sql.SQL("{}({})").format(
            sql.Identifier(SCHEMA, req.name),
            sql.SQL(", ").join(sql.SQL("{} => _a.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in given))
        source = sql.SQL(" FROM json_to_record(%(args)s::json) AS _a({})").format(
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.Identifier(*types[n])) for n in given)
        ) if given else sql.SQL("")
        (body,) = conn.execute(sql.SQL("SELECT to_json({})::text{}").format(call, source),
                               {"args": json.dumps(args)} if given else {}).fetchone()
        return 200, {}, (body if body is not None else "null").encode()


# -- injected failures -----------------------------------------------------------------------------

@dataclass
class Fault:
    """One injected failure, for the next ``times`` requests matching ``method`` and ``path`` (a substring).

    ``kind``: ``status`` (answer ``status`` with a gateway's HTML page), ``slow`` (wait ``seconds``,
    then answer normally), ``drop`` (close the connection without an answer) or ``malformed``
    (answer 200 with a truncated JSON body).  ``after``: run the request (and commit it) first.
    """

    kind: str
    status: int = 503
    seconds: float = 0.0
    after: bool = False
    method: str | None = None
    path: str | None = None
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in (None, method) and (self.path is None or self.path in path)


class _Dropped(Exception):
    """The fault says: close the connection without answering."""


# -- HTTP plumbing ---------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise _unsupported("'Transfer-Encoding' request bodies")
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError as err:
            self.close_connection = True
            raise PgrstError(400, "PGRST100", "invalid Content-Length") from err
        return self.rfile.read(n)

    def dispatch(self, method: str) -> None:
        fault = self.server.take_fault(method, self.path)
        try:
            status, headers, payload = self.answer(method, fault)
        except _Dropped:
            self.close_connection = True
            self.connection.shutdown(2)  # socket.SHUT_RDWR: the client sees the connection end, no answer
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status not in (204, 304):
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if status not in (204, 304):
            self.wfile.write(payload)

    def answer(self, method: str, fault: Fault | None) -> tuple[int, dict[str, str], bytes]:
        """The request's answer, with ``fault`` applied before or after the request runs."""
        try:
            body = self.read_body()  # always read: an unread body would spoil the next request on this connection
        except PgrstError as err:
            return err.status, err.headers, err.body()
        if fault is not None and not fault.after:
            injected = self.inject(fault)
            if injected is not None:
                return injected
        try:
            answer = self.server.app.handle(method, self.path, self.headers, body)
        except PgrstError as err:
            answer = err.status, err.headers, err.body()
        except Exception as err:  # a bug in the stand-in: answer like PostgREST's internal error
            answer = 500, {}, PgrstError(500, "EMU500", f"stand-in error: {err!r}").body()
        if fault is not None and fault.after:
            injected = self.inject(fault)
            if injected is not None:
                return injected
        return answer

    @staticmethod
    def inject(fault: Fault) -> tuple[int, dict[str, str], bytes] | None:
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "drop":
            raise _Dropped()
        if fault.kind == "malformed":
            return 200, {}, b'[{"id": "0b5e1d2c-'
        if fault.kind == "status":
            return fault.status, {"Content-Type": "text/html"}, f"<html><body>{fault.status}</body></html>".encode()
        raise ValueError(f"unknown fault kind {fault.kind!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: _App

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def take_fault(self, method: str, target: str) -> Fault | None:
        """Log the request; the first injected fault that matches it, used up by one."""
        path = urlsplit(target).path
        with self.lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None


class PostgrestServer:
    """``with PostgrestServer(pg_url, jwt_secret) as base_url:`` serves ``base_url + '/rest/v1/...'``.

    ``db_url`` is a libpq or SQLAlchemy (``postgresql+psycopg://``) URL of a superuser-reachable
    database that has the roles anon/authenticated/service_role; each request switches to the
    role named in its bearer token.
    """

    def __init__(self, db_url: str, jwt_secret: str, *, pool_size: int = 10, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        conninfo = db_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.jwt_secret = jwt_secret
        self._server = _Server((host, port), _Handler)
        self._server.app = _App(conninfo, jwt_secret, pool_size)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def inject(self, fault: Fault) -> Fault:
        """Fail the next ``fault.times`` matching requests this way (see ``Fault``)."""
        with self._server.lock:
            self._server.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget injected faults and the request log."""
        with self._server.lock:
            self._server.faults.clear()
            self._server.requests.clear()

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every request so far, as (method, path)."""
        with self._server.lock:
            return list(self._server.requests)

    def key(self, role: str = "service_role", sub: str | None = None) -> str:
        return make_jwt(self.jwt_secret, role, sub, expires_in=24 * 3600)

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, name="postgrest-stand-in", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()
        self._server.app.pool.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
