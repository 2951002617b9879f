"""The OpenAPI 3.1 document served at /api/v1/openapi.json, written by hand from the endpoint table
(lib.web.api.endpoints.ENDPOINTS), so a new endpoint cannot be missing from it."""

from __future__ import annotations

from typing import Any

from lib.models import LANGUAGES, TEST_STATUSES
from lib.screens.urlstate import MAX_TEXT, PRESET_DAYS
from lib.web.api.endpoints import CSV, ENDPOINTS, JSON

_DAY = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "example": "2026-11-01"}
PARAMETERS: dict[str, dict[str, Any]] = {
    "period": {"description": "Preset or custom period (default 30d); custom needs from and to.",
               "schema": {"type": "string", "enum": [*PRESET_DAYS, "custom"]}},
    "from": {"description": "First day of a custom period (YYYY-MM-DD, inclusive).", "schema": _DAY},
    "to": {"description": "Last day of a custom period (YYYY-MM-DD, inclusive).", "schema": _DAY},
    "assistant": {"description": "Comma-separated Vapi assistant ids.", "schema": {"type": "string"}},
    "language": {"description": f"Comma-separated: {', '.join(LANGUAGES)}.", "schema": {"type": "string"}},
    "status": {"description": f"Comma-separated: {', '.join(TEST_STATUSES)}.", "schema": {"type": "string"}},
    "q": {"description": "Text search (tests: phrase contains; intents: name or phrase contains).",
          "schema": {"type": "string", "maxLength": MAX_TEXT["q"]}},
    "phrase": {"description": "Exactly this test phrase.", "schema": {"type": "string", "maxLength": MAX_TEXT["phrase"]}},
    "tz": {"description": "IANA time zone of the period's days and of stats.json's days (default UTC); times in "
                          "the files stay ISO 8601 UTC.", "schema": {"type": "string", "example": "Europe/Berlin"}},
    "limit": {"description": "Groups of each kind (1 to 100, default 10).",
              "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
}
_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_COUNT = {"type": "integer", "minimum": 0}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM}}}


SCHEMAS: dict[str, Any] = {
    "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}}}},
    "Intent": {"type": "object", "required": ["id", "intent_name", "example_user_phrases", "english_responses",
                                              "russian_responses", "created_at", "updated_at"], "properties": {
        "id": {"type": "string"}, "intent_name": {"type": "string"},
        **{k: {"type": "array", "items": {"type": "string"}} for k in ("example_user_phrases", "english_responses",
                                                                      "russian_responses")},
        "created_at": {"type": ["string", "null"]}, "updated_at": {"type": ["string", "null"]}}},
    "Stats": {"type": "object", "required": ["period", "intents", "assistants", "tests", "tests_completed",
                                             "success_rate", "tests_per_day", "tests_per_language",
                                             "tests_per_assistant", "intents_per_week"], "properties": {
        "period": {"type": "object", "properties": {"start": {"type": ["string", "null"]},
                                                    "end": {"type": ["string", "null"]}}},
        "intents": _COUNT, "assistants": _COUNT, "tests": _COUNT, "tests_completed": _COUNT,
        "success_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "tests_per_day": {"type": "array", "items": {"type": "object", "properties": {
            "day": {"type": "string"}, "status": {"type": "string"}, "count": _COUNT}}},
        "tests_per_language": {"type": "array", "items": {"type": "object", "properties": {
            "language": {"type": "string"}, "count": _COUNT}}},
        "tests_per_assistant": {"type": "array", "items": {"type": "object", "properties": {
            "assistant_id": {"type": "string"}, "name": {"type": "string"}, "count": _COUNT}}},
        "intents_per_week": {"type": "array", "items": {"type": "object", "properties": {
            "week": {"type": "string"}, "count": _COUNT}}}}},
}
_BODIES = {"intents.json": {"type": "array", "items": {"$ref": "#/components/schemas/Intent"}},
           "stats.json": {"$ref": "#/components/schemas/Stats"}}
SUMMARIES = {
    "tests.csv": "Test calls, newest first, as the Tests screen's Download button writes them (streamed).",
    "intents.csv": "Intents as the Export screen's CSV.",
    "intents.json": "Intents as the Export screen's JSON.",
    "stats.json": "The Stats screen's numbers for the period and filters.",
    "failures.csv": "Where calls fail: failed and cancelled calls by test phrase and by assistant.",
}


def _operation(name: str) -> dict[str, Any]:
    endpoint = ENDPOINTS[name]
    media = "text/csv" if endpoint.media == CSV else JSON
    schema = {"type": "string"} if endpoint.media == CSV else _BODIES[name]
    return {"get": {
        "operationId": name.replace(".", "_"), "summary": SUMMARIES[name],
        "parameters": [{"name": p, "in": "query", "required": False, **PARAMETERS[p]} for p in endpoint.allowed],
        "responses": {
            "200": {"description": "The data; its ETag changes when the data or the query's period does.",
                    "headers": {"ETag": {"schema": {"type": "string"}}}, "content": {media: {"schema": schema}}},
            "304": {"description": "Not modified since the ETag sent in If-None-Match."},
            "400": _problem("A parameter this endpoint does not take, or a bad value."),
            "401": _problem("No valid token (unknown, revoked, expired or malformed: one answer for all)."),
            "403": _problem("A signed link whose signature does not match."),
            "410": _problem("A signed link past its expiry."),
            "429": _problem("Too many requests with this token; see Retry-After."),
            "503": _problem("Too many exports at once, or the database is unreachable; see Retry-After."),
        }}}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Voice Assistant Dashboard API", "version": "1",
                 "description": "Read-only access to your own data. Authorization: Bearer with a personal access "
                                "token (vad_...) from the dashboard's Export screen, or a signed link."},
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": {f"/api/v1/{name}": _operation(name) for name in ENDPOINTS},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
    }
