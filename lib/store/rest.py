"""Supabase REST backend: supabase-py's PostgREST query builder with the server-side key.

One supabase-py client per process carries only the server-side key (service role / secret key,
which bypasses row-level security), so every query here names the user explicitly with
``.eq("user_id", ...)`` and every write carries the user's id.  A user's own token is never put
on the client.

Behaves like ``lib.store.sql`` (the reference): same validation, return types, ordering and errors.
What one PostgREST request cannot do comes from the migration's functions: ``dashboard_stats``
(every aggregate counted by the database) and ``dashboard_save_intents`` (the grid's save in one
transaction, stale rows refused with SQLSTATE 40001).

Hosted Supabase caps a response at 1,000 rows (``db-max-rows``), so lists are read page by page
with ``.range()`` until the exact count is reached, and the export walks the tests with keyset
pagination on (created_at, id).  Test calls are never counted with ``count=exact`` (a full count of
a million rows per request): ``dashboard_test_days`` reads the filtered set's per-day counts from
the daily rollups, which give the total and the day where a page starts (lib/store/paging.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import IO, Any

import httpx
import pandas as pd
from postgrest import APIResponse, SyncSelectRequestBuilder
from postgrest.exceptions import APIError
from postgrest.types import CountMethod

from lib import export
from lib.errors import (
    AlreadyUndone,
    ConfigError,
    ConflictError,
    HistoryNotFound,
    StoreError,
    StoreUnavailable,
    UndoConflict,
)
from lib.models import (
    DEFAULT_LANGUAGE,
    DEFAULT_STATUS,
    TEST_COLUMNS,
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
from lib.store.sql import like_pattern, utcnow
from lib.validation import validate_diff, validate_filter, validate_user_id
from supabase import Client, ClientOptions, SupabaseException, create_client

PAGE = 1000  # rows per request: hosted Supabase's default db-max-rows
REFUSED = "The database refused the request. Nothing was changed."

INTENT_COLUMNS = "id,intent_name,example_user_phrases,english_responses,russian_responses,created_at,updated_at"
ASSISTANT_COLUMNS = "id,vapi_assistant_id,name,config,intents_used,created_at,updated_at"
SETTINGS_COLUMNS = "is_active,created_at,updated_at"
SUBSCRIPTION_COLUMNS = ("stripe_customer_id,stripe_subscription_id,status,plan_type,billing_cycle,"
                        "current_period_start,current_period_end,created_at,updated_at")
TEST_SELECT = ",".join(TEST_COLUMNS)

# Failures on the way to the database, not answers from it: worth a retry later.
_UNAVAILABLE_PREFIXES = ("08", "53", "57", "PGRST000", "PGRST001", "PGRST002", "PGRST003")
_UNAVAILABLE_STATUS = {"500", "502", "503", "504", "520", "521", "522", "523", "524", "525", "526", "527", "530"}
_RETRY_STATUS = {"502", "503", "504"}  # a gateway's answers: the request did not reach the database
RETRY_WAITS = (0.1, 0.3)  # seconds before the second and third try of a read
SETTLE_CHUNK = 100  # ids per read-back request (keeps the URL short)
_KEY_REFUSED = {"PGRST300", "PGRST301", "PGRST302", "PGRST303", "401"}


def regex_literal(text: str) -> str:
    """A POSIX regular expression (PostgreSQL ARE) that matches ``text`` literally anywhere."""
    return "".join("\\" + ch if ch in "\\^$.|?*+()[]{}" else ch for ch in text)


def _wire_time(value: datetime | date | None) -> str | None:
    """A naive-UTC timestamp as PostgREST takes it (aware values are converted to UTC first)."""
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def _time(value: object) -> datetime | None:
    """A timestamp from PostgREST's JSON ("2026-11-25T12:00:00.123456") as a naive UTC datetime."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise StoreError("Supabase returned a timestamp this dashboard cannot read.") from err
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _date(value: object) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as err:
        raise StoreError("Supabase returned a date this dashboard cannot read.") from err


def _refuse_public_key(key: str) -> None:
    """The dashboard must run with the server-side key; a publishable / anon key would see nothing."""
    if key.startswith("sb_publishable_"):
        raise ConfigError("SUPABASE_KEY is a publishable key; the dashboard needs the server-side secret key.")
    parts = key.split(".")
    if len(parts) != 3:
        return
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return
    if isinstance(claims, dict) and claims.get("role") in ("anon", "authenticated"):
        raise ConfigError("SUPABASE_KEY is a public (anon) key; the dashboard needs the service role key.")


def _transient(err: Exception) -> bool:
    """A failure worth retrying a read for: the gateway or the network, not an answer from the database."""
    if isinstance(err, APIError):
        return str(err.code or "") in _RETRY_STATUS
    return isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | httpx.ReadTimeout | httpx.RemoteProtocolError
                      | httpx.ReadError | httpx.PoolTimeout)


def _unsent(err: Exception) -> bool:
    """The request never reached the server (so a write cannot have happened)."""
    return isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _ambiguous(err: Exception) -> bool:
    """A write whose outcome this failure does not tell: sent, but no answer from the database came
    back (a timeout, a dropped connection, a gateway error without PostgREST's error body)."""
    if isinstance(err, APIError):
        code = str(err.code or "")
        return code in _UNAVAILABLE_STATUS  # a gateway's page (no SQLSTATE): the database may have run it
    return isinstance(err, httpx.TransportError) and not _unsent(err)


def _conflict_ids(err: APIError) -> list | None:
    """The ids a save or undo function refused as changed since (SQLSTATE 40001, ids in its detail)."""
    if err.code != "40001":
        return None
    try:
        ids = json.loads(err.details or "")
    except (TypeError, ValueError):
        return None
    return ids if isinstance(ids, list) and ids else None


def _translate(err: Exception) -> StoreError:
    """A typed, secret-free StoreError for anything supabase-py or httpx raised; the same texts as
    the SQL backends' (the user need not know which backend is configured)."""
    if isinstance(err, APIError):
        code = str(err.code or "")
        if code.startswith(_UNAVAILABLE_PREFIXES) or code in _UNAVAILABLE_STATUS:
            return StoreUnavailable()
        if code in _KEY_REFUSED or (not code and "api key" in str(err.message or "").lower()):
            return ConfigError("Supabase refused the server-side key (SUPABASE_KEY). Nothing was changed.")
        return StoreError(REFUSED)
    if isinstance(err, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigError("SUPABASE_URL is not a reachable http(s) URL.")
    if isinstance(err, httpx.TransportError):  # connect/read/write errors, timeouts, protocol errors
        return StoreUnavailable()
    return StoreError("Supabase answered in a way this dashboard cannot read. Nothing was changed.")


class RestStore:
    """One supabase-py client per process; ``for_user`` hands out handles bound to one user."""

    backend = "supabase"

    def __init__(self, url: str, key: str, *, timeout: float = 15.0, export_timeout: float = 300.0,
                 exports: int = 2) -> None:
        self.export_timeout_s = float(export_timeout)
        self.export_gate = ExportGate(exports)
        if not url or not key:
            raise ConfigError("The Supabase backend needs both SUPABASE_URL and SUPABASE_KEY.")
        _refuse_public_key(key)
        options = ClientOptions(
            postgrest_client_timeout=httpx.Timeout(float(timeout)),
            postgrest_client_retry=False,  # a request may take `timeout`, not several times that
            auto_refresh_token=False,
            persist_session=False,
        )
        try:
            self._client: Client = create_client(url, key, options=options)
        except SupabaseException as err:
            raise ConfigError("SUPABASE_URL is not a valid http(s) URL.") from err
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # postgrest-py's notice about `timeout`
            self._rest = self._client.postgrest  # made once, shared by every thread

    def __repr__(self) -> str:
        return "<RestStore supabase>"

    def for_user(self, user_id: str) -> RestUserStore:
        return RestUserStore(self, validate_user_id(user_id))

    def close(self) -> None:
        self._rest.aclose()
        self._client.auth.close()


class RestUserStore:
    def __init__(self, store: RestStore, user_id: str) -> None:
        self._store = store
        self._uid = user_id

    def __repr__(self) -> str:
        return "<RestUserStore supabase>"

    # -- plumbing ---------------------------------------------------------------------------

    def _table(self, name: str) -> Any:
        return self._store._rest.from_(name)

    def _select(self, name: str, columns: str, *, count: bool = False, head: bool = False) -> SyncSelectRequestBuilder:
        """A select on one of this user's tables, already filtered on the user."""
        builder = self._table(name).select(columns, count=CountMethod.exact if count else None, head=head)
        return builder.eq("user_id", self._uid)

    @staticmethod
    def _execute(builder: Any, on_error: Callable[[APIError], StoreError | None] | None = None, *,
                 read: bool | None = None) -> APIResponse:
        """Run one request.  Reads (GET/HEAD, or ``read=True``) are tried up to three times, after
        0.1 and 0.3 s, when the gateway or the network failed; writes are tried once, and a write
        whose outcome is unknown raises ``_Unsettled`` for the caller to settle by reading back."""
        if read is None:
            read = builder.request.http_method in ("GET", "HEAD")
        waits = (*RETRY_WAITS, None) if read else (None,)
        for wait in waits:
            try:
                return builder.execute()
            except (APIError, httpx.HTTPError, httpx.InvalidURL) as err:
                if read and wait is not None and _transient(err):
                    time.sleep(wait)
                    continue
                if isinstance(err, APIError) and on_error and (special := on_error(err)):
                    raise special from err
                if not read and _ambiguous(err):
                    raise _Unsettled() from err
                raise _translate(err) from err
        raise AssertionError("unreachable")

    @staticmethod
    def _rows(response: APIResponse) -> list[dict]:
        data = response.data
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise _Unreadable("Supabase answered in a way this dashboard cannot read. Nothing was changed.")
        return data

    def _all(self, make: Callable[[bool], SyncSelectRequestBuilder]) -> list[dict]:
        """Every row of an ordered select, page by page (``make(count)`` builds a fresh query)."""
        first = self._execute(make(True).range(0, PAGE - 1))
        rows = self._rows(first)
        total = first.count
        while total is None or len(rows) < total:
            more = self._rows(self._execute(make(False).range(len(rows), len(rows) + PAGE - 1)))
            if not more:
                break
            rows.extend(more)
        return rows

    def _rpc(self, fn: str, params: dict, on_error: Callable[[APIError], StoreError | None] | None = None, *,
             read: bool = False) -> Any:
        """Call a database function (POST); ``read=True`` for functions that only read (may be retried)."""
        return self._execute(self._store._rest.rpc(fn, params), on_error, read=read).data

    # -- change versions --------------------------------------------------------------------

    def versions(self) -> dict[str, int]:
        """The user's change versions (table name -> version), kept by the database's triggers."""
        rows = self._rows(self._execute(self._select("user_data_versions", "topic,version")))
        try:
            return {str(r["topic"]): int(r["version"]) for r in rows}
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError("Supabase answered in a way this dashboard cannot read.") from err

    # -- intents ----------------------------------------------------------------------------

    def list_intents(self) -> list[Intent]:
        rows = self._all(lambda count: self._select("intents", INTENT_COLUMNS, count=count)
                         .order("created_at", desc=True).order("id"))
        return [
            Intent(str(r["id"]), r["intent_name"], tuple(r["example_user_phrases"] or ()),
                   tuple(r["english_responses"] or ()), tuple(r["russian_responses"] or ()),
                   _time(r["created_at"]), _time(r["updated_at"]))
            for r in rows
        ]

    def save_intents(self, diff: IntentDiff) -> SaveResult:
        """Write a grid's diff in one transaction (one RPC): all or nothing, stale rows refused as conflicts.

        Never retried blindly: when the answer is lost (timeout, dropped connection, gateway error,
        unreadable body) the rows are read back by the save's token to tell "saved" from "not saved",
        and a retry with the same token that meets its own earlier save reports it saved.
        """
        diff = validate_diff(diff)
        if diff.is_empty():
            return SaveResult()
        token = diff.token or SaveToken.new()
        done = SaveResult(added=len(diff.added), edited=len(diff.edited), deleted=len(diff.deleted))
        names = {e.id: e.values.intent_name for e in diff.edited} | {d.id: d.label or d.id for d in diff.deleted}

        def refused(err: APIError) -> StoreError | None:
            if err.code == "23505":  # an added id exists: this save may be there already
                return _Duplicate(REFUSED)
            ids = _conflict_ids(err)
            if ids is None:
                return None
            return ConflictError([str(i) for i in ids], names)

        params = {
            "p_user_id": self._uid,
            "p_added": [{"id": token.added_id(n), **a.columns()} for n, a in enumerate(diff.added)],
            "p_edited": [{"id": e.id, "updated_at": _wire_time(e.updated_at), **e.values.columns()}
                         for e in diff.edited],
            "p_deleted": [{"id": d.id, "updated_at": _wire_time(d.updated_at)} for d in diff.deleted],
            "p_at": _wire_time(token.at),
            "p_kind": diff.kind,
        }
        try:
            answer = self._rpc("dashboard_save_intents", params, refused)
            if not isinstance(answer, dict) or answer.get("added") != len(diff.added):
                raise _Unsettled()  # an unreadable answer to a write that may have committed
        except _Unsettled:
            if not settle(lambda: self._applied(diff, token)):
                raise StoreUnavailable() from None  # checked: the save did not happen
            return replace(done, checked=True)
        except (ConflictError, _Duplicate) as err:
            if diff.token is not None and self._applied(diff, token):
                return replace(done, checked=True)  # a retry that met its own earlier save
            if isinstance(err, _Duplicate):
                raise StoreError(REFUSED) from err
            raise
        return done

    def _applied(self, diff: IntentDiff, token: SaveToken) -> bool:
        """Whether the database holds what this save writes (see lib.store.saves.applied)."""
        found: dict[str, Found] = {}
        for ids in chunks(ids_to_check(diff, token), SETTLE_CHUNK):
            rows = self._rows(self._execute(self._select("intents", INTENT_COLUMNS).in_("id", ids)))
            for r in rows:
                found[str(r["id"])] = Found(_time(r["updated_at"]), content(r))
        return applied(diff, token, found)

    # -- history and undo -------------------------------------------------------------------

    def list_history(self, limit: int = history.DEFAULT_LIMIT) -> list[HistoryEntry]:
        """The user's latest history records, newest first (one RPC: ``dashboard_history`` counts each
        record's changes and sends only its first ``SHOWN_CHANGES``)."""
        params = {"p_user_id": self._uid, "p_limit": max(1, min(int(limit), 200)), "p_shown": history.SHOWN_CHANGES}
        rows = self._rpc("dashboard_history", params, read=True)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise _Unreadable("Supabase answered in a way this dashboard cannot read.")
        try:
            return [history.entry({**r, "created_at": _time(r["created_at"])}) for r in rows]
        except KeyError as err:
            raise StoreError("Supabase answered in a way this dashboard cannot read.") from err

    def _record(self, history_id: str) -> list:
        rows = self._rows(self._execute(self._select("intent_history", "changes").eq("id", history_id)))
        return list(history.changes(rows[0]["changes"])) if rows else []

    def undo_save(self, history_id: str) -> str:
        """Put back what one save changed (one RPC, one transaction) if none of its intents changed since
        (else UndoConflict, nothing changed); returns the undo's own history record id.  A lost answer
        is settled by reading back the undo's record (it carries this call's time)."""
        history_id = history.history_id(history_id)
        at = utcnow()

        def refused(err: APIError) -> StoreError | None:
            if err.code == "P0002":
                return HistoryNotFound()
            if err.code == "23505":
                return AlreadyUndone()
            ids = _conflict_ids(err)
            if ids is None:
                return None
            try:
                names = history.names(self._record(history_id))
            except StoreError:
                names = {}
            return UndoConflict([str(i) for i in ids], names)

        params = {"p_user_id": self._uid, "p_history_id": history_id, "p_at": _wire_time(at)}
        try:
            answer = self._rpc("dashboard_undo_save", params, refused)
            if not isinstance(answer, dict) or not answer.get("history_id"):
                raise _Unsettled()
        except _Unsettled:
            undone = settle(lambda: self._undone_at(history_id))
            if undone is None or undone[1] != at:
                raise StoreUnavailable() from None  # checked: the undo did not happen
            return undone[0]
        return str(answer["history_id"])

    def _undone_at(self, history_id: str) -> tuple[str, datetime | None] | None:
        rows = self._rows(self._execute(self._select("intent_history", "id,created_at").eq("reverts", history_id)))
        return (str(rows[0]["id"]), _time(rows[0]["created_at"])) if rows else None

    # -- assistants and settings ------------------------------------------------------------

    def list_assistants(self) -> list[Assistant]:
        rows = self._all(lambda count: self._select("assistants", ASSISTANT_COLUMNS, count=count)
                         .order("created_at", desc=True).order("id"))
        names: dict[str, str] = {}
        if rows:
            intents = self._all(lambda count: self._select("intents", "id,intent_name", count=count).order("id"))
            names = {str(r["id"]): r["intent_name"] for r in intents}
        return [
            Assistant(str(r["id"]), r["vapi_assistant_id"], r["name"], r["config"] or {},
                      tuple(names.get(str(i), "(deleted intent)") for i in (r["intents_used"] or ())),
                      _time(r["created_at"]), _time(r["updated_at"]),
                      tuple(str(i) for i in (r["intents_used"] or ())))
            for r in rows
        ]

    @staticmethod
    def _settings(r: dict) -> Settings:
        active = r["is_active"]
        return Settings(bool(active) if active is not None else True, _time(r["created_at"]), _time(r["updated_at"]))

    def _read_settings(self) -> list[dict]:
        return self._rows(self._execute(self._select("assistant_settings", SETTINGS_COLUMNS).limit(1)))

    def _create_settings(self, active: bool, at: datetime | None = None) -> list[dict]:
        """Insert the user's settings row unless one exists; the new row, or [] if there was one."""
        now = _wire_time(at or utcnow())
        row = {"user_id": self._uid, "is_active": active, "created_at": now, "updated_at": now}
        return self._rows(self._execute(
            self._table("assistant_settings").upsert(row, on_conflict="user_id", ignore_duplicates=True)
            .select(SETTINGS_COLUMNS)))

    def get_settings(self) -> Settings:
        """The user's settings, created with is_active=true on first read."""
        rows = self._read_settings() or self._create_settings(True) or self._read_settings()
        if not rows:
            raise StoreError(REFUSED)
        return self._settings(rows[0])

    def set_active(self, active: bool) -> Settings:
        """Set the toggle; if the answer is lost, read the row back (it carries this write's time)."""
        now = utcnow()

        def update() -> list[dict]:
            change = {"is_active": bool(active), "updated_at": _wire_time(now)}
            return self._rows(self._execute(
                self._table("assistant_settings").update(change).eq("user_id", self._uid).select(SETTINGS_COLUMNS)))

        try:
            rows = update() or self._create_settings(bool(active), now) or update()
        except (_Unsettled, _Unreadable):
            found = settle(self.get_settings)
            if found.updated_at != now or found.is_active != bool(active):
                raise StoreUnavailable() from None  # checked: the write did not happen
            return found
        if not rows:
            raise StoreError(REFUSED)
        return self._settings(rows[0])

    # -- tests ------------------------------------------------------------------------------

    def _tests(self, columns: str, f: TestFilter, *, count: bool = False, head: bool = False) -> SyncSelectRequestBuilder:
        """A select on this user's tests with the filter applied (same rows as SqlUserStore._test_where)."""
        q = self._select("assistant_tests", columns, count=count, head=head)
        if f.start is not None:
            q = q.gte("created_at", _wire_time(f.start))
        if f.end is not None:
            q = q.lt("created_at", _wire_time(f.end))
        if f.assistant_ids:
            q = q.in_("assistant_id", list(f.assistant_ids))
        for column, values, default in (("language", f.languages, DEFAULT_LANGUAGE),
                                        ("status", f.statuses, DEFAULT_STATUS)):
            if not values:
                continue
            if default in values:  # the null rule: NULL or '' is the default (as SqlUserStore's `matches`)
                q = q.or_(f'{column}.in.({",".join(values)}),{column}.is.null,{column}.eq.""')
            else:
                q = q.in_(column, list(values))
        if f.search:
            if "*" in f.search:
                # PostgREST reads '*' in a like/ilike pattern as '%', with no escape: match literally instead.
                q = q.filter("test_phrase", "imatch", regex_literal(f.search))
            else:
                q = q.ilike("test_phrase", like_pattern(f.search))
        if f.phrase:
            q = q.eq("test_phrase", f.phrase)
        return q

    @staticmethod
    def _test(r: dict) -> TestCall:
        return TestCall(str(r["id"]), r["assistant_id"], r["test_phrase"], r["language"] or DEFAULT_LANGUAGE,
                        r["call_id"], r["status"] or DEFAULT_STATUS, _time(r["created_at"]), _time(r["updated_at"]))

    def _days(self, f: TestFilter) -> list[tuple[date, int]]:
        """The filtered set's count per day, newest first (one RPC, from the rollups when it can)."""
        data = self._rpc("dashboard_test_days", {
            "p_user_id": self._uid,
            "p_start": _wire_time(f.start),
            "p_end": _wire_time(f.end),
            "p_assistant_ids": list(f.assistant_ids) or None,
            "p_languages": list(f.languages) or None,
            "p_statuses": list(f.statuses) or None,
            "p_search": f.search or None,
            "p_phrase": f.phrase or None,
        })
        try:
            return paging.day_counts((_date(d["day"]), int(d["count"])) for d in data)
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError("Supabase answered in a way this dashboard cannot read.") from err

    def _range(self, make: Callable[[], SyncSelectRequestBuilder], skip: int, n: int) -> list[dict]:
        """Rows ``skip`` .. ``skip + n - 1`` of an ordered select, also from a server capped below ``n``."""
        rows: list[dict] = []
        while len(rows) < n:
            try:
                more = self._rows(self._execute(make().range(skip + len(rows), skip + n - 1),
                                                lambda err: _PastTheEnd() if err.code == "PGRST103" else None))
            except _PastTheEnd:
                break
            if not more:
                break
            rows.extend(more)
        return rows[:n]

    def list_tests(self, filters: TestFilter, *, page: int = 1, page_size: int = 50) -> TestPage:
        """One page, newest first, as SqlUserStore.list_tests: the per-day counts give the total and the
        page's first day; rows are read from there with a keyset bound and an in-day offset."""
        filters = validate_filter(filters)
        page, page_size = max(1, int(page)), min(max(1, int(page_size)), 1000)
        days = self._days(filters)
        at = paging.locate(days, (page - 1) * page_size)
        rows: list[dict] = []
        if at is not None and at.day != paging.NO_DAY:
            bound = _wire_time(paging.next_midnight(at.day))
            rows = self._range(lambda: self._tests(TEST_SELECT, filters).lt("created_at", bound)
                               .order("created_at", desc=True).order("id", desc=True), at.skip, page_size)
        if at is not None and at.undated and len(rows) < page_size:
            rows += self._range(lambda: self._tests(TEST_SELECT, filters).is_("created_at", "null")
                                .order("id", desc=True), at.skip if at.day == paging.NO_DAY else 0,
                                page_size - len(rows))
        return TestPage(tuple(self._test(r) for r in rows), sum(n for _, n in days), page, page_size)

    def count_tests(self, filters: TestFilter) -> int:
        return sum(n for _, n in self._days(validate_filter(filters)))

    def _keyset(self, filters: TestFilter, deadline: Deadline | None = None) -> Iterator[dict]:
        """The filtered tests newest first ((created_at, id) descending, then null created_at by id
        descending), 1,000 per request, as SqlUserStore's export orders them.

        Keyset pagination: each request continues after the last row of the previous one, so rows
        are neither skipped nor repeated when other rows come or go meanwhile.
        """
        cursor: tuple[str, str] | None = None
        while True:
            if deadline is not None:
                deadline.check()
            q = self._tests(TEST_SELECT, filters).not_.is_("created_at", "null")
            if cursor:
                at, last = (json.dumps(v) for v in cursor)  # double-quoted for PostgREST's logic tree
                q = q.or_(f"created_at.lt.{at},and(created_at.eq.{at},id.lt.{last})")
            rows = self._rows(self._execute(q.order("created_at", desc=True).order("id", desc=True).limit(PAGE)))
            if not rows:
                break
            yield from rows
            cursor = (rows[-1]["created_at"], rows[-1]["id"])
        if filters.start is None and filters.end is None:  # a date range never matches a null created_at
            last_id: str | None = None
            while True:
                if deadline is not None:
                    deadline.check()
                q = self._tests(TEST_SELECT, filters).is_("created_at", "null")
                if last_id:
                    q = q.lt("id", last_id)
                rows = self._rows(self._execute(q.order("id", desc=True).limit(PAGE)))
                if not rows:
                    break
                yield from rows
                last_id = rows[-1]["id"]

    def _assistant_names(self) -> dict[str, str]:
        """The user's assistants' names by Vapi id (one per id: the table's unique key)."""
        rows = self._all(lambda count: self._select("assistants", "vapi_assistant_id,name", count=count)
                         .order("vapi_assistant_id"))
        return {r["vapi_assistant_id"]: r["name"] for r in rows}

    def iter_tests(self, filters: TestFilter, *, chunk_size: int = 20_000,
                   deadline: Deadline | None = None) -> Iterator[pd.DataFrame]:
        """The whole filtered set, newest first, in DataFrames of up to ``chunk_size`` rows
        (TEST_EXPORT_COLUMNS: the assistant's name beside its Vapi id)."""
        filters = validate_filter(filters)
        chunk_size = max(1, int(chunk_size))
        names = self._assistant_names()

        def frame(records: list[tuple]) -> pd.DataFrame:
            df = pd.DataFrame.from_records(records, columns=list(TEST_EXPORT_COLUMNS))
            df["id"] = df["id"].astype(str)
            return df

        buffer: list[tuple] = []
        for r in self._keyset(filters, deadline):
            t = self._test(r)
            buffer.append((t.id, t.assistant_id, names.get(t.assistant_id), t.test_phrase, t.language, t.call_id,
                           t.status, t.created_at, t.updated_at))
            if len(buffer) >= chunk_size:
                yield frame(buffer)
                buffer = []
        if buffer:
            yield frame(buffer)

    def export_tests_csv(self, filters: TestFilter, out: IO[bytes], *,
                         on_progress: Callable[[int], None] | None = None) -> int:
        """The filtered set as CSV (``export.to_csv``'s bytes) into ``out``; returns the rows.  In one of
        the process's export slots, stopped with ExportTimeout after EXPORT_TIMEOUT_SECONDS."""
        filters = validate_filter(filters)
        deadline = Deadline(self._store.export_timeout_s)
        with self._store.export_gate.slot():
            return export.write_csv(self.iter_tests(filters, deadline=deadline), out, on_progress,
                                    columns=TEST_EXPORT_COLUMNS)

    # -- subscription and stats -------------------------------------------------------------

    def get_subscription(self) -> Subscription | None:
        rows = self._rows(self._execute(self._select("subscriptions", SUBSCRIPTION_COLUMNS).limit(1)))
        if not rows:
            return None
        r = rows[0]
        return Subscription(r["stripe_customer_id"], r["stripe_subscription_id"], r["status"], r["plan_type"],
                            r["billing_cycle"], _time(r["current_period_start"]), _time(r["current_period_end"]),
                            _time(r["created_at"]), _time(r["updated_at"]))

    def stats(self, filters: TestFilter) -> Stats:
        """Every number of the stats screen, counted by the database in one RPC (dashboard_stats)."""
        filters = validate_filter(filters)
        data = self._rpc("dashboard_stats", read=True, params={
            "p_user_id": self._uid,
            "p_start": _wire_time(filters.start),
            "p_end": _wire_time(filters.end),
            "p_assistant_ids": list(filters.assistant_ids) or None,
            "p_languages": list(filters.languages) or None,
            "p_statuses": list(filters.statuses) or None,
            "p_search": filters.search or None,
            "p_phrase": filters.phrase or None,
        })
        try:
            days = tuple(DayStatusCount(_date(d["day"]), d["status"], int(d["count"]))
                         for d in data["tests_per_day"] if d["day"] is not None)
            langs = sorted(((d["language"], int(d["count"])) for d in data["tests_per_language"]),
                           key=lambda x: (-x[1], x[0]))
            assts = sorted(((d["assistant_id"], d["name"] or d["assistant_id"], int(d["count"]))
                            for d in data["tests_per_assistant"]), key=lambda x: (-x[2], x[0]))
            weeks = tuple((_date(w["week"]), int(w["count"])) for w in data["intents_per_week"])
            return Stats(int(data["intents"]), int(data["assistants"]), int(data["tests"]),
                         int(data["tests_completed"]), days, tuple(langs), tuple(assts), weeks)
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError("Supabase answered in a way this dashboard cannot read.") from err

    def failure_drilldown(self, filters: TestFilter, *, limit: int = 10) -> FailureDrilldown:
        """As SqlUserStore.failure_drilldown, counted by the database in one RPC (dashboard_failure_drilldown)."""
        filters = validate_filter(replace(filters, statuses=(), phrase=""))
        data = self._rpc("dashboard_failure_drilldown", read=True, params={
            "p_user_id": self._uid,
            "p_start": _wire_time(filters.start),
            "p_end": _wire_time(filters.end),
            "p_assistant_ids": list(filters.assistant_ids) or None,
            "p_languages": list(filters.languages) or None,
            "p_search": filters.search or None,
            "p_limit": min(max(1, int(limit)), 100),
        })
        try:
            def groups(rows: list[dict]) -> tuple[FailureGroup, ...]:
                return tuple(FailureGroup(str(g["key"]), str(g["name"] or g["key"]), int(g["total"]), int(g["failed"]),
                                          int(g["cancelled"])) for g in rows)

            return FailureDrilldown(groups(data["phrases"]), groups(data["assistants"]))
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError("Supabase answered in a way this dashboard cannot read.") from err


class _PastTheEnd(StoreError):
    """PostgREST's 416: the requested page starts after the last row."""


class _Unsettled(StoreUnavailable):
    """A write was sent but its answer was lost (internal: settled by reading back)."""


class _Duplicate(StoreError):
    """An added row's id exists already (internal: settled by ``save_intents``)."""


class _Unreadable(StoreError):
    """An answer that is not the JSON asked for (after a write: its outcome is unknown)."""
