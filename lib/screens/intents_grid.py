"""The intents grid as pure functions: intents -> editor frame, editor state -> IntentDiff (an
imported file's rows -> a checked preview is ``lib.screens.import_preview``).

``st.data_editor`` reports edits by row position (``edited_rows``, ``added_rows``, ``deleted_rows``);
positions are mapped to ids here, so the page never handles ids, and unchanged rows are left out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from lib.errors import Problem
from lib.files.frames import intents_matching
from lib.i18n import _, current, ngettext
from lib.models import Intent, IntentDiff, IntentEdit, IntentInput, IntentRef
from lib.screens.intent_checks import Report
from lib.store.validation import MAX_ITEM_LENGTH, clean_intent, duplicate_problems

EDITABLE = ("intent_name", "example_user_phrases", "english_responses", "russian_responses")
READ_ONLY = ("created_at", "updated_at", "version")  # updated_at and version: hidden, what Save's check compares
COLUMNS = EDITABLE + READ_ONLY
UNSHOWABLE = re.compile("[\x00\ud800-\udfff]")


NEW = "new:"  # index prefix of rows added in the grid (not saved yet)
CHECKS = ("counts", "attention", "used_by")  # read-only columns from lib.screens.intent_checks
# Each list is shown as its first item and "+N more" (read-only); the whole list is edited in the intent
# editor (lib.screens.intent_editor), which writes the list columns themselves, kept in the frame unshown.
SUMMARIES = {"example_user_phrases": "phrases_shown", "english_responses": "english_shown",
             "russian_responses": "russian_shown"}
SUMMARY_LENGTH = 16  # characters of the first item a cell shows before "+N more" (which must stay in sight)
PROBLEMS = "problems"  # read-only column added after a refused Save: what to fix in that row


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """What the editor is given: rows by position (no id column), without the raw version columns and, where
    their summaries stand in for them, without the lists (edited in the intent editor; not sent to the browser)."""
    if "updated" not in frame.columns:
        return frame.reset_index(drop=True)
    lists = [c for c in SUMMARIES if SUMMARIES[c] in frame.columns]
    return frame.drop(columns=["updated_at", "version", *lists], errors="ignore").reset_index(drop=True)


def summary(items: Iterable[str]) -> str:
    """A list cell as the grid shows it: ``"(+3) Hello"``, the count first so that a narrow cell never hides it;
    empty for an empty list."""
    items = [i for i in items if i]
    if not items:
        return ""
    if len(items) == 1:
        return display_text(items[0])
    return _more(len(items) - 1, current()).format(first=display_text(items[0], SUMMARY_LENGTH), n=len(items) - 1)


@lru_cache(maxsize=256)
def _more(n: int, language: str) -> str:
    """The "+N more" template for ``n`` in ``language`` (looked up once, not per cell of 5,000 rows)."""
    return ngettext("(+{n}) {first}", "(+{n}) {first}", n)


def display_order(frame: pd.DataFrame) -> list[str]:
    """The columns the grid shows, in order: the lists as their summaries, the raw lists left out."""
    return [c for c in frame.columns if c not in EDITABLE[1:] and c not in ("updated_at", "version")]


def with_row(frame: pd.DataFrame, index: Any, name: str, lists: Mapping[str, list[str]]) -> pd.DataFrame:
    """``frame`` with one row's name and lists replaced (and what is shown of them): the editor's Apply."""
    out = frame.copy()
    pos = out.index.get_loc(index)
    for column in EDITABLE:
        values = list(out[column])
        values[pos] = name if column == "intent_name" else list(lists.get(column, ()))
        out[column] = pd.Series(values, index=out.index, dtype=out[column].dtype)
    for column, shown_as in SUMMARIES.items():
        if shown_as in out.columns:
            values = list(out[shown_as])
            values[pos] = summary(lists.get(column, ()))
            out[shown_as] = pd.Series(values, index=out.index, dtype=out[shown_as].dtype)
    if "counts" in out.columns:
        values = list(out["counts"])
        values[pos] = " · ".join(str(len(lists.get(c, ()))) for c in EDITABLE[1:])
        out["counts"] = pd.Series(values, index=out.index, dtype=out["counts"].dtype)
    return out


def grid_frame(intents: Iterable[Intent], search: str = "", report: Report | None = None, *,
               attention_only: bool = False) -> pd.DataFrame:
    """The editor's frame, indexed by intent id (hidden in the grid), filtered by name or phrase (and to
    the intents that need attention); with a ``report``, its read-only check columns too."""
    rows = [i for i in intents_matching(intents, search)  # the Export screen's and the API's search, too
            if not attention_only or (report is not None and report.checks[i.id].reasons)]
    data = {
        "intent_name": pd.Series([i.intent_name for i in rows], dtype="str"),
        **{c: pd.Series([list(getattr(i, c)) for i in rows], dtype=object) for c in EDITABLE[1:]},
        "created_at": pd.Series(pd.to_datetime([i.created_at for i in rows]), dtype="datetime64[us]"),
        "updated_at": pd.Series(pd.to_datetime([i.updated_at for i in rows]), dtype="datetime64[us]"),
        "version": pd.Series([i.version for i in rows], dtype="Int64"),
    }
    columns = list(COLUMNS)
    if report is not None:
        checks = [report.checks[i.id] for i in rows]
        for column, shown_as in SUMMARIES.items():
            data[shown_as] = pd.Series([summary(getattr(i, column)) for i in rows], dtype="str")
        data["counts"] = pd.Series([c.coverage.counts() for c in checks], dtype="str")
        data["attention"] = pd.Series(["; ".join(c.reasons) for c in checks], dtype="str")
        unused = _("— unused")
        data["used_by"] = pd.Series([", ".join(c.used_by) or unused for c in checks], dtype="str")
        # shown as text (the user's zone), so that a new row's cell is empty rather than "None"; updated_at stays the version
        data["updated"] = pd.Series([_day_time(i.updated_at) if i.updated_at else "" for i in rows], dtype="str")
        columns = ["intent_name", *SUMMARIES.values(), *CHECKS, "updated", *EDITABLE[1:], "updated_at", "version"]
    frame = pd.DataFrame({c: data[c] for c in columns}, columns=columns)
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


def _same_cell(a: Any, b: Any) -> bool:
    """Cheap identity-or-equality of two cells (the common case: the very same object, unchanged)."""
    if a is b:
        return True
    try:
        return bool(a == b) if not isinstance(a, (list, tuple)) else list(a) == list(b)
    except (TypeError, ValueError):
        return False


def _input(content: tuple, label: str) -> IntentInput:
    name, phrases, english, russian = content
    return IntentInput(intent_name=name, example_user_phrases=phrases, english_responses=english,
                       russian_responses=russian, label=label)


def _updated_at(frame: pd.DataFrame, pos: int) -> Any:
    value = frame.iloc[pos]["updated_at"]
    return None if pd.isna(value) else value.to_pydatetime()


def _version(frame: pd.DataFrame, pos: int) -> int | None:
    value = frame.iloc[pos]["version"] if "version" in frame.columns else None
    return None if value is None or pd.isna(value) else int(value)


def has_edits(state: Mapping[str, Any] | None) -> bool:
    return bool(state) and any(state.get(k) for k in ("edited_rows", "added_rows", "deleted_rows"))


def blank_row(frame: pd.DataFrame) -> pd.DataFrame:
    """One empty new row (as the grid shows it: empty cells, not "None") with the frame's columns."""
    row = {c: ("" if c in ("intent_name", *CHECKS, *SUMMARIES.values(), PROBLEMS, "updated") else [] if c in EDITABLE
               else pd.NA if c == "version" else pd.NaT)
           for c in frame.columns}
    if "attention" in row:
        row["attention"] = _("new: not saved yet")
    new = pd.DataFrame({c: pd.Series([v], dtype=frame[c].dtype if c not in EDITABLE[1:] else object)
                        for c, v in row.items()}, columns=list(frame.columns))
    new.index = pd.Index([f"{NEW}{uuid.uuid4()}"], name=frame.index.name, dtype=object)
    return new


def with_new_row(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with an empty row on top, where the user sees it (the grid does not jump)."""
    return pd.concat([blank_row(frame), frame]) if len(frame) else blank_row(frame)


def apply_edits(frame: pd.DataFrame, state: Mapping[str, Any] | None) -> pd.DataFrame:
    """The rows as the user sees them now: ``frame`` with the editor's pending state applied (edited
    cells, deleted rows gone, added rows at the end with new-row ids).  ``frame`` itself if unchanged."""
    if not has_edits(state):
        return frame
    deleted = {int(p) for p in state.get("deleted_rows", ())}
    out = frame.copy()
    for column in EDITABLE:
        changes = {int(k): v[column] for k, v in state.get("edited_rows", {}).items() if column in v}
        if not changes:
            continue
        values = list(out[column])
        for pos, value in changes.items():
            values[pos] = _as_text(value) if column == "intent_name" else list(_as_list(value))
        out[column] = pd.Series(values, index=out.index, dtype=out[column].dtype)
    if deleted:
        out = out.iloc[[p for p in range(len(out)) if p not in deleted]]
    for added in state.get("added_rows", ()):
        row = blank_row(out)
        for column in EDITABLE:
            if column in added:
                value = _as_text(added[column]) if column == "intent_name" else list(_as_list(added[column]))
                row[column] = pd.Series([value], index=row.index, dtype=row[column].dtype)
        out = pd.concat([out, row])
    return out


def restore_deleted(base: pd.DataFrame, effective: pd.DataFrame) -> pd.DataFrame:
    """``effective`` with the rows it deleted from ``base`` back in their places (every edit kept)."""
    shown = set(effective.index)
    gone = [i for i in base.index if i not in shown]
    if not gone:
        return effective
    back = base.loc[gone].reindex(columns=effective.columns)
    if PROBLEMS in back.columns:
        back[PROBLEMS] = ""
    combined = pd.concat([effective, back])
    new = [i for i in effective.index if str(i).startswith(NEW)]
    return combined.loc[new + [i for i in base.index] + [i for i in effective.index if i not in set(new)
                                                          and i not in set(base.index)]]


@dataclass(frozen=True)
class Pending:
    """What a Save would write, and which grid row each problem label points at."""

    diff: IntentDiff
    rows: Mapping[str, Any]  # label -> the row's index in the frame shown

    def deleted_names(self, shown: int = 5) -> str:
        """The rows to delete as the user knows them: “greeting”, “refund” and 2 more."""
        labels = [d.label for d in self.diff.deleted]
        return ", ".join(labels[:shown]) + (" " + _("and {n} more").format(n=len(labels) - shown)
                                             if len(labels) > shown else "")

    def count(self) -> int:
        return len(self.diff.added) + len(self.diff.edited) + len(self.diff.deleted)


def pending(base: pd.DataFrame, effective: pd.DataFrame) -> Pending:
    """The diff between the rows loaded (``base``) and the rows shown (``effective``): rows gone are
    deleted, rows changed are edited, every new row counts (a row left blank is reported, not dropped).
    Rows are labelled as the user finds them: by intent name, or "new row N" counted from the top."""
    if effective is base:
        return Pending(IntentDiff(), {})
    rows: dict[str, Any] = {}

    def label(text: str, index: Any) -> str:
        n, unique = 1, text
        while unique in rows:
            n += 1
            unique = f"{text} (#{n})"
        rows[unique] = index
        return unique

    base_pos = {ident: pos for pos, ident in enumerate(base.index)}
    eff_ids = set(effective.index)
    deleted = tuple(
        IntentRef(str(i), _updated_at(base, base_pos[i]), label=label(f"“{base.iloc[base_pos[i]]['intent_name']}”", i),
                  version=_version(base, base_pos[i]))
        for i in base.index if i not in eff_ids
    )
    # Whole columns as Python lists: one pass, no per-row pandas access (thousands of rows per rerun).
    before_cols = [base[c].tolist() for c in EDITABLE]
    after_cols = [effective[c].tolist() for c in EDITABLE]
    added: list[IntentInput] = []
    edited: list[IntentEdit] = []
    for pos, ident in enumerate(effective.index):
        bpos = base_pos.get(ident)
        if bpos is not None and all(_same_cell(a[pos], b[bpos]) for a, b in zip(after_cols, before_cols, strict=True)):
            continue
        after = (_as_text(after_cols[0][pos]), *(_as_list(col[pos]) for col in after_cols[1:]))
        if str(ident).startswith(NEW):
            added.append(_input(after, label(f"new row {len(added) + 1}", ident)))  # shown by lib.errors.row_label
            continue
        if bpos is None:
            continue
        before = (_as_text(before_cols[0][bpos]), *(_as_list(col[bpos]) for col in before_cols[1:]))
        if after != before:
            name = after[0].strip() or before[0]
            edited.append(IntentEdit(str(ident), _updated_at(base, bpos), _input(after, label(f"“{name}”", ident)),
                                     _version(base, bpos)))
    return Pending(IntentDiff(added=tuple(added), edited=tuple(edited), deleted=deleted), rows)


def diff_from_editor(frame: pd.DataFrame, state: Mapping[str, Any] | None) -> IntentDiff:
    """The rows a Save must write, from the frame shown and the editor's state under its key."""
    return pending(frame, apply_edits(frame, state)).diff


def check_pending(p: Pending, stored: Iterable[tuple[str, str]]) -> list[Problem]:
    """Every problem a Save would refuse (the save's own rules and duplicate names), before saving."""
    problems: list[Problem] = []
    for a in p.diff.added:
        clean_intent(a, problems)
    for e in p.diff.edited:
        clean_intent(e.values, problems)
    return problems + duplicate_problems(p.diff, stored)


def mark_problems(frame: pd.DataFrame, p: Pending, problems: Iterable[Problem]) -> pd.DataFrame:
    """The frame with a read-only "problems" column first: what to fix, on the rows that need it."""
    by_row: dict[Any, list[str]] = {}
    for problem in problems:
        if problem.row in p.rows:
            by_row.setdefault(p.rows[problem.row], []).append(problem.cell())
    out = frame.drop(columns=[PROBLEMS], errors="ignore")
    out.insert(0, PROBLEMS, pd.Series(["⚠ " + "; ".join(by_row[i]) if i in by_row else "" for i in out.index],
                                      index=out.index, dtype="str"))
    return out


def changed_rows(diff: IntentDiff) -> list[tuple[str, str, tuple[str, ...]]]:
    """(id, name, phrases) of the rows a pending save adds or edits (for the clashes it would create)."""
    return ([(e.id, e.values.intent_name, e.values.example_user_phrases) for e in diff.edited]
            + [(f"{NEW}{n}", a.intent_name, a.example_user_phrases) for n, a in enumerate(diff.added)])


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
            parts.append(_("changed: {names}").format(names=listed_names(self.changed)))
        if self.deleted:
            parts.append(_("deleted: {names}").format(names=listed_names(self.deleted)))
        if self.added:
            parts.append(_("{n} added").format(n=self.added))
        return _("While you were editing, intents changed elsewhere ({changes}). Your unsaved "
                 "edits are kept. Save refuses only rows that you changed and someone else changed too; "
                 "Discard loads the current version.").format(changes="; ".join(parts))


def listed_names(names: tuple[str, ...], shown: int = 5) -> str:
    listed = ", ".join(f"“{n}”" for n in names[:shown])
    return listed + (" " + _("and {n} more").format(n=len(names) - shown) if len(names) > shown else "")


def underneath(editing: pd.DataFrame, current: pd.DataFrame) -> Underneath:
    """What changed in ``current`` (the intents as stored now) since ``editing`` (the frame the grid
    shows) was loaded: rows whose database-kept version moved (any writer's update), rows gone, rows new."""
    column = "version" if "version" in editing.columns and "version" in current.columns else "updated_at"
    then = dict(zip(editing.index, editing[column], strict=True))
    now = dict(zip(current.index, current[column], strict=True))
    names = dict(zip(editing.index, editing["intent_name"], strict=True))
    changed = tuple(names[i] for i in then if i in now and not _same_time(then[i], now[i]))
    deleted = tuple(names[i] for i in then if i not in now)
    return Underneath(changed, deleted, sum(1 for i in now if i not in then))


def _same_time(a: Any, b: Any) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b


def _day_time(dt: Any) -> str:
    """``Nov 5, 14:30`` / ``5 нояб., 14:30``, in the user's zone (the app's one date family); remembered per
    time, zone and language: the grid shows 5,000 of them on every render, and most never change."""
    from lib.screens.formatting import current_zone

    return _day_time_in(dt, current_zone(), current())


@lru_cache(maxsize=50_000)
def _day_time_in(dt: Any, zone: Any, language: str) -> str:
    from lib.screens.formatting import fmt_datetime  # in the run's zone and language: the key's

    return fmt_datetime(dt, year=False)


def display_text(text: str, limit: int = MAX_ITEM_LENGTH) -> str:
    """Text fit for a table cell: characters no page can encode (NUL, lone surrogates) shown as
    U+FFFD, and at most ``limit`` characters.  For display only; what is saved is checked instead."""
    if len(text) <= limit and not UNSHOWABLE.search(text):
        return text
    text = UNSHOWABLE.sub("\ufffd", text)
    return text if len(text) <= limit else text[:limit] + "…"

