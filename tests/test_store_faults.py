"""Saves on PostgreSQL survive faults: the server killed before, during and after COMMIT, the answer
to a COMMIT lost, a row lock held past the timeout, the connection pool exhausted.

A private cluster for this module (tools.pgcluster.Cluster) that the tests stop and start, with
``synchronous_commit = on`` so a commit acknowledged is a commit on disk.  What the database holds is
always checked with SQL written here, through an owner connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
import sqlalchemy as sa

from lib.errors import SaveOutcomeUnknown, StoreError, StoreUnavailable
from lib.models import IntentDiff, IntentEdit, IntentInput, IntentRef, SaveToken
from lib.store.direct import DirectStore
from tools.pgcluster import Cluster

USER = "user_faulty_sql"

# A deferred constraint trigger runs inside COMMIT: for a row named 'HOLD…' it sleeps, holding the
# COMMIT open so a test can kill the backend in the middle of it, deterministically.
HOLD_COMMIT = """
create or replace function public.test_hold_commit() returns trigger language plpgsql as $$
begin
    if left(new.intent_name, 4) = 'HOLD' then perform pg_sleep(60); end if;
    return null;
end $$;
create constraint trigger test_hold_commit after insert or update on public.intents
    deferrable initially deferred for each row execute function public.test_hold_commit();
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(settings={"synchronous_commit": "on"})
    with c:
        admin = sa.create_engine(c.url)
        with admin.begin() as conn:
            conn.exec_driver_sql(HOLD_COMMIT)
        admin.dispose()
        yield c


@pytest.fixture
def admin(cluster: Cluster) -> Iterator[sa.Engine]:
    """An owner connection to the module's cluster, tables emptied first (and the server up)."""
    engine = sa.create_engine(cluster.url, pool_pre_ping=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("truncate intents, assistant_settings")
    yield engine
    engine.dispose()


@pytest.fixture
def store(cluster: Cluster, admin: sa.Engine) -> Iterator[DirectStore]:
    s = DirectStore(cluster.url, statement_timeout_ms=3000)
    yield s
    s.close()


def intent(name: str) -> IntentInput:
    return IntentInput(name, ("hello",), ("Hi!",), ("Привет!",))


def names(admin: sa.Engine) -> list[str]:
    with admin.connect() as conn:
        return list(conn.execute(sa.text("select intent_name from intents where user_id = :u order by 1"),
                                 {"u": USER}).scalars())


def terminate(admin: sa.Engine, pid: int) -> None:
    """Kill one backend and wait until it is gone."""
    with admin.connect() as conn:
        conn.execute(sa.text("select pg_terminate_backend(:p)"), {"p": pid})
        for _ in range(200):
            if not conn.execute(sa.text("select 1 from pg_stat_activity where pid = :p"), {"p": pid}).first():
                return
            conn.rollback()  # pg_stat_activity is one snapshot per transaction
            time.sleep(0.02)
    raise AssertionError("the backend did not exit")


@pytest.fixture
def on_next_commit(monkeypatch: pytest.MonkeyPatch) -> Callable[[DirectStore, Callable[[int], object]], None]:
    """``on_next_commit(store, action)``: run ``action(backend_pid)`` just before the store's next COMMIT
    is sent (once; only on the store's own connections, which carry its statement_timeout option)."""

    def install(store: DirectStore, action: Callable[[int], object]) -> None:
        original = psycopg.Connection.commit
        fired: list[bool] = []

        def commit(conn: psycopg.Connection) -> None:
            if not fired and "statement_timeout" in conn.info.dsn:
                fired.append(True)
                action(conn.info.backend_pid)
            original(conn)

        monkeypatch.setattr(psycopg.Connection, "commit", commit)

    return install


def seeded(store: DirectStore) -> tuple[IntentDiff, SaveToken]:
    """One existing row 'old' and a save that edits it and adds two rows, with its token."""
    handle = store.for_user(USER)
    handle.save_intents(IntentDiff(added=(intent("old"), intent("doomed"))))
    old, doomed = sorted(handle.list_intents(), key=lambda i: i.intent_name != "old")
    token = SaveToken.new()
    return IntentDiff(added=(intent("a"), intent("b")), edited=(IntentEdit(old.id, old.updated_at, intent("new")),),
                      deleted=(IntentRef(doomed.id, doomed.updated_at),), token=token), token


# -- killed before, during and after COMMIT --------------------------------------------------------

def test_backend_killed_just_before_commit_is_checked_not_saved(store: DirectStore, admin: sa.Engine, on_next_commit) -> None:
    diff, _ = seeded(store)
    on_next_commit(store, lambda pid: terminate(admin, pid))
    with pytest.raises(StoreUnavailable) as err:
        store.for_user(USER).save_intents(diff)
    assert type(err.value) is StoreUnavailable  # checked: not saved (not "unknown")
    assert "Nothing was changed" in str(err.value)
    assert names(admin) == ["doomed", "old"]
    result = store.for_user(USER).save_intents(diff)  # the user saves again: applied once
    assert not result.checked and names(admin) == ["a", "b", "new"]


def test_backend_killed_during_commit_is_checked_not_saved(store: DirectStore, admin: sa.Engine) -> None:
    handle = store.for_user(USER)
    outcome: list[BaseException | object] = []
    diff = IntentDiff(added=(intent("HOLD me"), intent("other")), token=SaveToken.new())

    def save() -> None:
        try:
            outcome.append(handle.save_intents(diff))
        except BaseException as err:
            outcome.append(err)

    worker = threading.Thread(target=save)
    worker.start()
    with admin.connect() as conn:
        for _ in range(500):  # wait until the COMMIT sits in the trigger's sleep
            pid = conn.execute(sa.text("select pid from pg_stat_activity where wait_event = 'PgSleep' "
                                       "and query ilike 'commit%'")).scalar()
            if pid:
                break
            conn.rollback()  # pg_stat_activity is one snapshot per transaction
            time.sleep(0.02)
        else:
            raise AssertionError(f"the save never reached COMMIT: {outcome}")
    terminate(admin, pid)
    worker.join(30)
    assert isinstance(outcome[0], StoreUnavailable) and type(outcome[0]) is StoreUnavailable, outcome
    assert names(admin) == []


class AckDropper:
    """A TCP proxy in front of PostgreSQL that, when armed, lets one COMMIT through, waits for the
    server's answer (the commit is then durable) and closes the connection instead of passing it on:
    the acknowledgement is lost.  ``refuse`` makes it close every new connection (server unreachable)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.armed = False
        self.refuse = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            dropping = threading.Event()
            threading.Thread(target=self._up, args=(client, server, dropping), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, dropping), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, dropping: threading.Event) -> None:
        try:
            while data := client.recv(65536):
                if self.armed and b"COMMIT\x00" in data:
                    self.armed = False
                    dropping.set()
                server.sendall(data)
        except OSError:
            pass

    @staticmethod
    def _down(server: socket.socket, client: socket.socket, dropping: threading.Event) -> None:
        try:
            while data := server.recv(65536):
                if dropping.is_set():
                    break
                client.sendall(data)
        except OSError:
            pass
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxied(cluster: Cluster, admin: sa.Engine) -> Iterator[tuple[DirectStore, AckDropper]]:
    proxy = AckDropper(cluster.port)
    s = DirectStore(cluster.url.replace(f":{cluster.port}/", f":{proxy.port}/"), statement_timeout_ms=3000)
    yield s, proxy
    s.close()
    proxy.close()


def test_commit_acknowledgement_lost_is_checked_and_reported_saved(proxied: tuple[DirectStore, AckDropper],
                                                                   admin: sa.Engine) -> None:
    store, proxy = proxied
    diff, token = seeded(store)
    proxy.armed = True
    result = store.for_user(USER).save_intents(diff)
    assert not proxy.armed  # the COMMIT went through the proxy and its answer was dropped
    assert result.checked and (result.added, result.edited, result.deleted) == (2, 1, 1)
    assert result.notice() == "Checked after a dropped connection: saved (2 added, 1 changed, 1 deleted)."
    assert names(admin) == ["a", "b", "new"]
    again = store.for_user(USER).save_intents(diff)  # a retry of the same save: recognised, not doubled
    assert again.checked and names(admin) == ["a", "b", "new"]
    with admin.connect() as conn:
        stamps = set(conn.execute(sa.text("select updated_at from intents where user_id = :u"), {"u": USER}).scalars())
    assert stamps == {token.at}


def test_commit_acknowledgement_lost_and_server_unreachable_is_unknown_then_settled(
        proxied: tuple[DirectStore, AckDropper], admin: sa.Engine) -> None:
    store, proxy = proxied
    diff = IntentDiff(added=(intent("a"),), token=SaveToken.new())
    assert store.for_user(USER).list_intents() == []  # leaves one open connection in the pool, for the save
    proxy.armed = True
    proxy.refuse = True  # that connection still works; the check after the drop cannot connect
    with pytest.raises(SaveOutcomeUnknown) as err:
        store.for_user(USER).save_intents(diff)
    assert "could not be reached to check" in str(err.value) and "never applied twice" in str(err.value)
    assert names(admin) == ["a"]  # it did commit; the dashboard could not know yet
    proxy.refuse = False
    result = store.for_user(USER).save_intents(diff)
    assert result.checked and names(admin) == ["a"]


def test_server_stopped_just_before_commit_is_unknown_then_saved_once_after_restart(
        store: DirectStore, admin: sa.Engine, cluster: Cluster, on_next_commit) -> None:
    diff = IntentDiff(added=(intent("a"), intent("b")), token=SaveToken.new())
    on_next_commit(store, lambda _pid: cluster.halt())
    try:
        with pytest.raises(SaveOutcomeUnknown):
            store.for_user(USER).save_intents(diff)
        with pytest.raises(StoreUnavailable) as err:  # still down: fails fast, says so
            store.for_user(USER).list_intents()
        assert "not reachable" in str(err.value)
    finally:
        cluster.resume()
    result = store.for_user(USER).save_intents(diff)  # the same save once the server is back
    assert not result.checked and names(admin) == ["a", "b"]


def test_server_stopped_after_commit_keeps_the_save(store: DirectStore, admin: sa.Engine, cluster: Cluster) -> None:
    result = store.for_user(USER).save_intents(IntentDiff(added=(intent("kept"),)))
    assert result.added == 1 and not result.checked
    cluster.halt()
    try:
        with pytest.raises(StoreUnavailable) as err:
            store.for_user(USER).save_intents(IntentDiff(added=(intent("while down"),)))
        assert type(err.value) is StoreUnavailable  # nothing was sent: certainly not saved
    finally:
        cluster.resume()
    assert names(admin) == ["kept"]
    assert [i.intent_name for i in store.for_user(USER).list_intents()] == ["kept"]  # the store recovers


# -- a lock held too long, the pool exhausted --------------------------------------------------------

def test_a_row_locked_longer_than_the_timeout_fails_cleanly(cluster: Cluster, admin: sa.Engine) -> None:
    store = DirectStore(cluster.url, statement_timeout_ms=300)
    try:
        handle = store.for_user(USER)
        handle.save_intents(IntentDiff(added=(intent("locked"),)))
        row = handle.list_intents()[0]
        with admin.connect() as holder:
            holder.execute(sa.text("select 1 from intents where id = :i for update"), {"i": row.id})
            with pytest.raises(StoreUnavailable) as err:
                handle.save_intents(IntentDiff(edited=(IntentEdit(row.id, row.updated_at, intent("changed")),)))
            assert type(err.value) is StoreUnavailable
            assert "did not answer in time" in str(err.value) and "Nothing was changed" in str(err.value)
            holder.rollback()
        assert names(admin) == ["locked"]
        assert handle.save_intents(IntentDiff(edited=(IntentEdit(row.id, row.updated_at, intent("changed")),))).edited
        assert names(admin) == ["changed"]
    finally:
        store.close()


def test_an_exhausted_pool_fails_cleanly_and_recovers(cluster: Cluster, admin: sa.Engine) -> None:
    store = DirectStore(cluster.url, statement_timeout_ms=300)  # pool_timeout follows the statement timeout
    held = [store.pool.getconn() for _ in range(store.pool.max_size)]
    try:
        with pytest.raises(StoreUnavailable) as err:
            store.for_user(USER).save_intents(IntentDiff(added=(intent("a"),)))
        assert type(err.value) is StoreUnavailable and str(err.value) == str(StoreUnavailable())
        assert names(admin) == []
    finally:
        for conn in held:
            store.pool.putconn(conn)
    assert store.for_user(USER).save_intents(IntentDiff(added=(intent("a"),))).added == 1
    assert names(admin) == ["a"]
    store.close()


def test_set_active_whose_commit_answer_is_lost_is_checked(proxied: tuple[DirectStore, AckDropper],
                                                           admin: sa.Engine) -> None:
    store, proxy = proxied
    assert store.for_user(USER).get_settings().is_active
    proxy.armed = True
    assert store.for_user(USER).set_active(False).is_active is False
    assert not proxy.armed
    with admin.connect() as conn:
        assert conn.execute(sa.text("select is_active from assistant_settings where user_id = :u"),
                            {"u": USER}).scalar_one() is False


def test_errors_never_show_driver_text(store: DirectStore, admin: sa.Engine, on_next_commit) -> None:
    on_next_commit(store, lambda pid: terminate(admin, pid))
    with pytest.raises(StoreError) as err:
        store.for_user(USER).save_intents(IntentDiff(added=(intent("a"),)))
    text = str(err.value)
    assert "terminat" not in text and "psycopg" not in text and "127.0.0.1" not in text
