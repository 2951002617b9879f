"""Entry script: page config, the sign-in gate, then navigation over the screens in pages/."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from lib import queries, signin  # noqa: E402
from lib.errors import StoreError  # noqa: E402

st.set_page_config(page_title="Voice Assistant Dashboard", page_icon=":material/graphic_eq:", layout="wide")

try:
    settings = queries.settings()
except StoreError as err:  # misconfiguration: say what to fix, show no value
    st.error(str(err))
    st.stop()

if signin.gate(settings) is None:  # renders the sign-in screen; no data, no navigation
    st.stop()

PAGES = ROOT / "pages"
navigation = st.navigation(
    [
        st.Page(PAGES / "stats.py", title="Stats", icon=":material/insights:", url_path="stats", default=True),
        st.Page(PAGES / "intents.py", title="Intents", icon=":material/forum:", url_path="intents"),
        st.Page(PAGES / "assistants.py", title="Assistants", icon=":material/smart_toy:", url_path="assistants"),
        st.Page(PAGES / "tests.py", title="Tests", icon=":material/call:", url_path="tests"),
        st.Page(PAGES / "billing.py", title="Billing", icon=":material/credit_card:", url_path="billing"),
        st.Page(PAGES / "export.py", title="Export", icon=":material/download:", url_path="export"),
    ]
)
try:
    navigation.run()
except StoreError as err:  # the database is down or refused: a clear message, never a stack trace
    st.error(str(err))
