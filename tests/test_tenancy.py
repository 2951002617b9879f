"""Tenancy, the product's first promise: no user ever sees, changes or deletes another's rows."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.errors import ConflictError
from lib.models import IntentDiff, IntentEdit, IntentInput, IntentRef, TestFilter
from tools import tables as schema

USERS = ("user_t_alice", "user_t_bob", "user_t_carol")
names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12) \
    .filter(lambda s: s.strip() == s and s)

op = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(USERS), names),
    st.tuples(st.just("edit"), st.sampled_from(USERS), st.sampled_from(USERS), st.integers(0, 50), names),
    st.tuples(st.just("delete"), st.sampled_from(USERS), st.sampled_from(USERS), st.integers(0, 50)),
)


def _truncate(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for t in schema.ALL_TABLES:
            conn.execute(sa.delete(t))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=25))
def test_interleaved_writes_never_cross_users(store, engine_for, ops) -> None:
    """Random creates, edits and deletes by three users, some aimed at another user's row ids."""
    _truncate(engine_for)
    model: dict[str, dict[str, str]] = {u: {} for u in USERS}  # user -> id -> name
    handles = {u: store.for_user(u) for u in USERS}
    for n, step in enumerate(ops):
        step = (*step[:-1], f"{step[-1]} #{n}") if step[0] != "delete" else step  # names unique per user (the rule)
        if step[0] == "create":
            _, user, name = step
            handles[user].save_intents(IntentDiff(added=(IntentInput(name, ("phrase",)),)))
            new = {i.id: i.intent_name for i in handles[user].list_intents()}
            [new_id] = set(new) - set(model[user])
            model[user][new_id] = name
            continue
        actor, owner, pick = step[1], step[2], step[3]
        rows = store.for_user(owner).list_intents()  # what the owner has (the actor steals the ids)
        if not rows:
            continue
        target = rows[pick % len(rows)]
        diff = (IntentDiff(edited=(IntentEdit(target.id, target.updated_at, IntentInput(step[4], ("p",))),))
                if step[0] == "edit" else IntentDiff(deleted=(IntentRef(target.id, target.updated_at),)))
        if actor == owner:
            handles[actor].save_intents(diff)
            if step[0] == "edit":
                model[owner][target.id] = step[4]
            else:
                del model[owner][target.id]
        else:
            with pytest.raises(ConflictError):  # another user's id does not exist for this user
                handles[actor].save_intents(diff)
        for user in USERS:
            assert {i.id: i.intent_name for i in handles[user].list_intents()} == model[user]


def test_users_see_only_their_own_rows_everywhere(store, engine_for) -> None:
    from tests.test_store import NOW, seed_tests

    for n, user in enumerate(USERS, start=1):
        store.for_user(user).save_intents(IntentDiff(added=tuple(IntentInput(f"{user}-{k}", ("p",))
                                                                 for k in range(n))))
        seed_tests(engine_for, user, 10 * n, assistant=f"asst_{user}")
        with engine_for.begin() as conn:
            conn.execute(sa.insert(schema.assistants), [{
                "id": str(uuid.uuid4()), "user_id": user, "vapi_assistant_id": f"asst_{user}", "name": user,
                "config": {}, "intents_used": [], "created_at": NOW, "updated_at": NOW}])
    for n, user in enumerate(USERS, start=1):
        h = store.for_user(user)
        assert {i.intent_name.split("-")[0] for i in h.list_intents()} == {user}
        assert [a.name for a in h.list_assistants()] == [user]
        page = h.list_tests(TestFilter(), page_size=1000)
        assert page.total == 10 * n and {r.assistant_id for r in page.rows} == {f"asst_{user}"}
        stats = h.stats(TestFilter())
        assert (stats.intents, stats.assistants, stats.tests) == (n, 1, 10 * n)


# -- PostgreSQL: row-level security enforces tenancy even when a query forgets its filter ---------

def _as_user(conn: sa.Connection, user_id: str) -> None:
    conn.execute(sa.text("select set_config('role', 'authenticated', true), "
                         "set_config('request.jwt.claims', :c, true)"),
                 {"c": json.dumps({"sub": user_id, "role": "authenticated"})})


def test_rls_unfiltered_select_returns_only_own_rows(pg_clean: str) -> None:
    from lib.store.direct import DirectStore

    store = DirectStore(pg_clean)
    for user in USERS:
        store.for_user(user).save_intents(IntentDiff(added=(IntentInput(user, ("p",)), IntentInput(user + " 2", ("q",)))))
    store.close()
    engine = sa.create_engine(pg_clean)
    with engine.begin() as conn:
        _as_user(conn, USERS[0])
        names = conn.execute(sa.text("select intent_name from intents")).scalars().all()  # no WHERE on purpose
        assert sorted(names) == [USERS[0], USERS[0] + " 2"]
        assert conn.execute(sa.text("select count(*) from intents")).scalar_one() == 2
        # updates and deletes without a filter touch only own rows too
        assert conn.execute(sa.text("update intents set intent_name = intent_name || ' (mine)'")).rowcount == 2
        assert conn.execute(sa.text("delete from intents")).rowcount == 2
    with engine.connect() as conn:
        left = conn.execute(sa.text("select user_id, count(*) from intents group by 1 order by 1")).all()
    assert left == [(USERS[1], 2), (USERS[2], 2)]
    engine.dispose()


def test_rls_with_check_refuses_writing_rows_for_another_user(pg_clean: str) -> None:
    engine = sa.create_engine(pg_clean)
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), engine.begin() as conn:
        _as_user(conn, USERS[0])
        conn.execute(sa.text("insert into intents (user_id, intent_name, example_user_phrases, english_responses, "
                             "russian_responses) values (:u, 'x', '{p}', '{}', '{}')"), {"u": USERS[1]})
    engine.dispose()


def test_rls_is_enabled_with_an_owner_policy_and_nothing_for_anon(pg_url: str) -> None:
    """Every table in public (intent_history, append-only, has its own policies: test_history)."""
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        tables = conn.execute(sa.text("select tablename from pg_tables where schemaname = 'public' "
                                      "and tablename not in ('intent_history', 'signin_attempts') order by 1")).scalars().all()
        # the sign-in throttle's table: RLS on, no policy and no privilege: no user reaches it at all
        assert conn.execute(sa.text("select relrowsecurity from pg_class where oid = 'public.signin_attempts'::regclass")
                            ).scalar_one()
        assert not conn.execute(sa.text("select count(*) from pg_policies where tablename = 'signin_attempts'")).scalar_one()
        for role in ("anon", "authenticated", "service_role"):
            assert not conn.execute(sa.text("select has_table_privilege(:r, 'public.signin_attempts', 'select')"),
                                    {"r": role}).scalar_one(), role
    assert {"intents", "assistants", "assistant_tests", "subscriptions", "assistant_settings"} <= set(tables)
    for table in tables:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select relrowsecurity from pg_class where oid = to_regclass(:t)"),
                                {"t": f"public.{table}"}).scalar_one(), table
            policies = conn.execute(sa.text("select roles::text, qual, with_check from pg_policies "
                                            "where schemaname = 'public' and tablename = :t"), {"t": table}).all()
            assert len(policies) == 1, (table, policies)
            roles, qual, check = policies[0]
            assert roles == "{authenticated}", table
            assert "auth.jwt()" in qual and "'sub'" in qual and "user_id" in qual and check == qual, (table, qual)
            assert not conn.execute(sa.text("select has_table_privilege('anon', :t, 'select')"),
                                    {"t": f"public.{table}"}).scalar_one(), table
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), engine.begin() as conn:
            conn.execute(sa.text("set local role anon"))
            conn.execute(sa.text(f"select * from {table}"))
    engine.dispose()
