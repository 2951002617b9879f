"""The seeded datasets every benchmark measures: who is measured (and the empty account), what each
size holds, and a throwaway database seeded with it (``make bench`` and ``bench.export_paging``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

INTENTS, ASSISTANTS, OTHER_USERS, OTHER_TESTS_CAP = 5_000, 200, 50, 20_000
MEASURED, EMPTY = "user_demo_alice", "user_demo_carol"  # carol is given no data: the empty account


def plans(n_tests: int) -> list:
    from lib.ops.demo import UserPlan

    measured = UserPlan(MEASURED, n_tests, INTENTS, ASSISTANTS, "active")
    others = [UserPlan(f"user_demo_{i:05d}", min(n_tests, OTHER_TESTS_CAP), 12, 3, ("active", "past_due", None)[i % 3])
              for i in range(1, OTHER_USERS + 1)]
    return [measured, *others]


@contextmanager
def dataset(n_tests: int) -> Iterator[str]:
    """A throwaway PostgreSQL seeded with the plans, vacuumed and analysed (the steady state autovacuum
    keeps: statistics and the visibility map for index-only scans)."""
    import psycopg

    from lib.ops import demo
    from tools.pgcluster import Cluster, libpq_url

    with Cluster() as url:
        demo.seed(url, plans(n_tests))
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute("vacuum (analyze)")
        yield url
