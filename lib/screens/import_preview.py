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
from lib.models import IntentInput
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
            return ngettext("{bad} of {n} rows have problems; fix the file and upload it again.",
                            "{bad} of {n} rows have problems; fix the file and upload it again.", n).format(
                bad=fmt_int(self.bad_rows), n=fmt_int(n))
        return ngettext("{n} intents ready to add.", "{n} intents ready to add.", n).format(n=fmt_int(n))


def import_preview(rows: Iterable[IntentInput], row_problems: Mapping[str, list[Problem]] | None = None,
                   stored: Iterable[str] = ()) -> ImportPreview:
    """Check every row of an import (``lib.store.validation.clean_intent``, the rules a save applies) in
    one pass, with each row's own reading problems (``lib.files.importing.read_intent_rows``) and names that
    a saved intent (``stored``: the user's intent names) or an earlier row of the file has already:
    linear time, and only one short reason string is kept per row."""
    with gc_paused():
        return _import_preview(rows, row_problems or {}, {name_key(n) for n in stored})


def _import_preview(rows: Iterable[IntentInput], row_problems: Mapping[str, list[Problem]],
                    stored: set[str]) -> ImportPreview:
    cleaned: list[IntentInput] = []
    checks: list[str] = []
    kept: list[Problem] = []
    seen: dict[str, str] = {}  # name key -> the label of the first row that has it
    bad = 0
    for row in rows:
        found: list[Problem] = list(row_problems.get(row.label, ()))
        if any(p.field in ("row", "item") for p in found):
            cleaned.append(row)  # not readable as an intent: its one problem says why
        else:
            clean = clean_intent(row, found)
            cleaned.append(clean)
            key = name_key(clean.intent_name)
            shown = display_text(clean.intent_name, 60)
            if key and key in stored:
                found.append(Problem(row.label, "intent_name", _("“{name}” is already the name of one of your intents; "
                                                                 "rename it here or in the grid").format(name=shown)))
            elif key and key in seen:
                found.append(Problem(row.label, "intent_name", _("“{name}” is also the name on {row}").format(
                    name=shown, row=row_label(seen[key]))))
            elif key:
                seen[key] = row.label
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
    lines = [p.line() for p in err.problems]
    if err.more:
        lines.append(_("… and {n} more").format(n=fmt_int(err.more)))
    return lines

