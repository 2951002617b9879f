"""Two editors saving overlapping diffs at the same moment, on both transports (direct and Supabase REST):
one wins, the other is told about the conflict, nothing is lost or half-written.  Real threads,
released together by a barrier, many rounds; the outcome is read back with SQL written here.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from lib.errors import ConflictError
from lib.models import IntentDiff, IntentEdit, IntentInput, IntentRef, SaveResult

USER = "user_two_editors"
ROUNDS = 50


@pytest.fixture
def handle(store: object) -> object:
    """The user's handle on each transport (conftest's ``store``: direct and rest)."""
    return store.for_user(USER)  # type: ignore[attr-defined]


def intent(name: str) -> IntentInput:
    return IntentInput(name, ("hello",), ("Hi!",), ("Привет!",))


def state(engine: sa.Engine) -> dict[str, str]:
    """id -> name of the user's intents, as the database holds them."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("select id::text, intent_name from intents where user_id = :u"),
                                 {"u": USER}).all())


def test_overlapping_saves_at_the_same_moment_one_wins_one_conflicts(handle: object, engine: sa.Engine) -> None:
    handle.save_intents(IntentDiff(added=tuple(intent(f"row {k}") for k in range(4))))
    wins = {"A": 0, "B": 0}
    for n in range(ROUNDS):
        rows = sorted(handle.list_intents(), key=lambda i: i.intent_name)
        r0, r1, r2, r3 = rows[:4]
        before = state(engine)
        # A changes rows 0 and 1 and adds one; B changes rows 1 and 2 and deletes row 3: row 1 is shared.
        diffs = {
            "A": IntentDiff(added=(intent(f"row 9 A{n}"),),
                            edited=(IntentEdit(r0.id, r0.updated_at, intent(f"row 0 A{n}")),
                                    IntentEdit(r1.id, r1.updated_at, intent(f"row 1 A{n}")))),
            "B": IntentDiff(edited=(IntentEdit(r2.id, r2.updated_at, intent(f"row 2 B{n}")),
                                    IntentEdit(r1.id, r1.updated_at, intent(f"row 1 B{n}"))),
                            deleted=(IntentRef(r3.id, r3.updated_at),)),
        }
        barrier = threading.Barrier(2)
        outcome: dict[str, object] = {}

        def save(who: str, diff: IntentDiff, barrier: threading.Barrier = barrier,
                 outcome: dict[str, object] = outcome) -> None:
            barrier.wait()
            try:
                outcome[who] = handle.save_intents(diff)
            except Exception as err:  # the test checks what each editor got
                outcome[who] = err

        threads = [threading.Thread(target=save, args=item) for item in diffs.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        won = [w for w, o in outcome.items() if isinstance(o, SaveResult)]
        lost = [w for w, o in outcome.items() if isinstance(o, ConflictError)]
        assert len(won) == 1 and len(lost) == 1, outcome
        winner = won[0]
        wins[winner] += 1
        assert "changed or deleted in another session" in str(outcome[lost[0]])
        after = state(engine)
        if winner == "A":
            expected = {**before, r0.id: f"row 0 A{n}", r1.id: f"row 1 A{n}"}
            new = set(after) - set(before)
            assert len(new) == 1 and after[new.pop()] == f"row 9 A{n}"
            after = {k: v for k, v in after.items() if k in before}
        else:
            expected = {k: v for k, v in {**before, r2.id: f"row 2 B{n}", r1.id: f"row 1 B{n}"}.items() if k != r3.id}
        assert after == expected  # the winner's save whole, nothing of the loser's
        # Put the table back to four rows named "row 0".."row 3" for the next round.
        rows = handle.list_intents()
        fix = IntentDiff(edited=tuple(IntentEdit(i.id, i.updated_at, intent(f"row {k}"))
                                      for k, i in enumerate(sorted(rows, key=lambda i: i.intent_name)[:4])),
                         deleted=tuple(IntentRef(i.id, i.updated_at) for i in
                                       sorted(rows, key=lambda i: i.intent_name)[4:]),
                         added=(intent("row 3"),) if len(rows) < 4 else ())
        handle.save_intents(fix)
        assert len(state(engine)) == 4
    assert sum(wins.values()) == ROUNDS
