"""The cached query helper: the one module that owns Streamlit caching of reads.

* ``st.cache_resource`` holds the settings and the store (one connection pool / Supabase client per process).
* ``st.cache_data`` holds query results (``st.cache_resource`` the intents, see ``_intents``), keyed on the signed-in user's id, the database-kept change
  versions of the tables the read depends on, and the query's arguments, so one user's results are
  never served to another, and a result is never served after its tables changed.
* The versions (``user_data_versions``, advanced by triggers on every write by any writer: this
  dashboard, the web app, a call webhook, psql, another dashboard process) are read once per render
  with one small indexed statement (``check``, called by dashboard/app.py and the live fragment), so
  every write shows on the next render in every session and every process, and an unchanged screen
  costs that one statement.  The TTL is only a memory bound.
* When the versions cannot be read (the database is unreachable), the last versions this process
  read stand in: results cached for them are shown under a "Showing data from HH:MM" banner
  (``Freshness.notice``) and saving is paused; anything not cached fails with StoreUnavailable.

Pages call the functions here, never the store directly, and never pass a user id: the id comes
from ``st.session_state`` where only sign-in (lib.signin) puts it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import IO

import pandas as pd
import streamlit as st

from lib.config import Settings as AppSettings
from lib.errors import StoreError, StoreUnavailable
from lib.i18n import _
from lib.models import (
    Assistant,
    FailureDrilldown,
    HistoryEntry,
    Intent,
    IntentDiff,
    SaveResult,
    Settings,
    Stats,
    Subscription,
    TestFilter,
    TestPage,
    Undone,
)
from lib.ops import metrics
from lib.store import Store, UserStore, budget, open_store
from lib.store.validation import refuse_new_duplicates

USER_KEY = "user_id"  # set by lib.signin only, after verification


class NotSignedIn(StoreError):
    def __init__(self) -> None:
        super().__init__(_("You are not signed in."))


@st.cache_resource(show_spinner=False)
def settings() -> AppSettings:
    """The deployment's settings: ``.streamlit/secrets.toml`` over the environment."""
    try:
        secrets = {k: v for k, v in st.secrets.items() if not isinstance(v, dict)}
    except Exception:  # no secrets.toml, or a malformed one: its content must never reach the screen
        secrets = {}
    return AppSettings.load(secrets=secrets)


@st.cache_resource(show_spinner=False)
def store() -> Store:
    return open_store(settings())


def current_user_id() -> str:
    user_id = st.session_state.get(USER_KEY)
    if not user_id:
        raise NotSignedIn()
    return user_id


# -- change versions: what each read depends on, read once per render -------------------------

INTENTS, ASSISTANTS, SETTINGS, TESTS, SUBSCRIPTIONS, HISTORY = (
    "intents", "assistants", "assistant_settings", "assistant_tests", "subscriptions", "intent_history")
FRESHNESS_KEY = "_freshness"  # session state: (user id, Freshness) of this session's last check


@dataclass(frozen=True)
class Freshness:
    """The user's change versions as last read, when, and whether that read just succeeded."""

    versions: tuple[tuple[str, int], ...]
    checked_at: datetime  # naive UTC: when the database last answered
    reachable: bool = True

    def of(self, *topics: str) -> tuple[int, ...]:
        v = dict(self.versions)
        return tuple(v.get(t, 0) for t in topics)

    def notice(self, shown: Callable[[datetime], str]) -> str | None:
        """What the screen must say when it shows data the database could not confirm (``shown`` writes the time:
        the screens pass their own, in the user's zone)."""
        if self.reachable:
            return None
        return _("Showing data from {time}; the database is unreachable, so it may be out of "
                 "date. Saving is paused until it is back.").format(time=shown(self.checked_at))


class _Known:
    """Per process: each user's last successfully read versions (stand-ins while the database is down)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[str, Freshness] = {}

    def get(self, user_id: str) -> Freshness | None:
        return self._by_user.get(user_id)

    def put(self, user_id: str, fresh: Freshness) -> None:
        with self._lock:
            self._by_user[user_id] = fresh


@st.cache_resource(show_spinner=False)
def _known() -> _Known:
    return _Known()


def check() -> Freshness:
    """Read the signed-in user's change versions (one small statement); every cached read of this
    render is keyed on them.  The database unreachable: the last versions read stand in, marked.
    Outside a render's budget (a fragment's run) the check has one of its own (lib.store.budget)."""
    uid = current_user_id()
    try:
        with budget.render(budget.for_timeout(settings().db_timeout_seconds)):
            versions: Mapping[str, int] = _handle(uid).versions()
    except StoreUnavailable:
        known = [f for f in (_session_freshness(uid), _known().get(uid)) if f is not None]
        if not known:
            raise
        last = max(known, key=lambda f: f.checked_at)
        fresh = Freshness(last.versions, last.checked_at, reachable=False)
    else:
        fresh = Freshness(tuple(sorted(versions.items())), datetime.now(UTC).replace(tzinfo=None))
        _known().put(uid, fresh)
    st.session_state[FRESHNESS_KEY] = (uid, fresh)
    return fresh


def _session_freshness(uid: str) -> Freshness | None:
    held = st.session_state.get(FRESHNESS_KEY)
    return held[1] if held and held[0] == uid else None


# The render's version check, deferred to its first read (dashboard/app.py): the navigation, the screen's
# title and its skeleton are drawn before anything waits for the database.  The hook runs the check
# (its argument) and may draw around it (the skeleton, the "Showing data from" notice).
_deferred: ContextVar[Callable[[Callable[[], Freshness]], Freshness] | None] = ContextVar("deferred_check",
                                                                                           default=None)


def defer_check(hook: Callable[[Callable[[], Freshness]], Freshness] | None) -> None:
    """Make this render's check at its first read, through ``hook``; None: no deferred check pending."""
    _deferred.set(hook)


def freshness() -> Freshness:
    """This render's versions: those ``check`` read (the deferred check of this render runs now, at its
    first read), or a check now if this session has none."""
    hook = _deferred.get()
    if hook is not None:
        _deferred.set(None)
        return hook(check)
    return _session_freshness(current_user_id()) or check()


def _user(*topics: str) -> tuple[str, tuple[int, ...]]:
    uid = current_user_id()
    return uid, freshness().of(*topics)


def _handle(user_id: str) -> UserStore:
    metrics.miss()  # inside a cached read's body: the cache did not have it
    return store().for_user(user_id)


def _ttl() -> int:
    try:
        return settings().cache_ttl_seconds
    except StoreError:  # a bad setting is reported by the app's first call to settings()
        return 300


_TTL = _ttl()


# -- cached reads: (user_id, the versions read depends on, *args) is the key -------------------------------------

# cache_resource, not cache_data: the intents grid's thousands of rows and the assistants (read by the
# Stats, Tests, Intents and Assistants screens) are handed out as they are, without cache_data's unpickled
# copy on every hit (11 ms at 5,000 intents, on every rerun of the screen; the 200 assistants' copy was
# 18-25% of a warm Tests render's samples), and the same object until the data changes (the intents checks
# are reused by identity: lib.screens.intent_checks.check_cached).  Safe because the results are immutable:
# tuples of frozen dataclasses of str, tuples of str and datetimes (an assistant's config dict is only
# ever read).
@st.cache_resource(ttl=_TTL, max_entries=1000, show_spinner=False)
def _intents(user_id: str, versions: tuple[int, ...]) -> tuple[Intent, ...]:
    return tuple(_handle(user_id).list_intents())


@st.cache_resource(ttl=_TTL, max_entries=1000, show_spinner=False)
def _assistants(user_id: str, versions: tuple[int, ...]) -> tuple[Assistant, ...]:
    return tuple(_handle(user_id).list_assistants())


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _settings(user_id: str, versions: tuple[int, ...]) -> Settings:
    return _handle(user_id).get_settings()


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _subscription(user_id: str, versions: tuple[int, ...]) -> Subscription | None:
    return _handle(user_id).get_subscription()


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _stats(user_id: str, versions: tuple[int, ...], filters: TestFilter, zone: str) -> Stats:
    return _handle(user_id).stats(filters, zone)


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _count_tests(user_id: str, versions: tuple[int, ...], filters: TestFilter) -> int:
    return _handle(user_id).count_tests(filters)


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _first_test_at(user_id: str, versions: tuple[int, ...]) -> datetime | None:
    return _handle(user_id).first_test_at()


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _tests(user_id: str, versions: tuple[int, ...], filters: TestFilter, page: int, page_size: int) -> TestPage:
    return _handle(user_id).list_tests(filters, page=page, page_size=page_size)


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _history(user_id: str, versions: tuple[int, ...], limit: int) -> list[HistoryEntry]:
    return _handle(user_id).list_history(limit)


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _failures(user_id: str, versions: tuple[int, ...], filters: TestFilter, limit: int) -> FailureDrilldown:
    return _handle(user_id).failure_drilldown(filters, limit=limit)


def intents() -> tuple[Intent, ...]:
    return metrics.cached("intents", _intents, *_user(INTENTS))


def history(limit: int = 20) -> list[HistoryEntry]:
    """The latest saves of the intents (grid, import, undo), newest first."""
    return metrics.cached("history", _history, *_user(HISTORY), limit)


def assistants() -> tuple[Assistant, ...]:
    return metrics.cached("assistants", _assistants, *_user(ASSISTANTS, INTENTS))  # shows the intents' names


def assistant_settings() -> Settings:
    return metrics.cached("settings", _settings, *_user(SETTINGS))


def subscription() -> Subscription | None:
    return metrics.cached("subscription", _subscription, *_user(SUBSCRIPTIONS))


def stats(filters: TestFilter, zone: str = "UTC") -> Stats:
    """The stats of ``filters``, its days in ``zone`` (the period's zone: lib.screens.controls)."""
    return metrics.cached("stats", _stats, *_user(TESTS, INTENTS, ASSISTANTS), filters, zone)


def count_tests(filters: TestFilter) -> int:
    return metrics.cached("count_tests", _count_tests, *_user(TESTS), filters)


def first_test_at() -> datetime | None:
    """Where the user's history of test calls begins (the Stats card's fair comparison)."""
    return _first_test_at(*_user(TESTS))


def failure_drilldown(filters: TestFilter, *, limit: int = 10) -> FailureDrilldown:
    """The phrases and assistants failing most in the filter's period (statuses and phrase ignored)."""
    return metrics.cached("failures", _failures, *_user(TESTS, ASSISTANTS), replace(filters, statuses=(), phrase=""), limit)


def tests(filters: TestFilter, *, page: int = 1, page_size: int = 50) -> TestPage:
    return metrics.cached("tests", _tests, *_user(TESTS), filters, page, page_size)


# -- writes: go to the store, then read the versions again so this render's reads are fresh ------

def _writable() -> UserStore:
    """The user's store for a write, unless the last check found the database unreachable."""
    if not freshness().reachable:
        raise StoreUnavailable()  # saving is paused until a check reaches the database again
    return _handle(current_user_id())


def _recheck() -> None:
    try:
        check()  # after a write, and after a conflict too: the rows changed
    except StoreError:
        pass  # the next render's check says what is wrong


def save_intents(diff: IntentDiff) -> SaveResult:
    """Every save of intents (the grid, an import) comes here: a name that another of the user's intents
    has is refused first, for both transports alike (lib.store.validation.refuse_new_duplicates)."""
    handle = _writable()
    refuse_new_duplicates(diff, [(i.id, i.intent_name) for i in intents()])
    try:
        with budget.suspended():
            return handle.save_intents(diff)
    finally:
        _recheck()


def undo_save(history_id: str) -> Undone:
    """Undo one save of the intents (lib.store: all or nothing, refused if its intents changed since), with the
    assistant links of the intents it brings back."""
    try:
        handle = _writable()
        with budget.suspended():
            return handle.undo_save(history_id)
    finally:
        _recheck()


def set_active(active: bool) -> Settings:
    try:
        handle = _writable()
        with budget.suspended():
            return handle.set_active(active)
    finally:
        _recheck()


def export_tests_csv(filters: TestFilter, out: IO[bytes], on_progress: Callable[[int], None] | None = None) -> int:
    """The whole filtered set as CSV into ``out`` (the database formats it where it can; never cached),
    in one of the process's export slots and under the export time limit; returns the rows written."""
    return _handle(current_user_id()).export_tests_csv(filters, out, on_progress=on_progress)


def export_tests(filters: TestFilter, write: Callable[[Iterable[pd.DataFrame]], int],
                 on_progress: Callable[[int], None] | None = None) -> int:
    """The whole filtered set in frames, given to ``write`` (a ``lib.files.formats`` writer), in one of the
    process's export slots and under the export time limit (never cached); returns the rows written."""
    return _handle(current_user_id()).export_tests(filters, write, on_progress=on_progress)
