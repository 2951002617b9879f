"""Supabase REST: supabase-py's PostgREST client, one per process, calling the ``dashboard_*`` functions
(``rpc``) with the user's own short-lived token, so PostgreSQL runs them as role ``authenticated`` under
row-level security exactly as the direct transport does.

The token is minted here (HS256 with the project's JWT secret, SUPABASE_JWT_SECRET) and sent as
``Authorization: Bearer`` on each request only; the shared client keeps only SUPABASE_KEY (``apikey``),
so one user's token can never travel with another user's request.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import warnings
from typing import Any

import httpx
import jwt
from postgrest.exceptions import APIError

from lib.errors import ConfigError, StoreError, StoreUnavailable
from lib.store.calls import CallStore
from lib.store.transport import UNREADABLE, Refused, Unsettled
from supabase import Client, ClientOptions, SupabaseException, create_client

TOKEN_SECONDS = 300  # a minted token's lifetime
TOKEN_SLACK = 60  # a cached token is replaced this long before it expires
TOKENS_KEPT = 10_000  # cached tokens per process (one per recent user)

# Failures on the way to the database, not answers from it: worth a retry later.
_UNAVAILABLE_PREFIXES = ("08", "53", "57", "PGRST000", "PGRST001", "PGRST002", "PGRST003")
_UNAVAILABLE_STATUS = {"500", "502", "503", "504", "520", "521", "522", "523", "524", "525", "526", "527", "530"}
_RETRY_STATUS = {"502", "503", "504"}  # a gateway's answers: the request did not reach the database
RETRY_WAITS = (0.1, 0.3)  # seconds before the second and third try of a read
_TOKEN_REFUSED = {"PGRST300", "PGRST301", "PGRST302", "PGRST303"}


def _refuse_public_key(key: str) -> None:
    """The dashboard runs with the server-side key; a publishable / anon key is a deployment mistake."""
    if key.startswith("sb_publishable_"):
        raise ConfigError("SUPABASE_KEY is a publishable key; the dashboard needs the server-side secret key.")
    parts = key.split(".")
    if len(parts) != 3:
        return
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return
    if isinstance(claims, dict) and claims.get("role") in ("anon", "authenticated"):
        raise ConfigError("SUPABASE_KEY is a public (anon) key; the dashboard needs the service role key.")


def _transient(err: Exception) -> bool:
    """A failure worth retrying a read for: the gateway or the network, not an answer from the database."""
    if isinstance(err, APIError):
        return str(err.code or "") in _RETRY_STATUS
    return isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | httpx.ReadTimeout | httpx.RemoteProtocolError
                      | httpx.ReadError | httpx.PoolTimeout)


def _unsent(err: Exception) -> bool:
    """The request never reached the server (so a write cannot have happened)."""
    return isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _ambiguous(err: Exception) -> bool:
    """A write whose outcome this failure does not tell: sent, but no answer from the database came
    back (a timeout, a dropped connection, a gateway error without PostgREST's error body)."""
    if isinstance(err, APIError):
        return str(err.code or "") in _UNAVAILABLE_STATUS  # a gateway's page (no SQLSTATE): the database may have run it
    return isinstance(err, httpx.TransportError) and not _unsent(err)


def _translate(err: Exception) -> StoreError:
    """A typed, secret-free error for anything supabase-py or httpx raised: the database's refusals
    keep their SQLSTATE, detail and hint (``Refused``) for the store to map, as the direct transport's."""
    if isinstance(err, APIError):
        code = str(err.code or "")
        if code.startswith(_UNAVAILABLE_PREFIXES) or code in _UNAVAILABLE_STATUS:
            return StoreUnavailable()
        if code in _TOKEN_REFUSED:
            return ConfigError("Supabase refused the dashboard's user token: SUPABASE_JWT_SECRET must be the "
                               "project's JWT secret. Nothing was changed.")
        if code == "401" or (not code and "api key" in str(err.message or "").lower()):
            return ConfigError("Supabase refused the server-side key (SUPABASE_KEY). Nothing was changed.")
        return Refused(code, err.details, err.hint)
    if isinstance(err, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigError("SUPABASE_URL is not a reachable http(s) URL.")
    if isinstance(err, httpx.TransportError):  # connect/read/write errors, timeouts, protocol errors
        return StoreUnavailable()
    return StoreError(UNREADABLE)


class RestStore(CallStore):
    """One supabase-py client per process; each request carries the user's token, minted here."""

    backend = "supabase"

    def __init__(self, url: str, key: str, *, jwt_secret: str, timeout: float = 15.0, export_timeout: float = 300.0,
                 exports: int = 2) -> None:
        super().__init__(export_timeout_s=export_timeout, exports=exports)
        if not url or not key:
            raise ConfigError("The Supabase backend needs both SUPABASE_URL and SUPABASE_KEY.")
        if not jwt_secret:
            raise ConfigError("The Supabase backend needs SUPABASE_JWT_SECRET (the project's JWT secret).")
        _refuse_public_key(key)
        self._secret = jwt_secret
        self._tokens: dict[str, tuple[str, float]] = {}  # user id -> (token, when to replace it)
        self._tokens_lock = threading.Lock()
        options = ClientOptions(
            postgrest_client_timeout=httpx.Timeout(float(timeout)),
            postgrest_client_retry=False,  # a request may take `timeout`, not several times that
            auto_refresh_token=False,
            persist_session=False,
        )
        try:
            self._client: Client = create_client(url, key, options=options)
        except SupabaseException as err:
            raise ConfigError("SUPABASE_URL is not a valid http(s) URL.") from err
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # postgrest-py's notice about `timeout`
            self._rest = self._client.postgrest  # made once, shared by every thread

    def __repr__(self) -> str:
        return "<RestStore supabase>"

    def close(self) -> None:
        self._rest.aclose()
        self._client.auth.close()

    def token(self, uid: str) -> str:
        """The user's token (sub, role and aud authenticated, 5 minutes), reused until a minute before it expires."""
        now = time.time()
        with self._tokens_lock:
            cached = self._tokens.get(uid)
            if cached is not None and cached[1] > now:
                return cached[0]
        issued = int(now)
        claims = {"sub": uid, "role": "authenticated", "aud": "authenticated", "iat": issued,
                  "exp": issued + TOKEN_SECONDS}
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        with self._tokens_lock:
            if len(self._tokens) >= TOKENS_KEPT:
                self._tokens.clear()
            self._tokens[uid] = (token, issued + TOKEN_SECONDS - TOKEN_SLACK)
        return token

    def call(self, uid: str | None, fn: str, params: dict[str, Any], *, read: bool, export: bool = False) -> Any:
        """One ``rpc`` request (POST).  Reads are tried up to three times, after 0.1 and 0.3 s, when the
        gateway or the network failed; writes once, and a write whose outcome is unknown (timeout, dropped
        connection, gateway error, unreadable answer) raises Unsettled for the store to settle."""
        waits = (*RETRY_WAITS, None) if read else (None,)
        for wait in waits:
            builder = self._rest.rpc(fn, params)
            if uid is not None:  # None: the server itself, with the client's service key
                builder.request.headers["Authorization"] = f"Bearer {self.token(uid)}"  # this request's copy only
            try:
                data = builder.execute().data
            except (APIError, httpx.HTTPError, httpx.InvalidURL) as err:
                if read and wait is not None and _transient(err):
                    time.sleep(wait)
                    continue
                if not read and _ambiguous(err):
                    raise Unsettled() from err
                raise _translate(err) from err
            if isinstance(data, str):  # not JSON (the functions never return a bare string)
                if read:
                    raise StoreError(UNREADABLE)
                raise Unsettled()
            return data
        raise AssertionError("unreachable")
