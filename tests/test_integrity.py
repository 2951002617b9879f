"""Integrity and tenancy (issue 18), on both transports (conftest's ``store``: direct and rest): another writer's
update or delete is a conflict, never overwritten; names are unique per user for every writer, also at the same
moment; history records and save tokens cannot be abused or replayed; versions are per user; intents_used
follows its intents.  The second writer is a real PostgreSQL connection (the web app: the owner, or a user's
token as role authenticated); expected values come from SQL written here."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import sqlalchemy as sa

from lib.errors import AlreadyUndone, ConflictError, HistoryNotFound, NameTaken, SaveUndone, UndoConflict
from lib.models import IntentDiff, IntentEdit, IntentInput, IntentRef, SaveToken
from lib.screens import intents_grid
from lib.store.saves import token_for
from tools import tables as schema

ALICE, BOB = "user_i_alice", "user_i_bob"


def intent(name: str, en: tuple[str, ...] = ("Hi!",)) -> IntentInput:
    return IntentInput(name, ("hello",), en, ("Привет!",))


def stored(engine: sa.Engine, user: str = ALICE) -> dict[str, tuple[str, list[str]]]:
    """id -> (name, english responses) of the user's intents, as the database holds them."""
    with engine.connect() as conn:
        return {r[0]: (r[1], list(r[2])) for r in conn.execute(sa.text(
            "select id::text, intent_name, english_responses from intents where user_id = :u"), {"u": user})}


def as_user(conn: sa.Connection, user: str) -> None:
    conn.execute(sa.text("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', :c, true)"),
                 {"c": json.dumps({"sub": user, "role": "authenticated"})})


# -- 1. lost update: another writer's update or delete is a conflict --------------------------------------------

WEB_APP_WRITES = {
    # the seed's web app: a plain UPDATE that does not know updated_at
    "plain update": "update intents set english_responses = '{From the web app}' where id = :id",
    # a writer that sets updated_at itself: a sync job that writes the row, then puts back the updated_at the grid saw
    "update setting updated_at": "update intents set english_responses = '{From the web app}' where id = :id; "
                                 "update intents set updated_at = :seen where id = :id",
    "delete": "delete from intents where id = :id",
}


@pytest.mark.parametrize("writer_role", ["owner", "authenticated"])
@pytest.mark.parametrize("write", list(WEB_APP_WRITES))
def test_another_writers_change_after_the_grid_loaded_is_a_conflict_never_overwritten(
        store, engine_for, write, writer_role) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("Greeting"), intent("Pricing"))))
    loaded = {i.intent_name: i for i in alice.list_intents()}  # the grid loads
    frame = intents_grid.grid_frame(loaded.values())
    greeting = loaded["Greeting"]
    with engine_for.begin() as conn:  # the web app writes, after the grid loaded
        if writer_role == "authenticated":
            as_user(conn, ALICE)
        for statement in WEB_APP_WRITES[write].split("; "):
            assert conn.execute(sa.text(statement), {"id": greeting.id, "seen": greeting.updated_at}).rowcount == 1
    after_web = stored(engine_for)

    # alice edits the same intent in the grid and saves: the diff the grid builds carries what it loaded
    edited = frame.copy()
    edited.loc[greeting.id, "english_responses"] = ["Alice's answer"]
    diff = intents_grid.pending(frame, edited).diff
    assert [e.id for e in diff.edited] == [greeting.id]
    with pytest.raises(ConflictError) as refused:
        alice.save_intents(diff)
    assert refused.value.ids == [greeting.id]
    assert stored(engine_for) == after_web  # the web app's change (or delete) stands; nothing of alice's written

    # deleting it from the stale grid is refused too
    with pytest.raises(ConflictError):
        alice.save_intents(IntentDiff(deleted=(IntentRef(greeting.id, greeting.updated_at, version=greeting.version),)))
    assert stored(engine_for) == after_web

    # and the grid's "changed underneath" notice names it
    moved = intents_grid.underneath(frame, intents_grid.grid_frame(alice.list_intents()))
    assert (moved.deleted if write == "delete" else moved.changed) == ("Greeting",)


def test_an_update_advances_the_row_version_and_updated_at_for_every_writer(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("insert into intents (user_id, intent_name, updated_at) values (:u, 'x', '2026-01-01')"),
                     {"u": ALICE})
        conn.execute(sa.text("update intents set english_responses = '{a}', row_version = 1"))  # a writer's value is ignored
        conn.execute(sa.text("update intents set english_responses = '{b}', updated_at = '2026-01-01'"))
        version, updated = conn.execute(sa.text("select row_version, updated_at from intents")).one()
    assert version == 3
    assert str(updated) == "2026-01-01 00:00:00"  # kept when the writer sets it
    with engine.begin() as conn:
        conn.execute(sa.text("update intents set english_responses = '{c}'"))
        version, updated = conn.execute(sa.text("select row_version, updated_at from intents")).one()
    assert version == 4 and updated.year >= 2026 and str(updated) != "2026-01-01 00:00:00"  # moved by the trigger


def test_undo_refuses_when_another_writer_touched_the_row_even_without_changing_it(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("Greeting"),)))
    [row] = alice.list_intents()
    alice.save_intents(IntentDiff(edited=(IntentEdit(row.id, row.updated_at, intent("Greeting", ("Hello!",)),
                                                     row.version),)))
    [saved] = alice.list_intents()
    with engine_for.begin() as conn:  # same values, same updated_at: only the write itself is new
        conn.execute(sa.text("update intents set english_responses = english_responses, updated_at = updated_at "
                             "where id = :id"), {"id": row.id})
    before = stored(engine_for)
    with pytest.raises(UndoConflict):
        alice.undo_save(alice.list_history()[0].id)
    assert stored(engine_for) == before == {saved.id: ("Greeting", ["Hello!"])}


# -- 2. names unique per user, for every writer ------------------------------------------------------------------

def test_the_database_refuses_a_new_name_another_intent_has_trimmed_and_case_insensitive(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("Greeting"),)))
    store.for_user(BOB).save_intents(IntentDiff(added=(intent("greeting"),)))  # another user: fine
    for name in ("Greeting", "  GREETING ", "greeting"):
        with pytest.raises(NameTaken) as refused:
            alice.save_intents(IntentDiff(added=(intent(name),)))
        assert refused.value.name.strip().lower() == "greeting" and f"“{name.strip()}”" in str(refused.value)
    alice.save_intents(IntentDiff(added=(intent("Hello"),)))
    hello = next(i for i in alice.list_intents() if i.intent_name == "Hello")
    with pytest.raises(NameTaken):  # a rename onto it too
        alice.save_intents(IntentDiff(edited=(IntentEdit(hello.id, hello.updated_at, intent(" greeting"), hello.version),)))
    for role in ("owner", "authenticated"):  # and any other writer
        with pytest.raises(sa.exc.IntegrityError, match="is named GREETING"), engine_for.begin() as conn:
            if role == "authenticated":
                as_user(conn, ALICE)
            conn.execute(sa.text("insert into intents (user_id, intent_name) values (:u, 'GREETING')"), {"u": ALICE})
    assert sorted(n for n, _ in stored(engine_for).values()) == ["Greeting", "Hello"]


def test_two_tabs_saving_the_same_new_name_at_the_same_moment_store_it_once(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    for n in range(15):
        barrier = threading.Barrier(2)
        outcome: list[object] = []

        def save(name: str, barrier: threading.Barrier = barrier, outcome: list[object] = outcome) -> None:
            barrier.wait()
            try:
                outcome.append(alice.save_intents(IntentDiff(added=(intent(name),))))
            except NameTaken as err:
                outcome.append(err)

        threads = [threading.Thread(target=save, args=(name,)) for name in (f"Same {n}", f"same {n} ")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(type(o).__name__ for o in outcome) == ["NameTaken", "SaveResult"]
    with engine_for.connect() as conn:
        keys = conn.execute(sa.text("select lower(btrim(intent_name)), count(*) from intents group by 1")).all()
    assert len(keys) == 15 and all(c == 1 for _, c in keys)


def _grandfathered_pair(engine: sa.Engine) -> None:
    """Two intents of alice named alike from before the rule (inserted with the rule's trigger off)."""
    with engine.begin() as conn:
        conn.execute(sa.text("alter table intents disable trigger intents_name_key"))
        conn.execute(sa.text("insert into intents (user_id, intent_name, name_key, created_at) values "
                             "(:u, 'Greeting', 'greeting', '2026-01-01'), (:u, 'greeting ', null, '2026-01-02')"),
                     {"u": ALICE})
        conn.execute(sa.text("alter table intents enable trigger intents_name_key"))


def test_existing_duplicates_stay_readable_editable_and_renamable(store, engine_for) -> None:
    _grandfathered_pair(engine_for)
    alice = store.for_user(ALICE)
    rows = sorted(alice.list_intents(), key=lambda i: i.created_at)
    assert [r.intent_name for r in rows] == ["Greeting", "greeting "]
    old, dup = rows
    # edit the duplicate without renaming it, then the first one: both allowed
    alice.save_intents(IntentDiff(edited=(IntentEdit(dup.id, dup.updated_at, intent("greeting ", ("Yo",)), dup.version),
                                          IntentEdit(old.id, old.updated_at, intent("Greeting", ("Hey",)), old.version))))
    with pytest.raises(NameTaken):  # a third one is new: refused, though the key-holder is not the only one
        alice.save_intents(IntentDiff(added=(intent("GREETING"),)))
    dup = next(i for i in alice.list_intents() if i.id == dup.id)
    alice.save_intents(IntentDiff(edited=(IntentEdit(dup.id, dup.updated_at, intent("Welcome"), dup.version),)))
    assert sorted(n for n, _ in stored(engine_for).values()) == ["Greeting", "Welcome"]


def test_undo_respects_the_name_rule_and_names_the_clash(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("Greeting"),)))
    [first] = alice.list_intents()
    alice.save_intents(IntentDiff(deleted=(IntentRef(first.id, first.updated_at, version=first.version),)))
    deleted = alice.list_history()[0]
    alice.save_intents(IntentDiff(added=(intent("greeting"),)))
    before = stored(engine_for)
    with pytest.raises(NameTaken) as refused:
        alice.undo_save(deleted.id)
    assert "“Greeting”" in str(refused.value) and "undone" in str(refused.value)
    assert stored(engine_for) == before and [n for n, _ in before.values()] == ["greeting"]


# -- 3. history integrity ----------------------------------------------------------------------------------------

def _insert_undo_record(engine: sa.Engine, user: str, reverts: str) -> str:
    """Alice's own token writes an undo record pointing at ``reverts``; the error's SQLSTATE and text."""
    try:
        with engine.begin() as conn:
            as_user(conn, user)
            conn.execute(sa.text("insert into intent_history (user_id, kind, reverts, changes) "
                                 "values (:u, 'undo', :r, '[]')"), {"u": user, "r": reverts})
    except sa.exc.DBAPIError as err:
        return f"{err.orig.sqlstate}: {str(err.orig).splitlines()[0]}"
    return "inserted"


def test_a_user_cannot_mark_another_users_save_undone_nor_learn_that_it_exists(store, engine_for) -> None:
    bob = store.for_user(BOB)
    bob.save_intents(IntentDiff(added=(intent("Bob's"),)))
    bobs_record = bob.list_history()[0].id
    theirs = _insert_undo_record(engine_for, ALICE, bobs_record)
    nobodys = _insert_undo_record(engine_for, ALICE, str(uuid.uuid4()))
    assert theirs == nobodys != "inserted"  # the same refusal: an existing id and a missing one look alike
    bob.undo_save(bobs_record)  # bob's undo is not blocked
    assert stored(engine_for, BOB) == {}
    store.for_user(ALICE).save_intents(IntentDiff(added=(intent("Alice's"),)))
    own = store.for_user(ALICE).list_history()[0].id
    assert _insert_undo_record(engine_for, ALICE, own) == "inserted"  # one's own save: allowed (as the undo does)
    with pytest.raises(AlreadyUndone):
        store.for_user(ALICE).undo_save(own)
    with pytest.raises(HistoryNotFound):
        store.for_user(ALICE).undo_save(bobs_record)


def test_a_retried_save_after_an_undo_is_recognised_and_not_applied_again(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("Pricing"),)))
    [pricing] = alice.list_intents()
    token = SaveToken.new()
    diff = IntentDiff(added=(intent("Greeting"),), edited=(
        IntentEdit(pricing.id, pricing.updated_at, intent("Prices"), pricing.version),), token=token)
    alice.save_intents(diff)  # its answer was lost, say
    alice.undo_save(alice.list_history()[0].id)  # another tab undoes it
    before = stored(engine_for)
    with pytest.raises(SaveUndone):
        alice.save_intents(diff)  # the retry, same token
    assert stored(engine_for) == before == {pricing.id: ("Pricing", ["Hi!"])}
    with engine_for.connect() as conn:
        assert conn.execute(sa.text("select count(*) from intent_history")).scalar_one() == 3  # no new record


def test_a_retried_save_with_its_token_reports_saved_once(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    diff = IntentDiff(added=(intent("Greeting"), intent("Pricing")), token=SaveToken.new())
    alice.save_intents(diff)
    again = alice.save_intents(diff)
    assert again.checked and again.added == 2
    assert sorted(n for n, _ in stored(engine_for).values()) == ["Greeting", "Pricing"]


def test_a_changed_set_of_edits_gets_a_new_token_and_the_same_edits_keep_theirs() -> None:
    one = IntentDiff(added=(intent("Greeting"),))
    held = token_for(None, one)
    assert token_for(held, IntentDiff(added=(intent("Greeting"),))) is held  # a retry of the same edits
    two = IntentDiff(added=(intent("Greeting"), intent("Pricing")))
    changed = token_for(held, two)
    assert changed[0] == two and changed[1].save_id != held[1].save_id
    assert token_for(changed, two) is changed


def test_after_a_lost_answer_changed_edits_are_saved_with_their_own_token(store, engine_for) -> None:
    """The issue's sequence: a save commits but its answer is lost; the user adds a row and saves again."""
    alice = store.for_user(ALICE)
    first = IntentDiff(added=(intent("Greeting"),))
    held = token_for(None, first)
    alice.save_intents(IntentDiff(added=first.added, token=held[1]))  # committed; the page never heard
    second = IntentDiff(added=(intent("Pricing"),))  # the page reloaded what is stored; a new row
    held = token_for(held, second)
    assert alice.save_intents(IntentDiff(added=second.added, token=held[1])).added == 1
    assert sorted(n for n, _ in stored(engine_for).values()) == ["Greeting", "Pricing"]


# -- 4. change versions per user ---------------------------------------------------------------------------------

def _versions(engine: sa.Engine, user: str) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("select topic, version from user_data_versions where user_id = :u"),
                                 {"u": user}).all())


def test_a_users_versions_count_only_their_own_writes(store, engine_for) -> None:
    alice, bob = store.for_user(ALICE), store.for_user(BOB)
    seen = []
    for n in range(4):
        alice.save_intents(IntentDiff(added=(intent(f"a{n}"),)))
        seen.append(alice.versions()["intents"])
        for k in range(3):  # other users' writes in between
            bob.save_intents(IntentDiff(added=(intent(f"b{n}.{k}"),)))
        with engine_for.begin() as conn:
            conn.execute(sa.text("insert into intent_history (user_id, kind) values ('user_i_carol', 'grid')"))
    assert seen == [seen[0] + n for n in range(4)]  # no gaps: one per save of hers
    assert alice.versions()["intent_history"] == 4


@pytest.mark.parametrize("table", ["intents", "assistants", "assistant_tests", "intent_history", "subscriptions",
                                   "assistant_settings"])
def test_truncate_advances_every_user_with_rows_even_without_a_version_row(engine, table) -> None:
    rows = {
        "intents": "insert into intents (user_id, intent_name) values (:u, 'x')",
        "assistants": "insert into assistants (user_id, vapi_assistant_id, name) values (:u, 'v', 'n')",
        "assistant_tests": "insert into assistant_tests (user_id, assistant_id, test_phrase) values (:u, 'v', 'p')",
        "intent_history": "insert into intent_history (user_id, kind) values (:u, 'grid')",
        "subscriptions": "insert into subscriptions (user_id) values (:u)",
        "assistant_settings": "insert into assistant_settings (user_id) values (:u)",
    }
    with engine.begin() as conn:
        for user in (ALICE, BOB):
            conn.execute(sa.text(rows[table]), {"u": user})
        conn.execute(sa.text("delete from user_data_versions where user_id = :u"), {"u": ALICE})  # data from before
    bob_before = _versions(engine, BOB)[table]
    with engine.begin() as conn:
        conn.execute(sa.text(f"truncate {table} cascade"))
    assert _versions(engine, ALICE).get(table, 0) > 0
    assert _versions(engine, BOB)[table] == bob_before + 1


# -- 5. intents_used follows its intents --------------------------------------------------------------------------

def _assistant(engine: sa.Engine, user: str, used: list[str]) -> str:
    aid = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assistants).values(id=aid, user_id=user, vapi_assistant_id=f"v{aid[:8]}",
                                                        name="desk", config={}, intents_used=used))
    return aid


def _used(engine: sa.Engine, aid: str) -> list[str]:
    with engine.connect() as conn:
        return [str(i) for i in conn.execute(sa.text("select intents_used from assistants where id = :a"),
                                             {"a": aid}).scalar_one()]


def test_intents_used_follows_an_id_change_a_move_and_a_truncate(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"), intent("b"), intent("c"))))
    ids = {i.intent_name: i.id for i in alice.list_intents()}
    aid = _assistant(engine_for, ALICE, [ids["a"], ids["b"], ids["c"]])
    new_id = str(uuid.uuid4())
    versions = alice.versions()
    with engine_for.begin() as conn:
        conn.execute(sa.text("update intents set id = :n where id = :o"), {"n": new_id, "o": ids["a"]})
    assert _used(engine_for, aid) == [new_id, ids["b"], ids["c"]]
    assert alice.versions()["assistants"] > versions["assistants"]
    with engine_for.begin() as conn:  # b moves to bob: alice's assistant no longer points at it
        conn.execute(sa.text("update intents set user_id = :b where id = :o"), {"b": BOB, "o": ids["b"]})
    assert _used(engine_for, aid) == [new_id, ids["c"]]
    with engine_for.begin() as conn:
        conn.execute(sa.text("truncate intents"))
    assert _used(engine_for, aid) == []
    assert [a.intents_used for a in alice.list_assistants()] == [()]


# -- 6. the sign-in throttle in the database, on both transports ---------------------------------------------------

def test_concurrent_reservations_grant_exactly_the_limit_across_processes(store, engine_for) -> None:
    """Eight replicas' attempts at once (threads on the transport): each is counted before it is granted."""
    from lib.identity.throttle import throttle_keys

    keys, limits = throttle_keys("bob", "10.0.0.9", 3)
    barrier = threading.Barrier(8)
    waits: list[float] = []

    def attempt() -> None:
        barrier.wait()
        waits.append(store.signin_throttle("reserve", keys, limits, 60))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(w == 0 for w in waits) == [False] * 5 + [True] * 3
    assert store.signin_throttle("peek", keys, limits, 60) > 50
    other_keys, _ = throttle_keys("alice", "10.0.0.8", 3)
    assert store.signin_throttle("reserve", other_keys, limits, 60) == 0  # another account, another address
    with engine_for.connect() as conn:
        assert conn.execute(sa.text("select attempts from signin_attempts where key = :k"),
                            {"k": keys[0]}).scalar_one() == 4  # counted up to the lock, then no further
    with pytest.raises(sa.exc.ProgrammingError), engine_for.begin() as conn:  # no user may call it
        as_user(conn, ALICE)
        conn.execute(sa.text("select signin_throttle('succeed', array['pair:bob|10.0.0.9'], array[3], 60)"))


# -- 14. guards: orphan rows are nobody's --------------------------------------------------------------------------

ORPHANS = {
    "intents": "insert into intents (user_id, intent_name) values ('', 'old')",
    "assistants": "insert into assistants (user_id, vapi_assistant_id, name) values ('', 'v_old', 'Legacy')",
    "assistant_tests": "insert into assistant_tests (user_id, assistant_id, test_phrase) values ('', 'v_old', 'hi')",
    "assistant_settings": "insert into assistant_settings (user_id) values ('')",
    "subscriptions": "insert into subscriptions (user_id, status) values ('', 'active')",
    "intent_history": "insert into intent_history (user_id, kind) values ('', 'grid')",
}


@pytest.mark.parametrize("table", list(ORPHANS))
def test_no_signed_in_user_reads_or_rewrites_orphan_rows(engine, table) -> None:
    """Rows from before user_id (user_id = '') are reachable by no user: select, update and delete see none."""
    with engine.begin() as conn:
        conn.execute(sa.text(ORPHANS[table]))
    with engine.begin() as conn:
        as_user(conn, ALICE)
        assert conn.execute(sa.text(f"select count(*) from {table}")).scalar_one() == 0
        conn.execute(sa.text("savepoint s"))
        for write in (f"update {table} set user_id = user_id", f"delete from {table}"):
            try:
                assert conn.execute(sa.text(write)).rowcount == 0
            except sa.exc.ProgrammingError:  # no such privilege for users at all: refused outright
                conn.execute(sa.text("rollback to savepoint s"))
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"select count(*) from {table} where user_id = ''")).scalar_one() == 1
