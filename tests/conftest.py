"""Shared fixtures: a real throwaway PostgreSQL for the whole session (one per xdist worker), emptied
per test; the store contract runs on both transports to it, PostgreSQL direct and Supabase REST."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools import tables  # noqa: E402
from tools.pgcluster import Cluster, libpq_url, new_database  # noqa: E402

pytest_plugins = ["tests.rest_fixtures"]  # rest_url, rest_store, rest_store_factory, service_key, JWT_SECRET


@pytest.fixture(scope="module")
def browser(app: object) -> Iterator[object]:
    """Debian's Chromium for a browser test module, started after (and so skipped with) its ``app``."""
    from playwright.sync_api import sync_playwright

    from tests.e2e_support import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a real PostgreSQL with the migrations applied.

    ``TEST_DATABASE_URL`` may name an existing server (the suite makes its own database there, one per
    xdist worker); otherwise each worker makes a throwaway cluster and removes it afterwards.
    """
    existing = os.environ.get("TEST_DATABASE_URL")
    if existing:
        with new_database(existing.replace("postgresql://", "postgresql+psycopg://", 1), prefix="dashboard_test") as url:
            tables.use(url)
            yield url
        return
    with Cluster() as url:
        tables.use(url)
        yield url


def truncate_all(url: str) -> None:
    """Empty every table in ``public`` (rollups and change versions too)."""
    with psycopg.connect(libpq_url(url)) as conn:
        names = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")]
        if names:
            conn.execute("truncate " + ", ".join(f'public."{n}"' for n in names))


@pytest.fixture
def pg_clean(pg_url: str) -> str:
    """The PostgreSQL URL with every table emptied first."""
    truncate_all(pg_url)
    return pg_url


@pytest.fixture
def engine(pg_clean: str) -> Iterator[sa.Engine]:
    """An owner connection to the emptied PostgreSQL."""
    eng = sa.create_engine(pg_clean)
    yield eng
    eng.dispose()


BACKENDS = ["direct", "rest"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def open_direct(url: str, **kwargs: object) -> object:
    from lib.store.direct import DirectStore

    return DirectStore(url, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh, empty store on each transport (the contract suite runs once per transport), both on
    the suite's PostgreSQL: ``DirectStore(pg_clean)`` or ``RestStore`` through the PostgREST stand-in."""
    url = request.getfixturevalue("pg_clean")
    s = open_direct(url) if backend == "direct" else request.getfixturevalue("rest_store")
    yield s
    s.close()


@pytest.fixture
def engine_for(pg_clean: str, store: object) -> Iterator[sa.Engine]:
    """An owner connection to the store's database (for seeding and for checking what was written)."""
    eng = sa.create_engine(pg_clean)
    yield eng
    eng.dispose()


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may be skipped: a skipped PostgreSQL, Supabase or browser test fails the run."""
    if os.environ.get("CI") and _skipped and exitstatus == 0:
        print(f"\nCI: {len(_skipped)} test(s) were skipped, which CI does not allow: {_skipped[:5]}")
        session.exitstatus = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests drive a real Chromium against a real server on a shared 2-core machine, where a
    click can now and then land before the page settles.  Each gets one rerun (pytest-rerunfailures;
    shown as R in the summary, so a flake stays visible); a failure that repeats still fails the run."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.flaky(reruns=1))
