"""Typed errors with messages a user can act on; none carries a secret or a stack trace."""

from __future__ import annotations

from dataclasses import dataclass

from lib.i18n import _


class StoreError(Exception):
    """Base of every error the store raises; ``str(err)`` is safe to show to a user."""


@dataclass(frozen=True)
class Problem:
    """One bad field of one row: ``row`` is how the user knows the row (e.g. 'row 3')."""

    row: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.row}, {self.field}: {self.message}"


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
        tail = f"; and {self.more:,} more" if self.more else ""
        total = len(self.problems) + self.more
        super().__init__(f"Nothing was saved: {total:,} problem(s): {lines}{tail}")


class ConflictError(StoreError):
    """Rows changed (or vanished) in another session since they were loaded; nothing was written."""

    def __init__(self, ids: list[str], names: dict[str, str] | None = None) -> None:
        self.ids = list(ids)
        names = names or {}
        shown = ", ".join(repr(names.get(i, i)) for i in self.ids)
        super().__init__(
            f"Nothing was saved: {len(self.ids)} row(s) were changed or deleted in another session "
            f"since you loaded them ({shown}). Discard your changes to load the current version, then redo your edit."
        )


class UndoConflict(ConflictError):
    """An undo found intents changed since the save it would undo; nothing was changed."""

    def __init__(self, ids: list[str], names: dict[str, str] | None = None) -> None:
        self.ids = list(ids)
        names = names or {}
        shown = ", ".join(repr(names.get(i, i)) for i in self.ids)
        StoreError.__init__(
            self,
            f"Nothing was undone: {len(self.ids)} intent(s) changed after this save ({shown}). Undo puts a save "
            "back only while its intents are still exactly as it left them; edit them in the grid instead.",
        )


class AlreadyUndone(StoreError):
    """A save is undone at most once (its undo can itself be undone, which redoes it)."""

    def __init__(self) -> None:
        super().__init__("Nothing was changed: this save was already undone. To bring it back, undo the undo.")


class HistoryNotFound(StoreError):
    def __init__(self) -> None:
        super().__init__("Nothing was changed: this save is not in your history.")


class StoreUnavailable(StoreError):
    """The database is down, unreachable or too slow; the user may retry later."""

    def __init__(self, what: str = "The database") -> None:
        super().__init__(
            f"{what} is not reachable or did not answer in time. Nothing was changed; "
            "please try again in a moment."
        )


class ConfigError(StoreError):
    """The deployment is misconfigured (a setting is missing or malformed)."""


class SaveOutcomeUnknown(StoreUnavailable):
    """The connection dropped while a save was committing and the database could not be reached
    to check it.  The page keeps the edits; saving them again is safe (a save never applies twice)."""

    def __init__(self) -> None:
        StoreError.__init__(
            self,
            "The connection to the database dropped while saving, and the database could not be reached to "
            "check whether the save went through. Your changes are kept here: save again in a moment "
            "(a save is never applied twice).",
        )


class ExportBusy(StoreError):
    """Every export slot of this server is taken; exports wait briefly, then give up with this."""

    def __init__(self) -> None:
        super().__init__("Too many exports are running right now. Please try again in a minute.")


class ExportTimeout(StoreError):
    """An export ran past EXPORT_TIMEOUT_SECONDS and was stopped; no file was kept."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The export was stopped after {seconds:g} seconds, before it was complete, and no file was kept. "
            "Choose a shorter period or fewer assistants and try again."
        )


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
