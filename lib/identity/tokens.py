"""Clerk session-token verification: the RS256 checks of one token (issuer, authorized party,
expiry) and the cached public keys of a JWKS endpoint. Plain Python, no Streamlit: tested with real
keys, a real HTTP server and an injected clock.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

log = logging.getLogger(__name__)

# -- Clerk session tokens ------------------------------------------------------------------

ALGORITHM = "RS256"  # Clerk signs session tokens with RS256; every other "alg" is refused
MAX_TOKEN_LENGTH = 16 * 1024

# Reason categories: short, stable, never containing the token or a key.
NO_TOKEN = "no token"
MALFORMED = "malformed"
UNSUPPORTED_ALGORITHM = "unsupported algorithm"
BAD_SIGNATURE = "bad signature"
UNKNOWN_KEY = "unknown signing key"
KEYS_UNAVAILABLE = "signing keys unavailable"
EXPIRED = "expired"
NOT_YET_VALID = "not yet valid"
MISSING_EXPIRY = "missing expiry"
WRONG_ISSUER = "wrong issuer"
UNAUTHORIZED_PARTY = "unauthorized party"
MISSING_SUBJECT = "missing subject"
NOT_CONFIGURED = "verification not configured"


class AuthError(Exception):
    """A token (or a sign-in) was refused; ``reason`` is a short category that is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify_clerk_token(
    token: str,
    *,
    jwt_key: str | None = None,
    jwks_url: str | None = None,
    issuer: str | None = None,
    authorized_parties: Sequence[str] = (),
    leeway: float = 5,
) -> str:
    """The user id (``sub``) of a valid Clerk session token; ``AuthError`` for any bad token."""
    claims = verify_clerk_claims(
        token,
        jwt_key=jwt_key,
        jwks_url=jwks_url,
        issuer=issuer,
        authorized_parties=authorized_parties,
        leeway=leeway,
    )
    return claims["sub"]


def verify_clerk_claims(
    token: str,
    *,
    jwt_key: str | None = None,
    jwks_url: str | None = None,
    issuer: str | None = None,
    authorized_parties: Sequence[str] = (),
    leeway: float = 5,
) -> dict[str, Any]:
    """The verified claims of a Clerk session token (``sub`` is a non-empty string)."""
    if not isinstance(token, str) or not token.strip():
        raise AuthError(NO_TOKEN)
    token = token.strip()
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise AuthError(MALFORMED)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError(MALFORMED) from None
    if header.get("alg") != ALGORITHM:  # before any key lookup: "none" and HS* never cost a fetch
        raise AuthError(UNSUPPORTED_ALGORITHM)

    if jwt_key:
        key = _pem_public_key(jwt_key)
    elif jwks_url:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError(UNKNOWN_KEY)
        key = jwks_cache(jwks_url).key(kid)
    else:
        raise AuthError(NOT_CONFIGURED)

    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            leeway=leeway,
            options={
                "require": ["exp"],
                "verify_aud": False,  # Clerk session tokens carry "azp", checked below
                "verify_iss": False,  # checked below, tolerant of a trailing slash
                "verify_sub": False,  # checked below: must be a non-empty string
                "verify_jti": False,
            },
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(EXPIRED) from None
    except jwt.ImmatureSignatureError:
        raise AuthError(NOT_YET_VALID) from None
    except jwt.MissingRequiredClaimError:
        raise AuthError(MISSING_EXPIRY) from None
    except jwt.InvalidSignatureError:
        raise AuthError(BAD_SIGNATURE) from None
    except jwt.InvalidAlgorithmError:
        raise AuthError(UNSUPPORTED_ALGORITHM) from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise AuthError(MALFORMED) from None

    if issuer:
        iss = claims.get("iss")
        if not isinstance(iss, str) or iss.rstrip("/") != issuer.strip().rstrip("/"):
            raise AuthError(WRONG_ISSUER)
    parties = {p.strip().rstrip("/") for p in authorized_parties if p and p.strip()}
    if parties:
        azp = claims.get("azp")  # stricter than Clerk's SDK: with an allow-list, azp is required
        if not isinstance(azp, str) or azp.rstrip("/") not in parties:
            raise AuthError(UNAUTHORIZED_PARTY)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise AuthError(MISSING_SUBJECT)
    return claims


@lru_cache(maxsize=8)
def _pem_public_key(pem: str) -> RSAPublicKey:
    """The RSA public key of ``CLERK_JWT_KEY`` (a PEM; ``\\n`` escapes from an env var are accepted)."""
    text = pem.strip().replace("\\n", "\n")
    try:
        key = load_pem_public_key(text.encode())
    except (ValueError, TypeError):
        log.error("CLERK_JWT_KEY is not a PEM public key")
        raise AuthError(NOT_CONFIGURED) from None
    if not isinstance(key, RSAPublicKey):
        log.error("CLERK_JWT_KEY is not an RSA public key")
        raise AuthError(NOT_CONFIGURED)
    return key


# -- JWKS ------------------------------------------------------------------------------------

MAX_JWKS_BYTES = 1_000_000


def _check_jwks_url(url: str) -> None:
    """HTTPS only, except plain HTTP to this machine (a local test server)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        if host == "localhost":
            return
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
    raise ValueError("CLERK_JWKS_URL must be an https:// URL")


def fetch_jwks(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``{kid: public key}`` of the RS256 signing keys a JWKS endpoint publishes."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "voice-dashboard"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # the scheme was checked by JwksCache
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("JWKS document too large")
    document = json.loads(body)
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("JWKS document has no 'keys' list")
    keys: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        except jwt.PyJWTError:
            continue
    if not keys:
        raise ValueError("JWKS document has no RS256 signing key")
    return keys


class JwksCache:
    """The public keys of one JWKS endpoint.

    Fetched on first use and kept for ``ttl`` seconds. A token naming an unknown ``kid`` (a key
    rotation) triggers one refetch — at most one per ``refetch_interval``, so made-up kids cannot
    turn into a flood of requests. A failed fetch keeps the keys already known.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 3600.0,
        refetch_interval: float = 30.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str, float], dict[str, Any]] = fetch_jwks,
    ) -> None:
        _check_jwks_url(url)
        self.url = url
        self.ttl = ttl
        self.refetch_interval = refetch_interval
        self.timeout = timeout
        self._clock = clock
        self._fetch = fetch
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._last_failure: float | None = None
        self._last_miss_refetch: float | None = None
        self.fetches = 0  # how many times the endpoint was asked (tests and logs)

    def key(self, kid: str) -> Any:
        with self._lock:
            now = self._clock()
            fetched_now = False
            if self._fetched_at is None or now - self._fetched_at >= self.ttl:
                fetched_now = self._refresh(now)
            key = self._keys.get(kid)
            if key is None and not fetched_now and self._may_refetch_for_miss(now):
                self._last_miss_refetch = now
                self._refresh(now)
                key = self._keys.get(kid)
            if key is not None:
                return key
            if not self._keys:
                raise AuthError(KEYS_UNAVAILABLE)
            raise AuthError(UNKNOWN_KEY)

    def _may_refetch_for_miss(self, now: float) -> bool:
        last = self._last_miss_refetch
        return last is None or now - last >= self.refetch_interval

    def _refresh(self, now: float) -> bool:
        """Fetch the key set; False (keeping the old keys) when the endpoint fails."""
        if self._last_failure is not None and now - self._last_failure < self.refetch_interval:
            return False  # it just failed: don't hammer it
        self.fetches += 1
        try:
            keys = self._fetch(self.url, self.timeout)
        except (OSError, ValueError, http.client.HTTPException) as err:
            self._last_failure = now
            log.warning("JWKS fetch from %s failed: %s", self.url, type(err).__name__)
            return False
        self._last_failure = None
        self._keys = keys
        self._fetched_at = now
        return True


_jwks_caches: dict[str, JwksCache] = {}
_jwks_lock = threading.Lock()


def jwks_cache(url: str) -> JwksCache:
    """The process-wide key cache of one JWKS endpoint."""
    with _jwks_lock:
        cache = _jwks_caches.get(url)
        if cache is None:
            try:
                cache = JwksCache(url)
            except ValueError:
                log.error("CLERK_JWKS_URL must be an https:// URL")
                raise AuthError(NOT_CONFIGURED) from None
            _jwks_caches[url] = cache
        return cache

