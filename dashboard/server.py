"""The process entry point: ``streamlit run dashboard/server.py``.

An ``st.App`` serves the Streamlit script (``dashboard/app.py``) and, beside it, the extra HTTP routes of
``lib.web`` from the same process and port.  ``streamlit run`` finds the ``app`` below by itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from lib import web  # noqa: E402

app = st.App(ROOT / "dashboard" / "app.py", routes=web.routes())
