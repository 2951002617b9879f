"""The intents' edit history and undo, and deleted intents leaving no dangling ids (issue 11), on every
transport: PostgreSQL direct and Supabase REST.  Expected values are read with SQL written here."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

from lib.errors import AlreadyUndone, ConflictError, HistoryNotFound, UndoConflict, ValidationError
from lib.models import IntentDiff, IntentEdit, IntentRef, SaveToken, Undone
from tests.test_store import ALICE, BOB, intent, snapshot
from tools import tables as schema

LISTS = ("example_user_phrases", "english_responses", "russian_responses")


def rows(engine: sa.Engine, user: str = ALICE) -> dict[str, dict]:
    """The user's intents as the database holds them: id -> values (lists as tuples)."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(schema.intents).where(schema.intents.c.user_id == user)).all()
    return {str(r.id): {"intent_name": r.intent_name, **{c: tuple(r._mapping[c]) for c in LISTS},
                        "created_at": r.created_at, "updated_at": r.updated_at} for r in found}


def records(engine: sa.Engine, user: str = ALICE) -> list[dict]:
    """The user's history records as stored, oldest first (changes parsed)."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(schema.intent_history).where(schema.intent_history.c.user_id == user).order_by(schema.intent_history.c.created_at, schema.intent_history.c.id)).all()
    out = []
    for r in found:
        changes = r.changes if isinstance(r.changes, list) else json.loads(r.changes)
        out.append({"id": str(r.id), "kind": r.kind, "reverts": None if r.reverts is None else str(r.reverts),
                    "created_at": r.created_at, "changes": changes})
    return out


def stored(values: dict | None) -> dict | None:
    """A record's before/after as comparable values (times parsed, lists as tuples)."""
    if values is None:
        return None
    return {"intent_name": values["intent_name"], **{c: tuple(values[c]) for c in LISTS},
            "created_at": datetime.fromisoformat(values["created_at"]),
            "updated_at": datetime.fromisoformat(values["updated_at"])}


def mixed_save(handle, engine: sa.Engine) -> tuple[dict[str, dict], IntentDiff]:
    """alice has a, b, c; one save edits a, deletes b and adds d.  Returns her intents before it."""
    handle.save_intents(IntentDiff(added=(intent("a"), intent("b", ("bee",)), intent("c"))))
    before = rows(engine)
    by_name = {v["intent_name"]: (k, v) for k, v in before.items()}
    (a_id, a), (b_id, b) = by_name["a"], by_name["b"]
    diff = IntentDiff(added=(intent("d", ("dee",), ("Dee!",), ()),),
                      edited=(IntentEdit(a_id, a["updated_at"], intent("a2", ("x", "y"))),),
                      deleted=(IntentRef(b_id, b["updated_at"], label="b"),))
    handle.save_intents(diff)
    return before, diff


def test_every_save_appends_one_record_with_before_and_after_values(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    before, _ = mixed_save(alice, engine_for)
    after = rows(engine_for)
    first, second = records(engine_for)
    assert (first["kind"], second["kind"], first["reverts"], second["reverts"]) == ("grid", "grid", None, None)
    assert {c["id"]: (stored(c["before"]), stored(c["after"])) for c in first["changes"]} == \
        {i: (None, v) for i, v in before.items()}
    gone = (set(before) - set(after)).pop()
    new = (set(after) - set(before)).pop()
    edited = next(i for i in after if i in before)
    assert {c["id"]: (stored(c["before"]), stored(c["after"])) for c in second["changes"]} == {
        gone: (before[gone], None), edited: (before[edited], after[edited]), new: (None, after[new])}
    assert second["created_at"] == after[new]["updated_at"]  # the save's time
    shown = alice.list_history()
    assert [e.id for e in shown] == [second["id"], first["id"]]
    assert shown[0].summary() == "1 added, 1 changed, 1 deleted" and shown[1].summary() == "3 added, 0 changed, 0 deleted"
    [changed] = [c for c in shown[0].changes if c.kind == "changed"]
    assert (changed.before.intent_name, changed.after.intent_name) == ("a", "a2")
    assert changed.after.example_user_phrases == ("x", "y") and shown[0].undone_by is None


def test_an_import_is_recorded_as_one(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("from a file"), intent("another")), kind="import"))
    [record] = records(engine_for)
    assert record["kind"] == "import" and len(record["changes"]) == 2
    assert alice.list_history()[0].kind == "import"
    with pytest.raises(ValidationError, match="kind"):
        alice.save_intents(IntentDiff(added=(intent("x"),), kind="undo"))


def test_a_refused_save_writes_no_record(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"),)))
    [a] = alice.list_intents()
    alice.save_intents(IntentDiff(edited=(IntentEdit(a.id, a.updated_at, intent("elsewhere")),)))
    kept = snapshot(engine_for)
    with pytest.raises(ConflictError):
        alice.save_intents(IntentDiff(added=(intent("new"),), edited=(IntentEdit(a.id, a.updated_at, intent("mine")),)))
    assert snapshot(engine_for) == kept  # intent_history included
    assert len(records(engine_for)) == 2


def test_a_retried_save_writes_one_record(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"),)))
    [a] = alice.list_intents()
    diff = IntentDiff(added=(intent("b"),), edited=(IntentEdit(a.id, a.updated_at, intent("a2")),),
                      token=SaveToken.new())
    alice.save_intents(diff)
    again = alice.save_intents(diff)  # the answer was lost, the page saves the same edits again
    assert again.checked
    assert [r["kind"] for r in records(engine_for)] == ["grid", "grid"]


def test_undo_puts_the_before_values_back_and_is_recorded(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    before, _ = mixed_save(alice, engine_for)
    saved = alice.list_history()[0]
    undo_id = alice.undo_save(saved.id).history_id
    # exactly as before the save, times included: the deleted intent is back with its id, the added one gone
    assert rows(engine_for) == before
    record = records(engine_for)[-1]
    assert (record["id"], record["kind"], record["reverts"]) == (undo_id, "undo", saved.id)
    latest = alice.list_history()
    assert latest[0].id == undo_id and latest[0].reverts == saved.id
    assert latest[1].undone_by == undo_id
    assert latest[0].summary() == "1 added, 1 changed, 1 deleted"  # the undo re-adds b, edits a, deletes d


def test_a_grid_loaded_before_an_undo_cannot_save_over_it(store) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"),)))
    [a] = alice.list_intents()
    alice.save_intents(IntentDiff(edited=(IntentEdit(a.id, a.updated_at, intent("a2")),)))
    [loaded] = alice.list_intents()  # another tab shows "a2"
    alice.undo_save(alice.list_history()[0].id)
    with pytest.raises(ConflictError):
        alice.save_intents(IntentDiff(edited=(IntentEdit(loaded.id, loaded.updated_at, intent("a3")),)))
    assert [i.intent_name for i in alice.list_intents()] == ["a"]


def test_a_save_is_undone_once_and_the_undo_can_be_undone(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    mixed_save(alice, engine_for)
    after_save = rows(engine_for)
    saved = alice.list_history()[0]
    undo_id = alice.undo_save(saved.id).history_id
    kept = snapshot(engine_for)
    with pytest.raises(AlreadyUndone, match="already undone"):
        alice.undo_save(saved.id)
    assert snapshot(engine_for) == kept
    alice.undo_save(undo_id)  # redo
    assert rows(engine_for) == after_save


def test_undo_refuses_when_an_intent_changed_since_and_changes_nothing(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    mixed_save(alice, engine_for)
    saved = alice.list_history()[0]
    a2 = next(i for i in alice.list_intents() if i.intent_name == "a2")
    alice.save_intents(IntentDiff(edited=(IntentEdit(a2.id, a2.updated_at, intent("a3")),)))
    kept = snapshot(engine_for)
    with pytest.raises(UndoConflict) as err:
        alice.undo_save(saved.id)
    assert isinstance(err.value, ConflictError) and err.value.ids == [a2.id]
    assert "“a2”" in str(err.value) and "Nothing was undone" in str(err.value)
    assert snapshot(engine_for) == kept


def test_undo_refuses_when_a_deleted_intent_came_back_or_another_writer_changed_a_row(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"),)))
    saved = alice.list_history()[0]
    [a] = alice.list_intents()
    with engine_for.begin() as conn:  # the web app edits the phrases without touching updated_at
        conn.execute(sa.update(schema.intents).where(schema.intents.c.id == a.id).values(example_user_phrases=["changed elsewhere"]))
    kept = snapshot(engine_for)
    with pytest.raises(UndoConflict):
        alice.undo_save(saved.id)
    assert snapshot(engine_for) == kept


def test_history_and_undo_are_per_user(store, engine_for) -> None:
    alice, bob = store.for_user(ALICE), store.for_user(BOB)
    alice.save_intents(IntentDiff(added=(intent("a"),)))
    [saved] = alice.list_history()
    assert bob.list_history() == []
    kept = snapshot(engine_for)
    for bad in (saved.id, str(uuid.uuid4()), "not-a-uuid", "' or 1=1 --"):
        with pytest.raises(HistoryNotFound):
            bob.undo_save(bad)
    assert snapshot(engine_for) == kept


def test_history_is_newest_first_and_limited(store) -> None:
    alice = store.for_user(ALICE)
    for n in range(4):
        alice.save_intents(IntentDiff(added=(intent(f"i{n}"),)))
    shown = alice.list_history(limit=3)
    assert [e.changes[0].name for e in shown] == ["i3", "i2", "i1"]


def test_a_large_save_is_listed_by_its_first_changes_and_counted_whole(store, engine_for) -> None:
    from lib.store.history import SHOWN_CHANGES

    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=tuple(intent(f"n{k:04d}") for k in range(SHOWN_CHANGES + 5)), kind="import"))
    victim = alice.list_intents()[0]
    alice.save_intents(IntentDiff(deleted=(IntentRef(victim.id, victim.updated_at),)))
    deleted, imported = alice.list_history()
    assert imported.summary() == f"{SHOWN_CHANGES + 5} added, 0 changed, 0 deleted"
    assert imported.total == SHOWN_CHANGES + 5 and len(imported.changes) == SHOWN_CHANGES
    stored_ids = [c["id"] for c in records(engine_for)[0]["changes"]]
    assert [c.id for c in imported.changes] == stored_ids[:SHOWN_CHANGES]  # the record's order
    assert deleted.summary() == "0 added, 0 changed, 1 deleted" and deleted.changes[0].name == victim.intent_name
    with pytest.raises(UndoConflict):  # undo checks the whole record: one of its intents is gone since
        alice.undo_save(imported.id)
    alice.undo_save(deleted.id)  # the later save first: the intent is back exactly as the import left it
    alice.undo_save(imported.id)
    assert alice.list_intents() == []


def test_a_history_change_advances_its_version(store) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"),)))
    v1 = alice.versions()["intent_history"]
    alice.undo_save(alice.list_history()[0].id)
    assert alice.versions()["intent_history"] > v1


# -- deleted intents leave no dangling ids in assistants.intents_used --------------------------

def _assistant(conn: sa.Connection, user: str, name: str, used: list[str]) -> str:
    aid = str(uuid.uuid4())
    at = datetime(2026, 11, 1, 9, 0)
    conn.execute(sa.insert(schema.assistants).values(id=aid, user_id=user, vapi_assistant_id=f"vapi_{name}", name=name, config={},
                                     intents_used=used, created_at=at, updated_at=at))
    return aid


def used(engine: sa.Engine) -> dict[str, tuple[list[str], datetime]]:
    with engine.connect() as conn:
        found = conn.execute(sa.select(schema.assistants.c.name, schema.assistants.c.intents_used, schema.assistants.c.updated_at)).all()
    return {r.name: ([str(uuid.UUID(str(i))) for i in r.intents_used], r.updated_at) for r in found}


def test_deleting_an_intent_removes_its_id_from_the_users_assistants(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("keep"), intent("drop"), intent("also kept"))))
    ids = {i.intent_name: i for i in alice.list_intents()}
    keep, drop, kept2 = ids["keep"].id, ids["drop"].id, ids["also kept"].id
    with engine_for.begin() as conn:
        _assistant(conn, ALICE, "front desk", [keep, drop, kept2])
        _assistant(conn, ALICE, "unrelated", [keep])
        _assistant(conn, BOB, "bob's", [drop])  # another user's row is never touched
    versions = alice.versions()
    alice.save_intents(IntentDiff(deleted=(IntentRef(drop, ids["drop"].updated_at),)))
    now = used(engine_for)
    assert now["front desk"][0] == [keep, kept2]  # order kept
    assert now["front desk"][1] > datetime(2026, 11, 1, 9, 0)
    assert now["unrelated"] == ([keep], datetime(2026, 11, 1, 9, 0))
    assert now["bob's"] == ([drop], datetime(2026, 11, 1, 9, 0))
    assert alice.versions()["assistants"] > versions["assistants"]  # the assistants screen refreshes
    assert [a.intents_used for a in alice.list_assistants() if a.name == "front desk"] == [("keep", "also kept")]


def test_any_writers_delete_removes_the_id(store, engine_for) -> None:
    """The web app (or psql) deleting an intent directly: the database itself drops the id."""
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"), intent("b"))))
    by_name = {i.intent_name: i.id for i in alice.list_intents()}
    with engine_for.begin() as conn:
        _assistant(conn, ALICE, "x", [by_name["a"], by_name["b"]])
    with engine_for.begin() as conn:
        conn.execute(sa.delete(schema.intents).where(schema.intents.c.user_id == ALICE))
    assert used(engine_for)["x"][0] == []
    assert [a.intents_used for a in alice.list_assistants()] == [()]


def _links(engine: sa.Engine, user: str = ALICE) -> dict[str, list[str]]:
    """Each of the user's assistants: its intents_used as the database holds it (independent SQL)."""
    with engine.connect() as conn:
        found = conn.execute(sa.text("select name, intents_used::text[] from assistants where user_id = :u"),
                             {"u": user}).all()
    return {name: list(ids) for name, ids in found}


def test_undoing_a_delete_brings_the_assistant_links_back_where_they_were(store, engine_for) -> None:
    """Issue 20, item 3: the deleted intents come back used by the same assistants, at the same places, in the
    undo's transaction; the answer counts them."""
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("keep"), intent("drop"), intent("second"), intent("other"))))
    ids = {i.intent_name: i for i in alice.list_intents()}
    keep, drop, second, other = (ids[n].id for n in ("keep", "drop", "second", "other"))
    with engine_for.begin() as conn:
        _assistant(conn, ALICE, "front desk", [keep, drop, other, second])
        _assistant(conn, ALICE, "night line", [drop])
        _assistant(conn, BOB, "bob's", [drop])  # another user's row is never touched
    before = _links(engine_for)
    alice.save_intents(IntentDiff(deleted=(IntentRef(drop, ids["drop"].updated_at),
                                           IntentRef(second, ids["second"].updated_at))))
    assert _links(engine_for) == {"front desk": [keep, other], "night line": []}
    with engine_for.begin() as conn:  # the web app links another intent meanwhile
        conn.execute(sa.text("update assistants set intents_used = intents_used || cast(:k as uuid) "
                             "where name = 'night line'"), {"k": keep})
    undone = alice.undo_save(alice.list_history()[0].id)
    assert (undone.links_restored, undone.links_lost) == (3, ())
    assert _links(engine_for) == {"front desk": before["front desk"], "night line": [drop, keep]}
    assert _links(engine_for, BOB) == {"bob's": [drop]}
    by_name = {a.name: a.intents_used for a in alice.list_assistants()}
    assert by_name["front desk"] == ("keep", "drop", "other", "second")
    with engine_for.connect() as conn:  # nothing kept once restored
        assert conn.execute(sa.text("select count(*) from intent_links_removed")).scalar_one() == 0


def test_undoing_a_delete_names_the_assistants_deleted_since(store, engine_for) -> None:
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("drop"),)))
    [drop] = alice.list_intents()
    with engine_for.begin() as conn:
        _assistant(conn, ALICE, "front desk", [drop.id])
        gone = _assistant(conn, ALICE, "Night line", [drop.id])
    alice.save_intents(IntentDiff(deleted=(IntentRef(drop.id, drop.updated_at),)))
    with engine_for.begin() as conn:
        conn.execute(sa.text("delete from assistants where id = :a"), {"a": gone})
    undone = alice.undo_save(alice.list_history()[0].id)
    assert (undone.links_restored, undone.links_lost) == (1, ("Night line",))
    assert _links(engine_for) == {"front desk": [drop.id]}
    assert [i.intent_name for i in alice.list_intents()] == ["drop"]


def test_a_redo_of_an_add_keeps_the_links_made_meanwhile(store, engine_for) -> None:
    """Undo of an add deletes the intent (its links are kept); undoing that undo brings them back."""
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("new"),)))
    [new] = alice.list_intents()
    with engine_for.begin() as conn:
        _assistant(conn, ALICE, "front desk", [new.id])
    undo = alice.undo_save(alice.list_history()[0].id)
    assert _links(engine_for) == {"front desk": []}
    assert alice.undo_save(undo.history_id).links_restored == 1
    assert _links(engine_for) == {"front desk": [new.id]}


# -- PostgreSQL: the history is append-only under role authenticated --------------------------

def _as(conn: sa.Connection, user: str) -> None:
    conn.execute(sa.text("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', :c, true)"),
                 {"c": json.dumps({"sub": user, "role": "authenticated"})})


def test_rls_users_read_and_insert_only_their_own_records_and_never_update_or_delete(pg_clean: str) -> None:
    from lib.store.direct import DirectStore

    store = DirectStore(pg_clean)
    store.for_user(ALICE).save_intents(IntentDiff(added=(intent("a"),)))
    store.for_user(BOB).save_intents(IntentDiff(added=(intent("b"),)))
    store.close()
    engine = sa.create_engine(pg_clean)
    with engine.begin() as conn:
        _as(conn, ALICE)
        assert conn.execute(sa.text("select user_id from intent_history")).scalars().all() == [ALICE]
        conn.execute(sa.text("insert into intent_history (user_id, kind, changes) values (:u, 'grid', '[]')"),
                     {"u": ALICE})
    for sql in ("update intent_history set changes = '[]'", "delete from intent_history",
                "truncate intent_history",
                f"insert into intent_history (user_id, kind, changes) values ('{BOB}', 'grid', '[]')"):
        with pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|row-level security"), \
                engine.begin() as conn:
            _as(conn, ALICE)
            conn.execute(sa.text(sql))
    with engine.connect() as conn:
        assert conn.execute(sa.text("select user_id, count(*) from intent_history group by 1 order by 1")).all() == \
            [(ALICE, 2), (BOB, 1)]
        policies = dict(conn.execute(sa.text(
            "select cmd, coalesce(qual, with_check) from pg_policies where tablename = 'intent_history'")).all())
        assert set(policies) == {"SELECT", "INSERT"}
        assert all("( SELECT auth.jwt() AS jwt) ->> 'sub'" in p for p in policies.values()), policies
        assert not conn.execute(sa.text("select has_table_privilege('anon', 'public.intent_history', 'select')")).scalar()
    engine.dispose()


def test_concurrent_undos_of_one_save_undo_it_once(pg_clean: str) -> None:
    from lib.store.direct import DirectStore

    store = DirectStore(pg_clean)
    alice = store.for_user(ALICE)
    alice.save_intents(IntentDiff(added=(intent("a"), intent("b"))))
    [saved] = alice.list_history()
    outcomes: list[object] = []
    start = threading.Barrier(4)

    def undo() -> None:
        start.wait()
        try:
            outcomes.append(alice.undo_save(saved.id))
        except (AlreadyUndone, UndoConflict) as err:
            outcomes.append(type(err))

    threads = [threading.Thread(target=undo) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, Undone) for o in outcomes) == 1, outcomes
    assert alice.list_intents() == []
    store.close()
    engine = sa.create_engine(pg_clean)
    assert len(records(engine)) == 2
    engine.dispose()


def test_the_save_function_keeps_working_for_callers_without_a_kind(pg_clean: str) -> None:
    """Called as the signed-in user with only the added rows: kind defaults to 'grid'."""
    engine = sa.create_engine(pg_clean)
    with engine.begin() as conn:
        _as(conn, ALICE)
        result = conn.execute(sa.text(
            "select public.dashboard_save_intents(p_added => cast(:a as jsonb))"),
            {"a": json.dumps([{"intent_name": "n", "example_user_phrases": ["p"],
                               "english_responses": [], "russian_responses": []}])}).scalar_one()
    assert (result["added"], result["edited"], result["deleted"]) == (1, 0, 0)
    [record] = records(engine)
    assert record["kind"] == "grid" and record["id"] == result["history_id"]
    assert set(rows(engine)) == {record["changes"][0]["id"]}
    engine.dispose()


def test_the_functions_refuse_a_caller_without_a_user(pg_clean: str) -> None:
    """No token subject, no call: dashboard_uid() raises 42501 rather than acting for nobody."""
    engine = sa.create_engine(pg_clean)
    with pytest.raises(sa.exc.ProgrammingError) as caught, engine.begin() as conn:
        conn.execute(sa.text("select set_config('role', 'authenticated', true)"))
        conn.execute(sa.text("select public.dashboard_list_intents()"))
    assert caught.value.orig.sqlstate == "42501"
    engine.dispose()



def test_over_rest_a_users_token_reads_own_records_and_cannot_change_them(pg_clean, rest_store, rest_url) -> None:
    """What the web app's users could try with their own Supabase token, through PostgREST."""
    import httpx

    from tests.rest_fixtures import user_token

    store = rest_store
    store.for_user(ALICE).save_intents(IntentDiff(added=(intent("a"),)))
    store.for_user(BOB).save_intents(IntentDiff(added=(intent("b"),)))
    headers = {"Authorization": f"Bearer {user_token(ALICE)}", "Accept": "application/json"}
    with httpx.Client(base_url=rest_url + "/rest/v1", headers=headers, timeout=10) as http:
        got = http.get("/intent_history", params={"select": "user_id,kind"})
        assert got.status_code == 200 and got.json() == [{"user_id": ALICE, "kind": "grid"}]
        for method in ("PATCH", "DELETE"):
            answer = http.request(method, "/intent_history", params={"user_id": f"eq.{ALICE}"},
                                  json={"kind": "import"} if method == "PATCH" else None)
            assert answer.status_code in (401, 403) and answer.json()["code"] == "42501", answer.text
        forged = http.post("/intent_history", json={"user_id": BOB, "kind": "grid", "changes": []})
        assert forged.status_code in (401, 403), forged.text
        bobs = store.for_user(BOB).list_history()[0].id
        undo = http.post("/rpc/dashboard_undo_save", json={"p_history_id": bobs})
        assert undo.json()["code"] == "P0002", undo.text  # not hers: no such save (PostgREST answers P0002 with 500)
    assert [e.kind for e in store.for_user(ALICE).list_history()] == ["grid"]
    assert len(store.for_user(BOB).list_history()) == 1
