"""The pages ``st.navigation`` knows: each screen at its URL path, "/" and any unknown path showing the
default screen when signed in, and the sign-in form at every path when signed out."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import streamlit as st

from lib.i18n import _

# The screens' URL paths (dashboard/app.py): while signed out each shows the sign-in form, so a
# bookmark or a reload of /intents after the session ended asks to sign in instead of "Page not found".
SCREEN_PATHS = ("stats", "intents", "assistants", "tests", "billing", "export")
DEFAULT_SCREEN = "stats"
_URL_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$")


def requested_page_name() -> str:
    """The URL path the browser asked this session's run for ("" for the app's root).

    Streamlit resolves it inside ``st.navigation`` and, when no page has that path, shows its
    "Page not found" dialog; reading it first lets every URL resolve to a page (internal API of
    Streamlit 1.67's pages manager, read defensively).
    """
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        name = ctx.pages_manager.intended_page_name if ctx is not None else None
    except Exception:  # another Streamlit: no catch-all page, Streamlit's own fallback applies
        return ""
    return name.strip("/") if isinstance(name, str) else ""


def _free_url_path(taken: Sequence[str], preferred: str) -> str:
    """``preferred``, or a variant no page and no request uses (a default page still reserves its path)."""
    candidate, n = preferred, 1
    while candidate in taken:
        n += 1
        candidate = f"{preferred}-{n}"
    return candidate


def catch_all_pages(render: Callable[[], None] | Path, known: Sequence[str], *, title: str,
                    root: str) -> list[st.Page]:
    """Hidden pages showing ``render`` (a page script or a function): the default one, served at the
    app's root ("/"), and, when this run was asked for a path no page has, one at that path, so it
    resolves without Streamlit's "Page not found" dialog.  ``root`` names the default page's
    reserved path.  They render in place rather than switch pages: a switch would end the run
    before the re-login cookie of a fresh sign-in is written."""
    asked = requested_page_name()
    unknown = asked if asked and asked not in known and _URL_PATH.match(asked) else ""
    pages = [st.Page(render, title=title, url_path=_free_url_path([*known, unknown], root), default=True,
                     visibility="hidden")]
    if unknown:
        pages.append(st.Page(render, title=title, url_path=unknown, visibility="hidden"))
    return pages


def screen_navigation(screens: Mapping[str, tuple[Path, str, str]]) -> st.navigation:
    """The signed-in navigation over ``{url path: (script, title, icon)}``: each screen at its path,
    and "/" or any unknown path showing the default screen (Stats), query string untouched."""
    pages = [st.Page(script, title=title, icon=icon, url_path=path) for path, (script, title, icon) in screens.items()]
    hidden = catch_all_pages(screens[DEFAULT_SCREEN][0], tuple(screens), title=screens[DEFAULT_SCREEN][1], root="home")
    return st.navigation([*pages, *hidden])


def sign_in_navigation(render: Callable[[], None]) -> None:
    """Only the sign-in form exists until a user is verified: every URL (each screen's, "/", any
    other) shows it, and keeps its path and query for after the sign-in."""

    def sign_in() -> None:
        render()

    title = _("Sign in")
    pages = [st.Page(sign_in, title=title, url_path=path) for path in SCREEN_PATHS]
    pages += catch_all_pages(sign_in, SCREEN_PATHS, title=title, root="sign-in")
    st.navigation(pages, position="hidden").run()

