"""Entry script: page config, the sign-in gate, then navigation over the screens in pages/."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from lib import i18n  # noqa: E402
from lib.errors import StoreError  # noqa: E402
from lib.i18n import N_, _  # noqa: E402
from lib.identity import signin  # noqa: E402
from lib.identity.local_signin import COOKIE_COMPONENT_CSS  # noqa: E402
from lib.identity.navigation import screen_navigation  # noqa: E402
from lib.ops import memory  # noqa: E402
from lib.screens import language, widgets  # noqa: E402
from lib.store import queries  # noqa: E402

memory.freeze_startup_heap()  # once per process; Streamlit's post-run gc.collect(2) is off (lib/memory.py)
i18n.set_fallback(language.fallback)  # widget callbacks run before the line below: the session's choice
language.choose()  # ?lang=, the switch, the cookie, or the browser's language: before any text is made

# The favicon ships with the app (a :material/ icon would be fetched from a font CDN, failing offline).
st.set_page_config(page_title=_("Voice Assistant Dashboard"), page_icon=str(ROOT / "dashboard" / "favicon.png"), layout="wide")
st.html(  # less blank space on top; the sign-in cookie component works unseen (no grey bar over the card)
    "<style>[data-testid='stMainBlockContainer'] { padding-top: 3rem; }"
    f" {COOKIE_COMPONENT_CSS}</style>"
)

try:
    settings = queries.settings()
except StoreError as err:  # misconfiguration: say what to fix, show no value
    st.error(str(err))
    st.stop()

if signin.gate(settings) is None:  # renders the sign-in screen (with the EN / RU switch); no data, no navigation
    st.stop()
language.switch()  # EN / RU in the sidebar

SCREENS = {  # url path (lib.identity.navigation.SCREEN_PATHS) -> title, icon
    "stats": (N_("Stats"), ":material/insights:"),
    "intents": (N_("Intents"), ":material/forum:"),
    "assistants": (N_("Assistants"), ":material/smart_toy:"),
    "tests": (N_("Tests"), ":material/call:"),
    "billing": (N_("Billing"), ":material/credit_card:"),
    "export": (N_("Export"), ":material/download:"),
}
try:  # the user's change versions, once per render: every cached read below is keyed on them
    notice = queries.check().notice()
except StoreError:
    notice = None  # nothing known to show: the screen's first read says what is wrong
if notice:
    st.warning(notice, icon=":material/cloud_off:")

navigation = screen_navigation({  # "/" and unknown paths show Stats, never "Page not found"
    path: (ROOT / "pages" / f"{path}.py", _(title), icon) for path, (title, icon) in SCREENS.items()
})
widgets.screen_frame(navigation.url_path)  # phone layout, and the subscription banner while billing needs action
try:
    navigation.run()
except StoreError as err:  # the database is down or refused: a clear message, never a stack trace
    st.error(str(err))
