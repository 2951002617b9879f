"""The intents grid as pure functions: intents -> editor frame, editor state -> IntentDiff, and an
imported file's rows -> a checked preview.

``st.data_editor`` reports edits by row position (``edited_rows``, ``added_rows``, ``deleted_rows``);
positions are mapped to ids here, so the page never handles ids, and unchanged rows are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.errors import Problem, ValidationError
from lib.importing import gc_paused
from lib.models import Intent, IntentDiff, IntentEdit, IntentInput, IntentRef
from lib.validation import MAX_INTENT_NAME, MAX_ITEM_LENGTH, MAX_LIST_ITEMS, clean_intent

EDITABLE = ("intent_name", "example_user_phrases", "english_responses", "russian_responses")
READ_ONLY = ("created_at", "updated_at")
COLUMNS = EDITABLE + READ_ONLY
_UNSHOWABLE = re.compile("[\x00\ud800-\udfff]")


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


# -- the import preview ----------------------------------------------------------------------

REASONS_PER_ROW = 3  # problems spelled out in one row's check cell before "and N more"
SHOWN_PROBLEMS = ValidationError.SHOWN  # problems kept for a preview's summary


def display_text(text: str, limit: int = MAX_ITEM_LENGTH) -> str:
    """Text fit for a table cell: characters no page can encode (NUL, lone surrogates) shown as
    U+FFFD, and at most ``limit`` characters.  For display only; what is saved is checked instead."""
    if len(text) <= limit and not _UNSHOWABLE.search(text):
        return text
    text = _UNSHOWABLE.sub("\ufffd", text)
    return text if len(text) <= limit else text[:limit] + "…"


def _display_list(items: Iterable[str]) -> tuple[str, ...]:
    items = tuple(items)
    shown = tuple(display_text(t) for t in items[:MAX_LIST_ITEMS])
    if len(items) > MAX_LIST_ITEMS:
        shown += (f"… and {len(items) - MAX_LIST_ITEMS:,} more",)
    return shown


Row = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _display_row(i: IntentInput) -> Row:
    lists = (tuple(i.example_user_phrases), tuple(i.english_responses), tuple(i.russian_responses))
    if (len(i.intent_name) <= MAX_INTENT_NAME and all(len(v) <= MAX_LIST_ITEMS for v in lists)
            and not _UNSHOWABLE.search("".join((i.intent_name, *lists[0], *lists[1], *lists[2])))
            and max(map(len, (*lists[0], *lists[1], *lists[2])), default=0) <= MAX_ITEM_LENGTH):
        return i.intent_name, *lists  # the common case, in one check, sharing the intent's own tuples
    phrases, english, russian = (_display_list(v) for v in lists)
    return display_text(i.intent_name, MAX_INTENT_NAME), phrases, english, russian


def preview_frame(intents: Iterable[IntentInput]) -> pd.DataFrame:
    """An import's rows as the grid would show them (before they are saved), safe to display; list
    cells are tuples (Arrow shows them as lists), shared with the intents rather than copied."""
    rows = [_display_row(i) for i in intents]
    return pd.DataFrame(rows or None, columns=list(EDITABLE))


def _reasons(problems: list[Problem]) -> str:
    shown = "; ".join(f"{p.field.replace('_', ' ')}: {p.message}" for p in problems[:REASONS_PER_ROW])
    more = len(problems) - REASONS_PER_ROW
    return "✗ " + shown + (f"; and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class ImportPreview:
    """What an uploaded file would add: the rows checked by the save's own rules, one reason cell
    per row, and the cleaned intents to save when no row is bad."""

    frame: pd.DataFrame  # "check" ("✓" or "✗ reasons") then the editable columns
    intents: tuple[IntentInput, ...]
    bad_rows: int
    problems: tuple[Problem, ...]  # the first SHOWN_PROBLEMS, for a summary

    def summary(self) -> str:
        """One line for the user: what to do next."""
        n = len(self.intents)
        if self.bad_rows:
            return f"{self.bad_rows:,} of {n:,} rows have problems; fix the file and upload it again."
        return f"{n:,} intents ready to add."


def import_preview(rows: Iterable[IntentInput]) -> ImportPreview:
    """Check every row of an import (``lib.validation.clean_intent``, the rules a save applies) in
    one pass: linear time, and only one short reason string is kept per row."""
    with gc_paused():
        return _import_preview(rows)


def _import_preview(rows: Iterable[IntentInput]) -> ImportPreview:
    cleaned: list[IntentInput] = []
    checks: list[str] = []
    kept: list[Problem] = []
    bad = 0
    for row in rows:
        found: list[Problem] = []
        cleaned.append(clean_intent(row, found))
        if found:
            bad += 1
            checks.append(_reasons(found))
            kept.extend(found[: SHOWN_PROBLEMS - len(kept)])
        else:
            checks.append("✓")
    frame = preview_frame(cleaned)
    frame.insert(0, "check", checks)
    return ImportPreview(frame, tuple(cleaned), bad, tuple(kept))


def problem_lines(err: ValidationError) -> list[str]:
    """A refused save's or file's problems as the screens list them (at most ``ValidationError.SHOWN``,
    then how many more)."""
    lines = [f"{p.row}: {p.field.replace('_', ' ')} {p.message}" for p in err.problems]
    if err.more:
        lines.append(f"… and {err.more:,} more")
    return lines
