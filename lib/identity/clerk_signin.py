"""Clerk mode: the session's user is the subject of a verified Clerk session token (a request header
or the ``__session`` cookie), verified again past its expiry; a missing or expired token sends the
browser on one round trip to sign in, any other refusal shows the sign-in card with the reason."""

from __future__ import annotations

import importlib
import json
import logging
import secrets
import time
import urllib.parse
from collections.abc import Mapping

import streamlit as st

from lib.config import Settings
from lib.i18n import N_, _
from lib.identity import redirects, tokens
from lib.identity.navigation import requested_page_name, sign_in_navigation
from lib.identity.session import (
    CLEAR_TRIP_KEY,
    CLERK_EXPIRED_KEY,
    CLERK_REASON_KEY,
    IDENTITY_KEY,
    REVERIFY_KEY,
    SIGNED_OUT,
    TRIP_DONE_KEY,
    TRIP_FAILED_KEY,
    Identity,
    card,
    escape_md,
    forget_session,
    sign_out,
    signed_in,
)
from lib.ops import metrics
from lib.store.queries import USER_KEY

log = logging.getLogger(__name__)

SESSION_COOKIE = "__session"  # Clerk's same-site session cookie

_REASON_TEXT = {
    tokens.NO_TOKEN: N_("No Clerk session came with this page."),
    tokens.EXPIRED: N_("Your session token has expired."),
    tokens.NOT_YET_VALID: N_("Your session token is not valid yet (check the server clock)."),
    tokens.WRONG_ISSUER: N_("The session token was issued by another Clerk instance."),
    tokens.UNAUTHORIZED_PARTY: N_("The session token was made for another application."),
    tokens.BAD_SIGNATURE: N_("The session token's signature does not match."),
    tokens.MALFORMED: N_("The session token is not a valid token."),
    tokens.MISSING_SUBJECT: N_("The session token names no user."),
    tokens.MISSING_EXPIRY: N_("The session token has no expiry."),
    tokens.UNSUPPORTED_ALGORITHM: N_("The session token uses an algorithm this dashboard does not accept."),
    tokens.UNKNOWN_KEY: N_("The session token was signed with an unknown key."),
    tokens.KEYS_UNAVAILABLE: N_("Clerk's signing keys could not be fetched; try again shortly."),
    tokens.NOT_CONFIGURED: N_("Token verification is not configured correctly (CLERK_JWT_KEY / CLERK_JWKS_URL)."),
    SIGNED_OUT: N_("You signed out of the dashboard."),
}


def token_from_request(
    cookies: Mapping[str, str], headers: Mapping[str, str], header_name: str = "Authorization"
) -> str | None:
    """The Clerk session token of a request: ``<header>: Bearer <token>`` first, else the ``__session`` cookie."""
    value = redirects.request_header(headers, header_name or "Authorization")
    if value:
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return rest.strip()
    cookie = cookies.get(SESSION_COOKIE) if cookies else None
    if isinstance(cookie, str) and cookie.strip():
        return cookie.strip()
    return None


def _request_context() -> tuple[Mapping[str, str], Mapping[str, str]]:
    """Cookies and headers of the session's first request (Streamlit freezes them per session)."""
    return st.context.cookies, st.context.headers


def clerk_identity(settings: Settings, cookies: Mapping[str, str], headers: Mapping[str, str]) -> Identity:
    """Verify the request's Clerk token; ``AuthError`` with the reason when there is no good one."""
    return token_identity(settings, token_from_request(cookies, headers, settings.clerk_header))


def token_identity(settings: Settings, token: str | None) -> Identity:
    """Verify one Clerk session token (issuer, azp, leeway from ``settings``); ``AuthError`` when refused."""
    claims = tokens.verify_clerk_claims(
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


def clerk_gate(settings: Settings) -> str | None:
    identity = st.session_state.get(IDENTITY_KEY)
    if isinstance(identity, Identity) and identity.expires_at is not None and time.time() >= identity.expires_at:
        identity = _verify_again(settings, identity)
    else:
        st.session_state.pop(REVERIFY_KEY, None)
    if not isinstance(identity, Identity):
        identity = None
        if CLERK_REASON_KEY not in st.session_state:  # once per session: a refresh is a new session
            cookies, headers = _request_context()
            try:
                identity = clerk_identity(settings, cookies, headers)
            except tokens.AuthError as err:
                log.info("Clerk sign-in refused: %s", err.reason)
                if err.reason != tokens.NO_TOKEN:  # a token was presented and refused (no token: not signed in yet)
                    metrics.SIGNIN_FAILURES.labels("clerk").inc()
                st.session_state[CLERK_REASON_KEY] = err.reason
            else:
                previous = st.session_state.get(USER_KEY)
                if previous is not None and previous != identity.user_id:
                    forget_session()  # another user's token: nothing of the previous one stays
                st.session_state[IDENTITY_KEY] = identity
                st.session_state.pop(CLERK_EXPIRED_KEY, None)
                if not st.session_state.get(TRIP_DONE_KEY):
                    st.session_state[TRIP_DONE_KEY] = True
                    if cookies and redirects.TRIP_COOKIE in cookies:  # back from a successful round trip: end it
                        st.session_state[CLEAR_TRIP_KEY] = True
    if identity is None:
        if st.session_state.pop(CLERK_EXPIRED_KEY, None):
            forget_session()  # the expired user's data goes with the identity
        st.session_state.pop(USER_KEY, None)
        reason = st.session_state.get(CLERK_REASON_KEY, tokens.NO_TOKEN)
        target = _round_trip_target(settings, reason)
        if target:
            sign_in_navigation(lambda: _redirect_card(target))
        else:
            sign_in_navigation(lambda: _clerk_sign_in_card(settings, reason))
        return None
    if st.session_state.pop(CLEAR_TRIP_KEY, None):
        _run_js(f"document.cookie = {_js(redirects.TRIP_COOKIE + '=; Max-Age=0; Path=/; SameSite=Lax')};")
    return signed_in(identity, on_sign_out=lambda: sign_out(clerk=True))


# Past the token's expiry, the browser's current ``__session`` (Clerk's JS keeps it fresh) is read
# with a cookie component; the page keeps rendering for the same user until it answers, for at most:
REVERIFY_SECONDS = 10.0
RENEW, WAIT, OTHER_USER, ROUND_TRIP = "renew", "wait", "other user", "round trip"


def reverify_decision(user_id: str, answer: Identity | str | None, waited: float,
                      bound: float = REVERIFY_SECONDS) -> str:
    """What to do with a session whose identity expired, given the browser's answer: ``None`` (no
    answer yet), a ``tokens`` reason (its token was missing or refused) or the token's verified identity.

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
    pending = st.session_state.get(REVERIFY_KEY)
    answer: Identity | str | None
    if isinstance(pending, dict):  # a later run: has the browser answered?
        answer = _browser_answer(settings, pending["key"])
        waited = time.time() - pending["since"]
    else:
        log.info("Clerk session token expired: verifying again")
        try:  # the request's own token first: a proxy may send a fresh one with every request
            answer = clerk_identity(settings, *_request_context())
        except tokens.AuthError as err:  # ask the browser (a new reader each time: a fresh read)
            pending = st.session_state[REVERIFY_KEY] = {"since": time.time(), "key": secrets.token_hex(6),
                                                     "reason": err.reason}
            answer = _browser_answer(settings, pending["key"])
        waited = 0.0
    decision = reverify_decision(identity.user_id, answer, waited, REVERIFY_SECONDS)
    if decision == WAIT:
        return identity  # the same user, for a few seconds more: nothing is shown to anyone else
    st.session_state.pop(REVERIFY_KEY, None)
    st.session_state.pop(CLERK_REASON_KEY, None)
    if isinstance(answer, Identity):
        if decision == OTHER_USER:
            forget_session()  # another user's token: nothing of the previous one stays
        st.session_state[IDENTITY_KEY] = answer
        return answer
    reason = answer if isinstance(answer, str) else pending["reason"]  # no answer: the request's reason
    log.info("Clerk session not renewed (%s): signing in again", reason)
    st.session_state.pop(IDENTITY_KEY, None)
    st.session_state[CLERK_EXPIRED_KEY] = True
    st.session_state[CLERK_REASON_KEY] = reason
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
    except tokens.AuthError as err:
        return err.reason


def _round_trip_target(settings: Settings, reason: str) -> str | None:
    """Where to send the browser to get a token, or None to show the sign-in card instead.

    Only for a missing or expired token, only with a web ``CLERK_SIGN_IN_URL``, only when the page
    to come back to is on the dashboard's own origin, and only once: a browser back from a trip
    that started less than ``redirects.TRIP_SECONDS`` ago (its marker cookie, read once per session)
    gets the card and the reason, never another redirect.
    """
    url = settings.clerk_sign_in_url.strip()
    if reason not in redirects.ROUND_TRIP_REASONS or not _is_web_url(url):
        return None
    headers = None
    if not st.session_state.get(TRIP_DONE_KEY):
        st.session_state[TRIP_DONE_KEY] = True
        cookies, headers = _request_context()
        if redirects.recent_trip(cookies, time.time()):
            log.info("Back from sign-in without a valid token (%s): showing the sign-in card", reason)
            st.session_state[CLERK_REASON_KEY] = reason
            st.session_state[TRIP_FAILED_KEY] = True
            return None
    if st.session_state.get(TRIP_FAILED_KEY):
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
        back = redirects.return_url(page_url, _query_items(), redirects.own_origin(headers, page_url))
    if back is None:
        return None if required else url
    return redirects.sign_in_redirect(url, back)


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
    cookie = _js(f"{redirects.TRIP_COOKIE}=")
    attrs = _js(f"; Max-Age={redirects.TRIP_SECONDS}; Path=/; SameSite=Lax")
    with card():
        st.markdown(_("Taking you to sign in…"))
        st.link_button(_("Sign in"), target, type="primary", icon=":material/login:", width="stretch")
    _run_js(f"document.cookie = {cookie} + {stamp} + {attrs}; window.location.replace({_js(target)});")


def _run_js(code: str) -> None:
    st.html(f"<script>{code}</script>", unsafe_allow_javascript=True, width="content")


def _js(value: str) -> str:
    """A JavaScript string literal that is safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _clerk_sign_in_card(settings: Settings, reason: str) -> None:
    with card():
        url = settings.clerk_sign_in_url.strip()
        if _is_web_url(url):
            link = _sign_in_link(url)
            st.markdown(_("Sign in through [{url}]({link}), then reload this page.").format(url=escape_md(url), link=link))
            st.link_button(_("Sign in"), link, type="primary", icon=":material/login:", width="stretch")
        else:
            st.markdown(_("Sign in through the Voice Assistant app, then reload this page."))
        if st.session_state.get(TRIP_FAILED_KEY):
            st.caption(_("Signing in did not bring back a valid session."))
        text = _REASON_TEXT.get(reason)
        st.warning(_(text) if text else _("You are not signed in."), icon=":material/lock:")
        st.caption(_("Reason: {reason}").format(reason=reason))


def _is_web_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
