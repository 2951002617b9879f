"""PostgreSQL direct: psycopg with a connection pool.  Each call is one transaction that first becomes
role ``authenticated`` with ``request.jwt.claims`` naming the user (what PostgREST does with a user's
token), so the functions run under row-level security exactly as through Supabase REST.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import IO, Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from lib.errors import ConfigError, ExportTimeout, StoreUnavailable
from lib.store import budget
from lib.store.calls import CallStore
from lib.store.exports import Deadline
from lib.store.transport import Refused, Unsettled

POOL_SIZE = 10  # connections for screen renders per process
# The export's COPY rows are joined _BATCH at a time (holding thousands of psycopg's row buffers at once cost
# ~1 s of CPU per million rows more than a few hundred) and written _BLOCK bytes at a time.
_BATCH = 256
_BLOCK = 1 << 20
_UNAVAILABLE = ("08", "53", "57", "58")  # connection, resources, operator intervention (timeouts), system


def conninfo(url: str) -> str:
    """A libpq URL from DATABASE_URL (``postgres://``, ``postgresql://`` or SQLAlchemy's ``postgresql+psycopg://``)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    raise ConfigError("DATABASE_URL must be a postgresql:// URL.")


_call_ends: ContextVar[float | None] = ContextVar("direct_call_ends", default=None)  # monotonic deadline of a screen call


class _BoundedConnection(psycopg.Connection):
    """A screen connection: waits for the server at most until the current call's deadline, on the client
    side (statement_timeout cannot help when the server, or a proxy in front of it, never answers).  A wait
    cut short leaves the connection mid-protocol: it is closed, and the pool replaces it."""

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        ends = _call_ends.get()
        if ends is None:
            return super().wait(gen, interval, timeout)
        left = max(0.01, ends - time.monotonic())
        try:
            return super().wait(gen, interval, left if timeout is None else min(timeout, left))
        except psycopg.OperationalError:
            if time.monotonic() >= ends and not self.closed:
                self.pgconn.finish()
            raise


class _Pool(ConnectionPool):
    """psycopg_pool's pool, except that a connection it lacks is made in the caller's thread (as
    psycopg_pool's NullConnectionPool does) and outside the pool's lock: an unreachable server fails the
    call at once (or, when it hangs, after the caller's own timeout), instead of after the pool's wait
    while background workers retry, and one hung connection attempt never holds up another caller's."""

    def _getconn_unchecked(self, timeout: float) -> Any:
        with self._lock:
            conn = self._get_ready_connection(timeout)
            grow = conn is None and self._nconns < self.max_size
            if grow:
                self._nconns += 1  # this caller's slot, while it connects
        if conn is None and not grow:
            return super()._getconn_unchecked(timeout)  # every slot taken: wait in the queue
        if grow:
            try:
                conn = self._connect(timeout=timeout)
            except BaseException:
                with self._lock:
                    self._nconns -= 1
                raise
        conn._pool = self
        return conn

    def _connect(self, timeout: float | None = None) -> Any:
        # psycopg takes whole seconds (at least 2): round down, so a connection attempt stays within the
        # caller's time rather than past it
        return super()._connect(timeout=max(1, math.floor(timeout)) if timeout else None)


def _fast_json(conn: psycopg.Connection) -> None:
    """Every answer is one JSON document (the 5,000 intents: 2.6 MB): decoded by orjson, about 4x the
    standard library's speed, into the same Python values."""
    set_json_loads(orjson.loads, conn)


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
        self.pool = self._pool(statement_timeout_ms, POOL_SIZE, bounded=True)
        self._export_pool: _Pool | None = None
        self._export_ms = export_timeout_ms
        self._lock = threading.Lock()
        self._args: dict[str, dict[str, str]] = {}  # function -> argument -> type, read from the catalog

    def __repr__(self) -> str:
        return "<DirectStore postgresql>"

    def _pool(self, timeout_ms: int, size: int, *, bounded: bool = False) -> _Pool:
        kwargs = {"connect_timeout": max(1, min(int(self._wait), 10)), "options": f"-c statement_timeout={timeout_ms}"}
        return _Pool(self._url, min_size=0, max_size=size, kwargs=kwargs, timeout=self._wait, open=True,
                     check=ConnectionPool.check_connection, name="dashboard", configure=_fast_json,
                     connection_class=_BoundedConnection if bounded else psycopg.Connection)

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

    def _statement(self, conn: psycopg.Connection, fn: str, params: dict[str, Any]) -> tuple[sql.Composed, dict]:
        """``select public.fn(p_a => %(p_a)s::type, ...)``: each value cast to its argument's type (as
        PostgREST resolves named JSON arguments), so JSON-able values need no per-type handling."""
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
        return sql.SQL("select public.{}({})").format(sql.Identifier(fn), args), values

    def export_lines(self, uid: str, params: dict[str, Any], out: IO[bytes],
                     on_progress: Callable[[int], None] | None, deadline: Deadline) -> int:
        """The export's lines, as the user, on the export pool under the export time limit (``deadline`` is the
        statement timeout here): ``dashboard_export_copy`` gives the statements (the dated calls, then the
        undated ones), each run as ``COPY (...) TO STDOUT (FORMAT csv)`` in the same transaction, so the database
        streams the rows as it reads them (no function result kept in between) and quotes the cells itself.

        COPY sends each row as one message ending in LF (the protocol's rule); the file ends rows with CRLF.
        A batch of rows whose LFs are exactly its row ends (no cell holds a line feed) gets one ``replace``
        in C; a batch with a line feed inside a cell has each row's last byte replaced instead."""
        rows = 0
        try:
            with self.export_pool.connection() as conn:
                statement, values = self._statement(conn, "dashboard_export_copy", params)
                conn.execute("select set_config('role', 'authenticated', true), "
                             "set_config('request.jwt.claims', %s, true), set_config('datestyle', 'ISO, MDY', true)",
                             [json.dumps({"sub": uid, "role": "authenticated"})])
                row = conn.execute(statement, values).fetchone()
                for query in row[0] if row and row[0] else ():
                    copy_sql = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(sql.SQL(query))
                    with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
                        messages, block = iter(copy), bytearray()
                        while chunk := list(itertools.islice(messages, _BATCH)):  # the loop over rows stays in C
                            data = b"".join(chunk)
                            if data.count(b"\n") == len(chunk):
                                block += data.replace(b"\n", b"\r\n")
                            else:  # a cell holds a line feed: only each row's own LF becomes CRLF
                                block += b"\r\n".join([m[:-1] for m in chunk]) + b"\r\n"
                            rows += len(chunk)
                            if len(block) >= _BLOCK:
                                out.write(block)
                                block = bytearray()
                                if on_progress is not None:
                                    on_progress(rows)
                        if block:
                            out.write(block)
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
        """One call in one transaction.  A screen's read waits (for a connection, the connection itself and
        the answer) at most what is left of the render's budget (lib.store.budget); a write at most its
        statement timeout and a second more before its answer counts as lost (Unsettled)."""
        if export:
            return self._call(uid, fn, params, read=read, export=True, pool=self.export_pool, wait=None)
        seconds = budget.seconds(self._wait) if read else self._wait + 1.0
        token = _call_ends.set(time.monotonic() + seconds)
        try:
            return self._call(uid, fn, params, read=read, export=False, pool=self.pool, wait=seconds)
        finally:
            _call_ends.reset(token)

    def _call(self, uid: str | None, fn: str, params: dict[str, Any], *, read: bool, export: bool, pool: _Pool,
              wait: float | None) -> Any:
        committing = False
        try:
            with pool.connection(timeout=wait) as conn:
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
