"""The load benchmark's environment: Clerk-style signing keys, the seeded PostgreSQL, the real
dashboard server as a subprocess, and what is read from the outside of that process (CPU, RSS,
database connections)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
APP = "dashboard/server.py"
NAIVE_APP = "bench/naive_app.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Data: one user the size of `make bench`'s L user, and 99 smaller ones (10,000 calls each).
L_USER = "user_load_000"
SIZES = {  # size -> (calls of the L user, calls of every other user)
    "S": (10_000, 1_000),
    "M": (100_000, 5_000),
    "L": (1_000_000, 10_000),
}
USERS = 100
L_INTENTS, L_ASSISTANTS = 5_000, 200
OTHER_INTENTS, OTHER_ASSISTANTS = 100, 5


def user_id(n: int) -> str:
    return f"user_load_{n:03d}"


class Keys:
    """An RSA key pair standing in for a Clerk instance: the public PEM for CLERK_JWT_KEY, and
    session tokens signed with the private key (RS256, ``sub`` = the user id)."""

    def __init__(self) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def token(self, sub: str, *, ttl: int = 60) -> str:
        """A Clerk-like session token (Clerk's live 60 s; the app checks it once, at session start)."""
        now = int(time.time())
        claims = {"sub": sub, "iat": now, "nbf": now - 5, "exp": now + ttl, "sid": f"sess_{sub}",
                  "iss": "https://clerk.bench.invalid", "azp": "http://127.0.0.1"}
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": "bench"})


def plans(size: str) -> list:
    from lib.ops.demo import UserPlan

    big, small = SIZES[size]
    out = [UserPlan(L_USER, big, L_INTENTS, L_ASSISTANTS, "active")]
    out += [UserPlan(user_id(n), small, OTHER_INTENTS, OTHER_ASSISTANTS, ("active", "past_due", None)[n % 3])
            for n in range(1, USERS)]
    return out


@contextmanager
def database(size: str) -> Iterator[str]:
    """A throwaway PostgreSQL with the schema and the load data set; yields its SQLAlchemy URL."""
    from lib.ops import demo
    from tools.pgcluster import Cluster

    with Cluster(settings={"max_connections": "200"}) as url:
        t0 = time.perf_counter()
        counts = demo.seed(url, plans(size))
        print(f"seeded PostgreSQL: {USERS} users, {counts['assistant_tests']:,} test calls, "
              f"{counts['intents']:,} intents in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Settings of the app that must not leak in from the shell running the benchmark.
_APP_ENV = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_JWT_SECRET", "AUTH_MODE", "AUTH_CREDENTIALS_PATH", "CLERK_JWT_KEY",
            "CLERK_JWKS_URL", "CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES", "AUTH_COOKIE_KEY")


@dataclass
class Server:
    """``streamlit run`` of one script as a subprocess; CPU and RSS are read from /proc."""

    url: str
    pid: int
    proc: subprocess.Popen
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process (all its threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)

    def runq_wait(self) -> dict[int, float]:
        """Per thread of the server, seconds spent runnable but not running (waiting for a core:
        ``/proc/<pid>/task/<tid>/schedstat``, second field). Streamlit's script threads end with their
        run, so a caller that wants the process's total keeps the largest value seen per thread."""
        out: dict[int, float] = {}
        for stat in Path(f"/proc/{self.pid}/task").glob("*/schedstat"):
            try:
                out[int(stat.parent.name)] = int(stat.read_text().split()[1]) / 1e9
            except (OSError, IndexError, ValueError):  # a thread that ended meanwhile
                pass
        return out

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def server(script: str, database_url: str, public_pem: str, *, extra: list[str] | None = None,
           env: dict[str, str] | None = None, cpu: int | None = None, root: Path = ROOT) -> Iterator[Server]:
    """The app (or the naive page) on a free loopback port, signing in with Clerk tokens; ``cpu``
    pins the server process (every thread) to that core; ``root``: the source tree it runs from (another
    release's worktree, for ``make bench-compare``)."""
    work = Path(tempfile.mkdtemp(prefix="dashboard-load-"))
    secrets = work / "secrets.toml"
    secrets.write_text("# empty: the benchmark's environment decides every setting\n")
    full_env = {k: v for k, v in os.environ.items() if k not in _APP_ENV and not k.startswith("STREAMLIT_")}
    full_env.update(DATABASE_URL=database_url, AUTH_MODE="clerk", CLERK_JWT_KEY=public_pem, PYTHONUNBUFFERED="1",
                    **(env or {}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    pin = ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []
    cmd = [*pin, sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.address",
           "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none", "--server.runOnSave",
           "false", "--browser.gatherUsageStats", "false", "--secrets.files", str(secrets), *(extra or [])]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    srv = Server(url, proc.pid, proc, log)
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}:\n{srv.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not become healthy:\n{srv.log_text()[-3000:]}")
            time.sleep(0.2)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (``/proc/stat``), and
    ``/proc/pressure/cpu``'s *some* total: seconds during which at least one task waited for a core."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    busy = (sum(fields) - fields[3] - fields[4]) / CLK_TCK  # all but idle and iowait
    try:
        some = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
        stall = int(some.rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        stall = float("nan")
    return busy, stall


class ConnectionSampler:
    """Samples pg_stat_activity: client connections open, and busy (running or inside a transaction)."""

    def __init__(self, database_url: str) -> None:
        import psycopg

        from tools.pgcluster import libpq_url

        self._conn = psycopg.connect(libpq_url(database_url), autocommit=True)
        self.samples: list[tuple[int, int]] = []

    def sample(self) -> tuple[int, int]:
        row = self._conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()").fetchone()
        value = (int(row[0]), int(row[1]))
        self.samples.append(value)
        return value

    def reset(self) -> None:
        self.samples.clear()

    def close(self) -> None:
        self._conn.close()
