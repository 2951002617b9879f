"""Personal access tokens and signed links (migration 20261203160000_api_tokens): the user's side (create,
list, revoke; sign links, rotate the link key), each one ``dashboard_api_*`` call as that user, and the
server's side (``resolve_token``, ``resolve_link``), one call each as the server itself (role
service_role, the functions that take a hash or a signature and answer only for a live one).

A token is ``vad_`` and 43 URL-safe characters (256 random bits); only its SHA-256 (hex) reaches the
database.  Nothing here is cached: a revoked token fails on its next request on every replica.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lib.errors import StoreError
from lib.store.calls import CallStore
from lib.store.transport import REFUSED, UNREADABLE, Refused, parse_time
from lib.store.validation import validate_user_id

PREFIX = "vad_"
TOKEN_PATTERN = re.compile(r"vad_[A-Za-z0-9_-]{43}")
EXPIRY_DAYS = (30, 90, 365)
MAX_ACTIVE = 20
LINK_MAX_DAYS = 30


class TooManyTokens(StoreError):
    def __init__(self) -> None:
        from lib.i18n import _

        super().__init__(_("You have {n} active tokens, the most allowed. Revoke one first.").format(n=MAX_ACTIVE))


class BadTokenRequest(StoreError):
    """A name, expiry or link the database refused (22023)."""


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    hint: str  # the token's last 4 characters
    created_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at is not None and self.expires_at > now


@dataclass(frozen=True)
class SignedLink:
    id: str
    path: str
    query: str
    created_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Caller:
    """Who an API request acts for, and that user's change versions (read in the same statement)."""

    user_id: str
    token_id: str  # the token's id, "clerk" or "link:<user>": what the request log names, never a secret
    versions: dict[str, int]


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token(r: dict) -> ApiToken:
    return ApiToken(str(r["id"]), str(r["name"]), str(r.get("hint") or ""),
                    *(parse_time(r.get(k)) for k in ("created_at", "expires_at", "last_used_at", "revoked_at")))


def _versions(data: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (data or {}).items()}


class ApiAccess:
    """One user's tokens and links (``ApiAccess(store, user_id)``)."""

    def __init__(self, store: CallStore, user_id: str) -> None:
        self._store, self._uid = store, validate_user_id(user_id)

    @property
    def user_id(self) -> str:
        return self._uid

    def _call(self, fn: str, params: dict[str, Any] | None = None, *, read: bool = True) -> Any:
        try:
            return self._store.call(self._uid, fn, params or {}, read=read)
        except Refused as err:
            if err.sqlstate == "54000":
                raise TooManyTokens() from err
            if err.sqlstate == "22023":
                raise BadTokenRequest(REFUSED) from err
            raise StoreError(REFUSED) from err

    def create_token(self, name: str, days: int) -> tuple[str, ApiToken]:
        """A new token (the secret, shown once) and its row; TooManyTokens past MAX_ACTIVE live ones."""
        token = new_token()
        data = self._call("dashboard_api_token_create", {"p_name": name, "p_days": int(days),
                                                         "p_hash": token_hash(token), "p_hint": token[-4:]}, read=False)
        try:
            return token, _token(data)
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError(UNREADABLE) from err

    def tokens(self) -> list[ApiToken]:
        try:
            return [_token(r) for r in self._call("dashboard_api_tokens")]
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError(UNREADABLE) from err

    def revoke_token(self, token_id: str) -> bool:
        return bool(self._call("dashboard_api_token_revoke", {"p_id": str(token_id)}, read=False))

    def sign_link(self, path: str, query: str, days: int) -> tuple[int, str]:
        """A signature for ``path?query`` valid ``days`` (1..30) days: (expiry as Unix seconds, hex HMAC)."""
        data = self._call("dashboard_api_link_create", {"p_path": path, "p_query": query, "p_days": int(days)},
                          read=False)
        try:
            return int(data["exp"]), str(data["sig"])
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError(UNREADABLE) from err

    def links(self) -> list[SignedLink]:
        try:
            return [SignedLink(str(r["id"]), str(r["path"]), str(r["query"]), parse_time(r["created_at"]),
                               parse_time(r["expires_at"])) for r in self._call("dashboard_api_links")]
        except (KeyError, TypeError, ValueError) as err:
            raise StoreError(UNREADABLE) from err

    def rotate_link_key(self) -> int:
        """A new link key: every link signed so far stops working; returns how many were live."""
        return int(self._call("dashboard_api_rotate_link_key", read=False) or 0)


def resolve_token(store: CallStore, token: str) -> Caller | None:
    """The caller a personal access token stands for, or None (malformed, unknown, revoked, expired: alike).
    One statement, which also records the token's last use (at most once a minute)."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    data = store.call(None, "api_token_user", {"p_hash": token_hash(token)}, read=False)
    if not isinstance(data, dict):
        return None
    return Caller(str(data["user_id"]), str(data["token_id"]), _versions(data.get("versions")))


def resolve_link(store: CallStore, user_id: str, path: str, query: str, exp: int, sig: str) -> Caller | None:
    """The caller of a signed link whose signature is the user's current link key's, or None."""
    if not re.fullmatch(r"[0-9a-f]{64}", sig):
        return None
    data = store.call(None, "api_link_user", {"p_user": user_id, "p_path": path, "p_query": query, "p_exp": int(exp),
                                              "p_sig": sig}, read=True)
    if not isinstance(data, dict):
        return None
    return Caller(str(data["user_id"]), "link", _versions(data.get("versions")))
