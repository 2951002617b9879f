"""What the dashboard process counts for operators, exported in Prometheus' format at ``/metrics``
(lib.web.metrics).  One registry per process: each replica is scraped on its own port.

Everything is labelled by names the code chooses (screen paths, SQL function names, error class names,
cache read names), never by user data.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

RENDER_SECONDS = Histogram("dashboard_render_seconds", "Wall time of one render of a screen.", ["screen"],
                           buckets=_SECONDS, registry=REGISTRY)
RENDER_CPU_SECONDS = Histogram("dashboard_render_cpu_seconds",
                               "Server CPU time (the script thread's) of one render of a screen.", ["screen"],
                               buckets=_SECONDS, registry=REGISTRY)
ACTIVE_SESSIONS = Gauge("dashboard_active_sessions", "Browser sessions connected to this process.",
                        registry=REGISTRY)
DB_CALL_SECONDS = Histogram("dashboard_db_call_seconds", "Duration of one call of a dashboard_* SQL function.",
                            ["function", "transport"], buckets=_SECONDS, registry=REGISTRY)
CACHE_LOOKUPS = Counter("dashboard_cache_lookups_total", "Cached reads, by read and whether the cache had it.",
                        ["read", "result"], registry=REGISTRY)
ERRORS = Counter("dashboard_errors_total", "Errors by kind: where (store call, screen render) and error class.",
                 ["where", "kind"], registry=REGISTRY)
EXPORTS_IN_FLIGHT = Gauge("dashboard_exports_in_flight", "Test-call exports running now.", registry=REGISTRY)
SIGNIN_FAILURES = Counter("dashboard_signin_failures_total", "Refused sign-in attempts.", ["mode"],
                          registry=REGISTRY)


def _active_sessions() -> float:
    try:  # Streamlit's runtime (internal API, read defensively): 0 outside a running server
        from streamlit.runtime import Runtime

        return float(Runtime.instance()._session_mgr.num_active_sessions())
    except Exception:
        return 0.0


ACTIVE_SESSIONS.set_function(_active_sessions)

# -- cache hits and misses: a cached read's body runs only on a miss, and it marks the lookup -----------

_lookup: ContextVar[list[bool] | None] = ContextVar("cache_lookup", default=None)
T = TypeVar("T")


def cached(read: str, fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` (a Streamlit-cached read), counted as a hit or a miss (``miss`` called inside it)."""
    missed: list[bool] = []
    token = _lookup.set(missed)
    try:
        result = fn(*args)
    finally:
        _lookup.reset(token)
    CACHE_LOOKUPS.labels(read, "miss" if missed else "hit").inc()
    return result


def miss() -> None:
    """Inside a cached read's body: the cache did not have it."""
    missed = _lookup.get()
    if missed is not None and not missed:
        missed.append(True)
