"""The sign-in round trip, decided without Streamlit: the dashboard's own origin, the page to come
back to, the sign-in URL that leads back there, and the browser's marker of a trip just made."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence

from lib.identity.tokens import EXPIRED, NO_TOKEN

# Only a missing or an expired token is worth a trip to the sign-in page (Clerk sends a signed-in
# browser straight back with a fresh one); any other refusal would come back the same.
ROUND_TRIP_REASONS = frozenset({NO_TOKEN, EXPIRED})
TRIP_COOKIE = "voice_dashboard_signin_trip"  # set by the browser just before it leaves for sign-in
TRIP_SECONDS = 300  # a trip started this recently that still brought no token is not retried


def own_origin(headers: Mapping[str, str], page_url: str | None) -> str | None:
    """The dashboard's origin (``scheme://host[:port]``), from the browser's ``Origin`` header on the
    session's request, else from ``Host`` with the page URL's scheme."""
    origin = _get(headers, "Origin")
    if origin:
        parts = urllib.parse.urlsplit(origin.strip())
        if parts.scheme in ("http", "https") and parts.netloc and not parts.path.strip("/"):
            return f"{parts.scheme}://{parts.netloc}".lower()
        return None
    host = _get(headers, "Host")
    scheme = urllib.parse.urlsplit(page_url or "").scheme
    if host and scheme in ("http", "https") and "/" not in host and "@" not in host:
        return f"{scheme}://{host.strip()}".lower()
    return None


def return_url(page_url: str | None, query: Sequence[tuple[str, str]], origin: str | None) -> str | None:
    """The exact page to come back to after sign-in (path and query), or None unless it is on the
    dashboard's own origin: an absolute http(s) URL with that scheme and host, no credentials."""
    if not page_url or not origin:
        return None
    try:
        parts = urllib.parse.urlsplit(page_url.strip())
        if parts.port == 0:  # .port raises ValueError for a malformed one
            return None
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.username is not None or parts.password is not None:
        return None
    if f"{parts.scheme}://{parts.netloc}".lower() != origin.lower():
        return None
    if "\\" in page_url or any(ord(c) < 0x20 for c in page_url):
        return None
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path or "/",
                                    urllib.parse.urlencode(list(query)), ""))


def sign_in_redirect(sign_in_url: str, back_to: str | None) -> str:
    """``sign_in_url`` with ``redirect_url`` set to ``back_to`` (its other parameters kept)."""
    parts = urllib.parse.urlsplit(sign_in_url.strip())
    params = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "redirect_url"]
    if back_to:
        params.append(("redirect_url", back_to))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, urllib.parse.urlencode(params),
                                    parts.fragment))


def recent_trip(cookies: Mapping[str, str], now: float) -> bool:
    """True when the browser left for sign-in less than ``TRIP_SECONDS`` ago (its marker cookie)."""
    value = cookies.get(TRIP_COOKIE) if cookies else None
    try:
        started = float(value) if value is not None else None
    except ValueError:
        return False
    return started is not None and 0 <= now - started < TRIP_SECONDS


def request_header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of one request header (any case), or None."""
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


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = request_header(headers, name)
    return value if value and value.strip() else None
