"""What sign-in keeps in ``st.session_state``: the verified ``Identity`` (set only by the sign-in
modules of this package), their bookkeeping keys, and what the signed-in and signed-out screens share
(the sign-in card, the sidebar account box, signing out)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
import streamlit_authenticator as stauth

from lib.i18n import N_, _, ngettext
from lib.store.queries import USER_KEY

log = logging.getLogger(__name__)

PRODUCT_NAME = N_("Voice Assistant Dashboard")

IDENTITY_KEY = "_signin_identity"  # the verified Identity; set only by clerk_signin / local_signin
TRIED_KEY = "_signin_tried"  # the username of this run's sign-in attempt (for the throttle)
THROTTLED_KEY = "_signin_throttled"  # this run's attempt was refused by the throttle, unchecked
LOCKED_KEY = "_signin_locked"  # the username this session was told to wait for
EMPTY_SUBMIT_KEY = "_signin_empty"  # this run's submit lacked "username" or "password"
COOKIE_TODO_KEY = "_signin_cookie_todo"  # "set" | "delete", done in the next complete run
CLERK_REASON_KEY = "_signin_clerk_reason"  # why this session's one token check failed
CLERK_EXPIRED_KEY = "_signin_clerk_expired"  # the identity just expired: forget its session state
TRIP_DONE_KEY = "_signin_trip_seen"  # the request's round-trip marker was read (once per session)
CLEAR_TRIP_KEY = "_signin_trip_clear"  # delete the browser's trip marker in this run
TRIP_FAILED_KEY = "_signin_trip_failed"  # back from sign-in without a valid token: no second trip
REVERIFY_KEY = "_signin_reverify"  # the identity expired: {"since", "key", "reason"} while the browser is asked
LIB_LOGOUT_KEY = "logout"  # streamlit-authenticator's flag: True blocks re-login from its cookie
UNSAVED_KEY = "unsaved_changes"  # how many unsaved changes the screens hold (the Intents grid: note_unsaved)
CONFIRM_SIGN_OUT_KEY = "_signout_confirm"  # Sign out was clicked with unsaved changes: asking first
OWNER_KEY = "_signin_owner"  # the user id whose per-user state (files, pending edits, filters) the session holds
# streamlit-authenticator's own keys: what it just decided about this run's sign-in
LIB_KEYS = frozenset({"authentication_status", "username", "name", "email", "roles", "logout"})
KEEP_ON_SIGN_OUT = frozenset(
    {LOCKED_KEY, COOKIE_TODO_KEY, CLERK_REASON_KEY, LIB_LOGOUT_KEY, TRIP_DONE_KEY, TRIP_FAILED_KEY,
     "_language", "_language_url", "_language_cookie"}  # the language (lib.screens.language) outlives a user
)

SIGNED_OUT = "signed out"


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str
    username: str | None = None  # local mode: the account; clerk mode: None
    expires_at: float | None = None  # clerk mode: the token's expiry (epoch seconds); verified again past it


@contextmanager
def card() -> Iterator[None]:
    """The centered sign-in card: the product name on top, the mode's content inside."""
    _left, middle, _right = st.columns([1, 1.3, 1])
    with middle.container(border=True):
        from lib.screens import language  # (lib.screens imports the store, which imports this package's peers)

        language.switch(sidebar=False)
        st.markdown(f"### :material/graphic_eq: {_(PRODUCT_NAME)}")
        st.caption(_("Sign in to see your assistants, intents and test calls."))
        yield


def signed_in(identity: Identity, on_sign_out: Callable[[], None]) -> str:
    owner = st.session_state.get(OWNER_KEY)
    if owner is not None and owner != identity.user_id:
        # another user in this tab (or the same username now mapped to another id): start from empty state, so
        # nothing the previous user prepared, edited or filtered (an export file, grid edits) reaches them
        forget_session(keep=frozenset(k for k in st.session_state.keys() if k.startswith("_signin_")) | LIB_KEYS)
    st.session_state[OWNER_KEY] = identity.user_id
    st.session_state[USER_KEY] = identity.user_id  # re-asserted every run from the verified identity
    with st.sidebar.container(border=True):
        st.caption(_("Signed in as"))
        st.markdown(f"**{escape_md(identity.name)}**")
        unsaved = st.session_state.get(UNSAVED_KEY) or 0
        if st.button(_("Sign out"), key="signin-sign-out", icon=":material/logout:", width="stretch"):
            if not unsaved:
                on_sign_out()
            st.session_state[CONFIRM_SIGN_OUT_KEY] = True
        if st.session_state.get(CONFIRM_SIGN_OUT_KEY):
            if not unsaved:  # saved or discarded meanwhile
                st.session_state.pop(CONFIRM_SIGN_OUT_KEY, None)
            else:
                _confirm_sign_out(unsaved, on_sign_out)
    return identity.user_id


def note_unsaved(count: int) -> None:
    """A screen's unsaved changes (the Intents grid's pending edits): Sign out asks before dropping them."""
    st.session_state[UNSAVED_KEY] = count


def _confirm_sign_out(unsaved: int, on_sign_out: Callable[[], None]) -> None:
    st.warning(ngettext("You have {n} unsaved change in the Intents grid. Signing out drops it.",
                        "You have {n} unsaved changes in the Intents grid. Signing out drops them.",
                        unsaved).format(n=unsaved), icon=":material/warning:")
    leave, stay = st.columns(2)
    if leave.button(_("Sign out anyway"), key="signin-sign-out-anyway", type="primary", width="stretch"):
        st.session_state.pop(CONFIRM_SIGN_OUT_KEY, None)
        on_sign_out()
    if stay.button(_("Stay"), key="signin-sign-out-stay", width="stretch"):
        st.session_state.pop(CONFIRM_SIGN_OUT_KEY, None)
        st.rerun()


def sign_out(*, authenticator: stauth.Authenticate | None = None, clerk: bool = False) -> None:
    """Forget the user and everything the session held for them (the sign-in throttle is process-wide)."""
    if authenticator is not None:
        try:
            authenticator.authentication_controller.logout()  # its own keys; sets its logout flag
        except Exception as err:  # the session is cleared below either way
            log.info("streamlit-authenticator logout failed: %s", type(err).__name__)
    forget_session()
    if authenticator is not None:
        st.session_state[LIB_LOGOUT_KEY] = True  # its cookie (frozen in st.context) must not sign back in
        st.session_state[COOKIE_TODO_KEY] = "delete"  # in the next run, which completes
    if clerk:
        st.session_state[CLERK_REASON_KEY] = SIGNED_OUT  # the token stays in st.context: don't reuse it
    st.rerun()


def forget_session(keep: frozenset[str] = KEEP_ON_SIGN_OUT) -> None:
    """Drop everything the session held for its user; keep only the sign-in bookkeeping (``keep``)."""
    for key in list(st.session_state.keys()):
        if key not in keep:
            del st.session_state[key]


def escape_md(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$:" else ch for ch in text)
