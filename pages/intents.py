"""Intents: edit name, example phrases and responses in a grid; Save writes the diff, all or nothing."""

from dataclasses import replace

import streamlit as st

from lib import history_panel, importing, intents_grid, queries, widgets
from lib.errors import ConflictError, StoreError, StoreUnavailable, ValidationError
from lib.models import IntentDiff, SaveToken

KEY = "intents"
state = st.session_state
state.setdefault(f"{KEY}_generation", 0)  # bumped by Discard and after a save: a fresh grid
grid_key = f"{KEY}_grid_{state[f'{KEY}_generation']}"


def reset_grid() -> None:
    state[f"{KEY}_generation"] += 1
    state.pop(f"{KEY}_confirm", None)
    state.pop(f"{KEY}_editing", None)
    for kind in ("grid", "import"):
        state.pop(f"{KEY}_{kind}_token", None)


st.title("Intents")
st.caption("What callers say and how your assistant answers. Lists hold one phrase or response per item.")

pending = state.get(grid_key) or {}
has_edits = any(pending.get(k) for k in ("edited_rows", "added_rows", "deleted_rows"))
search = st.text_input("Search by name or phrase", key=f"{KEY}_search", placeholder="e.g. booking",
                       disabled=has_edits, help="Save or discard your changes to search." if has_edits else None)

# While edits are pending the grid keeps the frame they were made on (new data would reset the editor
# and drop them); the user is told what changed underneath, and Save's conflict check decides.
frame = state.get(f"{KEY}_editing") if has_edits else None
try:
    current = intents_grid.grid_frame(queries.intents(), search)
except StoreUnavailable:
    if frame is None:
        raise
    current = frame  # the database is away: keep showing the edits, to be saved when it is back
notice = None
if frame is None:
    frame = state[f"{KEY}_editing"] = current
else:
    notice = intents_grid.underneath(frame, current).notice()  # shown below the grid: it must not move
offline = not queries.freshness().reachable
if frame.empty and not search:
    st.info("You have no intents yet. Add your first one in the grid below (click **+**), then Save.")
elif frame.empty:
    st.info(f"No intent matches “{search}”.")

st.data_editor(
    frame.reset_index(drop=True),  # rows map to ids by position (lib.intents_grid); no id column
    key=grid_key,
    num_rows="dynamic",
    hide_index=True,
    width="stretch",
    column_config=widgets.intent_columns(),
)

if notice:
    st.warning(notice, icon=":material/sync_problem:")
diff = intents_grid.diff_from_editor(frame, state.get(grid_key))
save_col, discard_col, note_col = st.columns([1, 1, 4])
summary = f"{len(diff.added)} new, {len(diff.edited)} changed, {len(diff.deleted)} to delete"
if diff.is_empty():
    note_col.caption("No unsaved changes.")
elif offline:
    note_col.caption(f"Unsaved: {summary}. Saving is paused while the database is unreachable; your changes "
                     "stay here until it is back.")
else:
    note_col.caption(f"Unsaved: {summary}")
discard_col.button("Discard", on_click=reset_grid, disabled=diff.is_empty(), width="stretch")


def save(d: IntentDiff, kind: str = "grid") -> None:
    # One token per pending edits (lib.models.SaveToken): saving them again never applies them twice.
    token = state.setdefault(f"{KEY}_{kind}_token", SaveToken.new())
    try:
        result = queries.save_intents(replace(d, token=token, kind=kind))
    except ValidationError as err:
        st.error("**Nothing was saved.** Fix these and save again:\n" +
                 "\n".join(f"- {line}" for line in intents_grid.problem_lines(err)))
        return
    except ConflictError as err:
        st.error(str(err))
        return
    except StoreError as err:
        st.error(str(err))
        return
    reset_grid()
    state[f"{KEY}_flash"] = result.notice()
    st.rerun()


if save_col.button("Save", type="primary", disabled=diff.is_empty() or offline, width="stretch"):
    if len(diff.deleted) > 1:
        state[f"{KEY}_confirm"] = True
    else:
        save(diff)

if state.get(f"{KEY}_confirm") and not diff.is_empty():
    with st.container(border=True):
        st.warning(f"Delete {len(diff.deleted)} intents? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button(f"Delete {len(diff.deleted)} intents and save", type="primary"):
            state.pop(f"{KEY}_confirm", None)
            save(diff)
        if no.button("Cancel"):
            state.pop(f"{KEY}_confirm", None)
            st.rerun()

if flash := state.pop(f"{KEY}_flash", None):
    st.success(flash)

with st.expander("Import intents from CSV or JSON"):
    st.caption("The same format the Export screen writes: columns intent_name, example_user_phrases, "
               "english_responses, russian_responses (lists as JSON arrays).")
    upload = st.file_uploader("File", type=["csv", "json"], max_upload_size=importing.MAX_UPLOAD_MB,
                              key=f"{KEY}_upload_{state[f'{KEY}_generation']}")
    if upload is not None:
        try:
            preview = intents_grid.import_preview(importing.read_intents(upload.getvalue(), upload.name))
        except ValidationError as err:
            st.error("This file cannot be read:\n" + "\n".join(f"- {line}" for line in intents_grid.problem_lines(err)))
        else:
            if not preview.intents:
                st.info("The file holds no intents.")
            else:
                st.dataframe(preview.frame, hide_index=True, width="stretch")
                if preview.bad_rows:
                    st.error(preview.summary())
                elif st.button(f"Add {len(preview.intents)} intents", type="primary", disabled=offline):
                    save(IntentDiff(added=preview.intents), "import")

history_panel.render()
