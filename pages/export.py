"""Export for analysts: any of the user's tables, with its screen's filters, as CSV (and more)."""

import streamlit as st

from lib.files import csv_encoding, frames
from lib.files.formats import to_excel, to_parquet
from lib.screens import api_panel, controls, urlstate, widgets
from lib.screens.formatting import plural
from lib.store import queries

PREVIEW_ROWS = 100

st.title("Export")
st.caption("CSV is UTF-8 with a BOM (Excel shows Cyrillic), lists are JSON arrays, times are ISO 8601 UTC, "
           "and cells a spreadsheet would run as a formula are prefixed with an apostrophe. The preview names columns "
           "for reading; the files keep the database's column names.")

api_panel.section()

table = st.radio("Table", ["Test calls", "Intents", "Assistants", "Subscription"], horizontal=True,
                 key="export_table")

view = controls.url_view("export")
if table == "Test calls":
    assistants = queries.assistants()
    filters = controls.test_filters("export", assistants, view)
    controls.write_url("export", urlstate.to_params(controls.filters_view("export", filters), fields=(
        "period", "assistant", "language", "status", "q", "phrase")))
    first = queries.tests(filters, page=1, page_size=PREVIEW_ROWS)
    shown = f"; the first {PREVIEW_ROWS} shown" if first.total > PREVIEW_ROWS else ""
    st.write(f"{plural(first.total, 'row')}, newest first{shown}")
    names = {a.vapi_assistant_id: a.name for a in assistants}
    st.dataframe(frames.preview_frame(frames.tests_frame(first.rows, names)), hide_index=True, width="stretch")
    widgets.tests_download(filters, "export_tests")
    st.stop()

search_key = f"export_{'intents' if table == 'Intents' else 'assistants'}_search"
if view is not None:
    st.session_state[search_key] = view.q
if table != "Subscription":
    controls.write_url("export", {"q": st.session_state[search_key]} if st.session_state.get(search_key) else {})
if table == "Intents":
    search = st.text_input("Name or phrase contains", key="export_intents_search")
    frame, name = frames.intents_frame(frames.intents_matching(queries.intents(), search)), "intents"
elif table == "Assistants":
    search = st.text_input("Name contains", key="export_assistants_search").strip().casefold()
    frame = frames.assistants_frame([a for a in queries.assistants() if search in a.name.casefold()])
    name = "assistants"
else:
    frame, name = frames.subscription_frame(queries.subscription()), "subscription"

st.write(plural(len(frame), "row") + (f"; the first {PREVIEW_ROWS} shown" if len(frame) > PREVIEW_ROWS else ""))
st.dataframe(frames.preview_frame(frame, PREVIEW_ROWS), hide_index=True, width="stretch")
formats = {"CSV": (csv_encoding.to_csv, "csv", "text/csv"),
           "Excel": (to_excel, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
           "Parquet": (to_parquet, "parquet", "application/vnd.apache.parquet")}
for col, (label, (encode, ext, mime)) in zip(st.columns(len(formats)), formats.items(), strict=True):
    col.download_button(f"Download {label}", data=lambda encode=encode: encode(frame), file_name=f"{name}.{ext}",
                        mime=mime, key=f"export_{name}_{ext}", width="stretch",
                        on_click="ignore")  # no rerun: it would replace the other buttons' file ids mid-click
