"""The intents grid as pure functions: intents -> editor frame, and editor state -> IntentDiff.

``st.data_editor`` reports edits by row position (``edited_rows``, ``added_rows``, ``deleted_rows``);
positions are mapped to ids here, so the page never handles ids, and unchanged rows are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.models import Intent, IntentDiff, IntentEdit, IntentInput, IntentRef

EDITABLE = ("intent_name", "example_user_phrases", "english_responses", "russian_responses")
READ_ONLY = ("created_at", "updated_at")
COLUMNS = EDITABLE + READ_ONLY


def grid_frame(intents: Iterable[Intent], search: str = "") -> pd.DataFrame:
    """The editor's frame, indexed by intent id (hidden in the grid), filtered by name or phrase."""
    needle = search.strip().casefold()
    rows = [
        i for i in intents
        if not needle or needle in i.intent_name.casefold()
        or any(needle in p.casefold() for p in i.example_user_phrases)
    ]
    frame = pd.DataFrame(
        {
            "intent_name": pd.Series([i.intent_name for i in rows], dtype="str"),
            **{c: pd.Series([list(getattr(i, c)) for i in rows], dtype=object) for c in EDITABLE[1:]},
            "created_at": pd.Series(pd.to_datetime([i.created_at for i in rows]), dtype="datetime64[us]"),
            "updated_at": pd.Series(pd.to_datetime([i.updated_at for i in rows]), dtype="datetime64[us]"),
        },
        columns=list(COLUMNS),
    )
    frame.index = pd.Index([i.id for i in rows], name="id", dtype=object)
    return frame


def _as_list(value: Any) -> tuple:
    """A list cell as the editor gives it: list, tuple, numpy array, None, or (pasted) text."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ()
    if isinstance(value, str):
        return tuple(part for part in (p.strip() for p in value.split("\n")) if part) if value.strip() else ()
    return tuple(value)


def _as_text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _input(values: Mapping[str, Any], label: str) -> IntentInput:
    return IntentInput(
        intent_name=_as_text(values.get("intent_name")),
        example_user_phrases=_as_list(values.get("example_user_phrases")),
        english_responses=_as_list(values.get("english_responses")),
        russian_responses=_as_list(values.get("russian_responses")),
        label=label,
    )


def _original(frame: pd.DataFrame, pos: int) -> dict[str, Any]:
    row = frame.iloc[pos]
    return {
        "intent_name": row["intent_name"],
        **{c: _as_list(row[c]) for c in EDITABLE[1:]},
    }


def _updated_at(frame: pd.DataFrame, pos: int) -> Any:
    value = frame.iloc[pos]["updated_at"]
    return None if pd.isna(value) else value.to_pydatetime()


def diff_from_editor(frame: pd.DataFrame, state: Mapping[str, Any] | None) -> IntentDiff:
    """The rows a Save must write, from the frame shown and the editor's state under its key."""
    state = state or {}
    deleted_pos = sorted({int(p) for p in state.get("deleted_rows", ())})
    deleted = tuple(
        IntentRef(str(frame.index[p]), _updated_at(frame, p), label=f"row {p + 1} ({frame.iloc[p]['intent_name']})")
        for p in deleted_pos
    )
    edited: list[IntentEdit] = []
    for key, changes in sorted(state.get("edited_rows", {}).items(), key=lambda kv: int(kv[0])):
        pos = int(key)
        if pos in deleted_pos:
            continue
        before = _original(frame, pos)
        after = {**before, **{k: v for k, v in changes.items() if k in EDITABLE}}
        new = _input(after, label=f"row {pos + 1}")
        if (new.intent_name, new.example_user_phrases, new.english_responses, new.russian_responses) == (
            _as_text(before["intent_name"]), *(before[c] for c in EDITABLE[1:])
        ):
            continue  # edited and changed back: nothing to write
        edited.append(IntentEdit(str(frame.index[pos]), _updated_at(frame, pos), new))
    added = tuple(
        _input(row, label=f"new row {n}")
        for n, row in enumerate(state.get("added_rows", ()), start=1)
        if any(_as_text(row.get(c)).strip() if c == "intent_name" else _as_list(row.get(c)) for c in EDITABLE)
    )
    return IntentDiff(added=added, edited=tuple(edited), deleted=deleted)


@dataclass(frozen=True)
class Underneath:
    """How the stored intents moved away from the frame a user is editing (by name, for the notice)."""

    changed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    added: int = 0

    def notice(self) -> str | None:
        if not (self.changed or self.deleted or self.added):
            return None
        parts = []
        if self.changed:
            parts.append(f"changed: {_names(self.changed)}")
        if self.deleted:
            parts.append(f"deleted: {_names(self.deleted)}")
        if self.added:
            parts.append(f"{self.added} added")
        return ("While you were editing, intents changed elsewhere (" + "; ".join(parts) + "). Your unsaved "
                "edits are kept. Save refuses only rows that you changed and someone else changed too; "
                "Discard loads the current version.")


def _names(names: tuple[str, ...], shown: int = 5) -> str:
    listed = ", ".join(f"“{n}”" for n in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


def underneath(editing: pd.DataFrame, current: pd.DataFrame) -> Underneath:
    """What changed in ``current`` (the intents as stored now) since ``editing`` (the frame the grid
    shows) was loaded: rows whose version (updated_at) moved, rows gone, rows new."""
    then = dict(zip(editing.index, editing["updated_at"], strict=True))
    now = dict(zip(current.index, current["updated_at"], strict=True))
    names = dict(zip(editing.index, editing["intent_name"], strict=True))
    changed = tuple(names[i] for i in then if i in now and not _same_time(then[i], now[i]))
    deleted = tuple(names[i] for i in then if i not in now)
    return Underneath(changed, deleted, sum(1 for i in now if i not in then))


def _same_time(a: Any, b: Any) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b


def preview_frame(intents: Iterable[IntentInput]) -> pd.DataFrame:
    """An import's rows as the grid would show them (before they are saved)."""
    intents = list(intents)
    return pd.DataFrame({
        "intent_name": [i.intent_name for i in intents],
        **{c: [list(getattr(i, c)) for i in intents] for c in EDITABLE[1:]},
    }, columns=list(EDITABLE))
