"""What the store's two transports (direct psycopg, Supabase REST) share: the call they make, the
errors they map their failures to, and the wire form of values (JSON: ISO text for timestamps).

Both call the same ``public.dashboard_*`` functions with the same parameters and get back the same
JSON, so ``lib.store.calls`` is written once against this module only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Protocol

from lib.errors import StoreError, StoreUnavailable
from lib.i18n import N_
from lib.models import TestFilter

REFUSED = N_("The database refused the request. Nothing was changed.")  # translated when shown (StoreError)
UNREADABLE = N_("The database answered in a way this dashboard cannot read. Nothing was changed.")


class Refused(StoreError):
    """The database refused a call (a SQLSTATE other than "unavailable"): the store maps it to a typed
    error (conflict, duplicate, not found), else shows REFUSED."""

    def __init__(self, sqlstate: str, detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(REFUSED)
        self.sqlstate, self.detail, self.hint = sqlstate, detail, hint


class Unsettled(StoreUnavailable):
    """A write was sent but its answer was lost: it may or may not have committed (the store reads back)."""


class Transport(Protocol):
    """One way to the database.  ``call`` runs ``public.<fn>(params)`` as the user ``uid`` (role
    authenticated, RLS) in one transaction and returns its JSON; ``read`` calls may be retried,
    ``export`` calls use the export connections and limits.  Raises Refused, Unsettled (writes only),
    StoreUnavailable, ConfigError or ExportTimeout."""

    backend: str
    export_page: int  # rows per export call

    def call(self, uid: str, fn: str, params: dict[str, Any], *, read: bool, export: bool = False) -> Any: ...
    def close(self) -> None: ...


def wire_time(value: datetime | date | None) -> str | None:
    """A naive-UTC timestamp as the functions take it (aware values are converted to UTC first)."""
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def parse_time(value: object) -> datetime | None:
    """A timestamp from the functions' JSON ("2026-11-25T12:00:00.123456") as a naive UTC datetime."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise StoreError(UNREADABLE) from err
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_date(value: object) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as err:
        raise StoreError(UNREADABLE) from err


def filter_params(f: TestFilter, *, statuses: bool = True, phrase: bool = True) -> dict[str, Any]:
    """A (validated) TestFilter as the functions' filter parameters; empty means any (null)."""
    params: dict[str, Any] = {
        "p_start": wire_time(f.start),
        "p_end": wire_time(f.end),
        "p_assistant_ids": list(f.assistant_ids) or None,
        "p_languages": list(f.languages) or None,
        "p_statuses": list(f.statuses) or None,
        "p_search": f.search or None,
        "p_phrase": f.phrase or None,
    }
    if not statuses:
        del params["p_statuses"]
    if not phrase:
        del params["p_phrase"]
    return params
