"""The cached query helper: the one module that owns Streamlit caching of reads.

* ``st.cache_resource`` holds the settings and the store (one engine / Supabase client per process).
* ``st.cache_data`` holds query results, keyed on the signed-in user's id, that user's data version
  and the query's arguments, so one user's results are never served to another.
* A write bumps the writer's data version (a per-user counter in a process-wide dict), so the
  writer's next read misses the cache at once; other users' entries stay warm.

Pages call the functions here, never the store directly, and never pass a user id: the id comes
from ``st.session_state`` where only sign-in (lib.signin) puts it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import IO

import pandas as pd
import streamlit as st

from lib.config import Settings as AppSettings
from lib.errors import StoreError
from lib.models import Assistant, Intent, IntentDiff, SaveResult, Settings, Stats, Subscription, TestFilter, TestPage
from lib.store import Store, UserStore, open_store

USER_KEY = "user_id"  # set by lib.signin only, after verification


class NotSignedIn(StoreError):
    def __init__(self) -> None:
        super().__init__("You are not signed in.")


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


class _Versions:
    """Per-user data versions: bumped by that user's writes, part of every cache key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._v: dict[str, int] = {}

    def get(self, user_id: str) -> int:
        return self._v.get(user_id, 0)

    def bump(self, user_id: str) -> None:
        with self._lock:
            self._v[user_id] = self._v.get(user_id, 0) + 1


@st.cache_resource(show_spinner=False)
def _versions() -> _Versions:
    return _Versions()


def current_user_id() -> str:
    user_id = st.session_state.get(USER_KEY)
    if not user_id:
        raise NotSignedIn()
    return user_id


def _user() -> tuple[str, int]:
    uid = current_user_id()
    return uid, _versions().get(uid)


def _handle(user_id: str) -> UserStore:
    return store().for_user(user_id)


def _ttl() -> int:
    try:
        return settings().cache_ttl_seconds
    except StoreError:  # a bad setting is reported by the app's first call to settings()
        return 300


_TTL = _ttl()


# -- cached reads: (user_id, version, *args) is the key -------------------------------------

@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _intents(user_id: str, version: int) -> list[Intent]:
    return _handle(user_id).list_intents()


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _assistants(user_id: str, version: int) -> list[Assistant]:
    return _handle(user_id).list_assistants()


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _settings(user_id: str, version: int) -> Settings:
    return _handle(user_id).get_settings()


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _subscription(user_id: str, version: int) -> Subscription | None:
    return _handle(user_id).get_subscription()


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _stats(user_id: str, version: int, filters: TestFilter) -> Stats:
    return _handle(user_id).stats(filters)


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _count_tests(user_id: str, version: int, filters: TestFilter) -> int:
    return _handle(user_id).count_tests(filters)


@st.cache_data(ttl=_TTL, max_entries=1000, show_spinner=False)
def _tests(user_id: str, version: int, filters: TestFilter, page: int, page_size: int) -> TestPage:
    return _handle(user_id).list_tests(filters, page=page, page_size=page_size)


def intents() -> list[Intent]:
    return _intents(*_user())


def assistants() -> list[Assistant]:
    return _assistants(*_user())


def assistant_settings() -> Settings:
    return _settings(*_user())


def subscription() -> Subscription | None:
    return _subscription(*_user())


def stats(filters: TestFilter) -> Stats:
    return _stats(*_user(), filters)


def count_tests(filters: TestFilter) -> int:
    return _count_tests(*_user(), filters)


def tests(filters: TestFilter, *, page: int = 1, page_size: int = 50) -> TestPage:
    return _tests(*_user(), filters, page, page_size)


def iter_tests(filters: TestFilter, *, chunk_size: int = 20_000) -> Iterator[pd.DataFrame]:
    """The whole filtered set for an export, streamed (never cached: it can be a million rows)."""
    return _handle(current_user_id()).iter_tests(filters, chunk_size=chunk_size)


# -- writes: go to the store, then make this user's next read fresh -------------------------

def save_intents(diff: IntentDiff) -> SaveResult:
    uid = current_user_id()
    try:
        return _handle(uid).save_intents(diff)
    finally:
        _versions().bump(uid)  # a conflict means the rows changed: the next read must be fresh too


def set_active(active: bool) -> Settings:
    uid = current_user_id()
    try:
        return _handle(uid).set_active(active)
    finally:
        _versions().bump(uid)


def export_tests_csv(filters: TestFilter, out: IO[bytes], on_progress: Callable[[int], None] | None = None) -> int:
    """The whole filtered set as CSV into ``out`` (the database formats it where it can; never cached),
    in one of the process's export slots and under the export time limit; returns the rows written."""
    return _handle(current_user_id()).export_tests_csv(filters, out, on_progress=on_progress)
