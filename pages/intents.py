"""Intents: edit name, example phrases and responses in a grid; Save writes the diff, all or nothing.

The grid shows a *working* frame: the rows loaded (the *base*) with the user's earlier edits folded in.
The editor's own state (edits by row position) lives only while the screen is shown; it is folded into
the working frame whenever the grid must be rebuilt (a row added, deletes cancelled, problems marked)
and, after a visit to another screen, from the last rows shown, so unsaved edits outlive navigation.
"""

from dataclasses import replace

import streamlit as st

from lib import i18n
from lib.errors import StoreError, StoreUnavailable, ValidationError
from lib.files import importing
from lib.files.importing import quoted
from lib.i18n import N_, _, ngettext
from lib.identity import session
from lib.models import IntentDiff
from lib.screens import history_panel, import_preview, intent_checks, intent_editor, intents_grid, widgets
from lib.screens.formatting import fmt_int
from lib.store import queries, saves
from lib.store.validation import MAX_SEARCH_LENGTH

KEY = "intents"
BASE, WORKING, SHOWN, FILTERS = f"{KEY}_editing", f"{KEY}_working", f"{KEY}_shown", f"{KEY}_filters"
CONFIRM, PROBLEMS, URL, SOURCE = f"{KEY}_confirm", f"{KEY}_problems", f"{KEY}_url", f"{KEY}_source"
VIEWS = {"all": N_("All intents"), intent_checks.ATTENTION_VIEW: N_("Needs attention")}
state = st.session_state
state.setdefault(f"{KEY}_generation", 0)  # bumped whenever the grid is rebuilt: a fresh editor


def grid_key() -> str:
    return f"{KEY}_grid_{state[f'{KEY}_generation']}"


def shown_rows():
    """The rows as the user sees them now: the working frame with the editor's pending state applied."""
    working = state.get(WORKING)
    return None if working is None else intents_grid.apply_edits(working, state.get(grid_key()))


def pending_now() -> intents_grid.Pending:
    """The edits pending as the user sees them now (in a Save callback: the editor's newest state included);
    none before the grid is loaded."""
    rows = shown_rows()
    if state.get(BASE) is None or rows is None:
        return intents_grid.Pending(IntentDiff(), {})
    return intents_grid.pending(state[BASE], rows)


def rebuild(frame) -> None:
    """Show ``frame`` (every edit folded in) in a fresh editor."""
    state[WORKING] = frame
    state.pop(SHOWN, None)
    state[f"{KEY}_generation"] += 1


def reset_grid() -> None:
    """Discard, and after a save: the grid loads the stored intents again."""
    state[f"{KEY}_generation"] += 1
    for key in (BASE, WORKING, SHOWN, FILTERS, CONFIRM, PROBLEMS, f"{KEY}_grid_token", f"{KEY}_import_token"):
        state.pop(key, None)


def add_row() -> None:
    """A new row on top of the grid, opened in the editor (its lists are typed there)."""
    frame = intents_grid.with_new_row(shown_rows())
    rebuild(frame)
    intent_editor.open_editor(frame.index[0], "", {}, is_new=True)


def edit_row() -> None:
    """The row chosen in "Edit intent", opened in the editor with every edit made to it so far."""
    index = state.get(f"{KEY}_pick")
    state[f"{KEY}_pick"] = None  # shown empty again (popping the key would leave the browser's choice in place)
    rows = shown_rows()
    if index is None or rows is None or index not in rows.index:
        return
    row = rows.loc[index]
    intent_editor.open_editor(index, str(row["intent_name"]), {c: list(row[c]) for c in intent_editor.LISTS},
                              is_new=str(index).startswith(intents_grid.NEW))


def apply_editor(index, name: str, lists: dict[str, list[str]]) -> None:
    rows = shown_rows()
    if rows is not None and index in rows.index:
        rebuild(intents_grid.with_row(rows, index, name, lists))


def cancel_delete() -> None:
    state.pop(CONFIRM, None)
    rebuild(intents_grid.restore_deleted(state[BASE], shown_rows()))


# The grid has eight columns: on a wide window, narrower side margins let all of them fit beside the sidebar.
st.html("<style>@media (min-width: 1200px) { [data-testid='stMainBlockContainer'] "
        "{ padding-left: 2rem; padding-right: 2rem; } }</style>")
st.title(_("Intents"))
st.caption(_("What callers say and how your assistant answers, in English and Russian. Lists hold one phrase or "
             "response per item; new rows appear at the top."))

kept = 0
if grid_key() not in state and state.get(SHOWN) is not None:
    # Streamlit dropped the editor's state while another screen ran: show its last rows, edits folded in.
    rebuild(state[SHOWN])
    kept = -1  # counted below, once the diff is known
elif state.get(f"{KEY}_language", i18n.current()) != i18n.current() and state.get(WORKING) is not None:
    # The language was switched: the grid's headers change, which would give the editor a fresh (empty) state.
    # Its edits are folded into the rows first, so none is lost.
    rebuild(shown_rows())
state[f"{KEY}_language"] = i18n.current()

base = state.get(BASE)
rows_now = shown_rows()
if (state.get(grid_key()) or {}).get("deleted_rows"):
    # rows deleted in the grid leave it: a fresh editor of the rows left, as high as they are (the editor keeps
    # its height, so they stayed as blank rows); the deletes stay pending (Save asks, Cancel puts them back)
    rebuild(rows_now)
pend = pending_now()
locked = pend.count() > 0  # edits pending: the grid keeps the rows (and filters) they were made on
if kept:
    kept = pend.count()

# -- filters, from the address (?view=attention&q=...) ---------------------------------------------
params = st.query_params
url_view, url_q = params.get("view", "all"), params.get("q", "")
if url_view not in VIEWS:
    st.caption(_("Unknown view “{view}” in the address; showing all intents.").format(view=quoted(url_view)))
    url_view = "all"
if len(url_q) > MAX_SEARCH_LENGTH:
    st.caption(_("The search in the address is longer than {n} characters; showing every intent.").format(
        n=MAX_SEARCH_LENGTH))
    url_q = ""
if locked:
    state[f"{KEY}_view"], state[f"{KEY}_search"] = state[FILTERS]
elif state.get(URL) != (url_view, url_q):  # opened by a link, or the address was edited
    state[f"{KEY}_view"], state[f"{KEY}_search"] = url_view, url_q

try:
    intents, assistants = queries.intents(), queries.assistants()
except StoreUnavailable:
    if base is None:
        raise
    intents, assistants = None, []  # the database is away: keep showing the edits, to be saved when it is back
report = intent_checks.check_cached(intents, assistants) if intents is not None else None

filter_col, search_col = st.columns([2, 3], vertical_alignment="bottom")
attention_count = len(report.attention) if report else 0
view = filter_col.radio(
    _("Show"), list(VIEWS), key=f"{KEY}_view", horizontal=True, disabled=locked,
    format_func=lambda v: f"{_(VIEWS[v])} ({attention_count})" if v == intent_checks.ATTENTION_VIEW else _(VIEWS[v]),
    help=_("Save or discard your changes to change the view.") if locked else
    _("Intents without English or Russian responses, with fewer than {n} example "
      "phrases, or sharing a phrase or a name with another intent.").format(n=intent_checks.MIN_PHRASES),
) or "all"
search = search_col.text_input(_("Search by name or phrase"), key=f"{KEY}_search", placeholder=_("e.g. booking"),
                               max_chars=MAX_SEARCH_LENGTH, disabled=locked,
                               help=_("Save or discard your changes to search.") if locked else None)
want = ({"view": view} if view != "all" else {}) | ({"q": search} if search else {})
if {k: params.get(k) for k in ("view", "q") if k in params} != want:
    params.from_dict(want)
state[URL] = (view, search)

# While edits are pending the grid keeps the frame they were made on (new data would reset the editor
# and drop them); the user is told what changed underneath, and Save's conflict check decides.
notice = None
if report is not None:
    # The frame is rebuilt only when the rows or the filters changed (the cached helper hands out the very
    # same intents tuple until then): a click elsewhere on the screen does not pay for 5,000 rows again.
    made = state.get(SOURCE)
    if made is not None and made[0] is intents and made[1] is report and made[2:4] == (search, view):
        current = made[4]
    else:
        current = intents_grid.grid_frame(intents, search, report, attention_only=view == intent_checks.ATTENTION_VIEW)
        state[SOURCE] = (intents, report, search, view, current)
    if not locked:
        base = state[BASE] = state[WORKING] = rows_now = current
        state[FILTERS] = (view, search)
        pend = intents_grid.Pending(IntentDiff(), {})
    elif current is not base:
        notice = intents_grid.underneath(base, current).notice()  # shown below the grid: it must not move
offline = not queries.freshness().reachable
working = state[WORKING]
session.note_unsaved(pend.count())  # Sign out asks before dropping them

if kept:
    st.info(ngettext("{n} unsaved change kept from before you left this screen.",
                     "{n} unsaved changes kept from before you left this screen.", kept).format(n=fmt_int(kept)),
            icon=":material/history:")
if report is not None and report.total:
    saved_rows = sum(1 for i in working.index if not str(i).startswith(intents_grid.NEW))
    shown = ngettext("Showing {shown} of {n} intents", "Showing {shown} of {n} intents", report.total).format(
        shown=fmt_int(saved_rows), n=fmt_int(report.total)) if saved_rows != report.total or view != "all" \
        else ngettext("{n} intents", "{n} intents", report.total).format(n=fmt_int(report.total))
    st.caption(" · ".join((shown, report.readiness(),
                           ngettext("{n} need attention", "{n} need attention", attention_count).format(
                               n=fmt_int(attention_count)),
                           ngettext("{n} not used by any assistant", "{n} not used by any assistant",
                                    len(report.unused)).format(n=fmt_int(len(report.unused))))))
if report is not None and report.duplicates:
    names = ", ".join(f"“{report.names[ids[0]]}” ({len(ids)})" for ids in report.duplicates[:5])
    st.warning(_("Some intents share a name: {names}. Rename all but one of each; they are marked “another intent "
                 "has the same name” under Needs attention.").format(names=names), icon=":material/content_copy:")

add_col, pick_col = st.columns([1, 3], vertical_alignment="bottom")
add_col.button(_("Add intent"), icon=":material/add:", on_click=add_row, key=f"{KEY}_add")
if not working.empty:
    names = dict(zip(rows_now.index, rows_now["intent_name"], strict=True))
    pick_col.selectbox(_("Edit intent"), list(rows_now.index), index=None, key=f"{KEY}_pick", on_change=edit_row,
                       format_func=lambda i: str(names.get(i) or "").strip() or _("(new intent, no name yet)"),
                       placeholder=_("Choose an intent to read and edit its phrases and responses in full…"),
                       label_visibility="collapsed")
if working.empty and not search and view == "all":
    st.info(_("You have no intents yet. Click **Add intent**, fill it in the editor, then Save."))
elif working.empty and view != "all" and not search:
    st.info(_("No intent needs attention: every one has English and Russian responses, "
              "at least {n} example phrases and no phrase shared with another intent.").format(n=intent_checks.MIN_PHRASES))
elif working.empty:
    st.info(_("No intent matches “{search}”.").format(search=search))

if not working.empty:
    st.data_editor(
        intents_grid.shown(working),  # rows map to ids by position (lib.screens.intents_grid); no id column
        key=grid_key(),
        num_rows="delete",  # rows are added with "Add intent", on top, where the user is looking
        hide_index=True,
        width="stretch",
        height=min(35 * (len(working) + 1) + 3, 600),  # about 16 rows, then it scrolls
        column_config=widgets.intent_columns(),
        column_order=intents_grid.display_order(working),  # lists as "first item (+N more)": edited in the editor
    )
    state[SHOWN] = rows_now  # restored after a visit to another screen
else:
    state.pop(SHOWN, None)

if notice:
    st.warning(notice, icon=":material/sync_problem:")
diff = pend.diff
if report is not None and (diff.added or diff.edited):
    if clashes := intent_checks.new_clashes(report, intents_grid.changed_rows(diff), [d.id for d in diff.deleted]):
        st.warning(_("Your changes give intents a phrase that another intent has (you can still save):") + "\n" +
                   "\n".join(f"- {intent_checks.clash_line(c)}" for c in clashes[:10]), icon=":material/call_split:")

save_col, discard_col, note_col = st.columns([1, 1, 4])
summary = _("{added} new, {changed} changed, {deleted} to delete").format(
    added=len(diff.added), changed=len(diff.edited), deleted=len(diff.deleted))
if diff.deleted:
    summary += f" ({pend.deleted_names()})"
if diff.is_empty():
    note_col.caption(_("No unsaved changes."))
elif offline:
    note_col.caption(_("Unsaved: {summary}. Saving is paused while the database is unreachable; your changes "
                       "stay here until it is back.").format(summary=summary))
else:
    note_col.caption(_("Unsaved: {summary}").format(summary=summary))
discard_col.button(_("Discard"), on_click=reset_grid, disabled=diff.is_empty(), width="stretch")


def save(d: IntentDiff, kind: str = "grid") -> None:
    """A Save button's callback: it runs before the script, so the page drawn next shows the outcome (the
    saved rows, or why nothing was saved) in one render.  One token per set of pending edits
    (lib.models.SaveToken): saving the same edits again never applies them twice; changed edits are another
    save with a token of their own.  Forgotten by reset_grid."""
    state[f"{KEY}_{kind}_token"] = saves.token_for(state.get(f"{KEY}_{kind}_token"), d)
    token = state[f"{KEY}_{kind}_token"][1]
    try:
        result = queries.save_intents(replace(d, token=token, kind=kind))
    except ValidationError as err:
        state[f"{KEY}_{kind}_error"] = _("**Nothing was saved.** Fix these and save again:") + "\n" + "\n".join(
            f"- {line}" for line in import_preview.problem_lines(err))
        return
    except StoreError as err:  # a conflict, the database away: the message says what to do
        state[f"{KEY}_{kind}_error"] = str(err)
        return
    reset_grid()
    state[f"{KEY}_flash"] = result.notice()


def save_grid(pend: intents_grid.Pending) -> None:
    """Check the rows first (the save's rules and duplicate names): problems are listed by the rows'
    names and marked in a column of the grid, and nothing is sent."""
    try:
        stored = queries.intents()
    except StoreUnavailable:
        stored = ()  # the save itself says the database is away
    problems = intents_grid.check_pending(pend, [(i.id, i.intent_name) for i in stored])
    if problems:
        state[PROBLEMS] = import_preview.problem_lines(ValidationError(problems))
        rebuild(intents_grid.mark_problems(shown_rows(), pend, problems))
        return
    save(pend.diff)


def on_save() -> None:
    state.pop(PROBLEMS, None)
    pend = pending_now()
    if pend.diff.is_empty():
        return
    if pend.diff.deleted:
        state[CONFIRM] = True  # asked below the buttons first
    else:
        save_grid(pend)


def on_confirm_delete() -> None:
    state.pop(CONFIRM, None)
    pend = pending_now()
    if not pend.diff.is_empty():
        save_grid(pend)


save_col.button(_("Save"), type="primary", disabled=diff.is_empty() or offline, width="stretch", on_click=on_save)
if error := state.pop(f"{KEY}_grid_error", None):
    st.error(error)

if state.get(CONFIRM) and diff.deleted:
    with st.container(border=True):
        n = len(diff.deleted)
        st.warning(ngettext("Delete {n} intent: {names}? Undo in History below brings it back.",
                            "Delete {n} intents: {names}? Undo in History below brings them back.", n).format(
                                n=fmt_int(n), names=pend.deleted_names(10)), icon=":material/delete:")
        if report is not None:
            for d in diff.deleted:
                check = report.checks.get(d.id)
                if check and check.used_by:
                    st.markdown("- " + _("{intent} is used by {assistants}; they will no longer use it.").format(
                        intent=d.label, assistants=intents_grid.listed_names(check.used_by)))
        yes, no = st.columns(2)
        yes.button(ngettext("Delete {n} intent and save", "Delete {n} intents and save", n).format(n=fmt_int(n)),
                   type="primary", on_click=on_confirm_delete)
        no.button(_("Cancel"), on_click=cancel_delete, help=_("Keep these intents: they come back in the grid."))

if lines := state.get(PROBLEMS):
    st.error(_("**Nothing was saved.** Fix these (marked in the grid's first column) and save again:") + "\n" +
             "\n".join(f"- {line}" for line in lines))
if flash := state.pop(f"{KEY}_flash", None):
    st.success(flash)

if report is not None and report.clashes:
    with st.expander(_("Phrase clashes ({n})").format(n=fmt_int(len(report.clashes))), icon=":material/call_split:"):
        st.caption(_("An example phrase in two or more intents, compared ignoring case, spaces and punctuation: "
                     "the assistant cannot tell which one a caller means."))
        st.markdown("\n".join(f"- {intent_checks.clash_line(c)}" for c in report.clashes[:200]))

IMPORT_MODES = {"add": N_("Add new intents only"), "update": N_("Add new intents and update those I have")}
with st.expander(_("Import intents from CSV or JSON")):
    st.caption(_("The same format the Export screen writes: columns intent_name, example_user_phrases, "
                 "english_responses, russian_responses (lists as JSON arrays; a plain value is one item per line), "
                 "and id. A row names one of your intents by its id, else by its name."))
    mode = st.radio(_("Rows that name an intent you have"), list(IMPORT_MODES), format_func=lambda m: _(IMPORT_MODES[m]),
                    horizontal=True, key=f"{KEY}_import_mode")
    upload = st.file_uploader(_("File"), type=["csv", "json"], max_upload_size=importing.MAX_UPLOAD_MB,
                              key=f"{KEY}_upload_{state[f'{KEY}_generation']}")
    if upload is not None:
        try:
            found = importing.read_intent_file(upload.getvalue(), upload.name)
            preview = import_preview.import_preview(found.rows, found.problems, intents or (), update=mode == "update")
        except ValidationError as err:
            st.error(_("This file cannot be read:") + "\n" + "\n".join(f"- {line}" for line in import_preview.problem_lines(err)))
        else:
            st.caption(_("Read as {encoding}.").format(encoding=found.encoding))
            if not preview.intents:
                st.info(_("The file holds no intents."))
            else:
                st.dataframe(preview.frame, hide_index=True, width="stretch", column_config=widgets.preview_columns())
                if preview.bad_rows:
                    st.error(preview.summary() + "\n" + "\n".join(
                        f"- {p.line()}" for p in preview.problems))
                elif not (preview.added or preview.updated):
                    st.info(preview.summary() + " " + preview.nothing_to_do(update=mode == "update"))
                else:
                    st.caption(preview.summary())
                    st.button(preview.save_label(), type="primary", disabled=offline, key=f"{KEY}_import_save",
                              on_click=save, args=(IntentDiff(added=preview.added, edited=preview.updated), "import"))
    if error := state.pop(f"{KEY}_import_error", None):
        st.error(error)

history_panel.render()
intent_editor.render(apply_editor)
