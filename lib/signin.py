"""Sign-in glue: the one place that decides who a session's user is and puts the id in
``st.session_state[USER_KEY]``.

The verified identity lives under a private key set only here, right after a check passed (a
password in local mode, a Clerk session token in clerk mode). Every run re-derives ``USER_KEY``
from it, so neither a query parameter, a widget nor a header can choose the user.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from lib import auth
from lib.config import Settings
from lib.errors import ConfigError
from lib.store.queries import USER_KEY

log = logging.getLogger(__name__)

PRODUCT_NAME = "Voice Assistant Dashboard"
DEMO_HINT = "Demo accounts: alice, bob, carol — password demo"
WRONG_CREDENTIALS = "wrong username or password"
SESSION_COOKIE = "__session"  # Clerk's same-site session cookie

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

_IDENTITY = "_signin_identity"  # the verified Identity; set only by this module
_TRIED = "_signin_tried"  # the username of this run's sign-in attempt (for the throttle)
_THROTTLED = "_signin_throttled"  # this run's attempt was refused by the throttle, unchecked
_LOCKED = "_signin_locked"  # the username this session was told to wait for
_EMPTY_SUBMIT = "_signin_empty"  # this run's submit lacked "username" or "password"
_COOKIE_TODO = "_signin_cookie_todo"  # "set" | "delete", done in the next complete run
_CLERK_REASON = "_signin_clerk_reason"  # why this session's one token check failed
_CLERK_EXPIRED_USER = "_signin_clerk_expired"  # the identity just expired: forget its session state
_TRIP_DONE = "_signin_trip_seen"  # the request's round-trip marker was read (once per session)
_CLEAR_TRIP = "_signin_trip_clear"  # delete the browser's trip marker in this run
_TRIP_FAILED = "_signin_trip_failed"  # back from sign-in without a valid token: no second trip
_REVERIFY = "_signin_reverify"  # the identity expired: {"since", "key", "reason"} while the browser is asked
_LIB_LOGOUT = "logout"  # streamlit-authenticator's flag: True blocks re-login from its cookie
_KEEP_ON_SIGN_OUT = frozenset({_LOCKED, _COOKIE_TODO, _CLERK_REASON, _LIB_LOGOUT, _TRIP_DONE, _TRIP_FAILED})

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
    expires_at: float | None = None  # clerk mode: the token's expiry (epoch seconds); verified again past it


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
    return token_identity(settings, token_from_request(cookies, headers, settings.clerk_header))


def token_identity(settings: Settings, token: str | None) -> Identity:
    """Verify one Clerk session token (issuer, azp, leeway from ``settings``); ``AuthError`` when refused."""
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
    # the identity lasts as long as the token did (verify_clerk_claims accepted it up to exp + leeway)
    expires_at = float(claims["exp"]) + max(0.0, float(settings.clerk_leeway_seconds))
    return Identity(user_id=user_id, name=(shown or user_id).strip(), expires_at=expires_at)


def _clerk_gate(settings: Settings) -> str | None:
    identity = st.session_state.get(_IDENTITY)
    if isinstance(identity, Identity) and identity.expires_at is not None and time.time() >= identity.expires_at:
        identity = _verify_again(settings, identity)
    else:
        st.session_state.pop(_REVERIFY, None)
    if not isinstance(identity, Identity):
        identity = None
        if _CLERK_REASON not in st.session_state:  # once per session: a refresh is a new session
            cookies, headers = _request_context()
            try:
                identity = clerk_identity(settings, cookies, headers)
            except auth.AuthError as err:
                log.info("Clerk sign-in refused: %s", err.reason)
                st.session_state[_CLERK_REASON] = err.reason
            else:
                previous = st.session_state.get(USER_KEY)
                if previous is not None and previous != identity.user_id:
                    _forget_session()  # another user's token: nothing of the previous one stays
                st.session_state[_IDENTITY] = identity
                st.session_state.pop(_CLERK_EXPIRED_USER, None)
                if not st.session_state.get(_TRIP_DONE):
                    st.session_state[_TRIP_DONE] = True
                    if cookies and auth.TRIP_COOKIE in cookies:  # back from a successful round trip: end it
                        st.session_state[_CLEAR_TRIP] = True
    if identity is None:
        if st.session_state.pop(_CLERK_EXPIRED_USER, None):
            _forget_session()  # the expired user's data goes with the identity
        st.session_state.pop(USER_KEY, None)
        reason = st.session_state.get(_CLERK_REASON, auth.NO_TOKEN)
        target = _round_trip_target(settings, reason)
        if target:
            _sign_in_navigation(lambda: _redirect_card(target))
        else:
            _sign_in_navigation(lambda: _clerk_sign_in_card(settings, reason))
        return None
    if st.session_state.pop(_CLEAR_TRIP, None):
        _run_js(f"document.cookie = {_js(auth.TRIP_COOKIE + '=; Max-Age=0; Path=/; SameSite=Lax')};")
    return _signed_in(identity, on_sign_out=lambda: _sign_out(clerk=True))


# Past the token's expiry, the browser's current ``__session`` (Clerk's JS keeps it fresh) is read
# with a cookie component; the page keeps rendering for the same user until it answers, for at most:
REVERIFY_SECONDS = 10.0
RENEW, WAIT, OTHER_USER, ROUND_TRIP = "renew", "wait", "other user", "round trip"


def reverify_decision(user_id: str, answer: Identity | str | None, waited: float,
                      bound: float = REVERIFY_SECONDS) -> str:
    """What to do with a session whose identity expired, given the browser's answer: ``None`` (no
    answer yet), an ``auth`` reason (its token was missing or refused) or the token's verified identity.

    ``RENEW`` the same user's identity in place; ``OTHER_USER`` (another user's token: forget the
    session); ``WAIT`` for the answer, ``bound`` seconds at most after the first run past expiry; else
    ``ROUND_TRIP`` (today's trip to sign in, with its loop guard).
    """
    if answer is None:
        return WAIT if waited < bound else ROUND_TRIP
    if isinstance(answer, Identity):
        return RENEW if answer.user_id == user_id else OTHER_USER
    return ROUND_TRIP


def _verify_again(settings: Settings, identity: Identity) -> Identity | None:
    """Past the token's expiry: verify again, so signing out of the web app or a ban ends this session
    too.  A fresh token in the request (a proxy's header) or in the browser's cookie renews the identity
    in place (nothing reloads); else the identity is dropped and the round trip follows."""
    pending = st.session_state.get(_REVERIFY)
    answer: Identity | str | None
    if isinstance(pending, dict):  # a later run: has the browser answered?
        answer = _browser_answer(settings, pending["key"])
        waited = time.time() - pending["since"]
    else:
        log.info("Clerk session token expired: verifying again")
        try:  # the request's own token first: a proxy may send a fresh one with every request
            answer = clerk_identity(settings, *_request_context())
        except auth.AuthError as err:  # ask the browser (a new reader each time: a fresh read)
            pending = st.session_state[_REVERIFY] = {"since": time.time(), "key": secrets.token_hex(6),
                                                     "reason": err.reason}
            answer = _browser_answer(settings, pending["key"])
        waited = 0.0
    decision = reverify_decision(identity.user_id, answer, waited, REVERIFY_SECONDS)
    if decision == WAIT:
        return identity  # the same user, for a few seconds more: nothing is shown to anyone else
    st.session_state.pop(_REVERIFY, None)
    st.session_state.pop(_CLERK_REASON, None)
    if isinstance(answer, Identity):
        if decision == OTHER_USER:
            _forget_session()  # another user's token: nothing of the previous one stays
        st.session_state[_IDENTITY] = answer
        return answer
    reason = answer if isinstance(answer, str) else pending["reason"]  # no answer: the request's reason
    log.info("Clerk session not renewed (%s): signing in again", reason)
    st.session_state.pop(_IDENTITY, None)
    st.session_state[_CLERK_EXPIRED_USER] = True
    st.session_state[_CLERK_REASON] = reason
    return None


def _browser_answer(settings: Settings, key: str) -> Identity | str | None:
    """The browser's current ``__session`` verified (an ``Identity`` or the refusal's reason), or None
    while its cookie component has not answered.  ``st.context.cookies`` is frozen at the session's
    first request, so the cookie is read by extra_streamlit_components' CookieManager (the component
    streamlit-authenticator uses; a new key mounts a new reader, which reports the cookies once)."""
    try:
        component = importlib.import_module("extra_streamlit_components.CookieManager")._component_func
        cookies = component(method="getAll", key=f"signin-reverify-{key}", default=None)
    except Exception as err:  # no component: no answer, so the round trip after the wait
        log.info("Cookie component unavailable: %s", type(err).__name__)
        return None
    if not isinstance(cookies, Mapping):
        return None
    try:
        return token_identity(settings, token_from_request(cookies, {}))  # the cookie; no header here
    except auth.AuthError as err:
        return err.reason


def _round_trip_target(settings: Settings, reason: str) -> str | None:
    """Where to send the browser to get a token, or None to show the sign-in card instead.

    Only for a missing or expired token, only with a web ``CLERK_SIGN_IN_URL``, only when the page
    to come back to is on the dashboard's own origin, and only once: a browser back from a trip
    that started less than ``auth.TRIP_SECONDS`` ago (its marker cookie, read once per session)
    gets the card and the reason, never another redirect.
    """
    url = settings.clerk_sign_in_url.strip()
    if reason not in auth.ROUND_TRIP_REASONS or not _is_web_url(url):
        return None
    headers = None
    if not st.session_state.get(_TRIP_DONE):
        st.session_state[_TRIP_DONE] = True
        cookies, headers = _request_context()
        if auth.recent_trip(cookies, time.time()):
            log.info("Back from sign-in without a valid token (%s): showing the sign-in card", reason)
            st.session_state[_CLERK_REASON] = reason
            st.session_state[_TRIP_FAILED] = True
            return None
    if st.session_state.get(_TRIP_FAILED):
        return None
    return _sign_in_link(url, headers, required=True)


def _sign_in_link(url: str, headers: Mapping[str, str] | None = None, *, required: bool = False) -> str | None:
    """``CLERK_SIGN_IN_URL`` with ``redirect_url`` back to this exact page (path and query) when that
    page is on the dashboard's own origin; else the plain URL, or None when ``required``."""
    page_url = _page_url()
    back = None
    if page_url:
        if headers is None:
            headers = _request_context()[1]
        back = auth.return_url(page_url, _query_items(), auth.own_origin(headers, page_url))
    if back is None:
        return None if required else url
    return auth.sign_in_redirect(url, back)


def _page_url() -> str | None:
    try:
        url = st.context.url
    except Exception:  # no browser context (AppTest)
        return None
    if not isinstance(url, str) or not url:
        return None
    asked = requested_page_name()  # the page path this run was asked for (st.context.url may lack it)
    base = url.rstrip("/")
    if asked and not base.endswith("/" + asked):
        base = f"{base}/{asked}"
    return base if urllib.parse.urlsplit(base).path else base + "/"


def _query_items() -> list[tuple[str, str]]:
    return [(key, value) for key in st.query_params for value in st.query_params.get_all(key)]


def _redirect_card(target: str) -> None:
    """Send the browser to sign in (marking the trip), with a link in case scripts are blocked."""
    stamp = "String(Math.floor(Date.now() / 1000))"
    cookie = _js(f"{auth.TRIP_COOKIE}=")
    attrs = _js(f"; Max-Age={auth.TRIP_SECONDS}; Path=/; SameSite=Lax")
    with _card():
        st.markdown("Taking you to sign in…")
        st.link_button("Sign in", target, type="primary", icon=":material/login:", width="stretch")
    _run_js(f"document.cookie = {cookie} + {stamp} + {attrs}; window.location.replace({_js(target)});")


def _run_js(code: str) -> None:
    st.html(f"<script>{code}</script>", unsafe_allow_javascript=True, width="content")


def _js(value: str) -> str:
    """A JavaScript string literal that is safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _clerk_sign_in_card(settings: Settings, reason: str) -> None:
    with _card():
        url = settings.clerk_sign_in_url.strip()
        if _is_web_url(url):
            link = _sign_in_link(url)
            st.markdown(f"Sign in through [{_escape_md(url)}]({link}), then reload this page.")
            st.link_button("Sign in", link, type="primary", icon=":material/login:", width="stretch")
        else:
            st.markdown("Sign in through the Voice Assistant app, then reload this page.")
        if st.session_state.get(_TRIP_FAILED):
            st.caption("Signing in did not bring back a valid session.")
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
            _delete_cookie(authenticator)
        _sign_in_navigation(lambda: _local_sign_in_card(authenticator, credentials, settings))
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
    _guard_credentials(authenticator)
    return authenticator


def _guard_credentials(authenticator: stauth.Authenticate) -> None:
    """Make an unknown username cost a bcrypt check too, so timing does not tell which names exist;
    refuse a locked-out (username, client address) without checking the password at all; note the
    username tried (for the throttle) and a submit with an empty field (to say what is missing)."""
    controller = getattr(authenticator, "authentication_controller", None)
    model = getattr(controller, "authentication_model", None)
    check = getattr(model, "check_credentials", None)
    if model is None or check is None:
        return

    def check_credentials(username: str, password: str) -> bool | None:
        st.session_state[_TRIED] = username
        if auth.THROTTLES.wait_seconds(username, _client_address()):
            st.session_state[_THROTTLED] = True
            return False
        if username not in model.credentials.get("usernames", {}):
            auth.dummy_password_check(password)
            return False
        return check(username, password)

    model.check_credentials = check_credentials
    login = getattr(controller, "login", None)
    if login is None:
        return

    def guarded_login(username: str | None = None, password: str | None = None, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("token") is None and not (username and username.strip() and password):
            st.session_state[_EMPTY_SUBMIT] = "username" if not (username and username.strip()) else "password"
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


def _local_sign_in_card(authenticator: stauth.Authenticate, credentials: auth.Credentials, settings: Settings) -> None:
    client = _client_address()
    with _card():
        locked = st.session_state.get(_LOCKED)
        if locked is not None and auth.THROTTLES.wait_seconds(locked, client):
            _lockout_countdown(locked, client)
            st.button("Try again", key="signin-try-again", width="stretch")
        else:
            st.session_state.pop(_LOCKED, None)
            st.session_state["authentication_status"] = None
            for key in (_TRIED, _THROTTLED, _EMPTY_SUBMIT):
                st.session_state.pop(key, None)
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
            tried = st.session_state.pop(_TRIED, None)
            if status is True and _accepted(credentials) is not None:
                auth.THROTTLES.record_success(tried, client)
                st.session_state[_COOKIE_TODO] = "set"
                st.rerun()
            missing = st.session_state.pop(_EMPTY_SUBMIT, None)
            if missing:
                what = "your username and password" if missing == "username" else "your password"
                st.warning(f"Enter {what} to sign in.", icon=":material/edit:")
            if status is not None:
                st.session_state["authentication_status"] = None
                throttled = st.session_state.pop(_THROTTLED, None)
                if throttled or auth.THROTTLES.record_failure(
                    tried, client, max_attempts=settings.auth_max_attempts, lockout_seconds=settings.auth_lockout_seconds
                ):
                    st.session_state[_LOCKED] = tried or ""
                    st.rerun()  # show the wait instead of the form
                st.error(WRONG_CREDENTIALS, icon=":material/error:")
        if credentials.demo:
            st.caption(DEMO_HINT)


@st.fragment(run_every=1)
def _lockout_countdown(username: str, client: str) -> None:
    """The wait, counted down every second; the form comes back when it is over."""
    wait = auth.THROTTLES.wait_seconds(username, client)
    if not wait:
        st.rerun(scope="app")
    st.error(auth.lockout_message(wait), icon=":material/timer:")


def _error_card(message: str) -> None:
    with _card():
        st.error(message, icon=":material/settings:")


# -- shared ------------------------------------------------------------------------------------


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


def _sign_in_navigation(render: Callable[[], None]) -> None:
    """Only the sign-in form exists until a user is verified: every URL (each screen's, "/", any
    other) shows it, and keeps its path and query for after the sign-in."""

    def sign_in() -> None:
        render()

    pages = [st.Page(sign_in, title="Sign in", url_path=path) for path in SCREEN_PATHS]
    pages += catch_all_pages(sign_in, SCREEN_PATHS, title="Sign in", root="sign-in")
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
    """Forget the user and everything the session held for them (the sign-in throttle is process-wide)."""
    if authenticator is not None:
        try:
            authenticator.authentication_controller.logout()  # its own keys; sets its logout flag
        except Exception as err:  # the session is cleared below either way
            log.info("streamlit-authenticator logout failed: %s", type(err).__name__)
    _forget_session()
    if authenticator is not None:
        st.session_state[_LIB_LOGOUT] = True  # its cookie (frozen in st.context) must not sign back in
        st.session_state[_COOKIE_TODO] = "delete"  # in the next run, which completes
    if clerk:
        st.session_state[_CLERK_REASON] = SIGNED_OUT  # the token stays in st.context: don't reuse it
    st.rerun()


def _forget_session() -> None:
    """Drop everything the session held for its user; keep only the sign-in bookkeeping."""
    for key in list(st.session_state.keys()):
        if key not in _KEEP_ON_SIGN_OUT:
            del st.session_state[key]


def _escape_md(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$:" else ch for ch in text)
