"""An API request's query: the Tests screen's URL parameters (lib.screens.urlstate parses them, so a
filter means what it means on the screen), the time zone its days are in, and the canonical form that
signed links sign and ETags hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from urllib.parse import quote, urlencode

from lib.models import TestFilter
from lib.screens import urlstate
from lib.store.transport import wire_time
from lib.web.api.problems import bad_request

FILTER_KEYS = ("period", "from", "to", "assistant", "language", "status", "q", "phrase", "tz")
LINK_KEYS = ("u", "exp", "sig")  # a signed link's own parameters (lib.web.api.auth)
ETAG_VERSION = "2"  # change when any endpoint's bytes change for the same data (2: stats.json's days in tz)


@dataclass(frozen=True)
class Query:
    filters: TestFilter
    q: str  # the search text (intents: name or phrase contains)
    limit: int  # failures.csv: groups of each kind
    zone: str = "UTC"  # tz: the IANA zone the days are in (stats.json's days; every time stays ISO 8601 UTC)


def canonical(items: Sequence[tuple[str, str]]) -> str:
    """The query as signed: pairs sorted, percent-encoded the one RFC 3986 way (``%20``, not ``+``)."""
    return urlencode(sorted(items), quote_via=quote, safe="")


def parse(items: Sequence[tuple[str, str]], allowed: Sequence[str]) -> Query:
    """The filters of ``items`` (key, value pairs as sent); ApiProblem 400 naming every bad one."""
    errors: list[str] = []
    seen: dict[str, str] = {}
    for key, value in items:
        if key not in allowed:
            errors.append(f"{key[:40]}: not a parameter of this endpoint ({', '.join(allowed)})")
        elif key in seen:
            errors.append(f"{key}: given more than once")
        else:
            seen[key] = value
    view, notices = urlstate.parse({k: v for k, v in seen.items() if k not in ("tz", "limit")})
    errors += notices
    tz, name = urlstate.zone(None)
    if "tz" in seen:
        tz, name = urlstate.zone(seen["tz"].strip())
        if name != seen["tz"].strip():
            errors.append("tz: not an IANA time zone name such as Europe/Berlin")
    limit = 10
    if "limit" in seen:
        raw = seen["limit"].strip()
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 100:
            limit = int(raw)
        else:
            errors.append("limit: a whole number from 1 to 100")
    if errors:
        raise bad_request(errors)
    start, end = view.period.bounds(tz, urlstate.local_today(tz))
    filters = TestFilter(start=start, end=end, assistant_ids=view.assistants, languages=view.languages,
                         statuses=view.statuses, search=view.q, phrase=view.phrase)
    return Query(filters, view.q, limit, name)


def etag(endpoint: str, user_id: str, versions: dict[str, int], topics: Sequence[str], query: Query) -> str:
    """A strong ETag from the user's change versions of the tables the endpoint reads and the resolved query
    (the period's bounds, so "last 7 days" gets a new tag at midnight even when no row changed)."""
    resolved = {k: wire_time(v) if k in ("start", "end") else v for k, v in asdict(query).pop("filters").items()}
    key = json.dumps([ETAG_VERSION, endpoint, user_id, [versions.get(t, 0) for t in topics], resolved, query.q,
                      query.limit, query.zone], sort_keys=True, default=str)
    return '"' + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40] + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether If-None-Match names ``tag`` (weak comparison, RFC 9110 13.1.2) or is ``*``."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False
