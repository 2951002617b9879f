"""A throwaway PostgreSQL cluster for the test suite and the benchmarks.

Made with the machine's ``initdb``/``pg_ctl`` (as the ``postgres`` OS user when we are root, since
PostgreSQL refuses to run as root), listening on a private socket directory and a free loopback
port, with Supabase's roles and ``auth.jwt()`` shim, and the migrations applied and recorded as the
Supabase CLI records them (both from lib.ops.migrate).  Test and benchmark infrastructure, outside the
product package.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from lib.ops.migrate import SUPABASE_SHIM, apply_migrations, libpq_url, migration_files

__all__ = ["MIGRATIONS", "SUPABASE_SHIM", "Cluster", "apply_migrations", "libpq_url", "pg_bindir",
           "reapply_migrations"]

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = migration_files()


def pg_bindir() -> Path:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if (Path(out) / "initdb").exists():
            return Path(out)
    except (OSError, subprocess.CalledProcessError):
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries (initdb) not found; `make test` installs them")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reapply_migrations(url: str) -> None:
    """Run every migration file again, whatever the history table says, in one transaction: checks
    that the files are idempotent (``apply_migrations`` itself skips the files already recorded)."""
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(SUPABASE_SHIM)
        for path in MIGRATIONS:
            conn.execute(path.read_text())


class Cluster:
    """``with Cluster() as url:`` gives a SQLAlchemy URL of a fresh database with the schema."""

    def __init__(self, *, settings: dict[str, str] | None = None) -> None:
        self.bindir = pg_bindir()
        self.settings = settings or {}
        self.dir = Path(tempfile.mkdtemp(prefix="dashboard-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.user = "postgres"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")
            os.chmod(self.dir, 0o755)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--locale=C.UTF-8")
        opts = {"listen_addresses": "'127.0.0.1'", "port": str(self.port), "unix_socket_directories": f"'{self.dir}'",
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "shared_buffers": "256MB",
                "max_connections": "100", **self.settings}
        with open(self.data / "postgresql.conf", "a") as conf:
            for key, value in opts.items():
                conf.write(f"{key} = {value}\n")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60", "start")
        apply_migrations(self.url)
        return self.url

    def halt(self) -> None:
        """Stop the server at once (``pg_ctl stop -m immediate``, like a crash), keeping its data."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """Start the halted server again on the same port (crash recovery replays the WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> str:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def new_database(server_url: str, *, prefix: str = "db", setup: str | None = None) -> Iterator[str]:
    """SQLAlchemy URL of a new, migrated database on ``server_url``'s server, dropped afterwards.
    ``setup`` (SQL) runs before the migrations (e.g. Supabase's default privileges)."""
    import sqlalchemy as sa  # test and bench infrastructure only

    base = sa.engine.make_url(server_url)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = libpq_url(base.render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        if setup:
            with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                conn.execute(setup)
        apply_migrations(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
