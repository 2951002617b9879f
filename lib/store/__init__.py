"""The store: the only way to user data is a handle bound to one user, ``store.for_user(user_id)``.

One implementation (lib.store.calls: each method one ``dashboard_*`` SQL function) over two transports
chosen by configuration (see ``open_store``): PostgreSQL direct (psycopg, lib.store.direct) and
Supabase REST (lib.store.rest).  Both run the functions as role ``authenticated`` under RLS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Protocol

import pandas as pd

from lib.config import Settings as AppSettings
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
)


class UserStore(Protocol):
    """Everything a screen can do with one user's data.  No method takes a user id."""

    def versions(self) -> dict[str, int]: ...
    def list_intents(self) -> list[Intent]: ...
    def save_intents(self, diff: IntentDiff) -> SaveResult: ...
    def list_history(self, limit: int = 20) -> list[HistoryEntry]: ...
    def undo_save(self, history_id: str) -> str: ...
    def list_assistants(self) -> list[Assistant]: ...
    def get_settings(self) -> Settings: ...
    def set_active(self, active: bool) -> Settings: ...
    def list_tests(self, filters: TestFilter, *, page: int = 1, page_size: int = 50) -> TestPage: ...
    def iter_tests(self, filters: TestFilter, *, chunk_size: int = 20_000) -> Iterator[pd.DataFrame]: ...
    def count_tests(self, filters: TestFilter) -> int: ...
    def export_tests_csv(self, filters: TestFilter, out: IO[bytes], *,
                         on_progress: Callable[[int], None] | None = None) -> int: ...
    def get_subscription(self) -> Subscription | None: ...
    def stats(self, filters: TestFilter) -> Stats: ...
    def failure_drilldown(self, filters: TestFilter, *, limit: int = 10) -> FailureDrilldown: ...


class Store(Protocol):
    backend: str

    def for_user(self, user_id: str) -> UserStore: ...
    def close(self) -> None: ...


def open_store(settings: AppSettings) -> Store:
    """The transport the settings name: Supabase REST, PostgreSQL at DATABASE_URL, or (DATABASE_URL
    unset) the embedded PostgreSQL server under data/ (started, migrated and seeded on first use)."""
    if settings.supabase_url:
        from lib.store.rest import RestStore

        return RestStore(settings.supabase_url, settings.supabase_key, jwt_secret=settings.supabase_jwt_secret,
                         timeout=settings.db_timeout_seconds, export_timeout=settings.export_timeout_seconds,
                         exports=settings.export_concurrency)
    from lib.store.direct import DirectStore

    url = settings.database_url
    if not url:
        from lib.ops.embedded import database_url

        url = database_url()
    return DirectStore(url, statement_timeout_ms=int(settings.db_timeout_seconds * 1000),
                       export_timeout_ms=int(settings.export_timeout_seconds * 1000),
                       exports=settings.export_concurrency)
