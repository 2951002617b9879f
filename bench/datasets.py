"""The seeded datasets every benchmark measures: who is measured (and the empty account), what each
size holds, and a throwaway database seeded with it (``make bench`` and ``bench.export_paging``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INTENTS, ASSISTANTS, OTHER_USERS, OTHER_TESTS_CAP = 5_000, 200, 50, 20_000
MEASURED, EMPTY = "user_demo_alice", "user_demo_carol"  # carol is given no data: the empty account


def plans(n_tests: int) -> list:
    from lib.demo import UserPlan

    measured = UserPlan(MEASURED, n_tests, INTENTS, ASSISTANTS, "active")
    others = [UserPlan(f"user_demo_{i:05d}", min(n_tests, OTHER_TESTS_CAP), 12, 3, ("active", "past_due", None)[i % 3])
              for i in range(1, OTHER_USERS + 1)]
    return [measured, *others]


@contextmanager
def dataset(backend: str, n_tests: int) -> Iterator[str]:
    from lib import demo
    from lib.pgcluster import Cluster
    from lib.store.sql import make_engine

    tmp = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    cluster = None
    try:
        if backend == "postgresql":
            cluster = Cluster()
            url = cluster.start()
        else:
            url = f"sqlite:///{tmp / 'bench.db'}"
        engine = make_engine(url, statement_timeout_ms=0)
        demo.seed(engine, plans(n_tests))
        if backend == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        else:  # the steady state autovacuum keeps: statistics and the visibility map (index-only scans)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE)")
        engine.dispose()
        yield url
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


