"""Every input rule in one place.  Functions return cleaned values or raise one ValidationError
that names every offending row and field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lib.errors import Problem, ValidationError, row_label
from lib.i18n import N_, _
from lib.models import LANGUAGES, SAVE_KINDS, TEST_STATUSES, IntentDiff, IntentEdit, IntentInput, TestFilter

# Caps for TEXT columns (the database would take more; people and screens would not).
MAX_INTENT_NAME = 200
MAX_LIST_ITEMS = 100
MAX_ITEM_LENGTH = 1000
MAX_SEARCH_LENGTH = 200
MAX_PHRASE_LENGTH = 2000  # an exact test phrase (the drill-down filter): longer than a typed search
MAX_VARCHAR = 255  # every VARCHAR(255) column

LIST_FIELDS = ("example_user_phrases", "english_responses", "russian_responses")


# Characters PostgreSQL ``text`` cannot hold: NUL, and UTF-16 surrogates (which only ever come
# alone here, e.g. from a JSON "\ud800" escape, and cannot be encoded as UTF-8).  Checked before any
# call, so the user hears which row and field, and nothing later (a preview's Arrow encoding, a save)
# meets a character it cannot encode.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_SHOWN_ITEMS = 5  # item numbers listed in one problem before "and N more"


def forbidden_character(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is (its first forbidden character, and where), or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return _("contains a NUL character (U+0000) at character {n}, which cannot be stored; remove it").format(
            n=found.start() + 1)
    return _("contains a lone surrogate ({code}) at character {n}, which cannot be stored; remove it").format(
        code=f"U+{ord(char):04X}", n=found.start() + 1)


# each fault: one item, several items listed, several and more; whole sentences (each translated as one)
_NOT_TEXT = (N_("item {n} is not text"), N_("items {items} and {last} are not text"),
             N_("items {items} and {more} more are not text"))
_EMPTY = (N_("item {n} is empty"), N_("items {items} and {last} are empty"), N_("items {items} and {more} more are empty"))
_TOO_LONG = (N_("item {n} is longer than {max} characters"), N_("items {items} and {last} are longer than {max} characters"),
             N_("items {items} and {more} more are longer than {max} characters"))


def _items(numbers: list[int], count: int, verb: tuple[str, str, str]) -> str:
    """'item 3 is empty' or 'items 1, 2, 3, 4, 5 and 7 more are empty' (bounded, whatever the count)."""
    if count == 1:
        return _(verb[0]).format(n=numbers[0], max=MAX_ITEM_LENGTH)
    more = count - len(numbers)
    if more:
        return _(verb[2]).format(items=", ".join(map(str, numbers)), more=more, max=MAX_ITEM_LENGTH)
    return _(verb[1]).format(items=", ".join(map(str, numbers[:-1])), last=numbers[-1], max=MAX_ITEM_LENGTH)


def _clean_list(value: object, row: str, field: str, problems: list[Problem]) -> tuple[str, ...]:
    """The list's items trimmed; one problem per kind of fault (not per item), so a hostile list of a
    million items costs a few problems, not a million."""
    is_sequence = type(value) in (tuple, list)
    if value is None or (is_sequence and not value):
        return ()
    if not is_sequence and (isinstance(value, str) or not isinstance(value, Iterable)):
        problems.append(Problem(row, field, _("must be a list of texts")))
        return ()
    items = value if is_sequence else list(value)  # type: ignore[call-overload]
    cleaned: list[str] = []
    for item in items:  # the common case, a list that is all right, in one quick pass
        text = item.strip() if type(item) is str else ""
        if not text or len(text) > MAX_ITEM_LENGTH:
            break
        cleaned.append(text)
    else:
        if len(items) <= MAX_LIST_ITEMS and not _FORBIDDEN.search("".join(cleaned)):
            return tuple(cleaned)
    cleaned = []
    shown: dict[tuple[str, str], list[int]] = {}  # the first item numbers of each kind of fault
    counts: dict[tuple[str, str], int] = {}
    forbidden, forbidden_count = "", 0
    for n, item in enumerate(items, start=1):
        text = item.strip() if isinstance(item, str) else ""
        kind = (_NOT_TEXT if not isinstance(item, str) else _EMPTY if not text
                else _TOO_LONG if len(text) > MAX_ITEM_LENGTH else None)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
            if len(numbers := shown.setdefault(kind, [])) < _SHOWN_ITEMS:
                numbers.append(n)
        elif (why := forbidden_character(text)) is not None:
            forbidden, forbidden_count = forbidden or _("item {n} {reason}").format(n=n, reason=why), forbidden_count + 1
        else:
            cleaned.append(text)
    problems.extend(Problem(row, field, _items(numbers, counts[kind], kind)) for kind, numbers in shown.items())
    if forbidden:
        more = " " + _("({n} more such items)").format(n=forbidden_count - 1) if forbidden_count > 1 else ""
        problems.append(Problem(row, field, forbidden + more))
    if len(items) > MAX_LIST_ITEMS:
        problems.append(Problem(row, field, _("has {n} items; at most {max} are allowed").format(n=len(items), max=MAX_LIST_ITEMS)))
    return tuple(cleaned)


def clean_intent(intent: IntentInput, problems: list[Problem], row: str | None = None) -> IntentInput:
    """Trim and check one intent, appending its problems; returns the cleaned intent.

    Linear in the intent's size: it looks only at the problems it adds itself, never at those
    already in ``problems`` (a preview checks 200,000 rows into one list)."""
    row = row or intent.label or "row"
    name = intent.intent_name.strip() if isinstance(intent.intent_name, str) else ""
    if not name:
        problems.append(Problem(row, "intent_name", _("must not be empty")))
    elif len(name) > MAX_INTENT_NAME:
        problems.append(Problem(row, "intent_name", _("is longer than {n} characters").format(n=MAX_INTENT_NAME)))
    elif (why := forbidden_character(name)) is not None:
        problems.append(Problem(row, "intent_name", why))
    lists = {}
    for f in LIST_FIELDS:
        before = len(problems)
        lists[f] = _clean_list(getattr(intent, f), row, f, problems)
        if f == "example_user_phrases" and not lists[f] and len(problems) == before:
            problems.append(Problem(row, f, _("needs at least one example phrase")))
    cleaned = IntentInput(intent_name=name, label=row, id=intent.id, **lists)
    return intent if cleaned == intent else cleaned  # an import's rows are mostly clean: keep one copy


def validate_diff(diff: IntentDiff) -> IntentDiff:
    """Clean a grid's diff or raise one ValidationError naming every bad row and field."""
    problems: list[Problem] = []
    added = tuple(clean_intent(a, problems) for a in diff.added)
    edited = tuple(
        IntentEdit(e.id, e.updated_at, clean_intent(e.values, problems), e.version) for e in diff.edited
    )
    ids = [e.id for e in diff.edited] + [d.id for d in diff.deleted]
    if len(ids) != len(set(ids)):
        problems.append(Problem("grid", "id", _("a row is edited or deleted twice")))
    if diff.kind not in SAVE_KINDS:
        problems.append(Problem("save", "kind", _("must be one of {values}").format(values=", ".join(SAVE_KINDS))))
    if problems:
        raise ValidationError(problems)
    return IntentDiff(added=added, edited=edited, deleted=diff.deleted, token=diff.token, kind=diff.kind)


def search_fold(text: str) -> str:
    """How a search compares text: case-insensitively, with the Cyrillic yo as ie (speech-to-text writes ie)."""
    return text.casefold().replace("ё", "е")


def name_key(name: object) -> str:
    """How intent names are compared for duplicates: trimmed and case-insensitively."""
    return name.strip().casefold() if isinstance(name, str) else ""


def duplicate_problems(diff: IntentDiff, stored: Iterable[tuple[str, str]]) -> list[Problem]:
    """Names a save would duplicate: an added row, or an edited row whose name changed, named like
    another intent (stored, or elsewhere in the same save).  ``stored`` is the user's (id, name) pairs.
    Duplicates that exist already are left alone, so renaming one of a pair stays possible."""
    deleted = {d.id for d in diff.deleted}
    edited = {e.id: e for e in diff.edited}
    final: dict[str, list[str]] = {}  # name key -> how the user knows each row holding it
    old_key: dict[str, str] = {}
    saved = _("saved intent “{name}”")  # translated once, not per stored intent (5,000 lookups per save)
    for ident, name in stored:
        old_key[ident] = name_key(name)
        if ident not in deleted and ident not in edited:
            final.setdefault(old_key[ident], []).append(saved.format(name=name.strip()))
    changed: list[tuple[str, str]] = []  # (key, label)
    for e in diff.edited:
        key, label = name_key(e.values.intent_name), e.values.label or "row"
        final.setdefault(key, []).append(label)
        if key != old_key.get(e.id):
            changed.append((key, label))
    for a in diff.added:
        key, label = name_key(a.intent_name), a.label or "new row"
        final.setdefault(key, []).append(label)
        changed.append((key, label))
    problems = []
    for key, label in changed:
        others = [o for o in final.get(key, ()) if o != label]
        if key and others:
            shown = ", ".join(row_label(o) for o in others[:_SHOWN_ITEMS]) + (
                " " + _("and {n} more").format(n=len(others) - _SHOWN_ITEMS) if len(others) > _SHOWN_ITEMS else "")
            problems.append(Problem(label, "intent_name", _("is already taken by {rows}; choose another name").format(
                rows=shown)))
    return problems


def refuse_new_duplicates(diff: IntentDiff, stored: Iterable[tuple[str, str]]) -> None:
    """Raise one ValidationError if the save would create a duplicate name (see ``duplicate_problems``)."""
    if problems := duplicate_problems(diff, stored):
        raise ValidationError(problems)


def check_varchar(value: str | None, row: str, field: str, problems: list[Problem], limit: int = MAX_VARCHAR) -> None:
    if value is not None and len(value) > limit:
        problems.append(Problem(row, field, _("is longer than {n} characters").format(n=limit)))


def validate_filter(filters: TestFilter) -> TestFilter:
    """Check a test filter's known sets and bounds (the tests screen, stats range and export)."""
    problems: list[Problem] = []
    for lang in filters.languages:
        if lang not in LANGUAGES:
            problems.append(Problem("filter", "language", _("unknown language {value}; known: {known}").format(
                value=repr(lang), known=", ".join(LANGUAGES))))
    for status in filters.statuses:
        if status not in TEST_STATUSES:
            problems.append(Problem("filter", "status", _("unknown status {value}; known: {known}").format(
                value=repr(status), known=", ".join(TEST_STATUSES))))
    for aid in filters.assistant_ids:
        check_varchar(aid, "filter", "assistant", problems)
    search = filters.search.strip()
    if len(search) > MAX_SEARCH_LENGTH:
        problems.append(Problem("filter", "search", _("is longer than {n} characters").format(n=MAX_SEARCH_LENGTH)))
    if len(filters.phrase) > MAX_PHRASE_LENGTH:
        problems.append(Problem("filter", "phrase", _("is longer than {n} characters").format(n=MAX_PHRASE_LENGTH)))
    if filters.start and filters.end and filters.start >= filters.end:
        problems.append(Problem("filter", "date range", _("the start must be before the end")))
    if problems:
        raise ValidationError(problems)
    if search == filters.search:
        return filters
    return replace(filters, search=search)


def validate_zone(zone: str) -> str:
    """An IANA time zone name (``Europe/Moscow``); anything else, or a zone Python does not know, is UTC (the
    screens' own fallback, lib.screens.urlstate.zone)."""
    if not isinstance(zone, str) or not zone or len(zone) > 64:
        return "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return zone


def validate_user_id(user_id: str) -> str:
    """A Clerk user id: non-empty, at most 255 characters, no whitespace."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > MAX_VARCHAR or user_id != user_id.strip():
        raise ValidationError([Problem("user", "user_id", _("is not a valid user id"))])
    return user_id
