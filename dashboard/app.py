"""Entry script: page config, the sign-in gate, then navigation over the screens in pages/."""

from __future__ import annotations

import sys
import time
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
from lib.identity.navigation import DEFAULT_SCREEN, screen_navigation  # noqa: E402
from lib.ops import memory, metrics  # noqa: E402
from lib.screens import controls, formatting, language, loading, widgets  # noqa: E402
from lib.store import budget, queries  # noqa: E402

memory.freeze_startup_heap()  # once per process; Streamlit's post-run gc.collect(2) is off (lib/memory.py)
i18n.set_fallback(language.fallback)  # widget callbacks run before the line below: the session's choice
language.choose()  # ?lang=, the switch, the cookie, or the browser's language: before any text is made
formatting.set_zone_fallback(lambda: controls.user_zone()[0])  # (callbacks, as for the language)
formatting.use_zone(controls.user_zone()[0])  # every time shown: in the zone the periods use, the browser's

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

SCREENS = {  # url path (lib.identity.navigation.SCREEN_PATHS) -> title, icon
    "stats": (N_("Stats"), ":material/insights:"),
    "intents": (N_("Intents"), ":material/forum:"),
    "assistants": (N_("Assistants"), ":material/smart_toy:"),
    "tests": (N_("Tests"), ":material/call:"),
    "billing": (N_("Billing"), ":material/credit_card:"),
    "export": (N_("Export"), ":material/download:"),
}

BUDGET_KEY = "_render_budget"  # session state: the budget of a run interrupted after a read failed


def render() -> None:
    if signin.gate(settings) is None:  # renders the sign-in screen (with the EN / RU switch); no data, no navigation
        st.stop()
    language.switch()  # EN / RU in the sidebar
    navigation = screen_navigation({  # "/" and unknown paths show Stats, never "Page not found"
        path: (ROOT / "pages" / f"{path}.py", _(title), icon) for path, (title, icon) in SCREENS.items()
    })
    # The navigation, then the screen's title and a skeleton are drawn before anything waits for the
    # database: the user's change versions (every cached read is keyed on them) are read at the screen's
    # first read, which draws the skeleton there (lib.screens.loading).
    notice, banner = st.empty(), st.container()  # "Showing data from", then the subscription banner, on top

    def subscription_banner() -> None:  # after the check, before the screen's own reads (a page may st.stop)
        with banner:
            widgets.subscription_banner(navigation.url_path)

    skeleton = loading.Skeleton(notice, then=subscription_banner)
    queries.defer_check(skeleton.hook)
    widgets.screen_frame(navigation.url_path)  # phone layout
    screen = navigation.url_path if navigation.url_path in SCREENS else DEFAULT_SCREEN  # "/" shows Stats
    started, cpu = time.perf_counter(), time.thread_time()
    try:
        navigation.run()
    except StoreError as err:  # the database is down or refused: a clear message, never a stack trace
        metrics.ERRORS.labels("screen", type(err).__name__).inc()
        st.error(str(err))
    finally:
        metrics.RENDER_SECONDS.labels(screen).observe(time.perf_counter() - started)
        metrics.RENDER_CPU_SECONDS.labels(screen).observe(time.thread_time() - cpu)
        queries.defer_check(None)
        skeleton.clear()


# One time budget for every database read of this render (lib.store.budget): a hung database shows its
# message within DB_TIMEOUT_SECONDS, whatever the number of reads and retries.
with budget.render(budget.for_timeout(settings.db_timeout_seconds), resume=st.session_state.pop(BUDGET_KEY, None)) as spent:
    try:
        render()
    except BaseException:  # a rerun (or stop) after a failed read: the next run goes on with this budget
        if spent.failed:
            st.session_state[BUDGET_KEY] = spent
        raise
