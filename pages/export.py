"""Export for analysts: any of the user's tables, with its screen's filters, as CSV (and more)."""

import streamlit as st

from lib.files import csv_encoding, frames
from lib.files.formats import FORMATS, to_excel, to_json, to_parquet
from lib.i18n import N_, _, ngettext
from lib.screens import api_panel, controls, loading, urlstate, widgets
from lib.screens.formatting import fmt_int
from lib.store import queries

PREVIEW_ROWS = 100


def rows_line(n: int, *, newest_first: bool = False) -> str:
    """How many rows the file holds, and how many the preview shows: one whole sentence per case."""
    if n > PREVIEW_ROWS:
        text = (ngettext("{n} row, newest first; the first {shown} shown", "{n} rows, newest first; the first {shown} shown", n)
                if newest_first else ngettext("{n} row; the first {shown} shown", "{n} rows; the first {shown} shown", n))
    else:
        text = ngettext("{n} row, newest first", "{n} rows, newest first", n) if newest_first else \
            ngettext("{n} row", "{n} rows", n)
    return text.format(n=fmt_int(n), shown=fmt_int(PREVIEW_ROWS))

st.title(_("Export"))
st.caption(_("CSV is UTF-8 with a BOM (Excel shows Cyrillic), lists are JSON arrays, times are ISO 8601 UTC, "
             "and cells a spreadsheet would run as a formula are prefixed with an apostrophe. The preview names columns "
             "for reading; the files keep the database's column names."))

api_panel.section()

# the options are the English names (stable in session state), shown translated
table = st.radio(_("Table"), [N_("Test calls"), N_("Intents"), N_("Assistants"), N_("Subscription")], horizontal=True,
                 key="export_table", format_func=_)

view = controls.url_view("export")
if table == "Test calls":
    assistants = queries.assistants()
    filters = controls.test_filters("export", assistants, view)
    controls.write_url("export", urlstate.to_params(controls.filters_view("export", filters), fields=(
        "period", "assistant", "language", "status", "q", "phrase")))
    first = queries.tests(filters, page=1, page_size=PREVIEW_ROWS)
    st.write(rows_line(first.total, newest_first=True))
    names = {a.vapi_assistant_id: a.name for a in assistants}
    st.dataframe(frames.preview_frame(frames.tests_frame(first.rows, names)), hide_index=True, width="stretch")
    widgets.tests_download(filters, "export_tests")
    loading.stop()

search_key = f"export_{'intents' if table == 'Intents' else 'assistants'}_search"
if view is not None:
    st.session_state[search_key] = view.q
if table != "Subscription":
    controls.write_url("export", {"q": st.session_state[search_key]} if st.session_state.get(search_key) else {})
if table == "Intents":
    search = st.text_input(_("Name or phrase contains"), key="export_intents_search")
    frame, name = frames.intents_frame(frames.intents_matching(queries.intents(), search)), "intents"
elif table == "Assistants":
    search = st.text_input(_("Name contains"), key="export_assistants_search").strip().casefold()
    frame = frames.assistants_frame([a for a in queries.assistants() if search in a.name.casefold()])
    name = "assistants"
else:
    frame, name = frames.subscription_frame(queries.subscription()), "subscription"

st.write(rows_line(len(frame)))
st.dataframe(frames.preview_frame(frame, PREVIEW_ROWS), hide_index=True, width="stretch")
writers = {"csv": csv_encoding.to_csv, "xlsx": to_excel, "json": to_json, "parquet": to_parquet}
for col, (label, (ext, mime)) in zip(st.columns(len(FORMATS)), FORMATS.items(), strict=True):
    col.download_button(_("Download {format}").format(format=label), data=lambda ext=ext: writers[ext](frame),
                        file_name=f"{name}.{ext}", mime=mime, key=f"export_{name}_{ext}", width="stretch",
                        on_click="ignore")  # no rerun: it would replace the other buttons' file ids mid-click
