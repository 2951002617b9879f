"""Sign-in glue: the one place that decides who a session's user is and puts the id in
``st.session_state[USER_KEY]``.

The verified identity lives under a private key set only here, right after a check passed (a
password in local mode, a Clerk session token in clerk mode). Every run re-derives ``USER_KEY``
from it, so neither a query parameter, a widget nor a header can choose the user.
"""

from __future__ import annotations

import logging
import secrets
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
import streamlit_authenticator as stauth

from lib import auth
from lib.config import Settings
from lib.errors import ConfigError
from lib.queries import USER_KEY

log = logging.getLogger(__name__)

PRODUCT_NAME = "Voice Assistant Dashboard"
DEMO_HINT = "Demo accounts: alice, bob, carol — password demo"
WRONG_CREDENTIALS = "wrong username or password"
SESSION_COOKIE = "__session"  # Clerk's same-site session cookie

COOKIE_NAME = "voice_dashboard_auth"  # streamlit-authenticator's re-login cookie (local mode)
COOKIE_EXPIRY_DAYS = 7.0
_PROCESS_COOKIE_KEY = secrets.token_urlsafe(32)  # when AUTH_COOKIE_KEY is unset: dies with the process

_IDENTITY = "_signin_identity"  # the verified Identity; set only by this module
_THROTTLE = "_signin_throttle"  # LoginThrottle: survives sign-out on purpose
_COOKIE_TODO = "_signin_cookie_todo"  # "set" | "delete", done in the next complete run
_CLERK_REASON = "_signin_clerk_reason"  # why this session's one token check failed
_LIB_LOGOUT = "logout"  # streamlit-authenticator's flag: True blocks re-login from its cookie
_KEEP_ON_SIGN_OUT = frozenset({_THROTTLE, _COOKIE_TODO, _CLERK_REASON, _LIB_LOGOUT})

SIGNED_OUT = "signed out"
_REASON_TEXT = {
    auth.NO_TOKEN: "No Clerk session came with this page.",
    auth.EXPIRED: "Your session token has expired.",
    auth.NOT_YET_VALID: "Your session token is not valid yet (check the server clock).",
    auth.WRONG_ISSUER: "The session token was issued by another Clerk instance.",
    auth.UNAUTHORIZED_PARTY: "The session token was made for another application.",
    auth.BAD_SIGNATURE: "The session token's signature does not match.",
    auth.MALFORMED: "The session token is not a valid token.",
    auth.MISSING_SUBJECT: "The session token names no user.",
    auth.MISSING_EXPIRY: "The session token has no expiry.",
    auth.UNSUPPORTED_ALGORITHM: "The session token uses an algorithm this dashboard does not accept.",
    auth.UNKNOWN_KEY: "The session token was signed with an unknown key.",
    auth.KEYS_UNAVAILABLE: "Clerk's signing keys could not be fetched; try again shortly.",
    auth.NOT_CONFIGURED: "Token verification is not configured correctly (CLERK_JWT_KEY / CLERK_JWKS_URL).",
    SIGNED_OUT: "You signed out of the dashboard.",
}


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str
    username: str | None = None  # local mode: the account; clerk mode: None


# -- public entry ------------------------------------------------------------------------------


def gate(settings: Settings) -> str | None:
    """The verified user id, with the sidebar account box rendered; else the sign-in screen and None."""
    if settings.auth_mode == "clerk":
        return _clerk_gate(settings)
    return _local_gate(settings)


# -- clerk mode --------------------------------------------------------------------------------


def token_from_request(
    cookies: Mapping[str, str], headers: Mapping[str, str], header_name: str = "Authorization"
) -> str | None:
    """The Clerk session token of a request: ``<header>: Bearer <token>`` first, else the ``__session`` cookie."""
    value = _header(headers, header_name or "Authorization")
    if value:
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return rest.strip()
    cookie = cookies.get(SESSION_COOKIE) if cookies else None
    if isinstance(cookie, str) and cookie.strip():
        return cookie.strip()
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if not headers:
        return None
    try:
        value = headers.get(name)  # st.context.headers is case-insensitive
    except Exception:  # a mapping that refuses the lookup counts as no header
        value = None
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    return value if isinstance(value, str) else None


def _request_context() -> tuple[Mapping[str, str], Mapping[str, str]]:
    """Cookies and headers of the session's first request (Streamlit freezes them per session)."""
    return st.context.cookies, st.context.headers


def clerk_identity(settings: Settings, cookies: Mapping[str, str], headers: Mapping[str, str]) -> Identity:
    """Verify the request's Clerk token; ``AuthError`` with the reason when there is no good one."""
    token = token_from_request(cookies, headers, settings.clerk_header)
    claims = auth.verify_clerk_claims(
        token or "",
        jwt_key=settings.clerk_jwt_key or None,
        jwks_url=settings.clerk_jwks_url or None,
        issuer=settings.clerk_issuer or None,
        authorized_parties=settings.authorized_parties,
        leeway=settings.clerk_leeway_seconds,
    )
    user_id = claims["sub"]
    shown = next((claims[c] for c in ("name", "email") if isinstance(claims.get(c), str) and claims[c].strip()), None)
    return Identity(user_id=user_id, name=(shown or user_id).strip())


def _clerk_gate(settings: Settings) -> str | None:
    identity = st.session_state.get(_IDENTITY)
    if not isinstance(identity, Identity):
        identity = None
        if _CLERK_REASON not in st.session_state:  # once per session: a refresh is a new session
            try:
                identity = clerk_identity(settings, *_request_context())
            except auth.AuthError as err:
                log.info("Clerk sign-in refused: %s", err.reason)
                st.session_state[_CLERK_REASON] = err.reason
            else:
                st.session_state[_IDENTITY] = identity
    if identity is None:
        st.session_state.pop(USER_KEY, None)
        reason = st.session_state.get(_CLERK_REASON, auth.NO_TOKEN)
        _sign_in_navigation(lambda: _clerk_sign_in_card(settings, reason))
        return None
    return _signed_in(identity, on_sign_out=lambda: _sign_out(clerk=True))


def _clerk_sign_in_card(settings: Settings, reason: str) -> None:
    with _card():
        url = settings.clerk_sign_in_url.strip()
        if _is_web_url(url):
            st.markdown(f"Sign in through [{_escape_md(url)}]({url}), then reload this page.")
            st.link_button("Sign in", url, type="primary", icon=":material/login:", width="stretch")
        else:
            st.markdown("Sign in through the Voice Assistant app, then reload this page.")
        st.warning(_REASON_TEXT.get(reason, "You are not signed in."), icon=":material/lock:")
        st.caption(f"Reason: {reason}")


def _is_web_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# -- local mode --------------------------------------------------------------------------------


def _local_gate(settings: Settings) -> str | None:
    try:
        credentials = auth.load_credentials(settings.auth_credentials_path)
    except ConfigError as err:  # says what to fix; never a password or hash
        st.session_state.pop(USER_KEY, None)
        message = str(err)
        _sign_in_navigation(lambda: _error_card(message))
        return None

    authenticator = _authenticator(settings, credentials)  # once per run (one cookie component)
    throttle = _throttle(settings)

    identity = st.session_state.get(_IDENTITY)
    if isinstance(identity, Identity):
        account = credentials.account(identity.username)
        if account is None or account.user_id != identity.user_id:  # account removed or remapped
            identity = None
            st.session_state.pop(_IDENTITY, None)
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

    todo = st.session_state.pop(_COOKIE_TODO, None)
    if identity is None:
        st.session_state.pop(USER_KEY, None)
        if todo == "delete":
            authenticator.cookie_controller.delete_cookie()
        _sign_in_navigation(lambda: _local_sign_in_card(authenticator, credentials, throttle))
        return None
    if todo == "set":  # after the sign-in run's st.rerun(), in a run that completes
        authenticator.cookie_controller.set_cookie()
    return _signed_in(identity, on_sign_out=lambda: _sign_out(authenticator=authenticator))


def _authenticator(settings: Settings, credentials: auth.Credentials) -> stauth.Authenticate:
    authenticator = stauth.Authenticate(
        credentials.for_authenticator(),  # a dict, not the path: the library would write to the file
        cookie_name=COOKIE_NAME,
        cookie_key=settings.auth_cookie_key or _PROCESS_COOKIE_KEY,
        cookie_expiry_days=COOKIE_EXPIRY_DAYS,
        auto_hash=False,
        login_sleep_time=0,
    )
    _equalize_unknown_usernames(authenticator)
    return authenticator


def _equalize_unknown_usernames(authenticator: stauth.Authenticate) -> None:
    """Make an unknown username cost a bcrypt check too, so timing does not tell which names exist."""
    model = getattr(getattr(authenticator, "authentication_controller", None), "authentication_model", None)
    check = getattr(model, "check_credentials", None)
    if model is None or check is None:
        return

    def check_credentials(username: str, password: str) -> bool | None:
        if username not in model.credentials.get("usernames", {}):
            auth.dummy_password_check(password)
            return False
        return check(username, password)

    model.check_credentials = check_credentials


def _throttle(settings: Settings) -> auth.LoginThrottle:
    throttle = st.session_state.get(_THROTTLE)
    if not isinstance(throttle, auth.LoginThrottle):
        throttle = auth.LoginThrottle()
        st.session_state[_THROTTLE] = throttle
    throttle.max_attempts = settings.auth_max_attempts
    throttle.lockout_seconds = settings.auth_lockout_seconds
    return throttle


def _accepted(credentials: auth.Credentials) -> Identity | None:
    """The identity streamlit-authenticator just accepted in this run (also kept in the session)."""
    if st.session_state.get("authentication_status") is not True:
        return None
    account = credentials.account(st.session_state.get("username"))
    if account is None:
        st.session_state["authentication_status"] = None
        return None
    identity = Identity(user_id=account.user_id, name=account.name, username=account.username)
    st.session_state[_IDENTITY] = identity
    return identity


def _local_sign_in_card(
    authenticator: stauth.Authenticate, credentials: auth.Credentials, throttle: auth.LoginThrottle
) -> None:
    with _card():
        wait = throttle.wait_seconds()
        if wait:
            st.error(auth.lockout_message(wait), icon=":material/timer:")
            st.button("Try again", key="signin-try-again", width="stretch")
        else:
            st.session_state["authentication_status"] = None
            try:
                authenticator.login(
                    location="main",
                    key="signin-form",
                    fields={"Form name": "Sign in", "Username": "Username", "Password": "Password", "Login": "Sign in"},
                )
            except Exception as err:  # a library refusal is a failed sign-in, same message
                log.info("Sign-in refused by streamlit-authenticator: %s", type(err).__name__)
                st.session_state["authentication_status"] = False
            status = st.session_state.get("authentication_status")
            if status is True and _accepted(credentials) is not None:
                throttle.record_success()
                st.session_state[_COOKIE_TODO] = "set"
                st.rerun()
            if status is not None:
                st.session_state["authentication_status"] = None
                if throttle.record_failure():
                    st.rerun()  # show the wait instead of the form
                st.error(WRONG_CREDENTIALS, icon=":material/error:")
        if credentials.demo:
            st.caption(DEMO_HINT)


def _error_card(message: str) -> None:
    with _card():
        st.error(message, icon=":material/settings:")


# -- shared ------------------------------------------------------------------------------------


# The screens' URL paths (dashboard/app.py): while signed out each shows the sign-in form, so a
# bookmark or a reload of /intents after the session ended asks to sign in instead of "Page not found".
SCREEN_PATHS = ("stats", "intents", "assistants", "tests", "billing", "export")


def _sign_in_navigation(render: Callable[[], None]) -> None:
    """Only the sign-in form exists until a user is verified: no URL reaches a screen."""

    def sign_in() -> None:
        render()

    pages = [st.Page(sign_in, title="Sign in", icon=":material/login:", url_path="sign-in", default=True)]
    pages += [st.Page(sign_in, title="Sign in", url_path=path) for path in SCREEN_PATHS]
    st.navigation(pages, position="hidden").run()


@contextmanager
def _card() -> Iterator[None]:
    """The centered sign-in card: the product name on top, the mode's content inside."""
    _, middle, _ = st.columns([1, 1.3, 1])
    with middle.container(border=True):
        st.markdown(f"### :material/graphic_eq: {PRODUCT_NAME}")
        st.caption("Sign in to see your assistants, intents and test calls.")
        yield


def _signed_in(identity: Identity, on_sign_out: Callable[[], None]) -> str:
    st.session_state[USER_KEY] = identity.user_id  # re-asserted every run from the verified identity
    with st.sidebar.container(border=True):
        st.caption("Signed in as")
        st.markdown(f"**{_escape_md(identity.name)}**")
        if st.button("Sign out", key="signin-sign-out", icon=":material/logout:", width="stretch"):
            on_sign_out()
    return identity.user_id


def _sign_out(*, authenticator: stauth.Authenticate | None = None, clerk: bool = False) -> None:
    """Forget the user and everything the session held for them; keep the sign-in throttle."""
    if authenticator is not None:
        try:
            authenticator.authentication_controller.logout()  # its own keys; sets its logout flag
        except Exception as err:  # the session is cleared below either way
            log.info("streamlit-authenticator logout failed: %s", type(err).__name__)
    for key in list(st.session_state.keys()):
        if key not in _KEEP_ON_SIGN_OUT:
            del st.session_state[key]
    if authenticator is not None:
        st.session_state[_LIB_LOGOUT] = True  # its cookie (frozen in st.context) must not sign back in
        st.session_state[_COOKIE_TODO] = "delete"  # in the next run, which completes
    if clerk:
        st.session_state[_CLERK_REASON] = SIGNED_OUT  # the token stays in st.context: don't reuse it
    st.rerun()


def _escape_md(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$:" else ch for ch in text)
