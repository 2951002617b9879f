"""The sign-in throttle under a burst (issue 18, item 2): 20 sessions submit a password for one account at the same
moment over real websockets (the browser's protocol, bench.protocol) to a real server (``streamlit run
dashboard/server.py``); each attempt is counted before its password is checked, so at most AUTH_MAX_ATTEMPTS
passwords are checked and the account is then locked, even for the right password."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg

from bench.protocol import Session
from tests.e2e_support import seed_demo, serving_app
from tools.pgcluster import libpq_url, new_database

MAX_ATTEMPTS = 5
BURST = 20
# Loaded by the server's Python at start (sitecustomize on PYTHONPATH): every bcrypt password check the server
# makes appends a line to a file, so the test counts checks from outside the code under test.
COUNTER = """
import os, bcrypt
_checkpw = bcrypt.checkpw
def checkpw(password, hashed):
    with open(os.environ["PASSWORD_CHECKS_FILE"], "a") as out:
        out.write("check\\n")
    return _checkpw(password, hashed)
bcrypt.checkpw = checkpw
"""
WRONG = "wrong username or password"
WAIT = "Too many failed sign-in attempts"


async def _ready(url: str) -> tuple[Session, str]:
    """A session showing the sign-in form, with bob's username and a wrong password typed in."""
    session = Session(url, timeout=120)
    await session.connect()
    run = await session.rerun()
    session.set_string(run.widget("text_input", "Username").id, "bob")
    session.set_string(run.widget("text_input", "Password").id, "guess")
    return session, run.widget("button", "Sign in").id


async def _burst(url: str) -> list[list[str]]:
    ready = await asyncio.gather(*(_ready(url) for _ in range(BURST)))
    try:  # every session submits at once: each answer is that session's alerts
        runs = await asyncio.gather(*(s.rerun(triggers=[button]) for s, button in ready))
        return [r.alerts("error") for r in runs]
    finally:
        await asyncio.gather(*(s.close() for s, _ in ready))


async def _sign_in(url: str, password: str) -> list[str]:
    session, button = await _ready(url)
    try:
        session.set_string(session.last.widget("text_input", "Password").id, password)
        run = await session.rerun(triggers=[button])
        return run.alerts("error") + [t for t in run.texts() if "Bob" in t]
    finally:
        await session.close()


def test_twenty_concurrent_attempts_check_at_most_the_allowed_passwords(pg_url: str, tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(COUNTER, encoding="utf-8")
    checks = tmp_path / "checks.txt"
    with new_database(pg_url, prefix="burst") as database_url:
        seed_demo(database_url)
        env = {"AUTH_MAX_ATTEMPTS": str(MAX_ATTEMPTS), "AUTH_LOCKOUT_SECONDS": "120", "PYTHONPATH": str(hook),
               "PASSWORD_CHECKS_FILE": str(checks)}
        with serving_app(tmp_path, database_url, env=env) as app:
            checks.write_text("", encoding="utf-8")  # the credentials file's creation checked nothing, but be sure
            answers = asyncio.run(_burst(app.url))
            counted = len(checks.read_text(encoding="utf-8").splitlines())
            wrong = [a for a in answers if a == [WRONG]]
            waited = [a for a in answers if len(a) == 1 and a[0].startswith(WAIT)]
            assert len(wrong) + len(waited) == BURST, answers
            assert 1 <= counted <= MAX_ATTEMPTS, (counted, answers)  # passwords checked, of 20 attempts
            after = asyncio.run(_sign_in(app.url, "demo"))  # the right password, after the burst
            assert len(after) == 1 and after[0].startswith(WAIT), after
            assert len(checks.read_text(encoding="utf-8").splitlines()) == counted  # not even checked
        with psycopg.connect(libpq_url(database_url)) as conn:  # counted in the database, for every replica
            locked = conn.execute("select count(*) from signin_attempts where locked_until > now()").fetchone()[0]
    assert locked >= 1


def test_the_throttle_keys_name_the_pair_the_user_and_the_address() -> None:
    from lib.identity.throttle import throttle_keys

    keys, limits = throttle_keys(" Bob ", "10.0.0.1", 5)
    assert keys == ["pair:bob|10.0.0.1", "user:bob", "addr:10.0.0.1"] and limits == [5, 20, 20]
