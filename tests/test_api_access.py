"""Personal access tokens and signed links in the store, on both transports (PostgreSQL direct and Supabase REST
through the PostgREST stand-in): the user's calls as that user, the server's lookups as service_role."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from lib.store.api_access import ApiAccess, BadTokenRequest, resolve_link, resolve_token

ALICE, BOB = "user_a_tokens", "user_b_tokens"


def test_a_token_resolves_to_its_user_until_revoked(store, engine_for: sa.Engine) -> None:
    alice, bob = ApiAccess(store, ALICE), ApiAccess(store, BOB)
    token, row = alice.create_token("laptop", 90)
    with engine_for.connect() as conn:
        stored = conn.execute(sa.text("select token_hash, hint, expires_at - created_at from api_tokens "
                                      "where id = :id"), {"id": row.id}).one()
    assert stored[0] == hashlib.sha256(token.encode()).hexdigest() and token not in stored[0]
    assert stored[1] == token[-4:] and stored[2].days == 90
    caller = resolve_token(store, token)
    assert caller is not None and (caller.user_id, caller.token_id) == (ALICE, row.id)
    assert [t.id for t in alice.tokens()] == [row.id] and bob.tokens() == []
    assert not bob.revoke_token(row.id)
    assert resolve_token(store, token) is not None
    assert alice.revoke_token(row.id)
    assert resolve_token(store, token) is None
    assert alice.tokens()[0].revoked_at is not None


def test_bad_names_and_expiries_are_refused(store) -> None:
    access = ApiAccess(store, ALICE)
    for name, days in (("", 30), ("x" * 101, 30), ("ok", 7), ("ok", 366)):
        with pytest.raises(BadTokenRequest):
            access.create_token(name, days)
    assert access.tokens() == []


def test_a_signed_link_resolves_until_the_key_is_rotated(store) -> None:
    access = ApiAccess(store, BOB)
    exp, sig = access.sign_link("/api/v1/intents.csv", "q=x", 7)
    assert resolve_link(store, BOB, "/api/v1/intents.csv", "q=x", exp, sig).user_id == BOB
    assert resolve_link(store, ALICE, "/api/v1/intents.csv", "q=x", exp, sig) is None
    assert resolve_link(store, BOB, "/api/v1/intents.csv", "q=y", exp, sig) is None
    assert resolve_link(store, BOB, "/api/v1/intents.csv", "q=x", exp + 1, sig) is None
    assert [lk.query for lk in access.links()] == ["q=x"]
    assert access.rotate_link_key() == 1
    assert resolve_link(store, BOB, "/api/v1/intents.csv", "q=x", exp, sig) is None
    assert access.links() == []
    with pytest.raises(BadTokenRequest):
        access.sign_link("/api/v1/intents.csv", "", 31)
