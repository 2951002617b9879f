"""The intent editor: one intent in a dialog, every phrase and response in a full-width text field.

The grid shows each list as its first item and "+N more"; this dialog is where the lists are read whole and
edited: each item in place, added, removed and moved up or down.  Apply puts the intent back into the
grid's working rows (the same pending diff, Save, conflict check and history as an edit in the grid);
Cancel, Escape or a click outside leaves the rows as they were.

State: one *draft* in session state while the dialog is open: the row's index in the working frame, its
name, and per list the items with a stable key each (so moving an item moves its text field with it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from lib.i18n import _, ngettext
from lib.models import IntentInput
from lib.screens.intent_checks import MIN_PHRASES
from lib.store.validation import MAX_INTENT_NAME, MAX_ITEM_LENGTH, clean_intent

LISTS = ("example_user_phrases", "english_responses", "russian_responses")
DRAFT = "intent_editor_draft"


def _titles() -> dict[str, str]:
    return {"example_user_phrases": _("Example phrases"), "english_responses": _("English responses"),
            "russian_responses": _("Russian responses")}


def _add_labels() -> dict[str, str]:
    return {"example_user_phrases": _("Add a phrase"), "english_responses": _("Add an English response"),
            "russian_responses": _("Add a Russian response")}


@dataclass
class Draft:
    index: object  # the row's index in the working frame (an intent id, or "new:..." for a new row)
    name: str
    items: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # list -> [(key, text)]
    is_new: bool = False

    @classmethod
    def of(cls, index: object, name: str, lists: dict[str, list[str]], *, is_new: bool = False) -> Draft:
        return cls(index, name, {c: [(uuid.uuid4().hex[:8], t) for t in lists.get(c, ())] for c in LISTS}, is_new)

    def values(self) -> tuple[str, dict[str, list[str]]]:
        """The name and the lists as typed now (the text fields' values), blank items left out."""
        name = st.session_state.get(self._name_key(), self.name)
        lists = {c: [t for k, t0 in self.items[c]
                     if (t := str(st.session_state.get(self._item_key(c, k), t0)).strip())] for c in LISTS}
        return name, lists

    def sync(self) -> None:
        """Copy the text fields into the draft (before a move or a removal rebuilds them)."""
        self.name = st.session_state.get(self._name_key(), self.name)
        for c in LISTS:
            self.items[c] = [(k, st.session_state.get(self._item_key(c, k), t)) for k, t in self.items[c]]

    def _name_key(self) -> str:
        return f"{DRAFT}_name"

    def _item_key(self, column: str, key: str) -> str:
        return f"{DRAFT}_{column}_{key}"


def open_editor(index: object, name: str, lists: dict[str, list[str]], *, is_new: bool = False) -> None:
    """Open the editor on a row (call from a callback or before the dialog is drawn)."""
    for key in [k for k in st.session_state if str(k).startswith(f"{DRAFT}_")]:
        del st.session_state[key]  # no text field of an earlier draft comes back
    draft = Draft.of(index, name, lists, is_new=is_new)
    st.session_state[DRAFT] = draft
    st.session_state[draft._name_key()] = name


def close_editor() -> None:
    st.session_state.pop(DRAFT, None)


def is_open() -> bool:
    return isinstance(st.session_state.get(DRAFT), Draft)


def _move(column: str, pos: int, step: int) -> None:
    draft: Draft = st.session_state[DRAFT]
    draft.sync()
    items = draft.items[column]
    other = pos + step
    if 0 <= other < len(items):
        items[pos], items[other] = items[other], items[pos]


def _remove(column: str, pos: int) -> None:
    draft: Draft = st.session_state[DRAFT]
    draft.sync()
    del draft.items[column][pos]


def _append(column: str) -> None:
    draft: Draft = st.session_state[DRAFT]
    draft.sync()
    draft.items[column].append((uuid.uuid4().hex[:8], ""))


def _list_note(column: str, n: int) -> str:
    """The count beside a list, and what it still needs."""
    if column == "example_user_phrases":
        count = ngettext("{n} phrase", "{n} phrases", n).format(n=n)
        if n < MIN_PHRASES:
            return _("{count} · needs at least {least}").format(count=count, least=MIN_PHRASES)
        return count
    count = ngettext("{n} response", "{n} responses", n).format(n=n)
    if n == 0:
        return (_("{count} · no English response: English callers get no answer") if column == "english_responses"
                else _("{count} · no Russian response: Russian callers get no answer")).format(count=count)
    return count


def render(apply: Callable[[object, str, dict[str, list[str]]], None]) -> None:
    """Draw the dialog when a draft is open; ``apply(index, name, lists)`` takes the edited intent back."""
    draft = st.session_state.get(DRAFT)
    if not isinstance(draft, Draft):
        return
    title = _("New intent") if draft.is_new else _("Edit intent")
    _dialog(title)(draft, apply)


def _dialog(title: str):
    @st.dialog(title, width="large", on_dismiss=close_editor)
    def show(draft: Draft, apply: Callable[[object, str, dict[str, list[str]]], None]) -> None:
        st.text_input(_("Intent name"), key=draft._name_key(), max_chars=MAX_INTENT_NAME)
        titles, adds = _titles(), _add_labels()
        for column in LISTS:
            items = draft.items[column]
            filled = sum(1 for k, t in items if str(st.session_state.get(draft._item_key(column, k), t)).strip())
            st.markdown(f"**{titles[column]}**")
            st.caption(_list_note(column, filled))
            for pos, (key, text) in enumerate(items):
                widget = draft._item_key(column, key)
                if widget not in st.session_state:
                    st.session_state[widget] = text
                # keyed: on a phone the field takes the whole width and its three buttons sit in a row under it
                row = st.container(key=f"editor_item_{column}_{key}")
                box, up, down, drop = row.columns([12, 1, 1, 1], vertical_alignment="center", gap="small")
                box.text_area(_("{list}, item {n}").format(list=titles[column], n=pos + 1), key=widget,
                              height=68, max_chars=MAX_ITEM_LENGTH, label_visibility="collapsed")
                up.button("", icon=":material/arrow_upward:", key=f"{widget}_up", disabled=pos == 0,
                          on_click=_move, args=(column, pos, -1), help=_("Move up"))
                down.button("", icon=":material/arrow_downward:", key=f"{widget}_down",
                            disabled=pos == len(items) - 1, on_click=_move, args=(column, pos, 1),
                            help=_("Move down"))
                drop.button("", icon=":material/close:", key=f"{widget}_drop", on_click=_remove,
                            args=(column, pos), help=_("Remove"))
            st.button(adds[column], icon=":material/add:", key=f"{DRAFT}_{column}_add", on_click=_append,
                      args=(column,))
        name, lists = draft.values()
        problems: list = []
        clean_intent(IntentInput(intent_name=name, label=name or _("this intent"), **{c: tuple(v) for c, v in lists.items()}),
                     problems)
        ok, cancel = st.columns(2)
        if ok.button(_("Apply"), type="primary", width="stretch", key=f"{DRAFT}_apply",
                     help=_("Puts your changes into the grid; Save there writes them.")):
            if problems:
                st.error(_("Fix these first:") + "\n" + "\n".join(
                    f"- {p.field.replace('_', ' ')} {p.message}" for p in problems))
            else:
                close_editor()
                apply(draft.index, name.strip(), lists)
                st.rerun()
        if cancel.button(_("Cancel"), width="stretch", key=f"{DRAFT}_cancel"):
            close_editor()
            st.rerun()

    return show
