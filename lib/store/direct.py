"""PostgreSQL direct: psycopg with a connection pool.  Each call is one transaction that first becomes
role ``authenticated`` with ``request.jwt.claims`` naming the user (what PostgREST does with a user's
token), so the functions run under row-level security exactly as through Supabase REST.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from lib.errors import ConfigError, ExportTimeout, StoreUnavailable
from lib.store.calls import CallStore
from lib.store.exports import Deadline
from lib.store.transport import Refused, Unsettled

_ROW_END = b"\r\n\x01\n"  # how a COPY row of the export ends (see export_lines)
POOL_SIZE = 10  # connections for screen renders per process
_UNAVAILABLE = ("08", "53", "57", "58")  # connection, resources, operator intervention (timeouts), system


def conninfo(url: str) -> str:
    """A libpq URL from DATABASE_URL (``postgres://``, ``postgresql://`` or SQLAlchemy's ``postgresql+psycopg://``)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    raise ConfigError("DATABASE_URL must be a postgresql:// URL.")


class _Pool(ConnectionPool):
    """psycopg_pool's pool, except that a connection it lacks is made in the caller's thread (as
    psycopg_pool's NullConnectionPool does): an unreachable server fails the call at once, instead of
    after the pool's wait while background workers retry."""

    def _get_ready_connection(self, timeout: float | None) -> Any:
        conn = super()._get_ready_connection(timeout)
        if conn is None and self._nconns < self.max_size:
            conn = self._connect(timeout=timeout)
            self._nconns += 1
        return conn


class DirectStore(CallStore):
    """One pool for screens (DB_TIMEOUT as statement_timeout) and a small one for exports (exports
    connections, EXPORT_TIMEOUT), so a long export never holds a connection a screen render needs."""

    backend = "postgresql"
    export_page = 50_000

    def __init__(self, url: str, *, statement_timeout_ms: int = 15_000, export_timeout_ms: int = 300_000,
                 exports: int = 2) -> None:
        super().__init__(export_timeout_s=export_timeout_ms / 1000, exports=exports)
        self._url = conninfo(url)
        self._wait = statement_timeout_ms / 1000 if statement_timeout_ms else 30.0
        self.pool = self._pool(statement_timeout_ms, POOL_SIZE)
        self._export_pool: _Pool | None = None
        self._export_ms = export_timeout_ms
        self._lock = threading.Lock()
        self._args: dict[str, dict[str, str]] = {}  # function -> argument -> type, read from the catalog

    def __repr__(self) -> str:
        return "<DirectStore postgresql>"

    def _pool(self, timeout_ms: int, size: int) -> _Pool:
        kwargs = {"connect_timeout": max(1, min(int(self._wait), 10)), "options": f"-c statement_timeout={timeout_ms}"}
        return _Pool(self._url, min_size=0, max_size=size, kwargs=kwargs, timeout=self._wait, open=True,
                     check=ConnectionPool.check_connection, name="dashboard")

    @property
    def export_pool(self) -> _Pool:
        with self._lock:
            if self._export_pool is None:
                self._export_pool = self._pool(self._export_ms, self.export_gate.slots)
            return self._export_pool

    def close(self) -> None:
        self.pool.close()
        if self._export_pool is not None:
            self._export_pool.close()

    def _statement(self, conn: psycopg.Connection, fn: str, params: dict[str, Any], *,
                   select: str = "public.{}({})") -> tuple[sql.Composed, dict]:
        """``select public.fn(p_a => %(p_a)s::type, ...)``: each value cast to its argument's type (as
        PostgREST resolves named JSON arguments), so JSON-able values need no per-type handling.
        ``select`` may name columns of a set-returning function instead (``line from public.{}({})``)."""
        types = self._args.get(fn)
        if types is None:
            rows = conn.execute("select a.name, format_type(a.type, null) from pg_proc p, "
                                "unnest(p.proargnames, p.proargtypes::oid[]) a(name, type) "
                                "where p.pronamespace = 'public'::regnamespace and p.proname = %s", [fn]).fetchall()
            types = self._args[fn] = dict(rows)
        try:
            args = sql.SQL(", ").join(sql.SQL("{} => {}::{}").format(sql.Identifier(k), sql.Placeholder(k),
                                                                      sql.SQL(types[k])) for k in params)
        except KeyError as err:
            raise Refused("42883") from err  # no such function or argument
        values = {k: Jsonb(v) if types[k] == "jsonb" and v is not None else v for k, v in params.items()}
        return sql.SQL("select " + select).format(sql.Identifier(fn), args), values

    def export_lines(self, uid: str, params: dict[str, Any], out: IO[bytes],
                     on_progress: Callable[[int], None] | None, deadline: Deadline) -> int:
        """The export's lines in one ``COPY (select line from dashboard_export_lines(...)) TO STDOUT``, as the
        user, on the export pool under the export time limit (``deadline`` is the statement timeout here).

        ``FORMAT csv`` with control characters as delimiter and quote sends each line as one quoted cell,
        ``\x01<line>\x01\n`` (a line ends with CRLF, so it is quoted; a \x01 in it is doubled): Python joins
        ~8,000 of them and restores the lines with two replaces in C, no per-row Python."""
        rows = 0
        try:
            with self.export_pool.connection() as conn:
                statement, values = self._statement(conn, "dashboard_export_lines", params, select="line from public.{}({})")
                conn.execute("select set_config('role', 'authenticated', true), "
                             "set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": uid, "role": "authenticated"})])
                copy_sql = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')").format(statement)
                with conn.cursor() as cursor, cursor.copy(copy_sql, values) as copy:
                    messages, tail = iter(copy), b""
                    while chunk := list(itertools.islice(messages, 8192)):  # the loop over rows stays in C
                        data = tail + b"".join(chunk)
                        end = data.rfind(_ROW_END) + len(_ROW_END)  # whole rows only
                        data, tail = (data[:end], data[end:]) if end >= len(_ROW_END) else (b"", data)
                        if data:
                            rows += data.count(_ROW_END)
                            data = data[1:-2].replace(_ROW_END + b"\x01", b"\r\n")
                            out.write(data.replace(b"\x01\x01", b"\x01") if b"\x01" in data else data)
                            if on_progress is not None:
                                on_progress(rows)
                    if tail:
                        raise Refused("XX000")  # a cut-off line: never seen
                conn.commit()
        except PoolTimeout as err:
            raise StoreUnavailable() from err
        except psycopg.errors.QueryCanceled as err:
            raise ExportTimeout(self.export_timeout_s) from err
        except psycopg.Error as err:
            state = err.sqlstate or ""
            if not state or state.startswith(_UNAVAILABLE):
                raise StoreUnavailable() from err
            raise Refused(state) from err
        if on_progress is not None:
            on_progress(rows)
        return rows

    def call(self, uid: str | None, fn: str, params: dict[str, Any], *, read: bool, export: bool = False) -> Any:
        committing = False
        try:
            with (self.export_pool if export else self.pool).connection() as conn:
                statement, values = self._statement(conn, fn, params)
                role = "authenticated" if uid is not None else "service_role"  # None: the server itself
                claims = json.dumps({"sub": uid, "role": role} if uid is not None else {"role": role})
                with conn.pipeline():  # the user's role and claims, then the call: one round trip
                    conn.execute("select set_config('role', %s, true), "
                                 "set_config('request.jwt.claims', %s, true)", [role, claims])
                    cursor = conn.execute(statement, values)
                row = cursor.fetchone()
                committing = True
                conn.commit()
        except PoolTimeout as err:
            raise StoreUnavailable() from err
        except psycopg.errors.QueryCanceled as err:
            if export:
                raise ExportTimeout(self.export_timeout_s) from err
            raise StoreUnavailable() from err
        except psycopg.Error as err:
            state = err.sqlstate or ""
            if committing and not read and (not state or state.startswith(_UNAVAILABLE)):
                raise Unsettled() from err  # the COMMIT may have happened: the store reads back
            if not state or state.startswith(_UNAVAILABLE):  # a driver error (no SQLSTATE): the connection
                raise StoreUnavailable() from err
            raise Refused(state, err.diag.message_detail, err.diag.message_hint) from err
        return None if row is None else row[0]
