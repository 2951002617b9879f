"""lib.identity (tokens, redirects, credentials, throttle): every Clerk token rule with real RSA keys, the JWKS cache against a real local HTTP
server, the sign-in throttle with an injected clock, and the credentials file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bcrypt
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lib.errors import ConfigError
from lib.identity.credentials import dummy_password_check, ensure_credentials_file, is_bcrypt_hash, load_credentials
from lib.identity.redirects import TRIP_COOKIE, TRIP_SECONDS, own_origin, recent_trip, return_url, sign_in_redirect
from lib.identity.throttle import LoginThrottle, SignInThrottles, lockout_message
from lib.identity.tokens import AuthError, JwksCache, verify_clerk_token

ISSUER = "https://clerk.example.com"
ORIGIN = "https://app.example.com"


# -- keys and tokens ---------------------------------------------------------------------------


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="module")
def pem(key: rsa.RSAPrivateKey) -> str:
    return _public_pem(key)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "user_2abcDEF",
        "iat": now - 1,
        "nbf": now - 1,
        "exp": now + 60,
        "iss": ISSUER,
        "azp": ORIGIN,
        "sid": "sess_123",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def make_token(key: rsa.RSAPrivateKey, *, kid: str | None = "k1", alg: str = "RS256", **overrides: Any) -> str:
    headers = {"kid": kid} if kid else {}
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def verify(token: str, pem: str, **kwargs: Any) -> str:
    options: dict[str, Any] = {"jwt_key": pem, "issuer": ISSUER, "authorized_parties": (ORIGIN,)}
    options.update(kwargs)
    return verify_clerk_token(token, **options)


def reason_of(token: str, pem: str, **kwargs: Any) -> str:
    with pytest.raises(AuthError) as info:
        verify(token, pem, **kwargs)
    assert not token or token not in str(info.value)  # the error never carries the token
    return info.value.reason


# -- PEM (networkless) verification -----------------------------------------------------------


def test_valid_token_gives_the_user_id(key, pem):
    assert verify(make_token(key), pem) == "user_2abcDEF"


def test_pem_with_escaped_newlines_from_an_env_var(key, pem):
    assert verify(make_token(key), pem.replace("\n", "\\n")) == "user_2abcDEF"


def test_issuer_and_parties_are_optional(key, pem):
    token = make_token(key, iss="https://elsewhere.example", azp=...)
    assert verify_clerk_token(token, jwt_key=pem) == "user_2abcDEF"


def test_trailing_slashes_do_not_matter(key, pem):
    token = make_token(key, iss=ISSUER + "/")
    assert verify(token, pem, authorized_parties=[ORIGIN + "/", "https://other.example"]) == "user_2abcDEF"


def test_expired(key, pem):
    assert reason_of(make_token(key, exp=int(time.time()) - 30), pem) == "expired"


def test_leeway_accepts_a_token_that_just_expired(key, pem):
    token = make_token(key, exp=int(time.time()) - 2)
    assert verify(token, pem, leeway=5) == "user_2abcDEF"
    assert reason_of(token, pem, leeway=0) == "expired"


def test_not_yet_valid(key, pem):
    assert reason_of(make_token(key, nbf=int(time.time()) + 60), pem) == "not yet valid"


def test_issued_in_the_future_is_not_yet_valid(key, pem):
    assert reason_of(make_token(key, iat=int(time.time()) + 60), pem) == "not yet valid"


def test_leeway_accepts_a_slightly_early_nbf(key, pem):
    assert verify(make_token(key, nbf=int(time.time()) + 3), pem, leeway=5) == "user_2abcDEF"


def test_missing_expiry(key, pem):
    assert reason_of(make_token(key, exp=...), pem) == "missing expiry"


def test_wrong_issuer(key, pem):
    assert reason_of(make_token(key, iss="https://evil.example.com"), pem) == "wrong issuer"


def test_missing_issuer_when_one_is_required(key, pem):
    assert reason_of(make_token(key, iss=...), pem) == "wrong issuer"


def test_unauthorized_party(key, pem):
    assert reason_of(make_token(key, azp="https://evil.example.com"), pem) == "unauthorized party"


def test_missing_party_when_parties_are_set(key, pem):
    assert reason_of(make_token(key, azp=...), pem) == "unauthorized party"


@pytest.mark.parametrize("sub", [..., "", "   ", None, 123, ["user_1"]])
def test_missing_or_empty_subject(key, pem, sub):
    assert reason_of(make_token(key, sub=sub), pem) == "missing subject"


def test_tampered_payload(key, pem):
    header, _, signature = make_token(key).split(".")
    forged = _b64(json.dumps(claims(sub="user_someone_else")).encode())
    assert reason_of(f"{header}.{forged}.{signature}", pem) == "bad signature"


def test_tampered_signature(key, pem):
    token = make_token(key)
    flipped = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert reason_of(flipped, pem) == "bad signature"


def test_signed_with_another_key(other_key, pem):
    assert reason_of(make_token(other_key), pem) == "bad signature"


def test_alg_none_is_refused(pem):
    token = _unsigned({"alg": "none", "typ": "JWT"}, claims()) + "."
    assert reason_of(token, pem) == "unsupported algorithm"


def test_alg_none_with_a_real_signature_is_refused(key, pem):
    _, payload, signature = make_token(key).split(".")
    header = _b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    assert reason_of(f"{header}.{payload}.{signature}", pem) == "unsupported algorithm"


def test_hs256_signed_with_the_public_pem_is_refused(pem):
    """The classic key-confusion attack: HMAC with the (public) verification key as the secret."""
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT"}, claims())
    mac = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert reason_of(f"{signing_input}.{_b64(mac)}", pem) == "unsupported algorithm"


def test_hmac_signature_under_an_rs256_header_is_a_bad_signature(pem):
    signing_input = _unsigned({"alg": "RS256", "typ": "JWT"}, claims())
    mac = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert reason_of(f"{signing_input}.{_b64(mac)}", pem) == "bad signature"


@pytest.mark.parametrize("alg", ["RS512", "PS256"])
def test_other_rsa_algorithms_are_refused(key, pem, alg):
    assert reason_of(make_token(key, alg=alg), pem) == "unsupported algorithm"


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        ("", "no token"),
        ("   ", "no token"),
        (None, "no token"),
        ("not-a-token", "malformed"),
        ("a.b", "malformed"),
        ("a.b.c", "malformed"),
        ("a.b.c.d", "malformed"),
        ("....", "malformed"),
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "bad signature"),
        ("eyJhbGciOiJSUzI1NiJ9.not-base64!.sig", "malformed"),
        ("e30.e30.", "unsupported algorithm"),  # header "{}": no alg at all
        ("W10.e30.", "malformed"),  # header "[]": not an object
        ("x" * 20_000 + ".a.b", "malformed"),
        ("Bearer abc.def.ghi", "malformed"),
    ],
)
def test_garbage(pem, garbage, reason):
    assert reason_of(garbage, pem) == reason


def test_payload_that_is_not_an_object_is_malformed(key, pem):
    signing_input = f"{_b64(json.dumps({'alg': 'RS256'}).encode())}.{_b64(b'[1, 2]')}"
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), key)
    assert reason_of(f"{signing_input}.{_b64(signature)}", pem) == "malformed"


def test_no_key_configured(key):
    assert reason_of(make_token(key), None) == "verification not configured"


def test_a_bad_pem_is_a_configuration_problem(key):
    assert reason_of(make_token(key), "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----") == (
        "verification not configured"
    )


def test_error_text_is_only_the_reason(key, pem):
    token = make_token(key, exp=int(time.time()) - 60)
    with pytest.raises(AuthError) as info:
        verify(token, pem)
    assert str(info.value) == "expired"
    assert "user_2abcDEF" not in repr(info.value)


# -- JWKS ---------------------------------------------------------------------------------------


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    entry = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    entry.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return entry


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS document the test can change."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.requests = 0
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        # A fresh path per server: the process-wide key cache is keyed by URL.
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/{uuid.uuid4().hex}/.well-known/jwks.json"

    def serve(self, *keys: tuple[rsa.RSAPrivateKey, str], extra: list[dict[str, Any]] | None = None) -> None:
        self.document = {"keys": [*(extra or []), *(_jwk(k, kid) for k, kid in keys)]}

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def jwks_verify(token: str, server: JwksServer) -> str:
    return verify_clerk_token(token, jwks_url=server.url, issuer=ISSUER, authorized_parties=[ORIGIN])


def jwks_reason(token: str, server: JwksServer) -> str:
    with pytest.raises(AuthError) as info:
        jwks_verify(token, server)
    return info.value.reason


def test_jwks_valid_token_and_keys_are_cached(jwks_server, key):
    jwks_server.serve((key, "k1"))
    assert jwks_verify(make_token(key, kid="k1"), jwks_server) == "user_2abcDEF"
    assert jwks_verify(make_token(key, kid="k1", sub="user_other"), jwks_server) == "user_other"
    assert jwks_server.requests == 1


def test_jwks_key_rotation_refetches_once_and_finds_the_new_key(jwks_server, key, other_key):
    jwks_server.serve((key, "k1"))
    assert jwks_verify(make_token(key, kid="k1"), jwks_server) == "user_2abcDEF"
    assert jwks_server.requests == 1

    jwks_server.serve((other_key, "k2"))  # Clerk rotated its signing key
    assert jwks_verify(make_token(other_key, kid="k2"), jwks_server) == "user_2abcDEF"
    assert jwks_server.requests == 2  # one refetch for the unknown kid

    # Made-up kids right after do not turn into requests: the refetch is rate-limited.
    for kid in ("k3", "k4", "k5"):
        assert jwks_reason(make_token(other_key, kid=kid), jwks_server) == "unknown signing key"
    assert jwks_server.requests == 2


def test_jwks_unknown_kid_is_refused(jwks_server, key, other_key):
    jwks_server.serve((key, "k1"))
    assert jwks_reason(make_token(other_key, kid="nope"), jwks_server) == "unknown signing key"


def test_jwks_token_without_kid_is_refused_without_a_request(jwks_server, key):
    jwks_server.serve((key, "k1"))
    assert jwks_reason(make_token(key, kid=None), jwks_server) == "unknown signing key"
    assert jwks_server.requests == 0


def test_jwks_known_kid_but_another_key_is_a_bad_signature(jwks_server, key, other_key):
    jwks_server.serve((key, "k1"))
    assert jwks_reason(make_token(other_key, kid="k1"), jwks_server) == "bad signature"


def test_jwks_alg_none_and_hs256_never_cost_a_request(jwks_server, key, pem):
    jwks_server.serve((key, "k1"))
    none_token = _unsigned({"alg": "none", "kid": "k1"}, claims()) + "."
    signing_input = _unsigned({"alg": "HS256", "kid": "k1"}, claims())
    hs_token = f"{signing_input}.{_b64(hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest())}"
    assert jwks_reason(none_token, jwks_server) == "unsupported algorithm"
    assert jwks_reason(hs_token, jwks_server) == "unsupported algorithm"
    assert jwks_server.requests == 0


def test_jwks_expired_token_via_jwks(jwks_server, key):
    jwks_server.serve((key, "k1"))
    assert jwks_reason(make_token(key, exp=int(time.time()) - 60), jwks_server) == "expired"


def test_jwks_skips_keys_it_cannot_use(jwks_server, key):
    junk = [
        {"kty": "EC", "kid": "ec1", "crv": "P-256", "x": "x", "y": "y"},
        {"kty": "RSA", "kid": "enc", "use": "enc", **RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        "not a key",
    ]
    jwks_server.serve((key, "k1"), extra=junk)
    assert jwks_verify(make_token(key, kid="k1"), jwks_server) == "user_2abcDEF"
    assert jwks_reason(make_token(key, kid="enc"), jwks_server) == "unknown signing key"


def test_jwks_endpoint_down(jwks_server, key):
    jwks_server.status = 503
    assert jwks_reason(make_token(key, kid="k1"), jwks_server) == "signing keys unavailable"
    assert jwks_reason(make_token(key, kid="k1"), jwks_server) == "signing keys unavailable"
    assert jwks_server.requests == 1  # a failing endpoint is not hammered


def test_jwks_url_must_be_https_or_loopback(key):
    token = make_token(key, kid="k1")
    with pytest.raises(AuthError) as info:
        verify_clerk_token(token, jwks_url="http://clerk.example.com/.well-known/jwks.json")
    assert info.value.reason == "verification not configured"


def same_key(found: object, private: rsa.RSAPrivateKey) -> bool:
    """Whether the cache handed out the public half of ``private`` (not merely some key)."""
    return found.public_numbers() == private.public_key().public_numbers()  # type: ignore[attr-defined]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jwks_cache_refetch_interval_and_ttl(jwks_server, key, other_key):
    clock = FakeClock()
    cache = JwksCache(jwks_server.url, ttl=300, refetch_interval=30, clock=clock)
    jwks_server.serve((key, "k1"))
    assert same_key(cache.key("k1"), key)
    assert jwks_server.requests == 1

    with pytest.raises(AuthError):
        cache.key("k2")  # unknown: one refetch
    assert jwks_server.requests == 2
    jwks_server.serve((key, "k1"), (other_key, "k2"))
    with pytest.raises(AuthError):
        cache.key("k2")  # within the interval: no request, even though the server has it now
    assert jwks_server.requests == 2

    clock.now += 31
    assert same_key(cache.key("k2"), other_key)  # interval passed: refetched and found
    assert jwks_server.requests == 3

    cache.key("k1")
    assert jwks_server.requests == 3
    clock.now += 301  # ttl passed: the next lookup refreshes
    cache.key("k1")
    assert jwks_server.requests == 4


def test_jwks_cache_keeps_known_keys_when_the_endpoint_fails(jwks_server, key):
    clock = FakeClock()
    cache = JwksCache(jwks_server.url, ttl=60, refetch_interval=30, clock=clock)
    jwks_server.serve((key, "k1"))
    assert same_key(cache.key("k1"), key)
    jwks_server.status = 500
    clock.now += 120
    assert same_key(cache.key("k1"), key)  # stale but known beats refusing everybody
    assert jwks_server.requests == 2
    clock.now += 5
    assert same_key(cache.key("k1"), key)
    assert jwks_server.requests == 2  # the failure backs off


# -- sign-in throttle ---------------------------------------------------------------------------


def test_throttle_allows_max_attempts_then_waits():
    clock = FakeClock()
    throttle = LoginThrottle(max_attempts=3, lockout_seconds=60, clock=clock)
    assert throttle.wait_seconds() == 0
    assert throttle.record_failure() == 0
    assert throttle.record_failure() == 0
    assert throttle.attempts_left == 1
    assert throttle.record_failure() == 60  # the third failure starts the wait
    clock.now += 20.5
    assert throttle.wait_seconds() == 40  # rounded up: never "0 seconds" while still locked
    assert throttle.record_failure() == 40  # failing while locked does not extend the wait
    clock.now += 40
    assert throttle.wait_seconds() == 0
    assert throttle.attempts_left == 3  # a fresh set of attempts after the wait


def test_throttle_success_resets():
    clock = FakeClock()
    throttle = LoginThrottle(max_attempts=3, lockout_seconds=60, clock=clock)
    throttle.record_failure()
    throttle.record_failure()
    throttle.record_success()
    assert throttle.record_failure() == 0
    assert throttle.attempts_left == 2


def test_throttle_with_a_nonsense_maximum_still_limits():
    throttle = LoginThrottle(max_attempts=0, lockout_seconds=10, clock=FakeClock())
    assert throttle.record_failure() == 10


def test_lockout_message():
    assert lockout_message(60) == "Too many failed sign-in attempts. Try again in 60 seconds."
    assert lockout_message(1) == "Too many failed sign-in attempts. Try again in 1 second."


# -- credentials file ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("creds") / "nested" / ".streamlit" / "credentials.yaml"
    assert ensure_credentials_file(path) is True
    return path


def test_demo_file_is_created_with_bcrypt_hashes(demo_file):
    document = yaml.safe_load(demo_file.read_text())
    users = document["credentials"]["usernames"]
    assert document["demo"] is True
    assert set(users) == {"alice", "bob", "carol"}
    for username, entry in users.items():
        assert entry["user_id"] == f"user_demo_{username}"
        assert entry["password"].startswith("$2b$")
        assert is_bcrypt_hash(entry["password"])
        assert bcrypt.checkpw(b"demo", entry["password"].encode())
    assert len({entry["password"] for entry in users.values()}) == 3  # salted: no two hashes alike


def test_demo_file_holds_no_plain_password(demo_file):
    text = demo_file.read_text()
    for line in text.splitlines():
        if "password" in line and not line.lstrip().startswith("#"):
            assert line.split(":", 1)[1].strip().startswith("$2b$"), line


def test_demo_file_is_private(demo_file):
    if os.name == "posix":
        assert stat.S_IMODE(demo_file.stat().st_mode) == 0o600


def test_existing_file_is_not_overwritten(demo_file):
    before = demo_file.read_bytes()
    assert ensure_credentials_file(demo_file) is False
    assert demo_file.read_bytes() == before


def test_accounts_map_to_user_ids(demo_file):
    credentials = load_credentials(demo_file)
    assert credentials.demo is True
    assert credentials.user_id_for("alice") == "user_demo_alice"
    assert credentials.user_id_for(" Bob ") == "user_demo_bob"
    assert credentials.user_id_for("carol") == "user_demo_carol"
    assert credentials.user_id_for("mallory") is None
    assert credentials.user_id_for(None) is None
    assert credentials.account("alice").name == "Alice"
    assert "$2b$" not in repr(credentials.account("alice"))


def test_authenticator_dict_is_a_fresh_copy(demo_file):
    credentials = load_credentials(demo_file)
    first = credentials.for_authenticator()
    first["usernames"]["alice"]["failed_login_attempts"] = 9
    first["usernames"].pop("bob")
    second = credentials.for_authenticator()
    assert "failed_login_attempts" not in second["usernames"]["alice"]
    assert set(second["usernames"]) == {"alice", "bob", "carol"}
    assert all(is_bcrypt_hash(u["password"]) for u in second["usernames"].values())


def _write(path: Path, users: dict[str, Any], demo: bool = False) -> Path:
    path.write_text(yaml.safe_dump({"demo": demo, "credentials": {"usernames": users}}))
    return path


HASH = "$2b$04$" + "a" * 53


def test_plain_password_is_refused_without_showing_it(tmp_path):
    path = _write(tmp_path / "c.yaml", {"dave": {"name": "Dave", "password": "hunter2", "user_id": "user_dave"}})
    with pytest.raises(ConfigError) as info:
        load_credentials(path)
    assert "dave" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "users",
    [
        {"dave": {"name": "Dave", "password": HASH}},
        {"dave": {"name": "Dave", "password": HASH, "user_id": " "}},
        {"dave": {"password": HASH, "user_id": "u1"}, "erin": {"password": HASH, "user_id": "u1"}},
        {"dave": "not a mapping"},
        {},
    ],
)
def test_bad_credentials_files(tmp_path, users):
    with pytest.raises(ConfigError):
        load_credentials(_write(tmp_path / "c.yaml", users))


def test_not_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("credentials: [unclosed")
    with pytest.raises(ConfigError):
        load_credentials(path)


def test_missing_file_without_demo_creation(tmp_path):
    with pytest.raises(ConfigError):
        load_credentials(tmp_path / "absent.yaml", create_demo=False)
    assert not (tmp_path / "absent.yaml").exists()


def test_file_changes_are_picked_up(tmp_path):
    path = _write(tmp_path / "c.yaml", {"dave": {"name": "Dave", "password": HASH, "user_id": "user_dave"}})
    assert load_credentials(path).user_id_for("dave") == "user_dave"
    assert load_credentials(path).demo is False
    _write(
        path,
        {
            "dave": {"name": "Dave", "password": HASH, "user_id": "user_dave_2"},
            "erin": {"password": HASH, "user_id": "user_erin"},
        },
    )
    reloaded = load_credentials(path)
    assert reloaded.user_id_for("dave") == "user_dave_2"
    assert reloaded.account("erin").name == "erin"  # the username when no name is given


def test_dummy_check_takes_a_real_bcrypt_check():
    started = time.perf_counter()
    dummy_password_check("whatever")
    dummy_password_check("")
    assert time.perf_counter() - started > 0.01


# -- the sign-in round trip ------------------------------------------------------------------------

DASH = "https://app.example.com"


@pytest.mark.parametrize(("headers", "page", "origin"), [
    ({"Origin": "https://app.example.com"}, "https://app.example.com/dashboard/stats", DASH),
    ({"origin": "http://127.0.0.1:8501"}, "http://127.0.0.1:8501/", "http://127.0.0.1:8501"),
    ({"Host": "app.example.com"}, "https://app.example.com/x", DASH),  # no Origin: Host and the page's scheme
    ({"Origin": "null"}, "https://app.example.com/", None),
    ({"Origin": "https://app.example.com/path"}, "https://app.example.com/", None),
    ({}, "https://app.example.com/", None),
])
def test_own_origin(headers, page, origin):
    assert own_origin(headers, page) == origin


def test_return_url_is_the_exact_page_and_query_on_the_own_origin():
    query = [("period", "7d"), ("language", "english"), ("language", "russian"), ("q", "a b&c")]
    assert return_url(f"{DASH}/dashboard/tests", query, DASH) == (
        f"{DASH}/dashboard/tests?period=7d&language=english&language=russian&q=a+b%26c")
    assert return_url(DASH, [], DASH) == DASH + "/"


@pytest.mark.parametrize("page", [
    "https://evil.example.com/stats",  # another host
    "http://app.example.com/stats",  # another scheme
    "https://app.example.com:8443/stats",  # another port
    "https://user:pw@app.example.com/stats",  # credentials
    "javascript:alert(1)//app.example.com",
    "//app.example.com/stats",  # scheme-relative
    "https://app.example.com\\@evil.example.com/",
    "https://app.example.com:99999/",
    "",
    None,
])
def test_return_url_refuses_anything_off_the_own_origin(page):
    assert return_url(page, [], DASH) is None


def test_sign_in_redirect_sets_redirect_url_and_keeps_other_parameters():
    back = f"{DASH}/dashboard/intents?search=hi&tag=a&tag=b"
    url = sign_in_redirect("https://app.example.com/sign-in?lang=en&redirect_url=https://evil.example.com", back)
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example.com", "/sign-in")
    assert urllib.parse.parse_qs(parts.query) == {"lang": ["en"], "redirect_url": [back]}
    assert sign_in_redirect("https://app.example.com/sign-in", None) == "https://app.example.com/sign-in"


def test_a_recent_trip_is_not_repeated():
    now = 1_800_000_000.0
    assert recent_trip({TRIP_COOKIE: str(int(now - 10))}, now)
    assert not recent_trip({TRIP_COOKIE: str(int(now - TRIP_SECONDS - 1))}, now)
    assert not recent_trip({TRIP_COOKIE: "soon"}, now)
    assert not recent_trip({}, now)


def test_process_wide_throttle_is_per_username_and_client_address():
    now = [1000.0]
    throttles = SignInThrottles(clock=lambda: now[0])
    limits = {"max_attempts": 2, "lockout_seconds": 60}

    def failed(username: str, client: str) -> int:
        """One sign-in attempt as local_signin makes it: counted first, then its password was wrong."""
        assert throttles.reserve(username, client, **limits) == 0
        return throttles.record_failure(username, client, **limits)

    assert failed("Alice", "10.0.0.1") == 0
    assert failed("alice ", "10.0.0.1") == 60  # same account, case and spaces aside
    assert throttles.wait_seconds("alice", "10.0.0.1") == 60
    assert throttles.reserve("alice", "10.0.0.1", **limits) == 60  # refused unchecked while waiting
    assert throttles.wait_seconds("alice", "10.0.0.2") == 0  # another address
    assert throttles.wait_seconds("bob", "10.0.0.1") == 0  # another account
    now[0] += 59.5
    assert throttles.wait_seconds("alice", "10.0.0.1") == 1  # counts down, never "0 seconds" while locked
    now[0] += 1
    assert throttles.wait_seconds("alice", "10.0.0.1") == 0
    failed("bob", "10.0.0.1")
    throttles.record_success("bob", "10.0.0.1")
    assert failed("bob", "10.0.0.1") == 0  # success started a fresh count


def test_attempts_are_counted_before_they_are_checked():
    """Reserve-then-verify: of many attempts made at once, only max_attempts may be checked."""
    throttles = SignInThrottles(clock=lambda: 1000.0)
    granted = [throttles.reserve("bob", "10.0.0.1", max_attempts=5, lockout_seconds=60) == 0 for _ in range(20)]
    assert granted == [True] * 5 + [False] * 15


def test_one_address_trying_many_usernames_is_stopped_too():
    throttles = SignInThrottles(clock=lambda: 1000.0)
    granted = [throttles.reserve(f"user{n}", "10.0.0.1", max_attempts=2, lockout_seconds=60) == 0 for n in range(12)]
    assert granted == [True] * 8 + [False] * 4  # 4 x max_attempts per address, whatever the username


def test_process_wide_throttle_stays_bounded():
    throttles = SignInThrottles(max_entries=100)
    for n in range(1000):
        throttles.reserve(f"user{n}", f"10.0.{n // 250}.{n % 250}", max_attempts=5, lockout_seconds=60)
    assert len(throttles._entries) <= 100
