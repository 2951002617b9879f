"""The API's endpoints: each reads one user's data through ``store.for_user`` (the dashboard's own SQL
functions, under row-level security) and answers the bytes the dashboard's own download gives for the
same filters (``lib.files``).  ``handle`` is the one request path: credentials, rate limit, query,
ETag (304 before any data is read), the body, problem details for every refusal, and one log line."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from lib import i18n
from lib.errors import ExportBusy, ExportTimeout, StoreError, StoreUnavailable, ValidationError
from lib.files import csv_encoding, frames
from lib.files.formats import to_json
from lib.models import Stats
from lib.web.api import auth, params, stream
from lib.web.api.problems import ApiProblem, bad_link, bad_request, busy, failed, not_found, unavailable

CSV = "text/csv; charset=utf-8"
JSON = "application/json"
TESTS, ASSISTANTS, INTENTS = "assistant_tests", "assistants", "intents"  # lib.store.queries' topics (tables)
TEST_KEYS = ("period", "from", "to", "assistant", "language", "status", "q", "phrase", "tz")
FAILURE_KEYS = ("period", "from", "to", "assistant", "language", "q", "tz", "limit")

log = logging.getLogger("dashboard.api")
if not log.handlers:  # Streamlit configures only its own loggers: this one writes its lines itself
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False


@dataclass(frozen=True)
class Endpoint:
    topics: tuple[str, ...]  # the change versions (tables) its answer depends on
    allowed: tuple[str, ...]  # its query parameters
    media: str
    body: Callable[[Any, params.Query], tuple[bytes, int]] | None = None  # (bytes, rows); None: streamed


def _intents(user, query: params.Query) -> list:
    return frames.intents_matching(user.list_intents(), query.q)


def _intents_csv(user, query: params.Query) -> tuple[bytes, int]:
    rows = _intents(user, query)
    return csv_encoding.to_csv(frames.intents_frame(rows)), len(rows)


def _intents_json(user, query: params.Query) -> tuple[bytes, int]:
    rows = _intents(user, query)
    return to_json(frames.intents_frame(rows)), len(rows)


def stats_document(stats: Stats, query: params.Query) -> dict[str, Any]:
    f = query.filters
    return {
        "period": {"start": f.start and csv_encoding.iso_utc(f.start), "end": f.end and csv_encoding.iso_utc(f.end)},
        "intents": stats.intents, "assistants": stats.assistants, "tests": stats.tests,
        "tests_completed": stats.tests_completed, "success_rate": stats.success_rate,
        "tests_per_day": [{"day": d.day.isoformat(), "status": d.status, "count": d.count} for d in stats.tests_per_day],
        "tests_per_language": [{"language": lang, "count": n} for lang, n in stats.tests_per_language],
        "tests_per_assistant": [{"assistant_id": a, "name": name, "count": n} for a, name, n in stats.tests_per_assistant],
        "intents_per_week": [{"week": w.isoformat(), "count": n} for w, n in stats.intents_per_week],
    }


def _stats_json(user, query: params.Query) -> tuple[bytes, int]:
    doc = stats_document(user.stats(query.filters, query.zone), query)
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"), 1


def _failures_csv(user, query: params.Query) -> tuple[bytes, int]:
    frame = frames.failures_frame(user.failure_drilldown(query.filters, limit=query.limit))
    return csv_encoding.to_csv(frame), len(frame)


ENDPOINTS: dict[str, Endpoint] = {
    "tests.csv": Endpoint((TESTS, ASSISTANTS), TEST_KEYS, CSV),
    "intents.csv": Endpoint((INTENTS,), ("q",), CSV, _intents_csv),
    "intents.json": Endpoint((INTENTS,), ("q",), JSON, _intents_json),
    "stats.json": Endpoint((TESTS, INTENTS, ASSISTANTS), TEST_KEYS, JSON, _stats_json),
    "failures.csv": Endpoint((TESTS, ASSISTANTS), FAILURE_KEYS, CSV, _failures_csv),
}


def _language(header: str | None) -> str:
    """The first of the languages the client accepts that the dashboard speaks (English otherwise)."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in i18n.LANGUAGES:
            return tag
    return i18n.DEFAULT


class Api:
    """The process's API: its store (the screens' own, so the export slots are shared) and rate limit."""

    def __init__(self, store_fn: Callable[[], Any] | None = None, settings_fn: Callable[[], Any] | None = None,
                 limiter: auth.RateLimit | None = None) -> None:
        self._store_fn, self._settings_fn, self._limiter = store_fn, settings_fn, limiter

    def _resources(self) -> tuple[Any, Any]:
        """The store and settings: by default the screens' own (lib.store.queries, imported at the first request,
        once Streamlit's runtime exists), so the API and the screens share the export slots."""
        if self._store_fn is None or self._settings_fn is None:
            from lib.store import queries

            self._store_fn, self._settings_fn = queries.store, queries.settings
        return self._store_fn(), self._settings_fn()

    def limiter(self) -> auth.RateLimit:
        if self._limiter is None:
            self._limiter = auth.RateLimit(self._resources()[1].api_requests_per_minute)
        return self._limiter

    async def handle(self, request: Request) -> Response:
        i18n.use(_language(request.headers.get("accept-language")))
        name = request.path_params.get("name", "")
        path = f"/api/v1/{name}"
        started = time.monotonic()
        who: dict[str, str] = {"token": "-", "user": "-"}
        try:
            response = await self._answer(request, name, path, who, started)
        except ApiProblem as problem:
            response = problem.response(path)
        if not isinstance(response, StreamingResponse):
            _log(who, path, response.status_code, response.headers.get("x-rows", "0"), started)
        return response

    async def _answer(self, request: Request, name: str, path: str, who: dict[str, str], started: float) -> Response:
        items = request.query_params.multi_items()
        endpoint = ENDPOINTS.get(name)
        if endpoint is None:
            raise bad_link() if auth.is_link(items, name) else not_found()
        try:
            store, settings = self._resources()
            caller, items = await run_in_threadpool(auth.authenticate, store, settings, path, items,
                                                    request.headers.get("authorization"))
            who.update(token=caller.token_id, user=caller.user_id)
            self.limiter().take(caller.token_id)
            query = params.parse(items, endpoint.allowed)
            tag = params.etag(path, caller.user_id, caller.versions, endpoint.topics, query)
            headers = {"ETag": tag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
            if params.matches(request.headers.get("if-none-match"), tag):
                return Response(status_code=304, headers=headers)
            if request.method == "HEAD":  # the headers (ETag) only: no data is read
                return Response(status_code=200, headers=headers, media_type=endpoint.media)
            user = store.for_user(caller.user_id)
            if endpoint.body is not None:
                body, rows = await run_in_threadpool(endpoint.body, user, query)
                return Response(body, media_type=endpoint.media, headers={**headers, "X-Rows": str(rows)})
            first, rest, result = await stream.start(lambda out: user.export_tests_csv(query.filters, out))
        except ValidationError as err:
            raise bad_request([str(err)]) from None
        except ExportBusy:
            raise busy() from None
        except (StoreUnavailable, ExportTimeout):
            raise unavailable() from None
        except StoreError:
            raise failed() from None
        return StreamingResponse(_logged(first, rest, result, who, path, started), media_type=endpoint.media,
                                 headers={**headers, "Content-Disposition": f'attachment; filename="{name}"'})


async def _logged(first: bytes, rest, result, who: dict[str, str], path: str, started: float):
    """The export's bytes, then its log line (a cut-off export is logged as such and its connection dropped)."""
    status = "200"
    try:
        yield first
        async for chunk in rest:
            yield chunk
    except BaseException:
        status = "200-cut-off"
        raise
    finally:
        _log(who, path, status, str(result() if result() is not None else "?"), started)


def _log(who: dict[str, str], path: str, status: object, rows: str, started: float) -> None:
    log.info("api token=%s user=%s endpoint=%s status=%s rows=%s ms=%.1f", who["token"], who["user"], path, status,
             rows, (time.monotonic() - started) * 1000)
