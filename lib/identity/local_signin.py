"""Local mode: the session's user is the account of the credentials file whose password was just
checked (streamlit-authenticator's form, or its signed re-login cookie), with the process-wide
throttle of failed sign-ins."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from lib.config import Settings
from lib.errors import ConfigError
from lib.i18n import N_, _
from lib.identity.credentials import Credentials, dummy_password_check, load_credentials
from lib.identity.navigation import sign_in_navigation
from lib.identity.session import (
    COOKIE_TODO_KEY,
    EMPTY_SUBMIT_KEY,
    IDENTITY_KEY,
    LOCKED_KEY,
    THROTTLED_KEY,
    TRIED_KEY,
    Identity,
    card,
    sign_out,
    signed_in,
)
from lib.identity.throttle import THROTTLES, SharedThrottles, lockout_message
from lib.ops import metrics
from lib.store import queries
from lib.store.queries import USER_KEY

log = logging.getLogger(__name__)

DEMO_HINT = N_("Demo accounts: alice, bob, carol — password demo")  # shown through _()
WRONG_CREDENTIALS = N_("wrong username or password")
COOKIE_NAME = "voice_dashboard_auth"  # streamlit-authenticator's re-login cookie (local mode)
COOKIE_EXPIRY_DAYS = 7.0
# streamlit-authenticator's cookie component (extra_streamlit_components' CookieManager) is an
# iframe that shows nothing but takes a row (a grey loading bar) above the sign-in card: keep it
# running, out of the layout.
COOKIE_COMPONENT_CSS = (
    ".stElementContainer:has(iframe[title='extra_streamlit_components.CookieManager.cookie_manager'])"
    " { position: absolute; width: 0; height: 0; overflow: hidden; margin: 0; padding: 0; }"
)
_PROCESS_COOKIE_KEY = secrets.token_urlsafe(32)  # when AUTH_COOKIE_KEY is unset: dies with the process
# Every sign-in attempt is counted in the database (shared by the replicas) before its password is checked.
ATTEMPTS = SharedThrottles(queries.store, THROTTLES)


def local_gate(settings: Settings) -> str | None:
    try:
        credentials = load_credentials(settings.auth_credentials_path)
    except ConfigError as err:  # says what to fix; never a password or hash
        st.session_state.pop(USER_KEY, None)
        message = str(err)
        sign_in_navigation(lambda: _error_card(message))
        return None

    authenticator = _authenticator(settings, credentials)  # once per run (one cookie component)

    identity = st.session_state.get(IDENTITY_KEY)
    if isinstance(identity, Identity):
        account = credentials.account(identity.username)
        if account is None or account.user_id != identity.user_id:  # account removed or remapped
            identity = None
            st.session_state.pop(IDENTITY_KEY, None)
    else:
        identity = None
    if identity is None:
        # The library's own flag never signs anyone in by itself: only a check made in this run.
        st.session_state["authentication_status"] = None
        try:
            authenticator.login(location="unrendered")  # re-login from its signed cookie, renders nothing
        except Exception as err:  # a stale cookie for a removed account, ...
            log.info("Cookie re-login refused: %s", type(err).__name__)
        identity = _accepted(credentials)

    todo = st.session_state.pop(COOKIE_TODO_KEY, None)
    if identity is None:
        st.session_state.pop(USER_KEY, None)
        if todo == "delete":
            _delete_cookie(authenticator)
        sign_in_navigation(lambda: _local_sign_in_card(authenticator, credentials, settings))
        return None
    if todo == "set":  # after the sign-in run's st.rerun(), in a run that completes
        authenticator.cookie_controller.set_cookie()
    return signed_in(identity, on_sign_out=lambda: sign_out(authenticator=authenticator))


def _authenticator(settings: Settings, credentials: Credentials) -> stauth.Authenticate:
    authenticator = stauth.Authenticate(
        credentials.for_authenticator(),  # a dict, not the path: the library would write to the file
        cookie_name=COOKIE_NAME,
        cookie_key=settings.auth_cookie_key or _PROCESS_COOKIE_KEY,
        cookie_expiry_days=COOKIE_EXPIRY_DAYS,
        auto_hash=False,
        login_sleep_time=0,
    )
    _guard_credentials(authenticator, settings)
    return authenticator


def _guard_credentials(authenticator: stauth.Authenticate, settings: Settings) -> None:
    """Make an unknown username cost a bcrypt check too, so timing does not tell which names exist;
    count every attempt before its password is checked (reserve-then-verify), and refuse one past the limit
    or during a wait without checking the password at all; note the
    username tried (for the throttle) and a submit with an empty field (to say what is missing)."""
    controller = getattr(authenticator, "authentication_controller", None)
    model = getattr(controller, "authentication_model", None)
    check = getattr(model, "check_credentials", None)
    if model is None or check is None:
        return

    def check_credentials(username: str, password: str) -> bool | None:
        st.session_state[TRIED_KEY] = username
        if ATTEMPTS.reserve(username, _client_address(), max_attempts=settings.auth_max_attempts,
                            lockout_seconds=settings.auth_lockout_seconds):
            st.session_state[THROTTLED_KEY] = True
            return False
        if username not in model.credentials.get("usernames", {}):
            dummy_password_check(password)
            return False
        return check(username, password)

    model.check_credentials = check_credentials
    login = getattr(controller, "login", None)
    if login is None:
        return

    def guarded_login(username: str | None = None, password: str | None = None, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("token") is None and not (username and username.strip() and password):
            st.session_state[EMPTY_SUBMIT_KEY] = "username" if not (username and username.strip()) else "password"
            return None
        return login(username, password, *args, **kwargs)

    controller.login = guarded_login


def _delete_cookie(authenticator: stauth.Authenticate) -> None:
    """Delete the re-login cookie; the component's own bookkeeping would print a KeyError to the log
    when its first read has not returned yet, so the name is made known to it first."""
    manager = getattr(getattr(authenticator.cookie_controller, "cookie_model", None), "cookie_manager", None)
    known = getattr(manager, "cookies", None)
    if isinstance(known, dict):
        known.setdefault(COOKIE_NAME, "")
    authenticator.cookie_controller.delete_cookie()


def _client_address() -> str:
    """The address the session's request came from (behind a proxy: the proxy's)."""
    try:
        address = st.context.ip_address
    except Exception:  # no browser context (AppTest)
        address = None
    return address or "unknown"


def _accepted(credentials: Credentials) -> Identity | None:
    """The identity streamlit-authenticator just accepted in this run (also kept in the session)."""
    if st.session_state.get("authentication_status") is not True:
        return None
    account = credentials.account(st.session_state.get("username"))
    if account is None:
        st.session_state["authentication_status"] = None
        return None
    identity = Identity(user_id=account.user_id, name=account.name, username=account.username)
    st.session_state[IDENTITY_KEY] = identity
    return identity


def _local_sign_in_card(authenticator: stauth.Authenticate, credentials: Credentials, settings: Settings) -> None:
    client = _client_address()
    with card():
        locked = st.session_state.get(LOCKED_KEY)
        if locked is not None and ATTEMPTS.wait_seconds(locked, client):
            # the form stays (what was typed is kept); the countdown above it says how long a submit is refused
            # (refused without checking the password: the throttle's reserve), and goes when the wait is over
            _lockout_countdown(locked, client)
        else:
            st.session_state.pop(LOCKED_KEY, None)
        st.session_state["authentication_status"] = None
        for key in (TRIED_KEY, THROTTLED_KEY, EMPTY_SUBMIT_KEY):
            st.session_state.pop(key, None)
        try:
            authenticator.login(
                location="main",
                key="signin-form",
                fields={"Form name": _("Sign in"), "Username": _("Username"), "Password": _("Password"),
                        "Login": _("Sign in")},
            )
        except Exception as err:  # a library refusal is a failed sign-in, same message
            log.info("Sign-in refused by streamlit-authenticator: %s", type(err).__name__)
            st.session_state["authentication_status"] = False
        status = st.session_state.get("authentication_status")
        tried = st.session_state.pop(TRIED_KEY, None)
        if status is True and _accepted(credentials) is not None:
            ATTEMPTS.record_success(tried, client)
            st.session_state[COOKIE_TODO_KEY] = "set"
            st.rerun()
        missing = st.session_state.pop(EMPTY_SUBMIT_KEY, None)
        if missing:
            st.warning(_("Enter your username and password to sign in.") if missing == "username" else
                       _("Enter your password to sign in."), icon=":material/edit:")
        if status is not None:
            metrics.SIGNIN_FAILURES.labels("local").inc()
            st.session_state["authentication_status"] = None
            throttled = st.session_state.pop(THROTTLED_KEY, None)
            if throttled or ATTEMPTS.record_failure(
                tried, client, max_attempts=settings.auth_max_attempts, lockout_seconds=settings.auth_lockout_seconds
            ):
                st.session_state[LOCKED_KEY] = tried or ""
                st.rerun()  # show the wait above the form
            st.error(_(WRONG_CREDENTIALS), icon=":material/error:")
        if credentials.demo:
            st.caption(_(DEMO_HINT))


@st.fragment(run_every=1)
def _lockout_countdown(username: str, client: str) -> None:
    """The wait, counted down every second above the form; gone (and submits checked again) when it is over."""
    wait = ATTEMPTS.wait_seconds(username, client)
    if not wait:
        st.rerun(scope="app")
    st.error(lockout_message(wait), icon=":material/timer:")


def _error_card(message: str) -> None:
    with card():
        st.error(message, icon=":material/settings:")

