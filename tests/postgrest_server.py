"""A PostgREST-compatible HTTP server for the test suite, on the suite's real PostgreSQL.

It serves ``/rest/v1/...`` on 127.0.0.1 and translates the subset of the PostgREST protocol that
supabase-py sends for the store's calls into SQL, so the Supabase REST backend runs against the
same schema, roles and row-level security as production, without Docker or a Supabase project.

Implemented, with PostgREST's semantics (v12):

* ``GET``/``HEAD /rest/v1/<table>``: ``select=`` (``*`` and plain column names), column filters
  ``eq neq gt gte lt lte like ilike match imatch in is`` each optionally negated with ``not.``,
  logic trees ``or=(...)``/``and=(...)`` (nested, ``not.`` prefix, double-quoted values),
  ``order=col.asc|desc[.nullsfirst|nullslast],...``, ``limit=``/``offset=``, ``Range``/``Range-Unit``;
* ``POST /rest/v1/<table>``: insert of one object or an array (``columns=``), upsert with
  ``Prefer: resolution=merge-duplicates|ignore-duplicates`` and ``on_conflict=`` (primary key when
  absent), ``select=`` on the returned representation;
* ``PATCH``/``DELETE /rest/v1/<table>`` with filters and ``select=``;
* ``POST /rest/v1/rpc/<fn>`` with named JSON arguments (functions that return one value or void);
* ``Prefer``: ``return=minimal|representation``, ``count=exact``, ``resolution=...``, ``handling=lenient``;
* every response capped at ``max_rows`` rows (hosted Supabase's ``db-max-rows``, 1,000), with
  ``Content-Range: a-b/total`` and 200/206/416 exactly as PostgREST decides them;
* every request runs in its own transaction as the role of its bearer JWT (HS256, the server's
  secret): ``set_config('role', ...)`` and ``set_config('request.jwt.claims', ...)``, so RLS applies;
* errors as PostgREST's JSON ``{"code", "message", "details", "hint"}`` with PostgREST's statuses
  (SQLSTATE 23505 -> 409, 42501 -> 401 for anon / 403 otherwise, P0001 -> 400, 40001 -> 500, ...).

Failure modes for the tests (``PostgrestServer.inject(Fault(...))``): an HTTP status with a gateway's
non-JSON body (500, 502, 503, 504), a slow answer (beyond the client's timeout), a dropped connection
(no answer at all) and a malformed JSON body, each either before the request runs or after it ran and
committed (``after=True``: the answer to a write is lost).  ``PostgrestServer.requests`` logs every
request as (method, path), so a test can count tries.

Anything else -- another operator, query parameter, header, ``Prefer`` or ``Accept`` value, an
embedded resource, a set-returning function -- is answered 400 (code ``EMU400``) naming what is
missing, so a backend cannot come to rely on something this emulation would only fake.

SQL is composed with ``psycopg.sql`` only: identifiers as ``sql.Identifier``, values as bound
parameters.
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
MAX_ROWS = 1000
NOT_IMPLEMENTED = "EMU400"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RANGE = re.compile(r"(\d+)-(\d*)\Z")
_ALLOWED_HEADERS = frozenset({
    "host", "user-agent", "accept", "accept-encoding", "connection", "content-length", "content-type",
    "authorization", "apikey", "accept-profile", "content-profile", "prefer", "range", "range-unit",
    "x-client-info", "x-retry-count",
})
_JSON_TYPES = frozenset({"application/json", "*/*", "application/*"})
_COMPARE = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
            "like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*"}
_IS = {"null": "IS NULL", "not_null": "IS NOT NULL", "true": "IS TRUE", "false": "IS FALSE", "unknown": "IS UNKNOWN"}


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
    return PgrstError(400, NOT_IMPLEMENTED, f"{what} is not implemented by the PostgREST emulator",
                      hint="See the supported subset in tests/postgrest_server.py")


def _parse_error(message: str, details: str | None = None) -> PgrstError:
    return PgrstError(400, "PGRST100", message, details)


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


# -- parsing -----------------------------------------------------------------------------------

def _column(name: str) -> sql.Identifier:
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    elif not _IDENT.match(name):
        if any(tok in name for tok in ("->", "::", ":", "(", "!", ".")):
            raise _unsupported(f"the column expression {name!r} (JSON paths, casts, aliases, embedding)")
        raise _parse_error(f"failed to parse column name {name!r}")
    return sql.Identifier(name)


def _qualified(name: str) -> sql.Composed:
    return sql.Composed([sql.Identifier("_t"), sql.SQL("."), _column(name)])


def _split_list(text: str) -> list[str]:
    """PostgREST's list syntax ``a,"b,c",d``: double quotes with backslash escapes."""
    items: list[str] = []
    current: list[str] = []
    i, quoted_item = 0, False
    while i < len(text):
        ch = text[i]
        if ch == '"' and not current:
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                current.append(text[i])
                i += 1
            if i >= len(text):
                raise _parse_error(f"unterminated quote in list ({text})")
            quoted_item = True
            i += 1
            if i < len(text) and text[i] != ",":
                raise _parse_error(f"unexpected text after a quoted value in list ({text})")
            continue
        if ch == ",":
            items.append("".join(current))
            current, quoted_item = [], False
        else:
            current.append(ch)
        i += 1
    if text or quoted_item:
        items.append("".join(current))
    return items


class _Params:
    """Bound parameters with generated names."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def bind(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)


def _operator(params: _Params, column: str, op: str, value: str) -> sql.Composable:
    col = _qualified(column)
    if op in _COMPARE:
        if op in ("like", "ilike"):
            value = value.replace("*", "%")  # PostgREST's URL-friendly wildcard
        return sql.SQL("{} {} {}").format(col, sql.SQL(_COMPARE[op]), params.bind(value))
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise _parse_error(f"failed to parse filter (in.{value})", "in. takes a list in parentheses")
        elements = _split_list(value[1:-1])
        if not elements:
            return sql.SQL("FALSE")
        return sql.SQL("{} IN ({})").format(col, sql.SQL(", ").join(params.bind(v) for v in elements))
    if op == "is":
        test = _IS.get(value.lower())
        if test is None:
            raise _parse_error(f"failed to parse filter (is.{value})", "is. takes null, not_null, true, false or unknown")
        return sql.SQL("{} {}").format(col, sql.SQL(test))
    raise _unsupported(f"the filter operator {op!r}")


def _filter(params: _Params, column: str, expression: str) -> sql.Composable:
    negate = expression.startswith("not.")
    if negate:
        expression = expression[4:]
    op, dot, value = expression.partition(".")
    if not dot:
        raise _parse_error(f"failed to parse filter ({expression})", "expected operator.value")
    cond = _operator(params, column, op, value)
    return sql.SQL("NOT ({})").format(cond) if negate else cond


class _TreeParser:
    """``or=(a.eq.1,and(b.gt.2,c.in.(x,"y,z")),not.or(...))`` into one boolean expression."""

    _GROUP = re.compile(r"(not\.)?(and|or)\(")
    _FILTER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\.(not\.)?([a-z_]+)\.")

    def __init__(self, text: str, params: _Params) -> None:
        self.text, self.i, self.params = text, 0, params

    def fail(self) -> PgrstError:
        return _parse_error(f"failed to parse logic tree ({self.text})", f"unexpected input at position {self.i}")

    def group(self, joiner: str) -> sql.Composable:
        if self.text[self.i:self.i + 1] != "(":
            raise self.fail()
        self.i += 1
        items = [self.item()]
        while self.text[self.i:self.i + 1] == ",":
            self.i += 1
            items.append(self.item())
        if self.text[self.i:self.i + 1] != ")":
            raise self.fail()
        self.i += 1
        return sql.SQL("({})").format(sql.SQL(" AND " if joiner == "and" else " OR ").join(items))

    def item(self) -> sql.Composable:
        rest = self.text[self.i:]
        m = self._GROUP.match(rest)
        if m:
            self.i += len(m.group(0)) - 1
            inner = self.group(m.group(2))
            return sql.SQL("NOT {}").format(inner) if m.group(1) else inner
        m = self._FILTER.match(rest)
        if not m:
            if re.match(r"[^.,()]+\.", rest):
                raise _unsupported(f"the logic-tree item {rest.split(',')[0]!r}")
            raise self.fail()
        self.i += len(m.group(0))
        column, negate, op = m.group(1), bool(m.group(2)), m.group(3)
        value = self.parens() if op == "in" else self.value()
        cond = _operator(self.params, column, op, value)
        return sql.SQL("NOT ({})").format(cond) if negate else cond

    def value(self) -> str:
        if self.text[self.i:self.i + 1] == '"':
            self.i += 1
            out: list[str] = []
            while self.i < len(self.text) and self.text[self.i] != '"':
                if self.text[self.i] == "\\" and self.i + 1 < len(self.text):
                    self.i += 1
                out.append(self.text[self.i])
                self.i += 1
            if self.i >= len(self.text):
                raise self.fail()
            self.i += 1
            return "".join(out)
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in ",)":
            self.i += 1
        return self.text[start:self.i]

    def parens(self) -> str:
        if self.text[self.i:self.i + 1] != "(":
            raise self.fail()
        start, quoted = self.i, False
        while self.i < len(self.text):
            ch = self.text[self.i]
            if quoted and ch == "\\":
                self.i += 2
                continue
            if ch == '"':
                quoted = not quoted
            elif ch == ")" and not quoted:
                self.i += 1
                return self.text[start:self.i]
            self.i += 1
        raise self.fail()

    def parse(self, joiner: str) -> sql.Composable:
        expr = self.group(joiner)
        if self.i != len(self.text):
            raise self.fail()
        return expr


@dataclass
class _Prefer:
    returning: str = "minimal"
    count: bool = False
    resolution: str | None = None


def _parse_prefer(values: list[str]) -> _Prefer:
    prefer = _Prefer()
    for raw in values:
        for token in (t.strip() for t in raw.split(",")):
            if not token:
                continue
            key, _, value = token.partition("=")
            if key == "return" and value in ("minimal", "representation"):
                prefer.returning = value
            elif key == "count" and value == "exact":
                prefer.count = True
            elif key == "resolution" and value in ("merge-duplicates", "ignore-duplicates"):
                prefer.resolution = value
            elif key == "handling" and value == "lenient":
                pass
            else:
                raise _unsupported(f"the preference 'Prefer: {token}'")
    return prefer


@dataclass
class _Request:
    method: str
    kind: str  # 'table' | 'rpc'
    name: str
    query: list[tuple[str, str]]
    headers: Any  # http.client.HTTPMessage
    body: bytes
    role: str
    claims: dict[str, Any]
    prefer: _Prefer


class _Query:
    """The query string of a table request, checked against what the method allows."""

    SINGLE = ("select", "order", "limit", "offset", "on_conflict", "columns")

    def __init__(self, pairs: list[tuple[str, str]], allowed: set[str], filters: bool) -> None:
        self.single: dict[str, str] = {}
        self.filters: list[tuple[str, str]] = []
        self.trees: list[tuple[str, str]] = []
        for key, value in pairs:
            if key in self.SINGLE:
                if key not in allowed:
                    raise _unsupported(f"the query parameter {key!r} on this request")
                if key in self.single:
                    raise _parse_error(f"the query parameter {key!r} is given more than once")
                self.single[key] = value
            elif key in ("or", "and", "not.or", "not.and"):
                if not filters:
                    raise _unsupported(f"the query parameter {key!r} on this request")
                self.trees.append((key, value))
            elif _IDENT.match(key) or (key.startswith('"') and key.endswith('"')):
                if not filters:
                    raise _unsupported(f"filters ({key}=...) on this request")
                self.filters.append((key, value))
            else:
                raise _unsupported(f"the query parameter {key!r}")

    def where(self, params: _Params) -> sql.Composable:
        conds: list[sql.Composable] = [_filter(params, k, v) for k, v in self.filters]
        for key, value in self.trees:
            negate = key.startswith("not.")
            expr = _TreeParser(value, params).parse(key.removeprefix("not."))
            conds.append(sql.SQL("NOT {}").format(expr) if negate else expr)
        return sql.SQL(" AND ").join(conds) if conds else sql.SQL("TRUE")

    def select(self) -> sql.Composable:
        raw = self.single.get("select", "*")
        items = [s for s in raw.split(",")]
        if not raw or any(not s for s in items):
            raise _unsupported(f"the select list {raw!r}")
        cols = [sql.SQL("_t.*") if s == "*" else _qualified(s) for s in items]
        return sql.SQL(", ").join(cols)

    def order(self) -> sql.Composable:
        raw = self.single.get("order")
        if raw is None:
            return sql.SQL("")
        terms = []
        for item in raw.split(","):
            if "->" in item or "(" in item:
                raise _unsupported(f"the order term {item!r}")
            name, *mods = item.split(".")
            term: list[sql.Composable] = [_qualified(name)]
            direction = nulls = None
            for mod in mods:
                if mod in ("asc", "desc") and direction is None:
                    direction = mod
                elif mod in ("nullsfirst", "nullslast") and nulls is None:
                    nulls = mod
                else:
                    raise _parse_error(f"failed to parse order ({raw})")
            if direction:
                term.append(sql.SQL(" DESC" if direction == "desc" else " ASC"))
            if nulls:
                term.append(sql.SQL(" NULLS FIRST" if nulls == "nullsfirst" else " NULLS LAST"))
            terms.append(sql.Composed(term))
        return sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(terms))

    def int_param(self, key: str) -> int | None:
        raw = self.single.get(key)
        if raw is None:
            return None
        if not raw.isdigit():
            raise _parse_error(f"failed to parse {key} ({raw})", f"{key} must be a non-negative integer")
        return int(raw)

    def columns(self, key: str) -> list[str] | None:
        raw = self.single.get(key)
        if raw is None:
            return None
        names = _split_list(raw)
        if not names:
            raise _parse_error(f"failed to parse {key} ({raw})")
        for n in names:
            if not _IDENT.match(n):
                raise _parse_error(f"failed to parse {key} ({raw})", f"{n!r} is not a column name")
        return names


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
                    conn = psycopg.connect(self._conninfo, autocommit=True, application_name="postgrest-emulator")
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
    def __init__(self, conninfo: str, jwt_secret: str, max_rows: int, pool_size: int) -> None:
        self.secret = jwt_secret
        self.max_rows = max_rows
        self.pool = _Pool(conninfo, pool_size)

    # -- request checks ---------------------------------------------------------------------

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
            raise PgrstError(401, "PGRST301", f"role {role!r} is not allowed by the emulator", headers=www)
        return role, claims

    @staticmethod
    def check_headers(method: str, headers: Any) -> None:
        for key in headers:
            if key.lower() not in _ALLOWED_HEADERS:
                raise _unsupported(f"the request header {key!r}")
        for key in ("Accept-Profile", "Content-Profile"):
            value = headers.get(key)
            if value is not None and value != SCHEMA:
                raise PgrstError(406, "PGRST106", f"The schema must be one of the following: {SCHEMA}")
        accept = headers.get("Accept")
        if accept:
            types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
            if not types <= _JSON_TYPES:
                raise _unsupported(f"the media type 'Accept: {accept}' (only application/json)")
        if method in ("POST", "PATCH"):
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise _unsupported(f"the request body type {ctype or '(none)'!r} (only application/json)")
        if headers.get("Range-Unit") not in (None, "items"):
            raise _unsupported(f"'Range-Unit: {headers.get('Range-Unit')}'")
        if headers.get("Range") is not None and method not in ("GET", "HEAD"):
            raise _unsupported("the Range header on a write")

    def route(self, path: str) -> tuple[str, str]:
        parts = path.split("/")
        if len(parts) == 4 and parts[:3] == ["", "rest", "v1"] and _IDENT.match(parts[3]):
            return "table", parts[3]
        if len(parts) == 5 and parts[:4] == ["", "rest", "v1", "rpc"] and _IDENT.match(parts[4]):
            return "rpc", parts[4]
        if path.startswith("/rest/v1/"):
            raise _unsupported(f"the path {path!r}")
        raise PgrstError(404, "PGRST125", f"Invalid path specified in request URL: {path}")

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(target)
        kind, name = self.route(url.path)
        self.check_headers(method, headers)
        role, claims = self.authenticate(headers)
        prefer = _parse_prefer(headers.get_all("Prefer") or [])
        query = parse_qsl(url.query, keep_blank_values=True)
        req = _Request(method, kind, name, query, headers, body, role, claims, prefer)
        if kind == "rpc":
            if method != "POST":
                raise _unsupported(f"{method} on functions (only POST with a JSON body)")
            if query:
                raise _unsupported("query parameters on function calls (select, filters, order, limit)")
            if prefer.count or prefer.resolution:
                raise _unsupported("count/resolution preferences on function calls")
            return self.run(req, self.rpc)
        handlers = {"GET": self.read, "HEAD": self.read, "POST": self.insert, "PATCH": self.update,
                    "DELETE": self.delete}
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
        found = conn.execute(
            "select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'v', 'm', 'p', 'f')",
            [SCHEMA, name]).fetchone()
        if not found:
            raise PgrstError(404, "PGRST205", f"Could not find the table '{SCHEMA}.{name}' in the schema cache")
        return sql.Identifier(SCHEMA, name)

    # -- reads ----------------------------------------------------------------------------------

    def window(self, req: _Request, q: _Query) -> tuple[int, int | None]:
        """(offset, limit) from limit/offset and the Range header, capped at max_rows."""
        lower, upper = q.int_param("offset") or 0, None
        limit = q.int_param("limit")
        if limit is not None:
            upper = lower + limit - 1
        header = req.headers.get("Range")
        if header is not None:
            m = _RANGE.match(header.strip())
            if not m:
                raise _parse_error(f"failed to parse the Range header ({header})")
            h_lower, h_upper = int(m.group(1)), int(m.group(2)) if m.group(2) else None
            if h_upper is not None and h_upper < h_lower:
                raise PgrstError(416, "PGRST103", "Requested range not satisfiable")
            lower = max(lower, h_lower)
            upper = h_upper if upper is None else (upper if h_upper is None else min(upper, h_upper))
        cap = lower + self.max_rows - 1
        upper = cap if upper is None else min(upper, cap)
        return lower, max(0, upper - lower + 1)

    def read(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        table = self.relation(conn, req.name)
        q = _Query(req.query, {"select", "order", "limit", "offset"}, filters=True)
        params = _Params()
        where, cols, order = q.where(params), q.select(), q.order()
        offset, limit = self.window(req, q)
        counted = (sql.SQL("(SELECT count(*) FROM {} AS _t WHERE {})").format(table, where) if req.prefer.count
                   else sql.SQL("NULL::bigint"))
        stmt = sql.SQL(  # one statement, one snapshot: the count and the rows agree
            "SELECT {}, coalesce(json_agg(_r), '[]')::text, count(*) FROM "
            "(SELECT {} FROM {} AS _t WHERE {}{} LIMIT {} OFFSET {}) AS _r"
        ).format(counted, cols, table, where, order, sql.Literal(limit), sql.Literal(offset))
        total, body, n = conn.execute(stmt, params.values).fetchone()
        if total is not None and offset > total:
            raise PgrstError(416, "PGRST103", "Requested range not satisfiable",
                             f"An offset of {offset} was requested, but there are only {total} rows.",
                             headers={"Content-Range": f"*/{total}"})
        upper = offset + n - 1
        shown = f"{offset}-{upper}" if total != 0 and offset <= upper else "*"
        headers = {"Content-Range": f"{shown}/{'*' if total is None else total}"}
        if req.prefer.count:
            headers["Preference-Applied"] = "count=exact"
        status = 206 if total is not None and n < total else 200
        return status, headers, body.encode()

    # -- writes ---------------------------------------------------------------------------------

    @staticmethod
    def json_body(req: _Request) -> Any:
        try:
            return json.loads(req.body or b"")
        except ValueError as err:
            raise PgrstError(400, "PGRST102", "Empty or invalid json") from err

    def mutation_response(self, req: _Request, body: str, n: int, created: bool) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Range": f"{'*' if n == 0 else f'0-{n - 1}'}/{n if req.prefer.count else '*'}"}
        applied = [f"return={req.prefer.returning}"] if req.prefer.returning == "representation" else []
        if req.prefer.resolution:
            applied.append(f"resolution={req.prefer.resolution}")
        if req.prefer.count:
            applied.append("count=exact")
        if applied:
            headers["Preference-Applied"] = ", ".join(applied)
        if req.prefer.returning == "representation":
            return (201 if created else 200), headers, body.encode()
        return (201 if created else 204), headers, b""

    @staticmethod
    def primary_key(conn: psycopg.Connection, name: str) -> list[str]:
        rows = conn.execute(
            "select a.attname from pg_catalog.pg_index i "
            "join pg_catalog.pg_class c on c.oid = i.indrelid "
            "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
            "join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
            "where n.nspname = %s and c.relname = %s and i.indisprimary order by array_position(i.indkey, a.attnum)",
            [SCHEMA, name]).fetchall()
        return [r[0] for r in rows]

    def insert(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        table = self.relation(conn, req.name)
        q = _Query(req.query, {"select", "columns", "on_conflict"}, filters=False)
        payload = self.json_body(req)
        rows = payload if isinstance(payload, list) else [payload]
        if not all(isinstance(r, dict) for r in rows):
            raise PgrstError(400, "PGRST102", "Empty or invalid json", "expected an object or an array of objects")
        columns = q.columns("columns")
        if columns is None:
            keys = [sorted(r) for r in rows]
            if any(k != keys[0] for k in keys):
                raise PgrstError(400, "PGRST102", "All object keys must match")
            columns = keys[0] if keys else []
        if not rows:
            return self.mutation_response(req, "[]", 0, created=True)
        if not columns:
            raise _unsupported("inserting rows with no columns (all defaults)")
        conflict: sql.Composable = sql.SQL("")
        if req.prefer.resolution:
            target = q.columns("on_conflict") or self.primary_key(conn, req.name)
            if not target:
                raise _parse_error(f"on_conflict is required: {req.name} has no primary key")
            if req.prefer.resolution == "ignore-duplicates":
                action: sql.Composable = sql.SQL("DO NOTHING")
            else:
                action = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
                    sql.SQL("{} = EXCLUDED.{}").format(_column(c), _column(c)) for c in columns))
            conflict = sql.SQL(" ON CONFLICT ({}) {}").format(
                sql.SQL(", ").join(_column(c) for c in target), action)
        cols = sql.SQL(", ").join(_column(c) for c in columns)
        params = _Params()
        stmt = sql.SQL(
            "WITH _m AS (INSERT INTO {table} AS _t ({cols}) SELECT {cols} "
            "FROM json_populate_recordset(NULL::{table}, {rows}::json){conflict} RETURNING {ret}) "
            "SELECT coalesce(json_agg(_m), '[]')::text, count(*) FROM _m"
        ).format(table=table, cols=cols, rows=params.bind(json.dumps(rows)), conflict=conflict, ret=q.select())
        body, n = conn.execute(stmt, params.values).fetchone()
        return self.mutation_response(req, body, n, created=True)

    def update(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        table = self.relation(conn, req.name)
        q = _Query(req.query, {"select"}, filters=True)
        payload = self.json_body(req)
        if not isinstance(payload, dict):
            raise PgrstError(400, "PGRST102", "Empty or invalid json", "PATCH takes one JSON object")
        if not payload:
            return self.mutation_response(req, "[]", 0, created=False)
        params = _Params()
        where = q.where(params)
        cols = sorted(payload)
        stmt = sql.SQL(
            "WITH _m AS (UPDATE {table} AS _t SET ({cols}) = (SELECT {bcols} FROM "
            "json_populate_record(NULL::{table}, {row}::json) AS _b) WHERE {where} RETURNING {ret}) "
            "SELECT coalesce(json_agg(_m), '[]')::text, count(*) FROM _m"
        ).format(table=table, cols=sql.SQL(", ").join(_column(c) for c in cols),
                 bcols=sql.SQL(", ").join(sql.Composed([sql.Identifier("_b"), sql.SQL("."), _column(c)]) for c in cols),
                 row=params.bind(json.dumps(payload)), where=where, ret=q.select())
        body, n = conn.execute(stmt, params.values).fetchone()
        return self.mutation_response(req, body, n, created=False)

    def delete(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        table = self.relation(conn, req.name)
        q = _Query(req.query, {"select"}, filters=True)
        if req.body.strip() not in (b"", b"{}"):
            raise _unsupported("a request body on DELETE")
        params = _Params()
        stmt = sql.SQL(
            "WITH _m AS (DELETE FROM {table} AS _t WHERE {where} RETURNING {ret}) "
            "SELECT coalesce(json_agg(_m), '[]')::text, count(*) FROM _m"
        ).format(table=table, where=q.where(params), ret=q.select())
        body, n = conn.execute(stmt, params.values).fetchone()
        return self.mutation_response(req, body, n, created=False)

    # -- functions -------------------------------------------------------------------------------

    def rpc(self, conn: psycopg.Connection, req: _Request) -> tuple[int, dict[str, str], bytes]:
        args = self.json_body(req) if req.body.strip() else {}
        if not isinstance(args, dict):
            raise _unsupported("a function call whose body is not one JSON object of named arguments")
        candidates = conn.execute(
            "select p.oid, coalesce(p.proargnames, '{}'), p.pronargs, p.pronargdefaults, p.proretset, "
            "p.prorettype = 'pg_catalog.void'::regtype, p.proargmodes is null "
            "from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = %s and p.proname = %s and p.prokind = 'f'",
            [SCHEMA, req.name]).fetchall()
        matches = []
        for oid, names, nargs, ndefaults, retset, void, plain in candidates:
            names = list(names)[:nargs]
            if not plain or len(names) != nargs or any(not n for n in names):
                continue
            required = set(names[:nargs - ndefaults])
            if set(args) <= set(names) and required <= set(args):
                matches.append((oid, names, retset, void))
        if not matches:
            keys = ", ".join(sorted(args))
            raise PgrstError(404, "PGRST202", f"Could not find the function {SCHEMA}.{req.name}({keys}) in the schema cache",
                             "Searched for the function with the given named arguments, but no matches were found.")
        if len(matches) > 1:
            raise PgrstError(300, "PGRST203", f"Could not choose the best candidate function between several "
                             f"overloads of {SCHEMA}.{req.name}")
        oid, names, retset, void = matches[0]
        if retset:
            raise _unsupported("set-returning functions")
        types = dict(conn.execute(
            "select a.name, array[tn.nspname::text, t.typname::text] "
            "from unnest((select proargnames from pg_catalog.pg_proc where oid = %s), "
            "            (select proargtypes::oid[] from pg_catalog.pg_proc where oid = %s)) as a(name, typ) "
            "join pg_catalog.pg_type t on t.oid = a.typ join pg_catalog.pg_namespace tn on tn.oid = t.typnamespace",
            [oid, oid]).fetchall())
        given = [n for n in names if n in args]
        params = _Params()
        call = sql.SQL("{}({})").format(
            sql.Identifier(SCHEMA, req.name),
            sql.SQL(", ").join(sql.SQL("{} => _a.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in given))
        if given:
            source = sql.SQL(" FROM json_to_record({}::json) AS _a({})").format(
                params.bind(json.dumps(args)),
                sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.Identifier(*types[n])) for n in given))
        else:
            source = sql.SQL("")
        if void:
            conn.execute(sql.SQL("SELECT {}{}").format(call, source), params.values)
            return 204, {}, b""
        (body,) = conn.execute(sql.SQL("SELECT to_json({})::text{}").format(call, source), params.values).fetchone()
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

    def do_HEAD(self) -> None:
        self.dispatch("HEAD")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_OPTIONS(self) -> None:
        self.dispatch("OPTIONS")

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
            raise _parse_error("invalid Content-Length") from err
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
            self.send_header("Content-Length", str(0 if method == "HEAD" else len(payload)))
        self.end_headers()
        if method != "HEAD" and status not in (204, 304):
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
        except Exception as err:  # a bug in the emulator: answer like PostgREST's internal error
            answer = 500, {}, PgrstError(500, "EMU500", f"emulator error: {err!r}").body()
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

    def __init__(self, db_url: str, jwt_secret: str, *, max_rows: int = MAX_ROWS, pool_size: int = 10,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        conninfo = db_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.jwt_secret = jwt_secret
        self._server = _Server((host, port), _Handler)
        self._server.app = _App(conninfo, jwt_secret, max_rows, pool_size)
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
        self._thread = threading.Thread(target=self._server.serve_forever, name="postgrest-emulator", daemon=True)
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
