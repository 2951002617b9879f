"""Errors as RFC 9457 problem details (``application/problem+json``): a type, a title, the status and a
sentence for people; never a stack trace, SQL, a token or another user's data.  Every refused
credential (no such token, revoked, expired, malformed, another service's token) gets the one same
401 body, so an answer tells nothing about which tokens exist."""

from __future__ import annotations

import json

from starlette.responses import Response

from lib.i18n import _

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:dashboard:api:problem:"  # + the kind; README.md "HTTP API" lists them


class ApiProblem(Exception):
    """Raised anywhere below a handler; the handler answers it as problem details."""

    def __init__(self, status: int, kind: str, title: str, detail: str, *, headers: dict[str, str] | None = None,
                 errors: list[str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.headers, self.errors = headers or {}, errors or []

    def response(self, instance: str = "") -> Response:
        body = {"type": TYPE_BASE + self.kind, "title": self.title, "status": self.status, "detail": self.detail}
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        headers = {"Cache-Control": "no-store", **self.headers}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="dashboard-api"'
        return Response(json.dumps(body, ensure_ascii=False), status_code=self.status, media_type=MEDIA_TYPE,
                        headers=headers)


def unauthorized() -> ApiProblem:
    return ApiProblem(401, "unauthorized", _("Unauthorized"),
                      _("Send a valid personal access token: Authorization: Bearer vad_..."))


def bad_link() -> ApiProblem:
    return ApiProblem(403, "bad-link", _("Forbidden"), _("This signed link is not valid."))


def expired_link() -> ApiProblem:
    return ApiProblem(410, "expired-link", _("Gone"), _("This signed link has expired. Ask its owner for a new one."))


def bad_request(errors: list[str]) -> ApiProblem:
    return ApiProblem(400, "bad-request", _("Bad request"), _("The query has values this API does not accept."),
                      errors=errors)


def not_found() -> ApiProblem:
    return ApiProblem(404, "not-found", _("Not found"), _("There is no such endpoint. See /api/v1/openapi.json."))


def rate_limited(retry_after: int) -> ApiProblem:
    return ApiProblem(429, "rate-limited", _("Too many requests"),
                      _("This token made too many requests. Try again in {n} s.").format(n=retry_after),
                      headers={"Retry-After": str(retry_after)})


def busy() -> ApiProblem:
    return ApiProblem(503, "busy", _("Service unavailable"),
                      _("Too many exports are running right now. Try again in a few seconds."),
                      headers={"Retry-After": "5"})


def unavailable() -> ApiProblem:
    return ApiProblem(503, "unavailable", _("Service unavailable"),
                      _("The database cannot be reached right now. Try again later."), headers={"Retry-After": "10"})


def failed() -> ApiProblem:
    return ApiProblem(500, "failed", _("Internal server error"), _("The request failed. Nothing was changed."))
