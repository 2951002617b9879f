"""The analysts' read-only HTTP API, served by the dashboard process under /api (README "HTTP API").

Plain Starlette routes, not FastAPI: Starlette is what Streamlit's ``st.App`` already runs (no new
dependency), there are five GET endpoints whose parameters are the Tests screen's URL parameters (parsed
by lib.screens.urlstate, not by a model), every answer is bytes written by lib.files or a stream, and
the OpenAPI document is written once by hand from the endpoint table (lib.web.api.openapi).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from lib.web.api.endpoints import Api
from lib.web.api.openapi import document


async def _openapi(_request: Request) -> JSONResponse:
    return JSONResponse(document(), headers={"Cache-Control": "public, max-age=300"})


def routes(api: Api | None = None) -> list[BaseRoute]:
    api = api or Api()
    return [Mount("/api", routes=[
        Route("/v1/openapi.json", _openapi, methods=["GET"]),
        Route("/v1/{name:path}", api.handle, methods=["GET"]),
    ])]
