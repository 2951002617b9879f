"""Typed errors with messages a user can act on; none carries a secret or a stack trace.

Messages are made in the language current when the error is raised (the script run's: lib.i18n)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lib.i18n import N_, _, ngettext


def _n(n: int) -> str:
    from lib.screens.formatting import fmt_int  # (lib.screens imports lib.errors)

    return fmt_int(n)


def _names(names: object) -> str:
    """Names listed in a message, each in the UI's curly quotes."""
    return ", ".join(_("“{name}”").format(name=n) for n in names)


class StoreError(Exception):
    """Base of every error the store raises; ``str(err)`` is safe to show to a user.  A message given as a
    constant marked with ``N_`` (e.g. lib.store.transport.REFUSED) is translated when shown."""

    def __str__(self) -> str:
        return _(super().__str__())


FIELD_LABELS = {  # a Problem's field as the screens name it (other fields: the name with spaces)
    "intent_name": N_("intent name"), "example_user_phrases": N_("example user phrases"),
    "english_responses": N_("english responses"), "russian_responses": N_("russian responses"),
    "encoding": N_("encoding"), "header": N_("header"), "rows": N_("rows"), "row": N_("row"), "file": N_("file"),
    "size": N_("size"), "item": N_("item"), "id": N_("id"), "kind": N_("kind"), "language": N_("language"),
    "status": N_("status"), "assistant": N_("assistant"), "search": N_("search"), "phrase": N_("phrase"),
    "date range": N_("date range"), "user_id": N_("user id"), "type": N_("type"),
}


ROW_KINDS = {"line": N_("line {n}"), "item": N_("item {n}"), "new row": N_("new row {n}"), "row": N_("row {n}")}
ROW_NAMES = {"row": N_("row"), "new row": N_("new row"), "file": N_("file"), "grid": N_("grid"), "save": N_("save"),
             "filter": N_("filter"), "user": N_("user")}
_NUMBERED = re.compile(r"(line|item|new row|row) (\d+)(?: \(#(\d+)\))?")


def row_label(row: str) -> str:
    """A Problem's row as the screens name it: ``line 3`` / ``строка 3``.  Rows are labelled in English
    where they are found (the labels are keys too); an intent's name (“greeting”) is shown as it is."""
    found = _NUMBERED.fullmatch(row)
    if found:
        text = _(ROW_KINDS[found.group(1)]).format(n=found.group(2))
        return f"{text} (#{found.group(3)})" if found.group(3) else text
    label = ROW_NAMES.get(row)
    return _(label) if label else row


def field_label(field: str) -> str:
    label = FIELD_LABELS.get(field)
    return _(label) if label else field.replace("_", " ")


@dataclass(frozen=True)
class Problem:
    """One bad field of one row: ``row`` is how the user knows the row (e.g. 'row 3')."""

    row: str
    field: str
    message: str

    def __str__(self) -> str:
        if not self.field:  # a problem of the whole row or file: no field to name
            return _("{row}: {message}").format(row=row_label(self.row), message=self.message)
        return _("{row}, {field}: {message}").format(row=row_label(self.row), field=self.field, message=self.message)

    def line(self) -> str:
        """How the screens list it: ``line 3: intent name must not be empty``; ``file: it is empty, …``."""
        if not self.field:
            return _("{row}: {message}").format(row=row_label(self.row), message=self.message)
        return _("{row}: {field} {message}").format(row=row_label(self.row), field=field_label(self.field),
                                                    message=self.message)

    def cell(self) -> str:
        """Within a row's own cell (the row is known): ``intent name must not be empty``."""
        if not self.field:
            return self.message
        return _("{field} {message}").format(field=field_label(self.field), message=self.message)


class ValidationError(StoreError):
    """Bad input; nothing was written.  Names every offending row and field, up to ``SHOWN`` of
    them, then how many ``more`` there are."""

    SHOWN = 50  # problems spelled out in the message; a hostile file may have millions

    def __init__(self, problems: list[Problem], more: int = 0) -> None:
        """``more``: how many further problems were found but not kept (bounded memory)."""
        found = list(problems)
        self.problems = found[: self.SHOWN]
        self.more = more + len(found) - len(self.problems)
        lines = "; ".join(str(p) for p in self.problems)
        if self.more:
            lines += "; " + _("and {n} more").format(n=_n(self.more))
        total = len(self.problems) + self.more
        super().__init__(ngettext("Nothing was saved: {n} problem: {problems}",
                                  "Nothing was saved: {n} problems: {problems}", total).format(n=_n(total), problems=lines))


class ConflictError(StoreError):
    """Rows changed (or vanished) in another session since they were loaded; nothing was written."""

    def __init__(self, ids: list[str], names: dict[str, str] | None = None) -> None:
        self.ids = list(ids)
        names = names or {}
        shown = _names(names.get(i, i) for i in self.ids)
        super().__init__(ngettext(
            "Nothing was saved: {n} row was changed or deleted in another session since you loaded them ({rows}). "
            "Discard your changes to load the current version, then redo your edit.",
            "Nothing was saved: {n} rows were changed or deleted in another session since you loaded them ({rows}). "
            "Discard your changes to load the current version, then redo your edit.", len(self.ids)
        ).format(n=_n(len(self.ids)), rows=shown))


class UndoConflict(ConflictError):
    """An undo found intents changed since the save it would undo; nothing was changed."""

    def __init__(self, ids: list[str], names: dict[str, str] | None = None) -> None:
        self.ids = list(ids)
        names = names or {}
        shown = _names(names.get(i, i) for i in self.ids)
        StoreError.__init__(self, ngettext(
            "Nothing was undone: {n} intent changed after this save ({intents}). Undo puts a save "
            "back only while its intents are still exactly as it left them; edit them in the grid instead.",
            "Nothing was undone: {n} intents changed after this save ({intents}). Undo puts a save "
            "back only while its intents are still exactly as it left them; edit them in the grid instead.",
            len(self.ids)).format(n=_n(len(self.ids)), intents=shown))


class AlreadyUndone(StoreError):
    """A save is undone at most once (its undo can itself be undone, which redoes it)."""

    def __init__(self) -> None:
        super().__init__(_("Nothing was changed: this save was already undone. To bring it back, undo the undo."))


class HistoryNotFound(StoreError):
    def __init__(self) -> None:
        super().__init__(_("Nothing was changed: this save is not in your history."))


class StoreUnavailable(StoreError):
    """The database is down, unreachable or too slow; the user may retry later."""

    def __init__(self, what: str | None = None) -> None:
        if what is None:
            super().__init__(_("The database is not reachable or did not answer in time. Nothing was changed; "
                               "please try again in a moment."))
        else:
            super().__init__(_("{what} is not reachable or did not answer in time. Nothing was changed; "
                               "please try again in a moment.").format(what=what))


class NotLoaded(StoreUnavailable):
    """A read of a screen found the database unreachable or too slow (or the render's time budget,
    lib.store.budget, spent): nothing was being changed, the screen could not be loaded."""

    def __init__(self) -> None:
        StoreError.__init__(
            self,
            _("The database is not reachable or did not answer in time, so this screen could not be loaded. "
              "Please try again in a moment."),
        )


class ConfigError(StoreError):
    """The deployment is misconfigured (a setting is missing or malformed)."""


class SaveOutcomeUnknown(StoreUnavailable):
    """The connection dropped while a save was committing and the database could not be reached
    to check it.  The page keeps the edits; saving them again is safe (a save never applies twice)."""

    def __init__(self) -> None:
        StoreError.__init__(self, _(
            "The connection to the database dropped while saving, and the database could not be reached to "
            "check whether the save went through. Your changes are kept here: save again in a moment "
            "(a save is never applied twice)."))


class ExportBusy(StoreError):
    """Every export slot of this server is taken; exports wait briefly, then give up with this."""

    def __init__(self) -> None:
        super().__init__(_("Too many exports are running right now. Please try again in a minute."))


class ExportTimeout(StoreError):
    """An export ran past EXPORT_TIMEOUT_SECONDS and was stopped; no file was kept."""

    def __init__(self, seconds: float) -> None:
        super().__init__(ngettext(
            "The export was stopped after {seconds} second, before it was complete, and no file was kept. "
            "Choose a shorter period or fewer assistants and try again.",
            "The export was stopped after {seconds} seconds, before it was complete, and no file was kept. "
            "Choose a shorter period or fewer assistants and try again.",
            int(seconds) if float(seconds).is_integer() else 2).format(seconds=_seconds(seconds)))


class NameTaken(StoreError):
    """The database refused a name that another intent of the user has (trimmed, case-insensitive): a
    concurrent save from another tab, another writer, or an undo bringing back a name reused since."""

    def __init__(self, name: str, *, undo: bool = False) -> None:
        self.name = name
        if undo:
            text = _("Nothing was undone: it would bring back the name “{name}”, which another of your intents has "
                     "now. Rename that intent first, then undo again.")
        else:
            text = _("Nothing was saved: another of your intents is named “{name}” (names are compared ignoring "
                     "case and surrounding spaces). Choose another name.")
        super().__init__(text.format(name=name))


class SaveUndone(StoreError):
    """A retried save (same token) whose first attempt was applied and then undone: not applied again."""

    def __init__(self) -> None:
        super().__init__(_("Nothing was saved again: these changes were saved earlier and that save has since been "
                           "undone (see History). Discard to load the current intents, then redo what you need."))


def _seconds(seconds: float) -> str:
    from lib.screens.formatting import fmt_number

    return fmt_number(seconds, 0) if float(seconds).is_integer() else fmt_number(seconds, 1)
