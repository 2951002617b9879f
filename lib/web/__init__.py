"""HTTP routes served by the dashboard process beside Streamlit's own (``dashboard/server.py``'s ``st.App``).

Each feature adds its routes here, under its own prefix: ``/api`` (the analysts' API), ``/metrics``
(Prometheus).  Streamlit refuses a route that collides with its reserved paths (``/_stcore/...``).
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route


async def _alive(_request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def routes() -> list[BaseRoute]:
    """Every extra route, in the order Starlette should match them."""
    from lib.web import api

    return [Route("/healthz", _alive, methods=["GET"]), *api.routes()]
