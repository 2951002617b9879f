"""``GET /metrics``: the process's Prometheus metrics (lib.ops.metrics), for a scraper on the private
network.  Served at the root path of each replica's own port; the shipped nginx configuration
(deploy/nginx_conf.py) does not pass it through, so it is never public."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lib.ops.metrics import REGISTRY


async def _metrics(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[BaseRoute]:
    return [Route("/metrics", _metrics, methods=["GET"])]
