"""Who an API request acts for: ``Authorization: Bearer vad_...`` (a personal access token), a Clerk
session token (the web app's), or a signed link's ``u``, ``exp`` and ``sig`` parameters; and the
per-credential rate limit.

Tokens and links are checked against the database on every request (one statement, which also reads the
user's change versions for the ETag): a revoked token or a rotated link key fails at once on every
replica, with no cache to wait for.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

from lib.identity.tokens import AuthError, verify_clerk_token
from lib.store.api_access import PREFIX, Caller, resolve_link, resolve_token
from lib.web.api import params
from lib.web.api.problems import bad_link, expired_link, rate_limited, unauthorized


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _sep, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else ""


def is_link(items: Sequence[tuple[str, str]], path: str = "") -> bool:
    """A signed link's request (any of its own parameters, or one whose '?' was changed): no header needed, and a
    link that does not verify is 403, whatever byte was changed."""
    return any(k in params.LINK_KEYS for k, _v in items) or "sig=" in path


def authenticate(store, settings, path: str, items: Sequence[tuple[str, str]],
                 authorization: str | None) -> tuple[Caller, list[tuple[str, str]]]:
    """The caller, and the query's items without a signed link's own parameters.  Raises ApiProblem:
    401 (one body for every refused credential), 403 (a link whose signature does not match), 410 (a
    genuine link past its expiry)."""
    token = _bearer(authorization)
    if token is None and is_link(items):
        return _link(store, path, items), [(k, v) for k, v in items if k not in params.LINK_KEYS]
    if not token:
        raise unauthorized()
    if token.startswith(PREFIX):
        caller = resolve_token(store, token)
    else:
        caller = _clerk(store, settings, token)
    if caller is None:
        raise unauthorized()
    return caller, list(items)


def _clerk(store, settings, token: str) -> Caller | None:
    if settings.auth_mode != "clerk":
        return None
    try:
        user_id = verify_clerk_token(token, jwt_key=settings.clerk_jwt_key or None,
                                     jwks_url=settings.clerk_jwks_url or None, issuer=settings.clerk_issuer or None,
                                     authorized_parties=settings.authorized_parties,
                                     leeway=settings.clerk_leeway_seconds)
    except AuthError:
        return None
    return Caller(user_id, "clerk", store.for_user(user_id).versions())


def _link(store, path: str, items: Sequence[tuple[str, str]]) -> Caller:
    own = [(k, v) for k, v in items if k in params.LINK_KEYS]
    values = dict(own)
    if len(own) != 3 or len(values) != 3 or not values["exp"].isascii() or not values["exp"].isdigit():
        raise bad_link()
    query = params.canonical([(k, v) for k, v in items if k not in params.LINK_KEYS])
    exp = int(values["exp"])
    if exp > 2**62 or not values["u"] or len(values["u"]) > 255:
        raise bad_link()
    caller = resolve_link(store, values["u"], path, query, exp, values["sig"])
    if caller is None:
        raise bad_link()
    if exp <= time.time():
        raise expired_link()
    return Caller(caller.user_id, "link:" + values["sig"][:12], caller.versions)


class RateLimit:
    """A token bucket per credential: ``per_minute`` requests a minute, bursts up to that many; in this
    process (N replicas allow up to N times as many, spread by nginx)."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = max(1, int(per_minute))
        self.rate = self.capacity / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> None:
        """Spend one request of ``key``'s bucket, or raise ApiProblem 429 with the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._buckets) > 100_000:
                self._buckets.clear()
            tokens, when = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - when) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise rate_limited(max(1, math.ceil((1.0 - tokens) / self.rate)))
            self._buckets[key] = (tokens - 1.0, now)
