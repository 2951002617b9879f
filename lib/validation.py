"""Every input rule in one place.  Functions return cleaned values or raise one ValidationError
that names every offending row and field."""

from __future__ import annotations

from collections.abc import Iterable

from lib.errors import Problem, ValidationError
from lib.models import LANGUAGES, TEST_STATUSES, IntentDiff, IntentEdit, IntentInput, TestFilter

# Caps for TEXT columns (the database would take more; people and screens would not).
MAX_INTENT_NAME = 200
MAX_LIST_ITEMS = 100
MAX_ITEM_LENGTH = 1000
MAX_SEARCH_LENGTH = 200
MAX_VARCHAR = 255  # every VARCHAR(255) column

LIST_FIELDS = ("example_user_phrases", "english_responses", "russian_responses")


def _clean_list(value: object, row: str, field: str, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        problems.append(Problem(row, field, "must be a list of texts"))
        return ()
    items = list(value)
    cleaned: list[str] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, str):
            problems.append(Problem(row, field, f"item {n} is not text"))
            continue
        text = item.strip()
        if not text:
            problems.append(Problem(row, field, f"item {n} is empty"))
        elif len(text) > MAX_ITEM_LENGTH:
            problems.append(Problem(row, field, f"item {n} is longer than {MAX_ITEM_LENGTH} characters"))
        else:
            cleaned.append(text)
    if len(items) > MAX_LIST_ITEMS:
        problems.append(Problem(row, field, f"has {len(items)} items; at most {MAX_LIST_ITEMS} are allowed"))
    return tuple(cleaned)


def clean_intent(intent: IntentInput, problems: list[Problem], row: str | None = None) -> IntentInput:
    """Trim and check one intent, appending its problems; returns the cleaned intent."""
    row = row or intent.label or "row"
    name = intent.intent_name.strip() if isinstance(intent.intent_name, str) else ""
    if not name:
        problems.append(Problem(row, "intent_name", "must not be empty"))
    elif len(name) > MAX_INTENT_NAME:
        problems.append(Problem(row, "intent_name", f"is longer than {MAX_INTENT_NAME} characters"))
    lists = {f: _clean_list(getattr(intent, f), row, f, problems) for f in LIST_FIELDS}
    if not lists["example_user_phrases"] and not any(
        p.row == row and p.field == "example_user_phrases" for p in problems
    ):
        problems.append(Problem(row, "example_user_phrases", "needs at least one example phrase"))
    return IntentInput(intent_name=name, label=row, **lists)


def validate_diff(diff: IntentDiff) -> IntentDiff:
    """Clean a grid's diff or raise one ValidationError naming every bad row and field."""
    problems: list[Problem] = []
    added = tuple(clean_intent(a, problems) for a in diff.added)
    edited = tuple(
        IntentEdit(e.id, e.updated_at, clean_intent(e.values, problems)) for e in diff.edited
    )
    ids = [e.id for e in diff.edited] + [d.id for d in diff.deleted]
    if len(ids) != len(set(ids)):
        problems.append(Problem("grid", "id", "a row is edited or deleted twice"))
    if problems:
        raise ValidationError(problems)
    return IntentDiff(added=added, edited=edited, deleted=diff.deleted, token=diff.token)


def check_varchar(value: str | None, row: str, field: str, problems: list[Problem], limit: int = MAX_VARCHAR) -> None:
    if value is not None and len(value) > limit:
        problems.append(Problem(row, field, f"is longer than {limit} characters"))


def validate_filter(filters: TestFilter) -> TestFilter:
    """Check a test filter's known sets and bounds (the tests screen, stats range and export)."""
    problems: list[Problem] = []
    for lang in filters.languages:
        if lang not in LANGUAGES:
            problems.append(Problem("filter", "language", f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}"))
    for status in filters.statuses:
        if status not in TEST_STATUSES:
            problems.append(Problem("filter", "status", f"unknown status {status!r}; known: {', '.join(TEST_STATUSES)}"))
    for aid in filters.assistant_ids:
        check_varchar(aid, "filter", "assistant", problems)
    search = filters.search.strip()
    if len(search) > MAX_SEARCH_LENGTH:
        problems.append(Problem("filter", "search", f"is longer than {MAX_SEARCH_LENGTH} characters"))
    if filters.start and filters.end and filters.start >= filters.end:
        problems.append(Problem("filter", "date range", "the start must be before the end"))
    if problems:
        raise ValidationError(problems)
    if search == filters.search:
        return filters
    return TestFilter(filters.start, filters.end, filters.assistant_ids, filters.languages, filters.statuses, search)


def validate_user_id(user_id: str) -> str:
    """A Clerk user id: non-empty, at most 255 characters, no whitespace."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > MAX_VARCHAR or user_id != user_id.strip():
        raise ValidationError([Problem("user", "user_id", "is not a valid user id")])
    return user_id
