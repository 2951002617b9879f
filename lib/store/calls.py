"""The one UserStore: every method is one call of a ``public.dashboard_*`` function through a transport
(lib.store.transport), whose JSON is parsed into lib.models and whose refusals (SQLSTATE) become
lib.errors' types here, once for both transports.  No query logic: the SQL functions filter, order,
page and count.

A write whose answer was lost (``Unsettled``) is settled by reading back (lib.store.saves): a save by
its token's rows, an undo by the record that reverts it, the toggle by its ``updated_at``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import IO, Any

import pandas as pd

from lib.errors import (
    AlreadyUndone,
    ConflictError,
    HistoryNotFound,
    NameTaken,
    NotLoaded,
    SaveUndone,
    StoreError,
    StoreUnavailable,
    UndoConflict,
)
from lib.files import csv_encoding
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
    Undone,
    utcnow,
)
from lib.ops import metrics
from lib.store import budget, history
from lib.store.exports import Deadline, ExportGate
from lib.store.saves import Found, applied, chunks, content, ids_to_check, settle
from lib.store.transport import (
    REFUSED,
    UNREADABLE,
    Refused,
    Unsettled,
    filter_params,
    parse_date,
    parse_time,
    wire_time,
)
from lib.store.validation import validate_diff, validate_filter, validate_user_id, validate_zone

SETTLE_CHUNK = 1000  # intents read back per call when settling a save
DELETED_INTENT = "(deleted intent)"  # an assistant's intent id that names no intent of the user


@contextmanager
def _parsing() -> Iterator[None]:
    """JSON of an unexpected shape is an unreadable answer, never a traceback."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        raise StoreError(UNREADABLE) from err


def _json(text: str | None) -> Any:
    """A refusal's detail or hint as the functions write it (JSON text), or None."""
    try:
        return json.loads(text or "")
    except (TypeError, ValueError):
        return None


class CallStore:
    """What DirectStore and RestStore add to their transport: ``for_user`` and the export gate/limit."""

    backend: str
    export_page: int = 5000

    def __init__(self, *, export_timeout_s: float, exports: int) -> None:
        self.export_timeout_s = float(export_timeout_s)
        self.export_gate = ExportGate(exports)

    def call(self, uid: str | None, fn: str, params: dict[str, Any], *, read: bool, export: bool = False) -> Any:
        raise NotImplementedError

    def export_lines(self, uid: str, params: dict[str, Any], out: IO[bytes],
                     on_progress: Callable[[int], None] | None, deadline: Deadline) -> int:
        """The export's CSV lines into ``out``, page by page (``dashboard_export_csv``, keyset); returns the rows.
        The direct transport COPYs them instead."""
        rows, after = 0, None
        while True:
            deadline.check()
            page = self.call(uid, "dashboard_export_csv", {**params, "p_limit": self.export_page, "p_after": after},
                             read=True, export=True)
            with _parsing():
                text, n, after = page["csv"] or "", int(page["rows"]), page.get("next")
            if text:
                out.write(text.encode("utf-8"))
            rows += n
            if on_progress is not None:
                on_progress(rows)
            if after is None:
                return rows

    def signin_throttle(self, action: str, keys: list[str], limits: list[int], lockout_seconds: float) -> float:
        """The sign-in throttle shared by every replica (``public.signin_throttle``, called as the server itself:
        role service_role, no user): seconds to wait, 0 to go on."""
        try:
            answer = self.call(None, "signin_throttle", {"p_action": action, "p_keys": keys, "p_limits": limits,
                                                         "p_lockout": float(lockout_seconds)}, read=False)
        except Refused as err:
            raise StoreError(REFUSED) from err
        with _parsing():
            return float(answer or 0)

    def for_user(self, user_id: str) -> UserCalls:
        return UserCalls(self, validate_user_id(user_id))


class UserCalls:
    """One user's handle (``lib.store.UserStore``): everything a screen can do with one user's data, each
    method one ``store.call``; no method takes a user id."""

    def __init__(self, store: CallStore, user_id: str) -> None:
        self._store = store
        self._uid = user_id

    def __repr__(self) -> str:
        return f"<UserStore {self._store.backend}>"

    def _call(self, fn: str, params: dict[str, Any] | None = None, *, read: bool = True, export: bool = False,
              refused: Callable[[Refused], StoreError | None] | None = None) -> Any:
        """One function call; a refusal ``refused`` does not map is REFUSED (no SQL text reaches the user).

        A screen's read shares the render's time budget (lib.store.budget): once the budget is spent or a
        read found the database unavailable, the next read fails at once, saying the screen could not be
        loaded (NotLoaded) rather than that nothing was changed."""
        screen_read = read and not export
        try:
            if screen_read and budget.exhausted():
                raise NotLoaded()
            started = time.perf_counter()
            try:
                return self._store.call(self._uid, fn, params or {}, read=read, export=export)
            finally:
                metrics.DB_CALL_SECONDS.labels(fn, self._store.backend).observe(time.perf_counter() - started)
        except Refused as err:
            raise (refused and refused(err)) or StoreError(REFUSED) from err
        except StoreUnavailable as err:
            metrics.ERRORS.labels("store", type(err).__name__).inc()
            if not screen_read or isinstance(err, NotLoaded):
                raise
            budget.fail()
            raise NotLoaded() from err
        except StoreError as err:
            metrics.ERRORS.labels("store", type(err).__name__).inc()
            raise

    # -- change versions and intents --------------------------------------------------------

    def versions(self) -> dict[str, int]:
        """The user's change versions (table name -> version; absent: never written), kept by triggers."""
        data = self._call("dashboard_versions")
        with _parsing():
            return {str(topic): int(version) for topic, version in data.items()}

    def list_intents(self) -> list[Intent]:
        with _parsing():
            return [Intent(str(r["id"]), r["intent_name"], *content(r)[1:], parse_time(r["created_at"]),
                           parse_time(r["updated_at"]), int(r["version"])) for r in self._call("dashboard_list_intents")]

    def save_intents(self, diff: IntentDiff) -> SaveResult:
        """Write a grid's diff in one transaction: all or nothing, stale rows refused as conflicts.

        Never retried blindly: a lost answer is settled by reading the rows back by the save's token,
        and a retry with the same token that meets its own earlier save reports it saved (``checked``).
        """
        diff = validate_diff(diff)
        if diff.is_empty():
            return SaveResult()
        token = diff.token or SaveToken.new()
        done = SaveResult(added=len(diff.added), edited=len(diff.edited), deleted=len(diff.deleted))
        names = {e.id: e.values.intent_name for e in diff.edited} | {d.id: d.label or d.id for d in diff.deleted}

        def refused(err: Refused) -> StoreError | None:
            ids = _json(err.detail)
            if err.sqlstate == "40001" and isinstance(ids, list) and ids:
                return ConflictError([str(i) for i in ids], names)
            if taken := _name_taken(err):
                return taken
            return _Duplicate(REFUSED) if err.sqlstate == "23505" else None  # an added id exists (this save's?)

        params = {
            "p_added": [{"id": token.added_id(n), **a.columns()} for n, a in enumerate(diff.added)],
            "p_edited": [{"id": e.id, "updated_at": wire_time(e.updated_at), "version": e.version,
                          **e.values.columns()} for e in diff.edited],
            "p_deleted": [{"id": d.id, "updated_at": wire_time(d.updated_at), "version": d.version}
                          for d in diff.deleted],
            "p_at": wire_time(token.at),
            "p_kind": diff.kind,
            "p_token": token.save_id,
        }
        try:
            answer = self._call("dashboard_save_intents", params, read=False, refused=refused)
            if isinstance(answer, dict) and answer.get("repeat"):  # this token's save has a record already
                if answer.get("undone"):
                    raise SaveUndone()
                return replace(done, checked=True)
            if not isinstance(answer, dict) or answer.get("added") != len(diff.added):
                raise Unsettled()  # an unreadable answer to a write that may have committed
        except Unsettled:
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
            with _parsing():
                for r in self._call("dashboard_list_intents", {"p_ids": ids}):
                    found[str(r["id"])] = Found(parse_time(r["updated_at"]), content(r))
        return applied(diff, token, found)

    # -- history and undo -------------------------------------------------------------------

    def list_history(self, limit: int = history.DEFAULT_LIMIT) -> list[HistoryEntry]:
        """The latest records, newest first, each with its first SHOWN_CHANGES changes and all counts."""
        rows = self._call("dashboard_history", {"p_limit": max(1, min(int(limit), 200)),
                                                "p_shown": history.SHOWN_CHANGES})
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise StoreError(UNREADABLE)
        with _parsing():
            return [history.entry(r) for r in rows]

    def undo_save(self, history_id: str) -> Undone:
        """Put back what one save changed, in one transaction, if none of its intents changed since (else
        UndoConflict, nothing changed), with the assistant links of the intents it brings back; returns the
        undo's own record id and those links.  A lost answer is settled by reading back the record that
        reverts it (it carries this call's time; the links are then not known: none are named)."""
        history_id = history.history_id(history_id)
        at = utcnow()

        def refused(err: Refused) -> StoreError | None:
            if err.sqlstate == "P0002":
                return HistoryNotFound()
            if taken := _name_taken(err, undo=True):
                return taken
            if err.sqlstate == "23505":
                return AlreadyUndone()
            ids, names = _json(err.detail), _json(err.hint)
            if err.sqlstate != "40001" or not isinstance(ids, list) or not ids:
                return None
            names = {str(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}
            return UndoConflict([str(i) for i in ids], names)

        try:
            answer = self._call("dashboard_undo_save", {"p_history_id": history_id, "p_at": wire_time(at)},
                                read=False, refused=refused)
            if not isinstance(answer, dict) or not answer.get("history_id"):
                raise Unsettled()
        except Unsettled:
            undone = settle(lambda: self._undone_by(history_id))
            if undone is None or undone[1] != at:
                raise StoreUnavailable() from None  # checked: the undo did not happen
            return Undone(undone[0])
        # the undo is done: links of an unexpected shape are left unnamed rather than reported as a failure
        lost, restored = answer.get("links_lost"), answer.get("links_restored")
        return Undone(str(answer["history_id"]), restored if isinstance(restored, int) else 0,
                      tuple(str(n) for n in lost) if isinstance(lost, list) else ())

    def _undone_by(self, history_id: str) -> tuple[str, Any] | None:
        data = self._call("dashboard_undo_of", {"p_history_id": history_id})
        with _parsing():
            return None if data is None else (str(data["id"]), parse_time(data["created_at"]))

    # -- assistants, settings, subscription -------------------------------------------------

    def list_assistants(self) -> list[Assistant]:
        with _parsing():
            return [Assistant(str(r["id"]), r["vapi_assistant_id"], r["name"], r["config"] or {},
                              tuple(DELETED_INTENT if n is None else n for n in r["intent_names"]),
                              parse_time(r["created_at"]), parse_time(r["updated_at"]),
                              tuple(str(i) for i in (r["intents_used"] or ())))
                    for r in self._call("dashboard_assistants")]

    @staticmethod
    def _settings(data: Any) -> Settings:
        with _parsing():
            active = data["is_active"]
            return Settings(bool(active) if active is not None else True, parse_time(data["created_at"]),
                            parse_time(data["updated_at"]))

    def get_settings(self) -> Settings:
        """The user's settings, created with is_active=true on first read (idempotent: may be retried)."""
        return self._settings(self._call("dashboard_settings"))

    def set_active(self, active: bool) -> Settings:
        """Set the toggle; if the answer is lost, read the row back (it carries this write's time)."""
        now = utcnow()
        try:
            data = self._call("dashboard_set_active", {"p_active": bool(active), "p_at": wire_time(now)}, read=False)
            if not isinstance(data, dict):
                raise Unsettled()
        except Unsettled:
            found = settle(self.get_settings)
            if found.updated_at != now or found.is_active != bool(active):
                raise StoreUnavailable() from None  # checked: the write did not happen
            return found
        return self._settings(data)

    def get_subscription(self) -> Subscription | None:
        data = self._call("dashboard_subscription")
        if data is None:
            return None
        with _parsing():
            return Subscription(data["stripe_customer_id"], data["stripe_subscription_id"], data["status"],
                                data["plan_type"], data["billing_cycle"],
                                *(parse_time(data[k]) for k in ("current_period_start", "current_period_end",
                                                                "created_at", "updated_at")))

    # -- tests ------------------------------------------------------------------------------

    def list_tests(self, filters: TestFilter, *, page: int = 1, page_size: int = 50) -> TestPage:
        """One page, newest first ((created_at, id) descending, then calls without created_at by id)."""
        filters = validate_filter(filters)
        page, page_size = max(1, int(page)), min(max(1, int(page_size)), 1000)
        data = self._call("dashboard_tests_page", {**filter_params(filters), "p_page": page, "p_page_size": page_size})
        with _parsing():
            rows = tuple(TestCall(str(r["id"]), r["assistant_id"], r["test_phrase"], r["language"] or DEFAULT_LANGUAGE,
                                  r["call_id"], r["status"] or DEFAULT_STATUS, parse_time(r["created_at"]),
                                  parse_time(r["updated_at"])) for r in data["rows"])
            return TestPage(rows, int(data["total"]), page, page_size)

    def count_tests(self, filters: TestFilter) -> int:
        data = self._call("dashboard_count_tests", filter_params(validate_filter(filters)))
        with _parsing():
            return int(data)

    def first_test_at(self) -> datetime | None:
        """When the user's first dated test call was made (None without one): where their history begins."""
        data = self._call("dashboard_first_test_at", {})
        with _parsing():
            return parse_time(data["at"])

    def _export_pages(self, fn: str, filters: TestFilter, deadline: Deadline) -> Iterator[dict]:
        """The export function's pages, newest first, each continuing after the previous one (keyset)."""
        params = {**filter_params(filters), "p_limit": self._store.export_page}
        after = None
        while True:
            deadline.check()
            page = self._call(fn, {**params, "p_after": after}, export=True)
            if not isinstance(page, dict):
                raise StoreError(UNREADABLE)
            yield page
            after = page.get("next")
            if after is None:
                return

    def iter_tests(self, filters: TestFilter, *, chunk_size: int = 20_000,
                   deadline: Deadline | None = None) -> Iterator[pd.DataFrame]:
        """The whole filtered set, newest first, in DataFrames of up to ``chunk_size`` rows
        (TEST_EXPORT_COLUMNS), on the export connections and within the export time limit."""
        filters = validate_filter(filters)
        chunk_size = max(1, int(chunk_size))
        deadline = deadline or Deadline(self._store.export_timeout_s)
        buffer: list[list] = []
        for page in self._export_pages("dashboard_export_rows", filters, deadline):
            with _parsing():
                for r in page["rows"]:
                    buffer.append([str(r[0]), *r[1:7], parse_time(r[7]), parse_time(r[8])])
            while len(buffer) >= chunk_size:
                yield _frame(buffer[:chunk_size])
                del buffer[:chunk_size]
        if buffer:
            yield _frame(buffer)

    def export_tests_csv(self, filters: TestFilter, out: IO[bytes], *,
                         on_progress: Callable[[int], None] | None = None) -> int:
        """The filtered set as CSV into ``out``, byte for byte ``csv_encoding.to_csv`` of ``iter_tests``' rows:
        the BOM and header, then the rows the database writes, carried by the transport (COPY of
        ``dashboard_export_copy``'s statements on the direct path, pages of ``dashboard_export_lines`` over REST);
        returns the rows.  In one of the process's export slots
        (ExportBusy), stopped with ExportTimeout after EXPORT_TIMEOUT_SECONDS."""
        filters = validate_filter(filters)
        deadline = Deadline(self._store.export_timeout_s)
        with self._store.export_gate.slot():
            out.write(csv_encoding.header_bytes(TEST_EXPORT_COLUMNS))
            try:
                return self._store.export_lines(self._uid, filter_params(filters), out, on_progress, deadline)
            except Refused as err:
                raise StoreError(REFUSED) from err

    def export_tests(self, filters: TestFilter, write: Callable[[Iterable[pd.DataFrame]], int], *,
                     on_progress: Callable[[int], None] | None = None) -> int:
        """The filtered set in ``iter_tests``' frames, handed to ``write`` (a ``lib.files.formats`` writer:
        Excel, JSON, Parquet) in one of the process's export slots and under the export time limit; returns
        what ``write`` returns, the rows written."""
        filters = validate_filter(filters)

        def counted() -> Iterator[pd.DataFrame]:
            done = 0
            for frame in self.iter_tests(filters):
                yield frame
                done += len(frame)
                if on_progress:
                    on_progress(done)

        with self._store.export_gate.slot():
            try:
                return write(counted())
            except Refused as err:
                raise StoreError(REFUSED) from err

    # -- stats ------------------------------------------------------------------------------

    def stats(self, filters: TestFilter, zone: str = "UTC") -> Stats:
        """Every number of the stats screen, counted by the database in one call; its days (the per-day chart,
        the weeks of intents) are local days in ``zone`` (an IANA name; the database counts in UTC a zone it
        does not know)."""
        params = {**filter_params(validate_filter(filters)), "p_zone": validate_zone(zone)}
        data = self._call("dashboard_stats", params)
        with _parsing():
            days = sorted((DayStatusCount(parse_date(d["day"]), d["status"], int(d["count"]))
                           for d in data["tests_per_day"] if d["day"] is not None), key=lambda x: (x.day, x.status))
            langs = sorted(((d["language"], int(d["count"])) for d in data["tests_per_language"]),
                           key=lambda x: (-x[1], x[0]))
            assts = sorted(((d["assistant_id"], d["name"] or d["assistant_id"], int(d["count"]))
                            for d in data["tests_per_assistant"]), key=lambda x: (-x[2], x[0]))
            weeks = sorted((parse_date(w["week"]), int(w["count"])) for w in data["intents_per_week"])
            return Stats(int(data["intents"]), int(data["assistants"]), int(data["tests"]),
                         int(data["tests_completed"]), tuple(days), tuple(langs), tuple(assts), tuple(weeks))

    def failure_drilldown(self, filters: TestFilter, *, limit: int = 10) -> FailureDrilldown:
        """The phrases and assistants with the most failed or cancelled calls in the filter's period (and
        assistant, language, search); its statuses and exact phrase are what a drill-down row sets."""
        filters = validate_filter(replace(filters, statuses=(), phrase=""))
        params = {**filter_params(filters, statuses=False, phrase=False), "p_limit": min(max(1, int(limit)), 100)}
        data = self._call("dashboard_failure_drilldown", params)

        def groups(rows: list[dict]) -> list[FailureGroup]:
            return [FailureGroup(str(g["key"]), str(g["name"] or g["key"]), int(g["total"]), int(g["failed"]),
                                 int(g["cancelled"])) for g in rows]

        with _parsing():
            assistants = sorted(groups(data["assistants"]), key=lambda g: (-g.failures, g.key))
            return FailureDrilldown(tuple(groups(data["phrases"])), tuple(assistants))


def _name_taken(err: Refused, *, undo: bool = False) -> NameTaken | None:
    """The database's refusal of a name another intent of the user has (trigger intents_name_key)."""
    if err.sqlstate != "23505" or err.hint != "intent_name_taken":
        return None
    name = _json(err.detail)
    return NameTaken(name if isinstance(name, str) else "?", undo=undo)


class _Duplicate(StoreError):
    """An added row's id exists already (internal: settled by ``save_intents``)."""


def _frame(rows: list[list]) -> pd.DataFrame:
    """Export rows (TEST_EXPORT_COLUMNS) as a frame, built column by column (no per-row probing)."""
    columns = list(TEST_EXPORT_COLUMNS)
    return pd.DataFrame(dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True)), columns=columns)
