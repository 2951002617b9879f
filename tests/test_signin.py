"""lib.identity (signin, clerk_signin, local_signin) through the real entry script (AppTest): local sign-in, failures, the throttle,
sign-out, query parameters, and Clerk mode with the request's cookies/headers patched in
(AppTest cannot seed st.context.cookies or headers).

The screens in pages/ are not under test here: after sign-in the default page may fail to
render, so these tests assert on the session state, the sign-in screen and the sidebar only.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from streamlit.runtime.context import StreamlitHeaders
from streamlit.testing.v1 import AppTest

from lib.config import setting_names
from lib.identity import clerk_signin, credentials, session, throttle, tokens
from lib.store import queries

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
ISSUER = "https://clerk.example.com"
ORIGIN = "https://app.example.com"
SIGN_IN_URL = "https://app.example.com/sign-in"


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated demo file, made once (bcrypt is slow on purpose) and copied per test."""
    path = tmp_path_factory.mktemp("demo") / "credentials.yaml"
    credentials.ensure_credentials_file(path)
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_clean: str) -> Iterator[dict[str, str]]:
    """A clean environment for the app: nothing from the developer's shell, nothing in the repo; the
    suite's (emptied) PostgreSQL."""
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    values = {
        "DATABASE_URL": pg_clean,
        "AUTH_CREDENTIALS_PATH": str(tmp_path / "credentials.yaml"),
        "AUTH_MAX_ATTEMPTS": "3",
        "AUTH_LOCKOUT_SECONDS": "60",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    queries.settings.clear()
    throttle.THROTTLES.reset()  # process-wide: each test starts with no failed sign-ins
    yield values
    queries.settings.clear()
    throttle.THROTTLES.reset()


@pytest.fixture
def local_env(env: dict[str, str], demo_credentials: Path) -> dict[str, str]:
    shutil.copy(demo_credentials, env["AUTH_CREDENTIALS_PATH"])
    return env


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    return at


def texts(elements: Any) -> list[str]:
    return [str(e.value) for e in elements]


def main_texts(at: AppTest) -> list[str]:
    main = at.main
    return texts(main.markdown) + texts(main.caption) + texts(main.error) + texts(main.warning)


def sidebar_texts(at: AppTest) -> list[str]:
    return texts(at.sidebar.markdown) + texts(at.sidebar.caption)


def text_input(at: AppTest, label: str) -> Any:
    return next(t for t in at.text_input if t.label == label)


def button(at: AppTest, label: str, *, sidebar: bool = False) -> Any:
    where = at.sidebar if sidebar else at.main
    return next(b for b in where.button if b.label == label)


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    text_input(at, "Username").input(username)
    text_input(at, "Password").input(password)
    button(at, "Sign in").click()
    return at.run()


def shows_sign_in_form(at: AppTest) -> bool:
    return [t.label for t in at.text_input] == ["Username", "Password"]


def signed_out(at: AppTest) -> bool:
    return "user_id" not in at.session_state and not any(b.label == "Sign out" for b in at.sidebar.button)


# -- local mode ----------------------------------------------------------------------------------


def test_first_run_shows_only_the_sign_in_screen(local_env):
    at = run_app()
    assert not at.exception
    assert signed_out(at)
    assert shows_sign_in_form(at)
    assert any("Voice Assistant Dashboard" in t for t in main_texts(at))
    assert "Demo accounts: alice, bob, carol — password demo" in texts(at.caption)


def test_demo_file_is_generated_on_first_run(env):
    path = Path(env["AUTH_CREDENTIALS_PATH"])
    assert not path.exists()
    at = run_app()
    assert path.exists()
    assert "password: demo" not in path.read_text()
    sign_in(at, "carol", "demo")
    assert at.session_state["user_id"] == "user_demo_carol"


def test_sign_in_success(local_env):
    at = sign_in(run_app(), "alice", "demo")
    assert at.session_state["user_id"] == "user_demo_alice"
    assert "**Alice**" in sidebar_texts(at)
    assert "Signed in as" in sidebar_texts(at)
    assert button(at, "Sign out", sidebar=True)
    assert not shows_sign_in_form(at)
    at.run()  # stays signed in on the next run
    assert at.session_state["user_id"] == "user_demo_alice"


def test_username_is_case_insensitive(local_env):
    at = sign_in(run_app(), "Bob", "demo")
    assert at.session_state["user_id"] == "user_demo_bob"
    assert "**Bob**" in sidebar_texts(at)


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("mallory", "demo"), ("alice", "Demo")])
def test_sign_in_failure_says_only_wrong_username_or_password(local_env, username, password):
    at = sign_in(run_app(), username, password)
    assert texts(at.error) == ["wrong username or password"]
    assert signed_out(at)
    assert shows_sign_in_form(at)


def test_rate_limit_after_max_attempts(local_env):
    at = run_app()
    for _ in range(2):
        sign_in(at, "alice", "nope")
        assert texts(at.error) == ["wrong username or password"]
    sign_in(at, "alice", "nope")  # the third failure (AUTH_MAX_ATTEMPTS=3)
    assert texts(at.error) == ["Too many failed sign-in attempts. Try again in 60 seconds."]
    assert shows_sign_in_form(at)  # the form stays, under the countdown (issue 20, item 12)
    assert not any(b.label == "Try again" for b in at.button)  # no button that does nothing
    assert signed_out(at)
    sign_in(at, "alice", "demo")  # refused while waiting: not even the right password is checked
    assert texts(at.error)[0].startswith("Too many failed sign-in attempts. Try again in")
    assert "wrong username or password" not in texts(at.error)
    assert shows_sign_in_form(at) and signed_out(at)


def test_sign_in_works_again_after_the_wait(local_env, monkeypatch):
    monkeypatch.setenv("AUTH_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AUTH_LOCKOUT_SECONDS", "1")
    queries.settings.clear()
    at = run_app()
    sign_in(at, "alice", "nope")
    sign_in(at, "alice", "nope")
    assert texts(at.error) == ["Too many failed sign-in attempts. Try again in 1 second."]
    assert shows_sign_in_form(at)
    time.sleep(1.1)
    at.run()  # the countdown's own rerun, once the wait is over
    assert not texts(at.error) and shows_sign_in_form(at)
    sign_in(at, "alice", "demo")
    assert at.session_state["user_id"] == "user_demo_alice"


def test_sign_out_clears_the_user_and_their_state(local_env):
    at = sign_in(run_app(), "alice", "demo")
    at.session_state["stats_filters"] = {"assistant": "a1"}  # what a page keeps for its user
    button(at, "Sign out", sidebar=True).click()
    at.run()
    assert signed_out(at)
    assert shows_sign_in_form(at)
    assert "stats_filters" not in at.session_state
    at.run()  # the re-login cookie must not sign the session back in
    assert signed_out(at)
    sign_in(at, "bob", "demo")
    assert at.session_state["user_id"] == "user_demo_bob"
    assert "**Bob**" in sidebar_texts(at)


def test_failed_attempts_survive_sign_out(local_env):
    at = run_app()
    sign_in(at, "alice", "nope")
    sign_in(at, "alice", "nope")
    at.session_state["user_id"] = "user_demo_alice"  # a forged id is dropped, not honoured
    at.run()
    assert signed_out(at)
    sign_in(at, "alice", "nope")
    assert texts(at.error) == ["Too many failed sign-in attempts. Try again in 60 seconds."]


def test_a_new_session_does_not_start_a_fresh_count(local_env):
    """A reload or a new tab is a new session: the failed sign-ins are the process's, per username
    and client address, so the lockout is still there and not even the right password is checked."""
    first = run_app()
    for _ in range(3):
        sign_in(first, "alice", "nope")
    assert texts(first.error) == ["Too many failed sign-in attempts. Try again in 60 seconds."]
    reloaded = run_app()
    assert shows_sign_in_form(reloaded)  # other accounts may still sign in from here
    sign_in(reloaded, "alice", "demo")
    # the database's clock has moved on meanwhile (a password check takes a while): 60 or 59 seconds
    assert texts(reloaded.error)[0].startswith("Too many failed sign-in attempts. Try again in ")
    assert shows_sign_in_form(reloaded)
    assert signed_out(reloaded)


def test_the_count_is_per_username(local_env):
    at = run_app()
    sign_in(at, "alice", "nope")
    sign_in(at, "alice", "nope")
    sign_in(at, "bob", "nope")  # bob's first failure: alice's two do not lock him out
    assert texts(at.error) == ["wrong username or password"]
    sign_in(at, "alice", "demo")
    assert at.session_state["user_id"] == "user_demo_alice"


def test_the_lockout_ends_for_every_session(local_env, monkeypatch):
    monkeypatch.setenv("AUTH_LOCKOUT_SECONDS", "4")  # long enough for a second tab to start on a busy machine
    queries.settings.clear()
    at = run_app()
    for _ in range(3):
        sign_in(at, "alice", "nope")
    other = run_app()  # another tab
    sign_in(other, "alice", "demo")
    assert texts(other.error)[0].startswith("Too many failed sign-in attempts")
    time.sleep(4.1)
    other.run()
    sign_in(other, "alice", "demo")
    assert other.session_state["user_id"] == "user_demo_alice"


@pytest.mark.parametrize(("username", "password", "message"), [
    ("", "", "Enter your username and password to sign in."),
    ("alice", "", "Enter your password to sign in."),
    ("   ", "demo", "Enter your username and password to sign in."),
])
def test_an_empty_form_says_what_is_missing(local_env, username, password, message):
    at = sign_in(run_app(), username, password)
    assert texts(at.warning) == [message]
    assert not at.error  # not counted as a failed sign-in
    assert shows_sign_in_form(at) and signed_out(at)


def test_query_parameter_does_not_choose_the_user(local_env):
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["user_id"] = "user_demo_bob"
    at.run()
    assert signed_out(at)  # no access at all when signed out
    assert shows_sign_in_form(at)

    sign_in(at, "alice", "demo")
    assert at.session_state["user_id"] == "user_demo_alice"
    at.query_params["user_id"] = "user_demo_bob"
    at.query_params["username"] = "bob"
    at.run()
    assert at.session_state["user_id"] == "user_demo_alice"
    assert "**Alice**" in sidebar_texts(at)


def test_session_state_user_id_is_reasserted_every_run(local_env):
    at = sign_in(run_app(), "alice", "demo")
    at.session_state["user_id"] = "user_demo_bob"  # e.g. a widget keyed "user_id" on some page
    at.session_state["username"] = "bob"  # streamlit-authenticator's key does not decide either
    at.run()
    assert at.session_state["user_id"] == "user_demo_alice"


def test_account_removed_from_the_file_is_signed_out(local_env):
    at = sign_in(run_app(), "alice", "demo")
    path = Path(local_env["AUTH_CREDENTIALS_PATH"])
    document = yaml.safe_load(path.read_text())
    del document["credentials"]["usernames"]["alice"]
    path.write_text(yaml.safe_dump(document))
    at.run()
    assert signed_out(at)


def test_broken_credentials_file_shows_what_to_fix(env):
    path = Path(env["AUTH_CREDENTIALS_PATH"])
    users = {"dave": {"name": "Dave", "password": "hunter2", "user_id": "user_dave"}}
    path.write_text(yaml.safe_dump({"credentials": {"usernames": users}}))
    at = run_app()
    assert signed_out(at)
    assert any("dave" in e and "bcrypt" in e for e in texts(at.error))
    assert not any("hunter2" in t for t in main_texts(at))


# -- clerk mode: reading the token ----------------------------------------------------------------


def test_token_from_the_bearer_header():
    headers = StreamlitHeaders([("authorization", "Bearer abc.def.ghi")])
    assert clerk_signin.token_from_request({}, headers) == "abc.def.ghi"
    assert clerk_signin.token_from_request({}, {"AUTHORIZATION": "bearer  abc.def.ghi "}) == "abc.def.ghi"


def test_token_from_a_custom_header():
    headers = {"X-Clerk-Session": "Bearer from.proxy.header", "Authorization": "Bearer other.one.x"}
    assert clerk_signin.token_from_request({}, headers, "x-clerk-session") == "from.proxy.header"


def test_token_from_the_session_cookie():
    assert clerk_signin.token_from_request({"__session": "c.o.okie"}, {}) == "c.o.okie"


def test_header_wins_over_cookie():
    assert clerk_signin.token_from_request({"__session": "c.o.okie"}, {"Authorization": "Bearer h.e.ader"}) == "h.e.ader"


def test_non_bearer_header_falls_back_to_the_cookie():
    assert clerk_signin.token_from_request({"__session": "c.o.okie"}, {"Authorization": "Basic dXNlcjpwdw=="}) == "c.o.okie"


@pytest.mark.parametrize(
    ("cookies", "headers"),
    [({}, {}), ({"__session": "  "}, {"Authorization": "Bearer "}), ({"__client": "x.y.z"}, {"Cookie": "a=b"})],
)
def test_no_token(cookies, headers):
    assert clerk_signin.token_from_request(cookies, headers) is None


# -- clerk mode through the app ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def clerk_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clerk_env(env, monkeypatch, clerk_key) -> dict[str, str]:
    pem = (
        clerk_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    values = {
        "AUTH_MODE": "clerk",
        "CLERK_JWT_KEY": pem,
        "CLERK_ISSUER": ISSUER,
        "CLERK_AUTHORIZED_PARTIES": f"{ORIGIN}, http://localhost:3000",
        "CLERK_SIGN_IN_URL": SIGN_IN_URL,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    queries.settings.clear()
    return {**env, **values}


def clerk_token(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "user_2clerkXYZ", "iat": now, "nbf": now, "exp": now + 60, "iss": ISSUER, "azp": ORIGIN}
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "ins_1"})


class Request:
    """Stands in for st.context's cookies and headers, and counts how often they are read."""

    def __init__(self, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
        self.cookies = cookies or {}
        self.headers = headers or {}
        self.reads = 0

    def __call__(self) -> tuple[dict[str, str], dict[str, str]]:
        self.reads += 1
        return self.cookies, self.headers


def test_clerk_valid_cookie_signs_in(clerk_env, clerk_key, monkeypatch):
    request = Request(cookies={"__session": clerk_token(clerk_key)})
    monkeypatch.setattr(clerk_signin, "_request_context", request)
    at = run_app()
    assert at.session_state["user_id"] == "user_2clerkXYZ"
    assert "**user\\_2clerkXYZ**" in sidebar_texts(at)
    assert not shows_sign_in_form(at)


def test_clerk_valid_header_signs_in_with_a_name_claim(clerk_env, clerk_key, monkeypatch):
    token = clerk_token(clerk_key, name="Dana", azp="http://localhost:3000")
    monkeypatch.setattr(clerk_signin, "_request_context", Request(headers={"Authorization": f"Bearer {token}"}))
    at = run_app()
    assert at.session_state["user_id"] == "user_2clerkXYZ"
    assert "**Dana**" in sidebar_texts(at)


def test_clerk_verifies_once_per_session(clerk_env, clerk_key, monkeypatch):
    request = Request(cookies={"__session": clerk_token(clerk_key)})
    monkeypatch.setattr(clerk_signin, "_request_context", request)
    at = run_app()
    request.cookies = {"__session": "garbage"}  # tokens expire in 60 s; the session keeps the id
    at.run()
    at.run()
    assert at.session_state["user_id"] == "user_2clerkXYZ"
    assert request.reads == 1


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda key: clerk_token(key, exp=int(time.time()) - 120), "expired"),
        (lambda key: clerk_token(key, nbf=int(time.time()) + 120), "not yet valid"),
        (lambda key: clerk_token(key, iss="https://evil.example.com"), "wrong issuer"),
        (lambda key: clerk_token(key, azp="https://evil.example.com"), "unauthorized party"),
        (lambda key: clerk_token(key, sub=""), "missing subject"),
        (lambda key: clerk_token(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "bad signature"),
        (lambda key: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyX3gifQ.", "unsupported algorithm"),
        (lambda key: "definitely-not-a-jwt", "malformed"),
        (lambda key: None, "no token"),
    ],
)
def test_clerk_bad_token_shows_the_sign_in_screen_with_the_reason(clerk_env, clerk_key, monkeypatch, make, reason):
    token = make(clerk_key)
    monkeypatch.setattr(clerk_signin, "_request_context", Request(cookies={"__session": token} if token else {}))
    at = run_app()
    assert not at.exception
    assert signed_out(at)
    shown = main_texts(at)
    assert f"Reason: {reason}" in shown
    assert any(f"]({SIGN_IN_URL})" in t and t.startswith("Sign in through") for t in shown)
    assert not at.text_input and not at.dataframe  # no form, no data
    if token:
        assert not any(token in t for t in shown + sidebar_texts(at))


def test_clerk_query_parameter_gives_no_access(clerk_env, monkeypatch):
    monkeypatch.setattr(clerk_signin, "_request_context", Request())
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["user_id"] = "user_demo_bob"
    at.session_state["user_id"] = "user_demo_bob"
    at.run()
    assert signed_out(at)
    assert "Reason: no token" in main_texts(at)


def test_clerk_sign_out(clerk_env, clerk_key, monkeypatch):
    request = Request(cookies={"__session": clerk_token(clerk_key)})
    monkeypatch.setattr(clerk_signin, "_request_context", request)
    at = run_app()
    assert at.session_state["user_id"] == "user_2clerkXYZ"
    button(at, "Sign out", sidebar=True).click()
    at.run()
    assert signed_out(at)
    assert "Reason: signed out" in main_texts(at)
    at.run()  # the token is still in the (frozen) request, but this session does not reuse it
    assert signed_out(at)
    assert request.reads == 1


def test_clerk_identity_ends_with_the_token_and_is_verified_again(clerk_env, clerk_key, monkeypatch):
    """Past the token's exp the session is checked again; the frozen request's token has expired by
    then and no browser answers with a fresh cookie (here: none to wait for), so the user is signed out
    (in a browser: sent on the round trip) and their state forgotten."""
    monkeypatch.setenv("CLERK_LEEWAY_SECONDS", "0")
    monkeypatch.setattr(clerk_signin, "REVERIFY_SECONDS", 0.0)
    queries.settings.clear()
    request = Request(cookies={"__session": clerk_token(clerk_key, exp=int(time.time()) + 2)})
    monkeypatch.setattr(clerk_signin, "_request_context", request)
    at = run_app()
    assert at.session_state["user_id"] == "user_2clerkXYZ"
    at.session_state["stats_filters"] = {"assistant": "a1"}  # what a page keeps for its user
    at.run()
    assert at.session_state["user_id"] == "user_2clerkXYZ" and request.reads == 1  # still within exp
    time.sleep(max(0.0, at.session_state[session.IDENTITY_KEY].expires_at - time.time()) + 0.2)
    at.run()
    assert signed_out(at)
    assert "Reason: expired" in main_texts(at)
    assert "stats_filters" not in at.session_state
    assert request.reads == 2  # verified again, from the request


def test_clerk_a_fresh_token_past_expiry_keeps_the_session(clerk_env, clerk_key, monkeypatch):
    monkeypatch.setenv("CLERK_LEEWAY_SECONDS", "0")
    queries.settings.clear()
    request = Request(cookies={"__session": clerk_token(clerk_key, exp=int(time.time()) + 1)})
    monkeypatch.setattr(clerk_signin, "_request_context", request)
    at = run_app()
    first = at.session_state[session.IDENTITY_KEY].expires_at
    request.cookies = {"__session": clerk_token(clerk_key, exp=int(time.time()) + 60)}  # e.g. a proxy's header
    time.sleep(max(0.0, first - time.time()) + 0.2)
    at.run()
    assert at.session_state["user_id"] == "user_2clerkXYZ"
    assert at.session_state[session.IDENTITY_KEY].expires_at > first


# -- past expiry: the browser's current cookie, read without a reload --------------------------------

IDENTITY = session.Identity(user_id="user_2clerkXYZ", name="Dana", expires_at=1.0)


@pytest.mark.parametrize(
    ("answer", "waited", "decision"),
    [
        (session.Identity(user_id="user_2clerkXYZ", name="Dana", expires_at=99.0), 0.5, clerk_signin.RENEW),
        (session.Identity(user_id="user_2clerkXYZ", name="Dana", expires_at=99.0), 60.0, clerk_signin.RENEW),  # late, valid
        (session.Identity(user_id="user_2other", name="Eve", expires_at=99.0), 0.5, clerk_signin.OTHER_USER),
        (None, 0.0, clerk_signin.WAIT),
        (None, 9.9, clerk_signin.WAIT),
        (None, 10.0, clerk_signin.ROUND_TRIP),
        (tokens.EXPIRED, 0.5, clerk_signin.ROUND_TRIP),
        (tokens.NO_TOKEN, 0.5, clerk_signin.ROUND_TRIP),
        (tokens.BAD_SIGNATURE, 0.5, clerk_signin.ROUND_TRIP),
        (tokens.WRONG_ISSUER, 0.5, clerk_signin.ROUND_TRIP),
    ],
)
def test_reverify_decision(answer, waited, decision):
    assert clerk_signin.reverify_decision(IDENTITY.user_id, answer, waited, bound=10.0) == decision


def test_the_wait_for_the_browser_is_bounded_by_default():
    assert 0 < clerk_signin.REVERIFY_SECONDS <= 15
    assert clerk_signin.reverify_decision("u", None, clerk_signin.REVERIFY_SECONDS) == clerk_signin.ROUND_TRIP


def expire_now(at: AppTest) -> None:
    time.sleep(max(0.0, at.session_state[session.IDENTITY_KEY].expires_at - time.time()) + 0.2)


def browser_says(at: AppTest, cookies: dict[str, str]) -> None:
    """What the cookie component reports (AppTest runs no component frontend): its widget value."""
    at.session_state[f"signin-reverify-{at.session_state[session.REVERIFY_KEY]['key']}"] = cookies


def test_clerk_past_expiry_the_page_stays_while_the_browser_is_asked(clerk_env, clerk_key, monkeypatch):
    """The first run past exp keeps the same user and their state (no sign-in screen, no reload) for the
    bound; with no answer by then, the session is verified again the old way: the round trip."""
    monkeypatch.setenv("CLERK_LEEWAY_SECONDS", "0")
    monkeypatch.setattr(clerk_signin, "REVERIFY_SECONDS", 1.5)
    queries.settings.clear()
    request = Request(cookies={"__session": clerk_token(clerk_key, exp=int(time.time()) + 3)})
    monkeypatch.setattr(clerk_signin, "_request_context", request)
    at = run_app()
    at.session_state["stats_filters"] = {"assistant": "a1"}
    expire_now(at)
    at.run()
    assert at.session_state["user_id"] == "user_2clerkXYZ" and not signed_out(at)
    assert at.session_state["stats_filters"] == {"assistant": "a1"}
    assert request.reads == 2  # the request's token was tried first
    time.sleep(1.6)
    at.run()
    assert signed_out(at)
    assert "Reason: expired" in main_texts(at)
    assert "stats_filters" not in at.session_state


def test_clerk_a_fresh_browser_cookie_renews_the_identity_in_place(clerk_env, clerk_key, monkeypatch):
    monkeypatch.setenv("CLERK_LEEWAY_SECONDS", "0")
    queries.settings.clear()
    request = Request(cookies={"__session": clerk_token(clerk_key, exp=int(time.time()) + 3)})
    monkeypatch.setattr(clerk_signin, "_request_context", request)
    at = run_app()
    first = at.session_state[session.IDENTITY_KEY].expires_at
    at.session_state["stats_filters"] = {"assistant": "a1"}
    expire_now(at)
    at.run()
    fresh = int(time.time()) + 60
    browser_says(at, {"__session": clerk_token(clerk_key, exp=fresh), "other": "x"})
    at.run()
    assert at.session_state["user_id"] == "user_2clerkXYZ" and not signed_out(at)
    assert at.session_state[session.IDENTITY_KEY].expires_at == fresh > first
    assert at.session_state["stats_filters"] == {"assistant": "a1"}
    assert session.REVERIFY_KEY not in at.session_state
    assert request.reads == 2


@pytest.mark.parametrize(
    ("cookies", "reason"),
    [
        (lambda key: {"__session": clerk_token(key, exp=int(time.time()) - 30)}, "expired"),
        (lambda key: {}, "no token"),
        (lambda key: {"__session": clerk_token(key, azp="https://evil.example.com")}, "unauthorized party"),
        (lambda key: {"__session": clerk_token(rsa.generate_private_key(public_exponent=65537, key_size=2048))},
         "bad signature"),
    ],
)
def test_clerk_a_refused_browser_cookie_ends_the_session(clerk_env, clerk_key, monkeypatch, cookies, reason):
    monkeypatch.setenv("CLERK_LEEWAY_SECONDS", "0")
    queries.settings.clear()
    monkeypatch.setattr(clerk_signin, "_request_context", Request(
        cookies={"__session": clerk_token(clerk_key, exp=int(time.time()) + 3)}))
    at = run_app()
    at.session_state["stats_filters"] = {"assistant": "a1"}
    expire_now(at)
    at.run()
    browser_says(at, cookies(clerk_key))
    at.run()
    assert signed_out(at)
    assert f"Reason: {reason}" in main_texts(at)
    assert "stats_filters" not in at.session_state


def test_clerk_another_users_browser_cookie_forgets_the_session(clerk_env, clerk_key, monkeypatch):
    monkeypatch.setenv("CLERK_LEEWAY_SECONDS", "0")
    queries.settings.clear()
    monkeypatch.setattr(clerk_signin, "_request_context", Request(
        cookies={"__session": clerk_token(clerk_key, exp=int(time.time()) + 3)}))
    at = run_app()
    at.session_state["stats_filters"] = {"assistant": "a1"}
    expire_now(at)
    at.run()
    browser_says(at, {"__session": clerk_token(clerk_key, sub="user_2other", name="Eve")})
    at.run()
    assert at.session_state["user_id"] == "user_2other"
    assert "**Eve**" in sidebar_texts(at)
    assert "stats_filters" not in at.session_state


PER_USER_STATE = {"intents_working": "alice's pending edits", "stats_filters": {"assistant": "a1"},
                  "export_files": "alice's prepared files", "tests_export_file": "alice's tests.csv", "period": "90d"}


@pytest.mark.parametrize("change", ["removed, then bob signs in", "alice's username mapped to another id"])
def test_another_user_in_the_same_tab_starts_from_empty_session_state(local_env, change):
    at = sign_in(run_app(), "alice", "demo")
    for key, value in PER_USER_STATE.items():  # what alice's screens keep: files, pending edits, filters
        at.session_state[key] = value
    at.run()
    path = Path(local_env["AUTH_CREDENTIALS_PATH"])
    document = yaml.safe_load(path.read_text())
    if change.startswith("removed"):
        del document["credentials"]["usernames"]["alice"]
        path.write_text(yaml.safe_dump(document))
        at.run()
        assert signed_out(at)
        sign_in(at, "bob", "demo")
        assert at.session_state["user_id"] == "user_demo_bob"
    else:
        document["credentials"]["usernames"]["alice"]["user_id"] = "user_other_alice"
        path.write_text(yaml.safe_dump(document))
        at.run()
        sign_in(at, "alice", "demo")
        assert at.session_state["user_id"] == "user_other_alice"
    for key in PER_USER_STATE:
        assert key not in at.session_state, key


def test_the_same_user_keeps_their_session_state_across_runs(local_env):
    at = sign_in(run_app(), "alice", "demo")
    at.session_state["intents_working"] = "alice's pending edits"
    at.run()
    at.run()
    assert at.session_state["intents_working"] == "alice's pending edits"
