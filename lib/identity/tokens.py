"""Who is signed in, decided without Streamlit: Clerk session-token verification, the local
credentials file, and the per-session sign-in throttle.

``lib.signin`` is the Streamlit glue around this module; everything here is plain Python so the
rules can be tested with real keys, a real HTTP server and an injected clock.
"""

from __future__ import annotations

import copy
import http.client
import ipaddress
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import bcrypt
import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from lib.errors import ConfigError

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


# -- the sign-in round trip ------------------------------------------------------------------------

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


def _get(headers: Mapping[str, str], name: str) -> str | None:
    if not headers:
        return None
    try:
        value = headers.get(name)
    except Exception:
        value = None
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    return value if isinstance(value, str) and value.strip() else None


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


# -- local accounts ----------------------------------------------------------------------------

DEMO_PASSWORD = "demo"
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("alice", "Alice", "user_demo_alice"),
    ("bob", "Bob", "user_demo_bob"),
    ("carol", "Carol", "user_demo_carol"),
)
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")


def is_bcrypt_hash(value: object) -> bool:
    return isinstance(value, str) and bool(_BCRYPT_HASH.match(value))


def hash_password(password: str, rounds: int = 12) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


@lru_cache(maxsize=1)
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"no such account", bcrypt.gensalt(12))


def dummy_password_check(password: str) -> None:
    """Spend the time of a real check, so an unknown username answers as slowly as a known one."""
    bcrypt.checkpw((password or "").encode(), _dummy_hash())


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    user_id: str  # the Clerk-style id the account's data belongs to
    password_hash: str = field(repr=False)
    email: str | None = None


@dataclass(frozen=True)
class Credentials:
    """The accounts of a credentials file; ``demo`` marks the generated demo file."""

    accounts: Mapping[str, Account]
    demo: bool = False

    def account(self, username: str | None) -> Account | None:
        if not isinstance(username, str):
            return None
        return self.accounts.get(username.strip().lower())

    def user_id_for(self, username: str | None) -> str | None:
        account = self.account(username)
        return account.user_id if account else None

    def for_authenticator(self) -> dict[str, Any]:
        """A fresh credentials dict in streamlit-authenticator's shape (the library mutates it)."""
        users: dict[str, Any] = {}
        for account in self.accounts.values():
            entry: dict[str, Any] = {"name": account.name, "password": account.password_hash}
            if account.email:
                entry["email"] = account.email
            users[account.username] = entry
        return {"usernames": copy.deepcopy(users)}


_FILE_HEADER = """\
# Voice Assistant Dashboard: local sign-in accounts (streamlit-authenticator format).
# Passwords are bcrypt hashes, never plain text. Each account's user_id is the Clerk-style id
# its data belongs to. "demo: true" shows the demo-account hint on the sign-in screen:
# delete it (and the demo accounts) before using this file for anything but a demo.
"""


def demo_credentials_document(rounds: int = 12) -> dict[str, Any]:
    users = {
        username: {"name": name, "password": hash_password(DEMO_PASSWORD, rounds), "user_id": user_id}
        for username, name, user_id in DEMO_ACCOUNTS
    }
    return {"demo": True, "credentials": {"usernames": users}}


def write_credentials_file(path: str | os.PathLike[str], document: Mapping[str, Any]) -> None:
    """Write atomically, readable by the owner only."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", suffix=".yaml", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_FILE_HEADER)
            yaml.safe_dump(dict(document), handle, sort_keys=False, allow_unicode=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_credentials_file(path: str | os.PathLike[str]) -> bool:
    """Create the demo credentials file if there is none; True when it was created."""
    target = Path(path)
    if target.exists():
        return False
    log.warning("No credentials file at %s: writing the demo accounts (alice, bob, carol)", target)
    write_credentials_file(target, demo_credentials_document())
    return True


def parse_credentials(document: Any, source: str = "the credentials file") -> Credentials:
    """Validate a credentials document; errors name the account and field, never a value."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source} is not a YAML mapping.")
    section = document.get("credentials")
    users = section.get("usernames") if isinstance(section, Mapping) else None
    if not isinstance(users, Mapping) or not users:
        raise ConfigError(f"{source} has no accounts under credentials.usernames.")
    accounts: dict[str, Account] = {}
    seen_ids: set[str] = set()
    for raw_name, entry in users.items():
        username = str(raw_name).strip().lower()
        if not _USERNAME.match(username):
            raise ConfigError(f"{source}: account {str(raw_name)[:64]!r} has an invalid username.")
        if username in accounts:
            raise ConfigError(f"{source}: account {username!r} appears twice.")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{source}: account {username!r} is not a mapping.")
        password = entry.get("password")
        if not is_bcrypt_hash(password):
            raise ConfigError(f"{source}: account {username!r} needs a bcrypt hash as its password (no plain text).")
        user_id = entry.get("user_id")
        if not isinstance(user_id, str) or not user_id.strip():
            raise ConfigError(f"{source}: account {username!r} needs a user_id.")
        if user_id in seen_ids:
            raise ConfigError(f"{source}: account {username!r} repeats another account's user_id.")
        seen_ids.add(user_id)
        name = entry.get("name")
        email = entry.get("email")
        accounts[username] = Account(
            username=username,
            name=str(name).strip() if name else username,
            user_id=user_id.strip(),
            password_hash=password,
            email=str(email) if email else None,
        )
    return Credentials(accounts=accounts, demo=document.get("demo") is True)


_loaded: dict[str, tuple[tuple[int, int], Credentials]] = {}
_loaded_lock = threading.Lock()


def load_credentials(path: str | os.PathLike[str], *, create_demo: bool = True) -> Credentials:
    """The accounts of the credentials file (re-read when the file changes)."""
    target = Path(path)
    with _loaded_lock:
        if create_demo:
            try:
                ensure_credentials_file(target)
            except OSError as err:
                raise ConfigError(f"Cannot create the credentials file {target}: {err.strerror}.") from None
        try:
            stat = target.stat()
        except OSError:
            raise ConfigError(f"No credentials file at {target} (AUTH_CREDENTIALS_PATH).") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _loaded.get(str(target))
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            document = yaml.safe_load(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            raise ConfigError(f"Cannot read the credentials file {target} (is it valid YAML?).") from None
        credentials = parse_credentials(document, source=f"Credentials file {target}")
        _loaded[str(target)] = (stamp, credentials)
        return credentials


# -- sign-in throttle ------------------------------------------------------------


@dataclass
class LoginThrottle:
    """Failed sign-ins of one session: ``max_attempts`` failures, then a wait of ``lockout_seconds``."""

    max_attempts: int = 5
    lockout_seconds: float = 60
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    failures: int = 0
    locked_until: float = 0.0

    def wait_seconds(self) -> int:
        """Whole seconds left to wait (0: a sign-in may be tried)."""
        remaining = self.locked_until - self.clock()
        return math.ceil(remaining) if remaining > 0 else 0

    @property
    def attempts_left(self) -> int:
        return max(1, self.max_attempts) - self.failures

    def record_failure(self) -> int:
        """Count a failed sign-in; the wait it starts (0 while attempts are left)."""
        waiting = self.wait_seconds()
        if waiting:
            return waiting
        self.failures += 1
        if self.failures >= max(1, self.max_attempts):
            self.failures = 0
            self.locked_until = self.clock() + max(0.0, float(self.lockout_seconds))
        return self.wait_seconds()

    def record_success(self) -> None:
        self.failures = 0
        self.locked_until = 0.0


class SignInThrottles:
    """Failed sign-ins of the whole process, one ``LoginThrottle`` per (username, client address):
    a reload or a new tab starts no fresh count.  Bounded: past ``max_entries`` the entries that
    are not locked are dropped, least recently used first."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], LoginThrottle] = {}

    @staticmethod
    def key(username: str | None, client: str | None) -> tuple[str, str]:
        return (str(username or "").strip().lower()[:128], str(client or "unknown")[:64])

    def wait_seconds(self, username: str | None, client: str | None) -> int:
        with self._lock:
            entry = self._entries.get(self.key(username, client))
            return entry.wait_seconds() if entry else 0

    def record_failure(self, username: str | None, client: str | None, *, max_attempts: int,
                       lockout_seconds: float) -> int:
        """Count a failed sign-in; the wait it starts (0 while attempts are left)."""
        key = self.key(username, client)
        with self._lock:
            entry = self._entries.pop(key, None) or LoginThrottle(clock=self._clock)
            entry.max_attempts, entry.lockout_seconds = max_attempts, lockout_seconds
            self._entries[key] = entry  # most recently used last
            self._prune()
            return entry.record_failure()

    def record_success(self, username: str | None, client: str | None) -> None:
        with self._lock:
            self._entries.pop(self.key(username, client), None)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def _prune(self) -> None:
        if len(self._entries) <= self._max_entries:
            return
        for key in [k for k, e in self._entries.items() if not e.wait_seconds()]:
            del self._entries[key]
            if len(self._entries) <= self._max_entries // 2:
                break


THROTTLES = SignInThrottles()  # the process's failed sign-ins (lib.signin)


def lockout_message(seconds: int) -> str:
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many failed sign-in attempts. Try again in {seconds} {unit}."
