"""SQLite and PostgreSQL through one SQLAlchemy Core code path.

On PostgreSQL every user-scoped transaction first runs as role ``authenticated`` with
``request.jwt.claims`` naming the user, so row-level security checks tenancy a second time.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from lib import export, schema
from lib.errors import (
    AlreadyUndone,
    ConflictError,
    ExportTimeout,
    HistoryNotFound,
    SaveOutcomeUnknown,
    StoreError,
    StoreUnavailable,
    UndoConflict,
)
from lib.models import (
    DEFAULT_LANGUAGE,
    DEFAULT_STATUS,
    TEST_EXPORT_COLUMNS,
    Assistant,
    DayStatusCount,
    FailureDrilldown,
    FailureGroup,
    HistoryEntry,
    Intent,
    IntentDiff,
    SaveResult,
    SaveToken,
    Settings,
    Stats,
    Subscription,
    TestCall,
    TestFilter,
    TestPage,
)
from lib.store import history, paging
from lib.store.exports import Deadline, ExportGate
from lib.store.saves import Found, applied, chunks, content, ids_to_check, settle
from lib.validation import validate_diff, validate_filter, validate_user_id

I = schema.intents  # noqa: E741
A = schema.assistants
T = schema.assistant_tests
S = schema.subscriptions
AS = schema.assistant_settings
V = schema.user_data_versions
H = schema.intent_history
INTENT_VALUES = (I.c.id, I.c.intent_name, I.c.example_user_phrases, I.c.english_responses, I.c.russian_responses,
                 I.c.created_at, I.c.updated_at)
REFUSED = "The database refused the request. Nothing was changed."


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def like_pattern(text: str) -> str:
    """A LIKE pattern that matches ``text`` literally anywhere (escape char: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def shown(col: sa.ColumnElement, default: str) -> sa.ColumnElement:
    """A language or status as every screen shows it: NULL or '' is the column's default."""
    return sa.func.coalesce(sa.func.nullif(col, ""), default)


def matches(col: sa.ColumnElement, values: tuple[str, ...], default: str) -> sa.ColumnElement:
    """``shown(col) IN values``, written so an index on ``col`` (and the rollups' '' keys) still serve it."""
    cond = col.in_(values)
    if default in values:
        cond = sa.or_(cond, col.is_(None), col == "")
    return cond


def _sqlite_on_connect(dbapi_conn: object, _record: object) -> None:
    dbapi_conn.execute("PRAGMA journal_mode=WAL")  # type: ignore[attr-defined]
    dbapi_conn.execute("PRAGMA busy_timeout=5000")  # type: ignore[attr-defined]
    # SQLite's lower() folds ASCII only; the dashboard's users search Cyrillic too.
    dbapi_conn.create_function("lower", 1, lambda s: s.lower() if isinstance(s, str) else s, deterministic=True)  # type: ignore[attr-defined]


def make_engine(url: str, *, statement_timeout_ms: int = 15_000, pool_size: int = 5, max_overflow: int = 5) -> sa.Engine:
    """An engine whose statements give up after ``statement_timeout_ms`` (0: no limit, for admin tools)."""
    wait = statement_timeout_ms / 1000 if statement_timeout_ms else 30.0
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": wait})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=wait,
        connect_args={
            "connect_timeout": max(1, min(int(wait), 10)),
            "options": f"-c statement_timeout={statement_timeout_ms}",
        },
    )


class SqlStore:
    """One engine per process; ``for_user`` hands out handles bound to one user.

    Exports get their own slots (``ExportGate``) and, on PostgreSQL, their own small engine whose
    statement timeout is ``export_timeout_ms``: a long export never holds a connection of the pool that
    screen renders use, and is cut off by its own limit, not by the screens' one.
    """

    def __init__(self, url: str, *, statement_timeout_ms: int = 15_000, export_timeout_ms: int = 300_000,
                 exports: int = 2) -> None:
        self.engine = make_engine(url, statement_timeout_ms=statement_timeout_ms)
        self.backend = self.engine.dialect.name  # 'sqlite' | 'postgresql'
        if self.backend == "sqlite":
            schema.create_sqlite(self.engine)
        self._url = url
        self.export_timeout_s = export_timeout_ms / 1000
        self.export_gate = ExportGate(exports)
        self._export_engine: sa.Engine | None = None
        self._lock = threading.Lock()

    @property
    def export_engine(self) -> sa.Engine:
        """PostgreSQL: a pool of ``exports`` connections with the export time limit; SQLite: the engine."""
        if self.backend != "postgresql":
            return self.engine
        with self._lock:
            if self._export_engine is None:
                self._export_engine = make_engine(self._url, statement_timeout_ms=int(self.export_timeout_s * 1000),
                                                  pool_size=self.export_gate.slots, max_overflow=0)
            return self._export_engine

    def for_user(self, user_id: str) -> SqlUserStore:
        return SqlUserStore(self, validate_user_id(user_id))

    def close(self) -> None:
        self.engine.dispose()
        if self._export_engine is not None:
            self._export_engine.dispose()


class SqlUserStore:
    def __init__(self, store: SqlStore, user_id: str) -> None:
        self._store = store
        self._uid = user_id

    def __repr__(self) -> str:
        return f"<SqlUserStore {self._store.backend}>"

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _pg(self) -> bool:
        return self._store.backend == "postgresql"

    @contextmanager
    def _tx(self, phase: _Phase | None = None, *, as_user: bool = True, autocommit: bool = False,
            engine: sa.Engine | None = None) -> Iterator[sa.Connection]:
        """One transaction as this user (RLS role and claims on PostgreSQL); errors become typed.

        With ``phase``, a connection lost while committing raises ``SaveOutcomeUnknown``: the
        commit may have happened, and only reading the rows back can tell (the caller settles it).
        ``as_user=False``: as the connecting role, for a read that names the user itself; with
        ``autocommit``, one statement in one round trip.  ``engine``: another pool than the screens'.
        """
        engine = engine or self._store.engine
        try:
            with (engine.connect().execution_options(isolation_level="AUTOCOMMIT") if autocommit else engine.begin()
                  ) as conn:
                if self._pg and as_user:
                    claims = json.dumps({"sub": self._uid, "role": "authenticated"})
                    conn.execute(
                        sa.text("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', :c, true)"),
                        {"c": claims},
                    )
                yield conn
                if phase is not None:
                    phase.committing = True  # begin() commits on leaving this block
        except StoreError:
            raise
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as err:
            if phase is not None and phase.committing and not isinstance(err, sa_exc.TimeoutError):
                raise SaveOutcomeUnknown() from err
            raise StoreUnavailable() from err
        except sa_exc.DBAPIError as err:
            if getattr(err, "connection_invalidated", False):
                if phase is not None and phase.committing:
                    raise SaveOutcomeUnknown() from err
                raise StoreUnavailable() from err
            raise StoreError(REFUSED) from err

    def _day(self, col: sa.ColumnElement) -> sa.ColumnElement:
        if self._pg:
            return sa.cast(sa.func.date_trunc("day", col), sa.Date)
        return sa.func.date(col)

    def _week(self, col: sa.ColumnElement) -> sa.ColumnElement:
        if self._pg:
            return sa.cast(sa.func.date_trunc("week", col), sa.Date)
        return sa.func.date(col, "weekday 0", "-6 days")  # Monday of the ISO week

    def _test_where(self, f: TestFilter) -> list[sa.ColumnElement]:
        where: list[sa.ColumnElement] = [T.c.user_id == self._uid]
        if f.start is not None:
            where.append(T.c.created_at >= f.start)
        if f.end is not None:
            where.append(T.c.created_at < f.end)
        if f.assistant_ids:
            where.append(T.c.assistant_id.in_(f.assistant_ids))
        if f.languages:
            where.append(matches(T.c.language, f.languages, DEFAULT_LANGUAGE))
        if f.statuses:
            where.append(matches(T.c.status, f.statuses, DEFAULT_STATUS))
        if f.search:
            where.append(T.c.test_phrase.ilike(like_pattern(f.search), escape="\\"))
        if f.phrase:
            where.append(T.c.test_phrase == f.phrase)
        return where

    # -- change versions --------------------------------------------------------------------

    def versions(self) -> dict[str, int]:
        """The user's change versions (table name -> version; absent: never written), kept by the
        database's triggers for every writer.  One small indexed statement: it runs on every render,
        so it skips the RLS preamble; its filter names the user and a version reveals only "changed"."""
        q = sa.select(V.c.topic, V.c.version).where(V.c.user_id == self._uid)
        with self._tx(as_user=False, autocommit=True) as conn:
            return {topic: int(version) for topic, version in conn.execute(q)}

    # -- intents ----------------------------------------------------------------------------

    def list_intents(self) -> list[Intent]:
        q = (
            sa.select(I.c.id, I.c.intent_name, I.c.example_user_phrases, I.c.english_responses,
                      I.c.russian_responses, I.c.created_at, I.c.updated_at)
            .where(I.c.user_id == self._uid)
            .order_by(I.c.created_at.desc(), I.c.id)
        )
        with self._tx() as conn:
            rows = conn.execute(q).all()
        return [
            Intent(str(r.id), r.intent_name, tuple(r.example_user_phrases or ()), tuple(r.english_responses or ()),
                   tuple(r.russian_responses or ()), r.created_at, r.updated_at)
            for r in rows
        ]

    @staticmethod
    def _same_version(col: sa.ColumnElement, seen: datetime | None) -> sa.ColumnElement:
        return col.is_(None) if seen is None else col == seen

    def save_intents(self, diff: IntentDiff) -> SaveResult:
        """Write a grid's diff in one transaction: all or nothing, stale rows refused as conflicts.

        Safe to retry with the same token: if the connection drops while committing, or a retry
        meets its own earlier save, the rows are read back to tell "saved" from "not saved".
        """
        diff = validate_diff(diff)
        if diff.is_empty():
            return SaveResult()
        token = diff.token or SaveToken.new()
        done = SaveResult(added=len(diff.added), edited=len(diff.edited), deleted=len(diff.deleted))
        try:
            self._write_intents(diff, token)
        except SaveOutcomeUnknown:
            if not settle(lambda: self._applied(diff, token)):
                raise StoreUnavailable() from None  # checked: the commit did not happen
            return replace(done, checked=True)
        except (ConflictError, _Refused) as err:
            # A retry of a save that did commit finds its own rows: changed (conflict) or present (duplicate id).
            if diff.token is not None and self._applied(diff, token):
                return replace(done, checked=True)
            if isinstance(err, _Refused):
                raise StoreError(REFUSED) from err
            raise
        return done

    def _write_lock(self, conn: sa.Connection) -> None:
        """SQLite: take the database's write lock before the first read, so what a write transaction
        reads (the history's before values, an undo's check) stays true until it commits."""
        if not self._pg:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _current(self, conn: sa.Connection, ids: list[str]) -> dict[str, sa.RowMapping]:
        """These intents of the user as they are (absent ids: no row), locked on PostgreSQL in id order
        (concurrent writers cannot deadlock)."""
        found: dict[str, sa.RowMapping] = {}
        for part in chunks(sorted(ids), 5000):
            q = sa.select(*INTENT_VALUES).where(I.c.user_id == self._uid, I.c.id.in_(part)).order_by(I.c.id)
            for r in conn.execute(q.with_for_update() if self._pg else q):
                found[str(r.id)] = r._mapping
        return found

    def _record(self, conn: sa.Connection, kind: str, at: datetime, changes: list[dict],
                reverts: str | None = None) -> str:
        """Append the history record of a save (or an undo) in the save's transaction."""
        record_id = str(uuid.uuid4())
        conn.execute(sa.insert(H).values(id=record_id, user_id=self._uid, created_at=at, kind=kind, reverts=reverts,
                                         changes=changes))
        return record_id

    def _write_intents(self, diff: IntentDiff, token: SaveToken) -> None:
        now = token.at
        with self._tx(_Phase()) as conn:
            self._write_lock(conn)
            # every touched row first, locked in one order (concurrent saves cannot deadlock): the record's before values
            before = self._current(conn, [e.id for e in diff.edited] + [d.id for d in diff.deleted])
            conflicts: list[str] = []
            if diff.deleted:
                match = sa.or_(*(sa.and_(I.c.id == d.id, self._same_version(I.c.updated_at, d.updated_at))
                                 for d in diff.deleted))
                gone = conn.execute(sa.delete(I).where(I.c.user_id == self._uid, match).returning(I.c.id)).scalars()
                gone_ids = {str(g) for g in gone}
                conflicts += [d.id for d in diff.deleted if d.id not in gone_ids]
            for e in diff.edited:
                res = conn.execute(
                    sa.update(I)
                    .where(I.c.user_id == self._uid, I.c.id == e.id, self._same_version(I.c.updated_at, e.updated_at))
                    .values(**e.values.columns(), updated_at=now)
                )
                if res.rowcount != 1:
                    conflicts.append(e.id)
            if conflicts:
                names = {e.id: e.values.intent_name for e in diff.edited} | {d.id: d.label or d.id for d in diff.deleted}
                raise ConflictError(conflicts, names)  # rolls the transaction back
            added = [(token.added_id(n), a.columns()) for n, a in enumerate(diff.added)]
            if added:
                try:
                    conn.execute(sa.insert(I), [{"id": i, "user_id": self._uid, "created_at": now, "updated_at": now,
                                                 **columns} for i, columns in added])
                except sa_exc.IntegrityError as err:  # an added id exists: this save (or a retry of it) is there
                    raise _Refused() from err
            at = now.isoformat()
            changes = [history.change_json(d.id, before[d.id], None) for d in diff.deleted]
            changes += [history.change_json(e.id, before[e.id], {**e.values.columns(), "updated_at": at,
                                                                 "created_at": before[e.id]["created_at"]})
                        for e in diff.edited]
            changes += [{"id": i, "before": None, "after": {**columns, "created_at": at, "updated_at": at}}
                        for i, columns in added]
            self._record(conn, diff.kind, now, changes)

    def _applied(self, diff: IntentDiff, token: SaveToken) -> bool:
        """Whether the database holds what this save writes (see lib.store.saves.applied)."""
        found: dict[str, Found] = {}
        with self._tx() as conn:
            for ids in chunks(ids_to_check(diff, token), 500):
                q = (sa.select(I.c.id, I.c.updated_at, I.c.intent_name, I.c.example_user_phrases,
                               I.c.english_responses, I.c.russian_responses)
                     .where(I.c.user_id == self._uid, I.c.id.in_(ids)))
                for r in conn.execute(q):
                    found[str(r.id)] = Found(r.updated_at, content(r._mapping))
        return applied(diff, token, found)

    # -- history and undo -------------------------------------------------------------------

    def list_history(self, limit: int = history.DEFAULT_LIMIT) -> list[HistoryEntry]:
        """The user's latest history records, newest first, each with the undo that undid it (if any), its
        first ``SHOWN_CHANGES`` changes and the counts of all: the database counts, a large import's record
        is not shipped whole."""
        undo = H.alias("undo")
        n = history.SHOWN_CHANGES
        if self._pg:
            head = sa.literal_column(f"jsonb_path_query_array(intent_history.changes, '$[0 to {n - 1}]')")
            total = sa.func.jsonb_array_length(H.c.changes)
            added, deleted = (sa.func.jsonb_array_length(sa.literal_column(
                f"jsonb_path_query_array(intent_history.changes, '$[*] ? (@.{side} == null)')")) for side in ("before", "after"))
        else:
            each = "FROM json_each(intent_history.changes) AS j"
            head = sa.literal_column(f"(SELECT json_group_array(json(j.value)) {each} WHERE j.key < {n})")
            total = sa.func.json_array_length(H.c.changes)
            added, deleted = (sa.literal_column(f"(SELECT count(*) {each} WHERE json_type(j.value, '$.{side}') = 'null')")
                              for side in ("before", "after"))
        q = (sa.select(H.c.id, H.c.created_at, H.c.kind, H.c.reverts, head.label("changes"), total.label("total"),
                       added.label("added"), deleted.label("deleted"), undo.c.id.label("undone_by"))
             .select_from(H.outerjoin(undo, undo.c.reverts == H.c.id))
             .where(H.c.user_id == self._uid)
             .order_by(H.c.created_at.desc(), H.c.id.desc()).limit(max(1, min(int(limit), 200))))
        with self._tx() as conn:
            return [history.entry(r._mapping) for r in conn.execute(q)]

    def undo_save(self, history_id: str) -> str:
        """Put back what one save changed, in one transaction, if none of its intents changed since
        (else UndoConflict, nothing changed); returns the undo's own history record id."""
        history_id = history.history_id(history_id)
        at = utcnow()
        try:
            return self._undo(history_id, at)
        except SaveOutcomeUnknown:
            undone = settle(lambda: self._undone_at(history_id))
            if undone is None or undone[1] != at:
                raise StoreUnavailable() from None  # checked: the undo did not happen
            return undone[0]

    def _undone_at(self, history_id: str) -> tuple[str, datetime] | None:
        q = sa.select(H.c.id, H.c.created_at).where(H.c.user_id == self._uid, H.c.reverts == history_id)
        with self._tx() as conn:
            r = conn.execute(q).first()
        return None if r is None else (str(r.id), r.created_at)

    def _undo(self, history_id: str, at: datetime) -> str:
        with self._tx(_Phase()) as conn:
            self._write_lock(conn)
            row = conn.execute(sa.select(H.c.changes).where(H.c.user_id == self._uid, H.c.id == history_id)).first()
            if row is None:
                raise HistoryNotFound()
            if conn.execute(sa.select(H.c.id).where(H.c.reverts == history_id)).first():
                raise AlreadyUndone()
            record = history.changes(row.changes)
            current = self._current(conn, [c.id for c in record])
            if changed := history.conflicts(record, current):
                raise UndoConflict(changed, history.names(record))
            added = [c.id for c in record if c.before is None]
            for part in chunks(added, 5000):
                conn.execute(sa.delete(I).where(I.c.user_id == self._uid, I.c.id.in_(part)))
            for c in record:
                if c.before is not None and c.after is not None:
                    conn.execute(sa.update(I).where(I.c.user_id == self._uid, I.c.id == c.id)
                                 .values(**history.columns(c.before), updated_at=c.before.updated_at))
            deleted = [c for c in record if c.after is None and c.before is not None]
            if deleted:
                conn.execute(sa.insert(I), [{"id": c.id, "user_id": self._uid, **history.columns(c.before),
                                             "created_at": c.before.created_at, "updated_at": c.before.updated_at}
                                            for c in deleted])
            changes = [history.change_json(c.id, current.get(c.id), history.row(c.before)) for c in record]
            try:
                return self._record(conn, "undo", at, changes, reverts=history_id)
            except sa_exc.IntegrityError as err:  # another session's undo of the same save came first
                raise AlreadyUndone() from err

    # -- assistants and settings ------------------------------------------------------------

    def list_assistants(self) -> list[Assistant]:
        qa = (sa.select(A.c.id, A.c.vapi_assistant_id, A.c.name, A.c.config, A.c.intents_used, A.c.created_at,
                        A.c.updated_at)
              .where(A.c.user_id == self._uid).order_by(A.c.created_at.desc(), A.c.id))
        qi = sa.select(I.c.id, I.c.intent_name).where(I.c.user_id == self._uid)
        with self._tx() as conn:
            rows = conn.execute(qa).all()
            names = {str(r.id): r.intent_name for r in conn.execute(qi)} if rows else {}
        return [
            Assistant(str(r.id), r.vapi_assistant_id, r.name, r.config or {},
                      tuple(names.get(str(i), "(deleted intent)") for i in (r.intents_used or ())),
                      r.created_at, r.updated_at, tuple(str(i) for i in (r.intents_used or ())))
            for r in rows
        ]

    def _insert(self, table: sa.Table) -> sa.Insert:
        return (pg_dialect.insert if self._pg else sqlite_dialect.insert)(table)

    def get_settings(self) -> Settings:
        """The user's settings, created with is_active=true on first read."""
        with self._tx() as conn:
            now = utcnow()
            conn.execute(self._insert(AS).values(user_id=self._uid, is_active=True, created_at=now, updated_at=now)
                         .on_conflict_do_nothing(index_elements=["user_id"]))
            r = conn.execute(sa.select(AS.c.is_active, AS.c.created_at, AS.c.updated_at)
                             .where(AS.c.user_id == self._uid)).one()
        return Settings(bool(r.is_active) if r.is_active is not None else True, r.created_at, r.updated_at)

    def set_active(self, active: bool) -> Settings:
        now = utcnow()
        stmt = self._insert(AS).values(user_id=self._uid, is_active=bool(active), created_at=now, updated_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["user_id"],
                                          set_={"is_active": bool(active), "updated_at": now})
        try:
            with self._tx(_Phase()) as conn:
                r = conn.execute(stmt.returning(AS.c.is_active, AS.c.created_at, AS.c.updated_at)).one()
        except SaveOutcomeUnknown:
            found = settle(self.get_settings)  # the row carries `now` if and only if this write committed
            if found.updated_at != now or found.is_active != bool(active):
                raise StoreUnavailable() from None
            return found
        return Settings(bool(r.is_active), r.created_at, r.updated_at)

    # -- tests ------------------------------------------------------------------------------

    def _test_columns(self) -> list[sa.ColumnElement]:
        """TEST_COLUMNS as the screens and exports show them (the null rule applied by the database)."""
        return [sa.cast(T.c.id, sa.Text).label("id") if self._pg else T.c.id, T.c.assistant_id, T.c.test_phrase,
                shown(T.c.language, DEFAULT_LANGUAGE).label("language"), T.c.call_id,
                shown(T.c.status, DEFAULT_STATUS).label("status"), T.c.created_at, T.c.updated_at]

    def _days(self, conn: sa.Connection, f: TestFilter) -> list[tuple[date, int]]:
        """The filtered set's count per day, newest first (paging.NO_DAY last): from the rollups when
        the filter allows, else from the calls."""
        c = self._counted(f)
        rows = conn.execute(sa.select(c.day, c.n).where(*c.where).group_by(c.day)).all()
        return paging.day_counts((None if d is None else _as_date(d), n) for d, n in rows)

    def list_tests(self, filters: TestFilter, *, page: int = 1, page_size: int = 50) -> TestPage:
        """One page, newest first (see lib.store.paging): per-day counts give the total and the day the
        page starts on; the rows are read from there with a keyset bound and an in-day offset."""
        filters = validate_filter(filters)
        page, page_size = max(1, int(page)), min(max(1, int(page_size)), 1000)
        where = self._test_where(filters)
        with self._tx() as conn:
            days = self._days(conn, filters)
            at = paging.locate(days, (page - 1) * page_size)
            rows: list = []
            if at is not None and at.day != paging.NO_DAY:
                rows = conn.execute(self._page_in_day(where, at, page_size)).all()
            if at is not None and at.undated and len(rows) < page_size:
                q = (sa.select(*self._test_columns()).where(*where, T.c.created_at.is_(None))
                     .order_by(T.c.id.desc()).offset(at.skip if at.day == paging.NO_DAY else 0)
                     .limit(page_size - len(rows)))
                rows += conn.execute(q).all()
        return TestPage(tuple(TestCall(str(r.id), *r[1:]) for r in rows), sum(n for _, n in days), page, page_size)

    def _page_in_day(self, where: list[sa.ColumnElement], at: paging.PageStart, size: int) -> sa.Select:
        """The page's rows: ``at.skip`` rows into ``at.day``, newest first.  Deep into a busy day the
        offset is first walked over created_at alone (the (user_id, created_at) index; an index-only scan
        once vacuumed): its timestamp t bounds the rows, and only the ties at t are still skipped by offset."""
        before = T.c.created_at < paging.next_midnight(at.day)
        newest_first = (T.c.created_at.desc(), T.c.id.desc())
        if at.skip < paging.DEEP_SKIP:
            return sa.select(*self._test_columns()).where(*where, before).order_by(*newest_first) \
                .offset(at.skip).limit(size)
        start = (sa.select(T.c.created_at).where(*where, before).order_by(T.c.created_at.desc())
                 .offset(at.skip).limit(1).cte("page_start"))
        t = sa.select(start.c.created_at).scalar_subquery()
        # the skipped rows newer than t (the others are ties at t, skipped by the offset)
        newer = sa.select(sa.func.count()).where(*where, before, T.c.created_at > t).scalar_subquery()
        return sa.select(*self._test_columns()).where(*where, T.c.created_at <= t).order_by(*newest_first) \
            .offset(at.skip - newer).limit(size)

    def count_tests(self, filters: TestFilter) -> int:
        filters = validate_filter(filters)
        with self._tx() as conn:
            return self._count(conn, filters)

    def _export_select(self, filters: TestFilter, columns: list[sa.ColumnElement]) -> sa.Select:
        """The whole filtered set, newest first like the Tests screen: (created_at, id) descending, then
        calls without created_at (the oldest, by id descending).  ``columns`` may name the assistant's
        ``A.c.name``: its row is joined (one per (user, Vapi id) at most, by the unique key)."""
        named = sa.and_(A.c.user_id == T.c.user_id, A.c.vapi_assistant_id == T.c.assistant_id)
        return (sa.select(*columns).select_from(T.outerjoin(A, named)).where(*self._test_where(filters))
                .order_by(T.c.created_at.desc().nulls_last(), T.c.id.desc()))

    def _export_columns(self) -> list[sa.ColumnElement]:
        """TEST_EXPORT_COLUMNS: the screens' columns with the assistant's name after its id."""
        cols = self._test_columns()
        return [*cols[:2], A.c.name.label("assistant_name"), *cols[2:]]

    def iter_tests(self, filters: TestFilter, *, chunk_size: int = 20_000) -> Iterator[pd.DataFrame]:
        """The whole filtered set, newest first, in chunks, never the whole set in memory: on
        PostgreSQL through ``COPY (query) TO STDOUT`` in binary, elsewhere from a streaming cursor."""
        filters = validate_filter(filters)
        q = self._export_select(filters, self._export_columns())
        with self._tx() as conn:
            if self._pg:
                rows = self._copy_rows(conn, q)
            else:
                rows = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(q)
            chunk: list = []
            for row in rows:
                chunk.append(row)
                if len(chunk) == chunk_size:
                    yield _frame(chunk)
                    chunk = []
            if chunk:
                yield _frame(chunk)

    @staticmethod
    def _copy_rows(conn: sa.Connection, q: sa.Select) -> Iterator[tuple]:
        compiled = q.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY ({compiled}) TO STDOUT (FORMAT BINARY)", compiled.params) as copy:
            copy.set_types(["text"] * 7 + ["timestamp"] * 2)  # TEST_EXPORT_COLUMNS' types
            yield from copy.rows()

    def export_tests_csv(self, filters: TestFilter, out: IO[bytes], *,
                         on_progress: Callable[[int], None] | None = None) -> int:
        """Write the filtered set as CSV to ``out``, byte for byte what ``export.to_csv`` makes of
        ``iter_tests``' rows, with the database formatting every cell; returns the number of rows.

        Runs in one of the process's export slots (ExportBusy when none frees up in time), on the
        export pool, under the export time limit (ExportTimeout).  PostgreSQL writes the CSV lines
        itself (``_copy_csv``); SQLite formats each cell in SQL and the csv module joins them.
        """
        filters = validate_filter(filters)
        # Sort the narrow rows first, then format them: formatting below the sort would make the sort
        # carry the wide CSV text (PostgreSQL keeps the subquery's order for the outer ORDER BY: no re-sort).
        rows = self._export_select(filters, [*T.c, A.c.name.label("assistant_name")]).offset(0).subquery()
        cells = _csv_cells(self._pg, rows.c)
        q = (sa.select(*([_csv_line(cells, _csv_raw(rows.c))] if self._pg else cells))
             .order_by(rows.c.created_at.desc().nulls_last(), rows.c.id.desc()))
        with self._store.export_gate.slot():
            out.write(export.header_bytes(TEST_EXPORT_COLUMNS))
            if self._pg:
                return self._copy_csv(q, out, on_progress)
            return self._sqlite_csv(q, out, on_progress)

    def _copy_csv(self, q: sa.Select, out: IO[bytes], on_progress: Callable[[int], None] | None) -> int:
        """The database writes each row as one finished CSV line (quoted, CR-ended: ``_csv_line``).
        ``COPY ... (FORMAT csv)`` with control characters as delimiter and quote sends it as one cell:
        ``\x01<line>\x01\n`` (the line holds a CR, so it is quoted; a \x01 in it is doubled).
        Python joins ~8,000 lines and turns those boundaries into the line's CRLF with two replaces
        in C: no per-row Python beyond receiving the row."""
        rows = 0
        try:
            # As the connecting role, the query filtering on the user itself (as on SQLite): a policy's
            # auth.jwt() is not parallel safe, and the export's sort and formatting want the workers.
            with self._tx(engine=self._store.export_engine, as_user=False) as conn:
                conn.exec_driver_sql("select set_config('datestyle', 'ISO', true), set_config('jit', 'off', true)")
                compiled = q.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
                cursor = conn.connection.driver_connection.cursor()
                copy_sql = f"COPY ({compiled}) TO STDOUT (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
                with cursor, cursor.copy(copy_sql, compiled.params) as copy:
                    messages, tail = iter(copy), b""
                    while chunk := list(itertools.islice(messages, 8192)):  # the loop over rows stays in C
                        data = tail + b"".join(chunk)
                        end = data.rfind(b"\r\x01\n") + 3  # whole lines only (a message is a row, but still)
                        data, tail = (data[:end], data[end:]) if end > 2 else (b"", data)
                        if data:
                            rows += data.count(b"\r\x01\n")
                            data = data[1:-2].replace(b"\r\x01\n\x01", b"\r\n") + b"\n"
                            out.write(data.replace(b"\x01\x01", b"\x01") if b"\x01" in data else data)
                            if on_progress is not None:
                                on_progress(rows)
                    if tail:
                        raise StoreError("The database refused the export.")  # a cut-off line: never seen
        except psycopg.errors.QueryCanceled as err:
            raise ExportTimeout(self._store.export_timeout_s) from err
        except psycopg.OperationalError as err:
            raise StoreUnavailable() from err
        except psycopg.Error as err:
            raise StoreError("The database refused the export.") from err
        if on_progress is not None:
            on_progress(rows)
        return rows

    def _sqlite_csv(self, q: sa.Select, out: IO[bytes], on_progress: Callable[[int], None] | None) -> int:
        deadline = Deadline(self._store.export_timeout_s)
        compiled = q.compile(dialect=self._store.engine.dialect, compile_kwargs={"render_postcompile": True})
        params = [compiled.params[name] for name in compiled.positiontup or ()]
        rows = 0
        with self._tx() as conn:
            raw = conn.connection.driver_connection
            raw.set_progress_handler(lambda: int(deadline.passed()), 100_000)
            try:
                cursor = raw.execute(str(compiled), params)
                buf = io.StringIO()
                writer = csv.writer(buf, lineterminator="\r\n")
                while batch := cursor.fetchmany(20_000):
                    writer.writerows(batch)
                    out.write(buf.getvalue().encode("utf-8"))
                    buf.seek(0)
                    buf.truncate()
                    rows += len(batch)
                    if on_progress is not None:
                        on_progress(rows)
            except sqlite3.OperationalError as err:
                if deadline.passed():
                    raise ExportTimeout(deadline.seconds) from err
                raise
            finally:
                raw.set_progress_handler(None, 0)
        return rows

    # -- subscription and stats -------------------------------------------------------------

    def get_subscription(self) -> Subscription | None:
        q = sa.select(S.c.stripe_customer_id, S.c.stripe_subscription_id, S.c.status, S.c.plan_type,
                      S.c.billing_cycle, S.c.current_period_start, S.c.current_period_end, S.c.created_at,
                      S.c.updated_at).where(S.c.user_id == self._uid)
        with self._tx() as conn:
            r = conn.execute(q).first()
        return Subscription(*r) if r else None

    def _counted(self, f: TestFilter, *, by: str = "status") -> _Counted:
        """Where the filtered tests are counted, for aggregates by day/language/status (``by="status"``)
        or by assistant (``by="assistant"``): for whole days without a phrase search, the narrowest
        daily rollup that has every dimension needed (a day's rows, not every call); else the calls
        (a phrase search, an exact phrase, or bounds that are not UTC midnights: a user's local days)."""
        whole_days = all(t is None or t == datetime.combine(t.date(), datetime.min.time()) for t in (f.start, f.end))
        if f.search or f.phrase or not whole_days:
            day = self._day(T.c.created_at)
            return _Counted(self._test_where(f), day, T.c.assistant_id, shown(T.c.language, DEFAULT_LANGUAGE),
                            shown(T.c.status, DEFAULT_STATUS), sa.func.count())
        filters = {"assistant_id": f.assistant_ids, "language": f.languages, "status": f.statuses}
        needed = {k for k, v in filters.items() if v} | ({"assistant_id"} if by == "assistant" else {"language", "status"})
        r = next(t for t in reversed(schema.ROLLUPS) if needed <= set(t.c.keys()))
        where: list[sa.ColumnElement] = [r.c.user_id == self._uid]
        if f.start is not None:
            where.append(r.c.day >= f.start.date())
        if f.end is not None:
            where.append(r.c.day < f.end.date())
        defaults = {"language": DEFAULT_LANGUAGE, "status": DEFAULT_STATUS}
        where += [matches(r.c[k], v, defaults[k]) if k in defaults else r.c[k].in_(v) for k, v in filters.items() if v]

        def key(column: str) -> sa.ColumnElement | None:
            return shown(r.c[column], defaults[column]) if column in r.c else None

        return _Counted(where, r.c.day, r.c.get("assistant_id"), key("language"), key("status"),
                        sa.func.coalesce(sa.func.sum(r.c.tests), 0))

    def _count(self, conn: sa.Connection, f: TestFilter) -> int:
        c = self._counted(f)
        return int(conn.execute(sa.select(c.n).where(*c.where)).scalar_one())

    def _intents_in(self, f: TestFilter) -> list[sa.ColumnElement]:
        """The user's intents created in the filter's period (the "created per week" chart follows it)."""
        where = [I.c.user_id == self._uid, I.c.created_at.is_not(None)]
        if f.start is not None:
            where.append(I.c.created_at >= f.start)
        if f.end is not None:
            where.append(I.c.created_at < f.end)
        return where

    def failure_drilldown(self, filters: TestFilter, *, limit: int = 10) -> FailureDrilldown:
        """The test phrases and the assistants with the most failed or cancelled calls in the filter's
        period (and assistant, language, search), each with its total calls there; the filter's statuses
        and exact phrase are ignored (they are what a row of the drill-down sets).  Counted by the
        database: two grouped statements, ``limit`` rows each."""
        filters = validate_filter(replace(filters, statuses=(), phrase=""))
        limit = min(max(1, int(limit)), 100)
        status = shown(T.c.status, DEFAULT_STATUS)
        failed = sa.func.coalesce(sa.func.sum(sa.case((status == "failed", 1), else_=0)), 0)
        cancelled = sa.func.coalesce(sa.func.sum(sa.case((status == "cancelled", 1), else_=0)), 0)
        fails = failed + cancelled
        where = self._test_where(filters)
        phrases = (sa.select(T.c.test_phrase, sa.func.count(), failed, cancelled).where(*where)
                   .group_by(T.c.test_phrase).having(fails > 0)
                   .order_by(fails.desc(), T.c.test_phrase).limit(limit))
        per_asst = (sa.select(T.c.assistant_id.label("assistant_id"), sa.func.count().label("total"),
                              failed.label("failed"), cancelled.label("cancelled")).where(*where)
                    .group_by(T.c.assistant_id).having(fails > 0)
                    .order_by(fails.desc(), T.c.assistant_id).limit(limit).subquery())
        assistants = (sa.select(per_asst.c.assistant_id, A.c.name, per_asst.c.total, per_asst.c.failed,
                                per_asst.c.cancelled)
                      .select_from(per_asst.outerjoin(A, sa.and_(A.c.user_id == self._uid,
                                                                 A.c.vapi_assistant_id == per_asst.c.assistant_id))))
        with self._tx() as conn:
            by_phrase = [FailureGroup(p, p, int(n), int(f), int(c)) for p, n, f, c in conn.execute(phrases)]
            by_asst = [FailureGroup(a, name or a, int(n), int(f), int(c)) for a, name, n, f, c in conn.execute(assistants)]
        by_asst.sort(key=lambda g: (-g.failures, g.key))
        return FailureDrilldown(tuple(by_phrase), tuple(by_asst))

    def stats(self, filters: TestFilter) -> Stats:
        """Every number of the stats screen, counted by the database in two statements.  Status
        totals add up the (day, status) groups, those of calls without a created_at included."""
        filters = validate_filter(filters)
        c, a = self._counted(filters), self._counted(filters, by="assistant")
        text, day = sa.null().cast(sa.String), sa.null().cast(sa.Date)
        per_asst = sa.select(a.assistant_id.label("assistant_id"), a.n.label("n")).where(*a.where) \
            .group_by(a.assistant_id).subquery()
        groups = sa.union_all(
            sa.select(sa.literal("day"), c.day, c.status, text, c.n).where(*c.where).group_by(c.day, c.status),
            sa.select(sa.literal("language"), day, c.language, text, c.n).where(*c.where).group_by(c.language),
            sa.select(sa.literal("assistant"), day, per_asst.c.assistant_id, A.c.name, per_asst.c.n)
            .select_from(per_asst.outerjoin(A, sa.and_(A.c.user_id == self._uid,
                                                       A.c.vapi_assistant_id == per_asst.c.assistant_id))),
        )
        week = self._week(I.c.created_at)
        overview = sa.union_all(
            sa.select(sa.literal("intents"), day, sa.func.count()).where(I.c.user_id == self._uid),
            sa.select(sa.literal("assistants"), day, sa.func.count()).where(A.c.user_id == self._uid),
            sa.select(sa.literal("week"), week, sa.func.count())
            .where(*self._intents_in(filters)).group_by(week),
        )
        with self._tx() as conn:
            rows = [(kind, d, key, name, int(count)) for kind, d, key, name, count in conn.execute(groups) if count]
            totals = conn.execute(overview).all()
        per_day = [(None if d is None else _as_date(d), key, count) for kind, d, key, _, count in rows if kind == "day"]
        statuses: dict[str, int] = {}
        for _, key, count in per_day:  # every call has a status; only those with a created_at have a day
            statuses[key] = statuses.get(key, 0) + count
        days = sorted((DayStatusCount(d, key, count) for d, key, count in per_day if d not in (None, schema.NO_DAY)),
                      key=lambda x: (x.day, x.status))
        langs = sorted(((key, count) for kind, _, key, _, count in rows if kind == "language"),
                       key=lambda x: (-x[1], x[0]))
        assts = sorted(((key, name or key, count) for kind, _, key, name, count in rows if kind == "assistant"),
                       key=lambda x: (-x[2], x[0]))
        counts = {kind: int(n) for kind, _, n in totals if kind != "week"}
        weeks = sorted((_as_date(w), int(n)) for kind, w, n in totals if kind == "week")
        return Stats(counts["intents"], counts["assistants"], sum(statuses.values()), statuses.get("completed", 0),
                     tuple(days), tuple(langs), tuple(assts), tuple(weeks))


# Cells formatted by the database exactly as lib.export.encode_cell formats the same values.
_TRIGGERS = [ord(c) for c in export.FORMULA_TRIGGERS]  # = + - @ tab CR, as code points


def _cat(*parts: sa.ColumnElement | str) -> sa.ColumnElement:
    """SQL string concatenation (``||``) of expressions and literals."""
    out = sa.literal(parts[0]) if isinstance(parts[0], str) else parts[0]
    for p in parts[1:]:
        out = out.op("||")(sa.literal(p) if isinstance(p, str) else p)
    return out


def _text_cell(col: sa.ColumnElement, pg: bool) -> sa.ColumnElement:
    """Formula-neutralized text; '' as NULL (PostgreSQL's CSV would quote an empty string, Python's does not)."""
    lead = sa.func.ascii if pg else sa.func.unicode  # the first character's code point

    def codes(extra: tuple[int, ...] = ()) -> list[sa.ColumnElement]:
        return [sa.literal_column(str(c)) for c in (*_TRIGGERS, *extra)]

    # '*[=+\-@\t\r] at the start: the first character is a trigger once the leading apostrophes are gone
    formula = sa.and_(lead(col).in_(codes((ord("'"),))), lead(sa.func.ltrim(col, "'")).in_(codes()))
    return sa.func.nullif(sa.case((formula, _cat("'", col)), else_=col), "")


def _time_cell(col: sa.ColumnElement, pg: bool) -> sa.ColumnElement:
    """``2026-11-25T07:40:04Z``, with ``.ffffff`` only when the microseconds are not zero."""
    if pg:  # timestamp::text under DateStyle ISO drops zero fractions and trailing zeros: pad them back
        t = sa.func.replace(sa.cast(col, sa.Text), " ", "T")  # one branch runs: the text is made once
        return sa.case((sa.func.date_trunc("second", col) == col, _cat(t, "Z")),
                       else_=_cat(sa.func.rpad(t, 26, "0"), "Z"))
    t = sa.func.replace(sa.func.substr(col, 1, 26), " ", "T")  # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff'
    fraction = sa.func.substr(t, 21)
    return sa.case((sa.func.rtrim(fraction, "0") == "", _cat(sa.func.substr(t, 1, 19), "Z")),
                   else_=_cat(sa.func.substr(t, 1, 20), sa.func.substr(_cat(fraction, "000000"), 1, 6), "Z"))


def _uuid_cell(col: sa.ColumnElement, pg: bool) -> sa.ColumnElement:
    """The id as text with dashes (SQLAlchemy stores a uuid on SQLite as 32 hex digits)."""
    if pg:
        return sa.cast(col, sa.Text)
    parts = [sa.func.substr(col, a, n) for a, n in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
    return sa.case((sa.func.length(col) == 32, _cat(parts[0], "-", parts[1], "-", parts[2], "-", parts[3], "-",
                                                    parts[4])), else_=col)


def _csv_cells(pg: bool, c: sa.ColumnCollection) -> list[sa.ColumnElement]:
    """TEST_EXPORT_COLUMNS of the rows ``c`` as CSV cell text (the null rule applied)."""
    return [_uuid_cell(c.id, pg), _text_cell(c.assistant_id, pg), _text_cell(c.assistant_name, pg),
            _text_cell(c.test_phrase, pg), _text_cell(shown(c.language, DEFAULT_LANGUAGE), pg),
            _text_cell(c.call_id, pg), _text_cell(shown(c.status, DEFAULT_STATUS), pg),
            _time_cell(c.created_at, pg), _time_cell(c.updated_at, pg)]


def _csv_raw(c: sa.ColumnCollection) -> list[sa.ColumnElement | None]:
    """Per cell of ``_csv_cells``, the plain value that decides its CSV quoting (None: never quoted).
    A neutralizing apostrophe never needs quotes, so the cheap column, not the cell, is tested."""
    return [None, c.assistant_id, c.assistant_name, c.test_phrase, shown(c.language, DEFAULT_LANGUAGE), c.call_id,
            shown(c.status, DEFAULT_STATUS), None, None]


def _csv_line(cells: list[sa.ColumnElement], raws: list[sa.ColumnElement | None]) -> sa.ColumnElement:
    """One CSV row as the csv module writes it: cells joined by commas, quoted (quotes doubled) when
    they hold a comma, quote, CR or LF, NULL as nothing, and a CR at the end (``_copy_csv`` adds the LF).  Each
    cell's expression is evaluated once: CASE runs one branch."""
    def cell(c: sa.ColumnElement, raw: sa.ColumnElement | None) -> sa.ColumnElement:
        if raw is None:
            return sa.func.coalesce(c, "")
        return sa.case((raw.op("~")(sa.literal('[",\r\n]')), _cat('"', sa.func.replace(c, '"', '""'), '"')),
                       else_=sa.func.coalesce(c, ""))

    return _cat(sa.func.concat_ws(",", *(cell(c, r) for c, r in zip(cells, raws, strict=True))), "\r")


def _frame(rows: list) -> pd.DataFrame:
    """A chunk of export rows (TEST_EXPORT_COLUMNS) as a frame, built column by column (no per-row probing)."""
    values = zip(*rows, strict=True)
    return pd.DataFrame(dict(zip(TEST_EXPORT_COLUMNS, map(list, values), strict=True)),
                        columns=list(TEST_EXPORT_COLUMNS))


@dataclass(frozen=True)
class _Counted:
    """The filtered tests as something to count: where, grouping columns and the count itself."""

    where: list[sa.ColumnElement]
    day: sa.ColumnElement
    assistant_id: sa.ColumnElement | None  # None: not a dimension of this rollup
    language: sa.ColumnElement | None
    status: sa.ColumnElement | None
    n: sa.ColumnElement  # the count, as an aggregate


@dataclass
class _Phase:
    """Where a write transaction is: ``committing`` once COMMIT is on its way."""

    committing: bool = False


class _Refused(StoreError):
    """An added row's id exists already (internal: settled by ``save_intents``)."""
