"""The intents' edit history, shared by the SQL and REST backends: a record's ``changes`` as JSON
(``[{id, before, after}]``, the same shape the migration's functions write), read back as
``HistoryEntry``, and the one rule of undo: every intent a save touched must still be exactly as
the save left it (present with its ``after`` values, or absent when the save deleted it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from lib.errors import HistoryNotFound, StoreError
from lib.models import HistoryEntry, IntentChange, IntentValues

LISTS = ("example_user_phrases", "english_responses", "russian_responses")
DEFAULT_LIMIT = 20  # records the History panel lists
SHOWN_CHANGES = 100  # changes of each listed record read back (the counts cover all of them)


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _time(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as err:
        raise StoreError("The history holds a time this dashboard cannot read.") from err


def values_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """An intent row (or the columns a save writes, with its times; a time may be given as ISO text
    already, so a save of thousands of rows formats its one time once) as a record keeps it."""
    return {"intent_name": row["intent_name"], "example_user_phrases": list(row["example_user_phrases"] or ()),
            "english_responses": list(row["english_responses"] or ()),
            "russian_responses": list(row["russian_responses"] or ()),
            "created_at": _iso(row.get("created_at")), "updated_at": _iso(row.get("updated_at"))}


def change_json(intent_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"id": intent_id, "before": None if before is None else values_json(before),
            "after": None if after is None else values_json(after)}


def _values(data: object) -> IntentValues | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise StoreError("The history holds a record this dashboard cannot read.")
    return IntentValues(str(data["intent_name"]), *(tuple(data.get(c) or ()) for c in LISTS),
                        _time(data.get("created_at")), _time(data.get("updated_at")))


def changes(data: object) -> tuple[IntentChange, ...]:
    """A record's ``changes`` column (JSON text on SQLite, parsed elsewhere) as IntentChange objects."""
    if not isinstance(data, list):
        raise StoreError("The history holds a record this dashboard cannot read.")
    try:
        return tuple(IntentChange(str(c["id"]), _values(c.get("before")), _values(c.get("after"))) for c in data)
    except (KeyError, TypeError, AttributeError) as err:
        raise StoreError("The history holds a record this dashboard cannot read.") from err


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
        raise StoreError("The history holds a record this dashboard cannot read.")
    return HistoryEntry(str(row["id"]), created, str(row["kind"]), changes(listed),
                        None if row.get("reverts") is None else str(row["reverts"]),
                        None if row.get("undone_by") is None else str(row["undone_by"]),
                        (added, total - added - deleted, deleted))


def still_as_left(current: Mapping[str, Any] | None, after: IntentValues | None) -> bool:
    """Whether an intent (None: absent) is exactly as a save left it (``after`` None: deleted)."""
    if current is None or after is None:
        return current is None and after is None
    return (current["intent_name"] == after.intent_name
            and all(tuple(current[c] or ()) == getattr(after, c) for c in LISTS)
            and _time(current["updated_at"]) == after.updated_at)


def conflicts(record: Iterable[IntentChange], current: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The ids of a record's intents that changed since (in the record's order)."""
    return [c.id for c in record if not still_as_left(current.get(c.id), c.after)]


def names(record: Iterable[IntentChange]) -> dict[str, str]:
    return {c.id: c.name for c in record}


def columns(values: IntentValues) -> dict[str, object]:
    """The intents table's editable columns holding ``values`` (what an undo writes back)."""
    return {"intent_name": values.intent_name, **{c: list(getattr(values, c)) for c in LISTS}}


def row(values: IntentValues | None) -> dict[str, object] | None:
    """A record's values as an intent row holds them (``values_json`` takes it)."""
    if values is None:
        return None
    return {**columns(values), "created_at": values.created_at, "updated_at": values.updated_at}


def history_id(value: str) -> str:
    """A record id as the user's click gave it; anything but a uuid is not in anyone's history."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise HistoryNotFound() from None
