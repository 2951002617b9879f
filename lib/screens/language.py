"""The language of a session: chosen once per run, before anything is shown (dashboard/app.py).

In order: ``?lang=ru|en`` in the URL (whenever it changes), the sidebar switch, the cookie of an earlier
visit, then the browser's language (``st.context.locale``, else ``Accept-Language``): Russian for ``ru*``,
English otherwise.  The choice is remembered in a cookie (``dashboard_lang``, a year) written by a line of
JavaScript; it only ever names a language, never a user.
"""

from __future__ import annotations

import streamlit as st

from lib import i18n
from lib.i18n import _

COOKIE = "dashboard_lang"
COOKIE_SECONDS = 365 * 24 * 3600
PARAM = "lang"
CHOICE = "_language"  # session state: the session's language
_URL_SEEN = "_language_url"  # the ?lang= value last applied (a later switch is not undone by it)
_COOKIE_SEEN = "_language_cookie"  # what the browser's cookie says now (as far as this session knows)
SWITCH = "_language_switch"
LABELS = {"en": "EN", "ru": "RU"}


def from_tag(tag: str | None) -> str:
    """``ru``, ``ru-RU``, ``RU_ru`` -> Russian; anything else (or nothing) -> English."""
    return "ru" if (tag or "").strip().lower()[:2] == "ru" else "en"


def accept_language(header: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header (browsers list the preferred one first), or None."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            return tag
    return None


def browser_language() -> str:
    tag = None
    try:
        tag = st.context.locale
        if not tag:
            tag = accept_language(st.context.headers.get("Accept-Language"))
    except Exception:  # no browser context (AppTest)
        pass
    return from_tag(tag)


def _cookie() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:
        return None
    return value if value in i18n.LANGUAGES else None


def choose() -> str:
    """The session's language for this run, made current (``lib.i18n.use``)."""
    state = st.session_state
    asked = st.query_params.get(PARAM)
    if asked in i18n.LANGUAGES and state.get(_URL_SEEN) != asked:
        state[_URL_SEEN] = state[CHOICE] = asked
    if state.get(CHOICE) not in i18n.LANGUAGES:
        state[_COOKIE_SEEN] = _cookie()
        state[CHOICE] = state[_COOKIE_SEEN] or browser_language()
    return i18n.use(state[CHOICE])


def _switched() -> None:
    value = st.session_state.get(SWITCH)
    if value in i18n.LANGUAGES:
        st.session_state[CHOICE] = value
        if PARAM in st.query_params:  # the link's language gives way to the switch
            st.query_params[PARAM] = st.session_state[_URL_SEEN] = value


def switch(*, sidebar: bool = True) -> None:
    """The EN / RU switch (in the sidebar, or where it is called: the sign-in card); a change reruns the
    script in the other language at once."""
    state = st.session_state
    state[SWITCH] = state[CHOICE]
    with st.sidebar if sidebar else st.container():
        st.segmented_control(_("Language"), list(i18n.LANGUAGES), format_func=LABELS.get, key=SWITCH,
                             required=True, on_change=_switched, label_visibility="collapsed",
                             help=_("The dashboard's language"))
        if state.get(_COOKIE_SEEN, _cookie()) != state[CHOICE]:  # remember it for the next visit
            st.html(f"<script>document.cookie = '{COOKIE}={state[CHOICE]}; Max-Age={COOKIE_SECONDS}; Path=/; "
                    "SameSite=Lax';</script>", unsafe_allow_javascript=True, width="content")
            state[_COOKIE_SEEN] = state[CHOICE]


def fallback() -> str | None:
    """The session's language outside a script run's context (``lib.i18n.set_fallback``)."""
    return st.session_state.get(CHOICE)
