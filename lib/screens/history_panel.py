"""The Intents screen's History panel: the latest saves of the intents (grid, import, undo), what each
changed, and "Undo this save" with a confirm step.  ``render()`` is called at the end of pages/intents.py;
the rows of a save's detail table come from ``change_rows`` (plain Python, tested without Streamlit)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from lib.errors import StoreError
from lib.i18n import N_, _, ngettext
from lib.models import HistoryEntry, IntentChange, IntentValues, Undone
from lib.screens.formatting import fmt_ago, fmt_datetime, fmt_int, zone_name
from lib.screens.intents_grid import display_text
from lib.store import queries

KEY = "history"
EMPTY = N_("No saves yet — changes you save here or import appear in this list.")
KINDS = {"grid": N_("Saved in the grid"), "import": N_("Imported"), "undo": N_("Undo")}
FIELDS = (("intent_name", N_("Intent")), ("example_user_phrases", N_("Example phrases")),
          ("english_responses", N_("English responses")), ("russian_responses", N_("Russian responses")))
CHANGES = {"added": N_("added"), "changed": N_("changed"), "deleted": N_("deleted")}
SHOWN_ROWS = 500  # detail rows per save; an import of thousands says how many more there are
DETAIL_COLUMNS = [N_("Intent"), N_("Change"), N_("Field"), N_("Before"), N_("After")]


def _text(values: IntentValues | None, field: str) -> str:
    if values is None:
        return ""
    value = getattr(values, field)
    if isinstance(value, tuple):
        return " · ".join(display_text(v) for v in value)
    return display_text(value)


def change_rows(changes: tuple[IntentChange, ...] | list[IntentChange]) -> list[tuple[str, str, str, str, str]]:
    """One row per field a save changed: (intent, added|changed|deleted, field, before, after).  An added
    or deleted intent lists its non-empty fields; a changed one only the fields that differ."""
    rows: list[tuple[str, str, str, str, str]] = []
    for c in changes:
        name = display_text(c.name)
        fields = [(_(label), _text(c.before, f), _text(c.after, f)) for f, label in FIELDS]
        kind = _(CHANGES[c.kind]) if c.kind in CHANGES else c.kind
        shown = [(name, kind, label, b, a) for label, b, a in fields if b != a]
        rows += shown or [(name, kind, "—", "", _("(no visible change)"))]
    return rows


def title(entry: HistoryEntry, now: datetime) -> str:
    kind = _(KINDS[entry.kind]) if entry.kind in KINDS else entry.kind
    return f"**{kind}** · {entry.summary()} · {fmt_ago(entry.created_at, now)}"


def undone_message(entry: HistoryEntry, undone: Undone) -> str:
    """What an undo did, in words: the save it reverted, the assistant links that came back with the intents it
    restored, and the assistants (deleted since) whose links could not."""
    parts = [_("Undone: the save of {time} ({summary}) is reverted.").format(
        time=fmt_datetime(entry.created_at), summary=entry.summary())]
    if undone.links_restored:
        parts.append(ngettext("{n} assistant link came back with the restored intents.",
                              "{n} assistant links came back with the restored intents.",
                              undone.links_restored).format(n=fmt_int(undone.links_restored)))
    if undone.links_lost:
        names = ", ".join(_("“{name}”").format(name=display_text(n)) for n in undone.links_lost)
        parts.append(ngettext("The link to the assistant {names} could not be restored: that assistant was "
                              "deleted since.",
                              "The links to the assistants {names} could not be restored: those assistants were "
                              "deleted since.", len(undone.links_lost)).format(names=names))
    return " ".join(parts)


def _undo(entry: HistoryEntry) -> None:
    try:
        undone = queries.undo_save(entry.id)
    except StoreError as err:  # UndoConflict, AlreadyUndone, unreachable: the message says what to do
        st.session_state[f"{KEY}_error"] = (entry.id, str(err))
        st.rerun()  # the confirm closes; the refusal shows in its place
    st.session_state[f"{KEY}_flash"] = ("warning" if undone.links_lost else "success", undone_message(entry, undone))
    st.rerun()


def _entry(entry: HistoryEntry, by_id: dict[str, HistoryEntry], now: datetime, offline: bool) -> None:
    state = st.session_state
    with st.container(border=True):
        text_col, button_col = st.columns([4, 1], vertical_alignment="center")
        text_col.markdown(title(entry, now))
        notes = [fmt_datetime(entry.created_at)]
        if entry.reverts:
            undone = by_id.get(entry.reverts)
            notes.append(_("undid the save of {time}").format(time=fmt_datetime(undone.created_at)) if undone
                         else _("undid an earlier save"))
        if entry.undone_by:
            notes.append(_("undone"))
        text_col.caption(" · ".join(notes))
        why = (_("Already undone.") if entry.undone_by else _("Nothing to undo.") if not entry.total
               else _("Undo is paused while the database is unreachable.") if offline else None)
        if button_col.button(_("Undo this save"), key=f"{KEY}_undo_{entry.id}", disabled=why is not None, help=why,
                             width="stretch"):
            state[f"{KEY}_confirm"] = entry.id
            state.pop(f"{KEY}_error", None)
        if state.get(f"{KEY}_confirm") == entry.id and why is None:
            st.warning(ngettext("Undo this save? It puts back the {n} intent it touched as it was "
                                "before it, if it did not change since.",
                                "Undo this save? It puts back the {n} intents it touched as they were "
                                "before it, if none of them changed since.", entry.total).format(n=fmt_int(entry.total)))
            yes, no, _rest = st.columns([1, 1, 3])
            if yes.button(_("Yes, undo it"), key=f"{KEY}_yes_{entry.id}", type="primary"):
                state.pop(f"{KEY}_confirm", None)
                _undo(entry)
            if no.button(_("Cancel"), key=f"{KEY}_no_{entry.id}"):
                state.pop(f"{KEY}_confirm", None)
                st.rerun()
        error = state.get(f"{KEY}_error")
        if error and error[0] == entry.id:
            st.error(error[1])
            del state[f"{KEY}_error"]  # said once: the next click clears it
        details = st.expander(_("What changed"), key=f"{KEY}_fields_{entry.id}", on_change="rerun")
        if not details.open:  # the table is built only when asked for: 20 of them cost a rerun ~17 ms
            return
        with details:
            rows: list[tuple[str, str, str, str, str]] = []
            listed = 0
            for change in entry.changes:  # an import of thousands: its first intents, then how many more
                if len(rows) >= SHOWN_ROWS:
                    break
                rows += change_rows((change,))
                listed += 1
            st.dataframe(pd.DataFrame(rows, columns=[_(c) for c in DETAIL_COLUMNS]), hide_index=True, width="stretch")
            if listed < entry.total:
                st.caption(ngettext("… and {n} more intent.", "… and {n} more intents.", entry.total - listed).format(
                    n=fmt_int(entry.total - listed)))


def render() -> None:
    """The History panel (pages/intents.py calls it last)."""
    st.subheader(_("History"))
    st.caption(_("Your latest saves of the intents, newest first. Undo puts a save back while its intents are "
                 "still as it left them.") + " " + _("Times here and in the Updated column: {zone}.").format(
                     zone=zone_name()))
    if flash := st.session_state.pop(f"{KEY}_flash", None):
        kind, text = flash
        (st.warning if kind == "warning" else st.success)(text)
    try:
        entries = queries.history()
    except StoreError as err:
        st.error(str(err))
        return
    if not entries:
        st.info(_(EMPTY))
        return
    offline = not queries.freshness().reachable
    now = datetime.now(UTC).replace(tzinfo=None)
    by_id = {e.id: e for e in entries}
    for entry in entries:
        _entry(entry, by_id, now, offline)
