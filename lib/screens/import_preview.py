"""The import preview as pure functions: an imported file's rows -> a checked preview (each row's
reading problems and names that clash with each other or with the stored intents), in the grid's
columns and cell text (``lib.screens.intents_grid``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from lib.errors import Problem, ValidationError, field_label, row_label
from lib.files.importing import gc_paused
from lib.i18n import _, ngettext
from lib.models import Intent, IntentEdit, IntentInput
from lib.screens.formatting import fmt_int
from lib.screens.intents_grid import EDITABLE, UNSHOWABLE, display_text
from lib.store.validation import MAX_INTENT_NAME, MAX_ITEM_LENGTH, MAX_LIST_ITEMS, clean_intent, name_key

REASONS_PER_ROW = 3  # problems spelled out in one row's check cell before "and N more"
SHOWN_PROBLEMS = ValidationError.SHOWN  # problems kept for a preview's summary


def _display_list(items: Iterable[str]) -> tuple[str, ...]:
    items = tuple(items)
    shown = tuple(display_text(t) for t in items[:MAX_LIST_ITEMS])
    if len(items) > MAX_LIST_ITEMS:
        shown += (_("… and {n} more").format(n=fmt_int(len(items) - MAX_LIST_ITEMS)),)
    return shown


Row = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _display_row(i: IntentInput) -> Row:
    lists = (tuple(i.example_user_phrases), tuple(i.english_responses), tuple(i.russian_responses))
    if (len(i.intent_name) <= MAX_INTENT_NAME and all(len(v) <= MAX_LIST_ITEMS for v in lists)
            and not UNSHOWABLE.search("".join((i.intent_name, *lists[0], *lists[1], *lists[2])))
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
    shown = "; ".join(_("{field}: {message}").format(field=field_label(p.field), message=p.message)
                      for p in problems[:REASONS_PER_ROW])
    more = len(problems) - REASONS_PER_ROW
    return "✗ " + shown + ("; " + _("and {n} more").format(n=fmt_int(more)) if more > 0 else "")


@dataclass(frozen=True)
class ImportPreview:
    """What an uploaded file would do: the rows checked by the save's own rules, one result cell per row
    (new, updates an intent, unchanged, left as is, or what is wrong), and what a save would write."""

    frame: pd.DataFrame  # "check" (the row's result) then the editable columns
    intents: tuple[IntentInput, ...]  # every row, cleaned
    bad_rows: int
    problems: tuple[Problem, ...]  # the first SHOWN_PROBLEMS, for a summary
    added: tuple[IntentInput, ...] = ()
    updated: tuple[IntentEdit, ...] = ()
    unchanged: int = 0
    left: int = 0  # rows naming an intent the user has, when the import only adds

    def summary(self) -> str:
        """One line for the user: what to do next."""
        n = len(self.intents)
        if self.bad_rows:
            return ngettext("{bad} of {n} rows have problems; fix the file and upload it again.",
                            "{bad} of {n} rows have problems; fix the file and upload it again.", n).format(
                bad=fmt_int(self.bad_rows), n=fmt_int(n))
        return _("Ready: {added} to add, {updated} to update, {unchanged} unchanged, {left} left as is.").format(
            added=fmt_int(len(self.added)), updated=fmt_int(len(self.updated)), unchanged=fmt_int(self.unchanged),
            left=fmt_int(self.left))

    def save_label(self) -> str:
        """The import button: what one click writes, one whole phrase per case."""
        added, updated = len(self.added), len(self.updated)
        if not updated:
            return ngettext("Add {n} intent", "Add {n} intents", added).format(n=fmt_int(added))
        if not added:
            return ngettext("Update {n} intent", "Update {n} intents", updated).format(n=fmt_int(updated))
        # the noun agrees with the number next to it (Russian needs its form; English reads the same way)
        return ngettext("Add {added} and update {updated} intent", "Add {added} and update {updated} intents",
                        updated).format(added=fmt_int(added), updated=fmt_int(updated))

    def nothing_to_do(self, *, update: bool) -> str:
        """Why a clean file writes nothing, and what would make it."""
        if update:
            return _("Nothing to import: the file's intents are all as you have them.")
        return _("Nothing to add. To update the intents you have from this file, choose “Add new intents and "
                 "update those I have”.")


def import_preview(rows: Iterable[IntentInput], row_problems: Mapping[str, list[Problem]] | None = None,
                   stored: Iterable[Intent | str] = (), *, update: bool = False) -> ImportPreview:
    """Check every row of an import (``lib.store.validation.clean_intent``, the rules a save applies) in
    one pass, with each row's own reading problems (``lib.files.importing.read_intent_file``), and match it
    to the user's intents (``stored``; names alone where only names are known): by the row's id (the
    Export's column), else by name.  A matched row updates that intent when ``update``, else is left as is;
    a row matching nothing is new.  Linear time; one short result string per row."""
    with gc_paused():
        return _import_preview(rows, row_problems or {}, list(stored), update)


def _same(row: IntentInput, intent: Intent) -> bool:
    return (row.intent_name, tuple(row.example_user_phrases), tuple(row.english_responses),
            tuple(row.russian_responses)) == (intent.intent_name, tuple(intent.example_user_phrases),
                                              tuple(intent.english_responses), tuple(intent.russian_responses))


def _import_preview(rows: Iterable[IntentInput], row_problems: Mapping[str, list[Problem]],
                    stored: list[Intent | str], update: bool) -> ImportPreview:
    by_key: dict[str, Intent | str] = {}
    by_id: dict[str, Intent] = {}
    for item in stored:
        by_key.setdefault(name_key(item if isinstance(item, str) else item.intent_name), item)
        if not isinstance(item, str):
            by_id[item.id] = item
    cleaned: list[IntentInput] = []
    checks: list[str] = []
    kept: list[Problem] = []
    added: list[IntentInput] = []
    updated: list[IntentEdit] = []
    unchanged = left = bad = 0
    seen: dict[str, str] = {}  # name key -> the label of the first row that has it
    targets: dict[str, str] = {}  # stored intent id -> the label of the row that updates it
    for row in rows:
        found: list[Problem] = list(row_problems.get(row.label, ()))
        result = ""
        if any(p.field in ("row", "item") for p in found):
            cleaned.append(row)  # not readable as an intent: its one problem says why
        else:
            clean = clean_intent(row, found)
            cleaned.append(clean)
            key = name_key(clean.intent_name)
            shown = display_text(clean.intent_name, 60)
            target = by_id.get(clean.id) if clean.id else None
            target = target if target is not None else by_key.get(key) if key else None
            if found:
                pass
            elif target is None:
                if key in seen:
                    found.append(Problem(row.label, "intent_name", _("“{name}” is also the name on {row}").format(
                        name=shown, row=row_label(seen[key]))))
                else:
                    seen[key] = row.label
                    added.append(clean)
                    result = "✓ " + _("new")
            elif isinstance(target, str) or not update:
                left += 1
                name = display_text(target if isinstance(target, str) else target.intent_name, 60)
                result = "– " + _("you have “{name}”: left as is").format(name=name)
            elif target.id in targets:
                found.append(Problem(row.label, "intent_name", _("updates the same intent as {row}").format(
                    row=row_label(targets[target.id]))))
            elif key != name_key(target.intent_name) and isinstance(by_key.get(key), Intent) \
                    and by_key[key].id != target.id:
                found.append(Problem(row.label, "intent_name", _("“{name}” is the name of another of your "
                                                                 "intents").format(name=shown)))
            else:
                targets[target.id] = row.label
                if _same(clean, target):
                    unchanged += 1
                    result = "= " + _("unchanged")
                else:
                    updated.append(IntentEdit(target.id, target.updated_at, clean, version=target.version))
                    result = "✓ " + _("updates “{name}”").format(name=display_text(target.intent_name, 60))
        if found:
            bad += 1
            checks.append(_reasons(found))
            kept.extend(found[: SHOWN_PROBLEMS - len(kept)])
        else:
            checks.append(result)
    frame = preview_frame(cleaned)
    frame.insert(0, "check", checks)
    return ImportPreview(frame, tuple(cleaned), bad, tuple(kept), tuple(added), tuple(updated), unchanged, left)


def problem_lines(err: ValidationError) -> list[str]:
    """A refused save's or file's problems as the screens list them (at most ``ValidationError.SHOWN``,
    then how many more)."""
    lines = [p.line() for p in err.problems]
    if err.more:
        lines.append(_("… and {n} more").format(n=fmt_int(err.more)))
    return lines

