"""The intents' edit history as ``dashboard_history`` lists it: a record's ``changes`` as JSON
(``[{id, before, after}]``, the shape the save and undo functions write) read back as ``HistoryEntry``.
Undo itself (and its rule) is the SQL function ``dashboard_undo_save``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lib.errors import HistoryNotFound, StoreError
from lib.i18n import N_
from lib.models import HistoryEntry, IntentChange, IntentValues

LISTS = ("example_user_phrases", "english_responses", "russian_responses")
DEFAULT_LIMIT = 20  # records the History panel lists
SHOWN_CHANGES = 100  # changes of each listed record read back (the counts cover all of them)


def _time(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as err:
        raise StoreError(N_("The history holds a time this dashboard cannot read.")) from err


def _values(data: object) -> IntentValues | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise StoreError(N_("The history holds a record this dashboard cannot read."))
    return IntentValues(str(data["intent_name"]), *(tuple(data.get(c) or ()) for c in LISTS),
                        _time(data.get("created_at")), _time(data.get("updated_at")))


def changes(data: object) -> tuple[IntentChange, ...]:
    """A record's ``changes`` (parsed JSON) as IntentChange objects."""
    if not isinstance(data, list):
        raise StoreError(N_("The history holds a record this dashboard cannot read."))
    try:
        return tuple(IntentChange(str(c["id"]), _values(c.get("before")), _values(c.get("after"))) for c in data)
    except (KeyError, TypeError, AttributeError) as err:
        raise StoreError(N_("The history holds a record this dashboard cannot read.")) from err


def entry(row: Mapping[str, Any]) -> HistoryEntry:
    """A listed history row as a HistoryEntry: id, created_at, kind, reverts, undone_by, changes (the first
    ones, as JSON text or parsed) and the counts of all of them: total, added, deleted."""
    created = _time(row["created_at"])
    listed = row["changes"]
    if isinstance(listed, str):
        listed = json.loads(listed)
    try:
        total, added, deleted = (int(row[k]) for k in ("total", "added", "deleted"))
    except (KeyError, TypeError, ValueError):
        created = None
    if created is None:
        raise StoreError(N_("The history holds a record this dashboard cannot read."))
    return HistoryEntry(str(row["id"]), created, str(row["kind"]), changes(listed),
                        None if row.get("reverts") is None else str(row["reverts"]),
                        None if row.get("undone_by") is None else str(row["undone_by"]),
                        (added, total - added - deleted, deleted))


def history_id(value: str) -> str:
    """A record id as the user's click gave it; anything but a uuid is not in anyone's history."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise HistoryNotFound() from None
