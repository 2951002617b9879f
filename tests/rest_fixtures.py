"""Fixtures for the Supabase REST backend: the PostgREST stand-in on the suite's PostgreSQL.

Registered for the whole suite by ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from lib.store.rest import RestStore
from tests.postgrest_server import PostgrestServer, make_jwt

# The stand-in's JWT secret (like a Supabase project's JWT secret; HS256 wants >= 32 bytes).
JWT_SECRET = "postgrest-emulator-test-secret-0123456789abcdef"


def service_key() -> str:
    """A server-side key as Supabase issues it: role service_role, long-lived."""
    return make_jwt(JWT_SECRET, "service_role", expires_in=7 * 24 * 3600, iss="supabase")


def user_token(user_id: str) -> str:
    """A signed-in user's token: role authenticated, sub = the user's id."""
    return make_jwt(JWT_SECRET, "authenticated", user_id)


def anon_key() -> str:
    return make_jwt(JWT_SECRET, "anon", expires_in=7 * 24 * 3600, iss="supabase")


@pytest.fixture(scope="session")
def rest_url(pg_url: str) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of a PostgREST stand-in on the ``pg_url`` database."""
    with PostgrestServer(pg_url, JWT_SECRET) as url:
        yield url


@pytest.fixture
def rest_store_factory(rest_url: str) -> Iterator[Callable[..., RestStore]]:
    """Factory: ``rest_store_factory()`` gives a new RestStore on the stand-in with a service_role
    key and the stand-in's JWT secret (keyword arguments go to RestStore, e.g. ``timeout=``); every
    store is closed afterwards."""
    made: list[RestStore] = []

    def factory(**kwargs: object) -> RestStore:
        kwargs.setdefault("jwt_secret", JWT_SECRET)
        store = RestStore(rest_url, service_key(), **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


@pytest.fixture
def rest_store(rest_store_factory: Callable[..., RestStore]) -> RestStore:
    """A RestStore on the stand-in with a service_role key (closed afterwards; closing it twice is fine)."""
    return rest_store_factory()
