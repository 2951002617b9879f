"""Rows that cross layers (store -> cached helper -> pages), as plain frozen dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from lib.i18n import _

LANGUAGES = ("english", "russian")
TEST_STATUSES = ("initiated", "in_progress", "completed", "failed", "cancelled")
# The columns' defaults, and the one rule for a call stored without one (NULL or ''): it *is* an english /
# initiated call in every count, filter, table row and export, on every backend.
DEFAULT_LANGUAGE, DEFAULT_STATUS = "english", "initiated"
SUBSCRIPTION_STATUSES = (
    "active",
    "trialing",
    "past_due",
    "canceled",
    "unpaid",
    "incomplete",
    "incomplete_expired",
    "paused",
)
TROUBLED_STATUSES = ("past_due", "canceled", "unpaid", "incomplete", "incomplete_expired")
PLAN_TYPES = ("free", "starter", "pro", "enterprise")
BILLING_CYCLES = ("monthly", "yearly")


def utcnow() -> datetime:
    """Now as the database's ``timestamp`` columns hold it: naive UTC, microseconds."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class IntentInput:
    """An intent as the user typed it; ``label`` names its row in error messages."""

    intent_name: str
    example_user_phrases: tuple[str, ...] = ()
    english_responses: tuple[str, ...] = ()
    russian_responses: tuple[str, ...] = ()
    label: str = ""
    # an imported row's id column (the Export's): which stored intent it updates, if any; not part of its content
    id: str = field(default="", compare=False)

    def columns(self) -> dict[str, object]:
        """The intents table's editable columns, as a store writes them."""
        return {
            "intent_name": self.intent_name,
            "example_user_phrases": list(self.example_user_phrases),
            "english_responses": list(self.english_responses),
            "russian_responses": list(self.russian_responses),
        }


@dataclass(frozen=True)
class IntentEdit:
    """A changed row: its id, the ``updated_at`` and row ``version`` it had when loaded, and its new content.
    The database refuses it if the row's version moved since (any writer's update advances it)."""

    id: str
    updated_at: datetime | None
    values: IntentInput
    version: int | None = None  # None: the updated_at decides (callers from before row versions)


@dataclass(frozen=True)
class IntentRef:
    id: str
    updated_at: datetime | None
    label: str = ""
    version: int | None = None  # the row version it had when loaded (see IntentEdit)


@dataclass(frozen=True)
class SaveToken:
    """What makes a save recognisable afterwards, so a retry never applies it twice.

    The n-th added row gets the id ``added_id(n)`` and every written row gets ``updated_at = at``;
    after a dropped connection the store reads those rows back to learn whether the save happened.
    A page keeps one token per pending set of edits and passes it again when the user retries.
    """

    save_id: str
    at: datetime  # naive UTC, microseconds: the written rows' updated_at (and created_at when added)

    @classmethod
    def new(cls) -> SaveToken:
        return cls(str(uuid.uuid4()), utcnow())

    def added_id(self, n: int) -> str:
        """The id of the n-th added row (0-based): the same for every retry of this save."""
        return str(uuid.uuid5(uuid.UUID(self.save_id), str(n)))


@dataclass(frozen=True)
class IntentDiff:
    """What a grid's Save writes: only added, changed and deleted rows.

    ``token`` is given by a caller that may retry the same save (the intents page); without one the
    store makes a fresh token, and the save is still settled by reading back after a dropped connection.
    """

    added: tuple[IntentInput, ...] = ()
    edited: tuple[IntentEdit, ...] = ()
    deleted: tuple[IntentRef, ...] = ()
    token: SaveToken | None = field(default=None, compare=False)
    kind: str = field(default="grid", compare=False)  # what the history record says: "grid" or "import"

    def is_empty(self) -> bool:
        return not (self.added or self.edited or self.deleted)


@dataclass(frozen=True)
class SaveResult:
    added: int = 0
    edited: int = 0
    deleted: int = 0
    checked: bool = False  # the connection dropped (or a retry met its own earlier save) and a read-back found it saved

    def summary(self) -> str:
        return _("{added} added, {changed} changed, {deleted} deleted").format(
            added=self.added, changed=self.edited, deleted=self.deleted)

    def notice(self) -> str:
        """What the user is told after a save: which of the two ways we know it was saved."""
        if self.checked:
            return _("Checked after a dropped connection: saved ({summary}).").format(summary=self.summary())
        return _("Saved: {summary}.").format(summary=self.summary())


SAVE_KINDS = ("grid", "import")  # what a save can be; an undo is the third kind of history record


@dataclass(frozen=True)
class IntentValues:
    """An intent's values as a history record keeps them."""

    intent_name: str
    example_user_phrases: tuple[str, ...]
    english_responses: tuple[str, ...]
    russian_responses: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class IntentChange:
    """One intent in a history record: ``before`` None means the save added it, ``after`` None deleted it."""

    id: str
    before: IntentValues | None
    after: IntentValues | None

    @property
    def kind(self) -> str:
        return "added" if self.before is None else "deleted" if self.after is None else "changed"

    @property
    def name(self) -> str:
        shown = self.after or self.before
        return shown.intent_name if shown else self.id


@dataclass(frozen=True)
class HistoryEntry:
    """One save of the intents (grid, import) or one undo, as the append-only history keeps it.

    As listed, ``changes`` holds the record's first changes only (an import may touch thousands of
    intents; the History panel shows the first ones), while ``counts`` counts all of them.
    """

    id: str
    created_at: datetime  # naive UTC
    kind: str  # "grid" | "import" | "undo"
    changes: tuple[IntentChange, ...]
    reverts: str | None = None  # an undo: the record it undid
    undone_by: str | None = None  # the undo of this record, once undone
    counts: tuple[int, int, int] | None = None  # added, changed, deleted (None: count ``changes``)

    def count(self, kind: str) -> int:
        if self.counts is not None:
            return self.counts[("added", "changed", "deleted").index(kind)]
        return sum(c.kind == kind for c in self.changes)

    @property
    def total(self) -> int:
        """How many intents the save touched (``changes`` may list fewer)."""
        return sum(self.counts) if self.counts is not None else len(self.changes)

    def summary(self) -> str:
        return _("{added} added, {changed} changed, {deleted} deleted").format(
            added=self.count("added"), changed=self.count("changed"), deleted=self.count("deleted"))


@dataclass(frozen=True)
class Undone:
    """What an undo did: its own record, and the assistant links of the intents it brought back (a deleted
    intent's links come back with it; an assistant deleted since is named in ``links_lost``)."""

    history_id: str
    links_restored: int = 0
    links_lost: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intent:
    id: str
    intent_name: str
    example_user_phrases: tuple[str, ...]
    english_responses: tuple[str, ...]
    russian_responses: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    version: int = 0  # the database-kept row version: advanced by every writer's update


@dataclass(frozen=True)
class Assistant:
    id: str
    vapi_assistant_id: str
    name: str
    config: dict
    intents_used: tuple[str, ...]  # intent names (ids resolved by the store)
    created_at: datetime | None
    updated_at: datetime | None
    intent_ids: tuple[str, ...] = ()  # the ids behind intents_used (names can repeat)


@dataclass(frozen=True)
class Settings:
    is_active: bool
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class TestCall:
    __test__ = False  # not a pytest class
    id: str
    assistant_id: str
    test_phrase: str
    language: str  # DEFAULT_LANGUAGE when stored as NULL or ''
    call_id: str | None
    status: str  # DEFAULT_STATUS when stored as NULL or ''
    created_at: datetime | None  # NULL sorts as the oldest: last in the newest-first list and export
    updated_at: datetime | None


TEST_COLUMNS = ("id", "assistant_id", "test_phrase", "language", "call_id", "status", "created_at", "updated_at")
# The test-calls export (tests.csv, UserStore.iter_tests): TEST_COLUMNS with the assistant's name (empty when
# no assistant of the user has that Vapi id), newest first like the Tests screen.
TEST_EXPORT_COLUMNS = ("id", "assistant_id", "assistant_name", "test_phrase", "language", "call_id", "status",
                       "created_at", "updated_at")


@dataclass(frozen=True)
class TestPage:
    __test__ = False  # not a pytest class
    rows: tuple[TestCall, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class Subscription:
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    status: str | None
    plan_type: str | None
    billing_cycle: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class TestFilter:
    __test__ = False  # not a pytest class
    """Filters of the tests screen, the stats screen's range and the export.  Empty means all.

    ``start`` is inclusive, ``end`` exclusive, both naive UTC.
    """

    start: datetime | None = None
    end: datetime | None = None
    assistant_ids: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    search: str = ""
    phrase: str = ""  # exactly this test phrase (the failure drill-down's click); "" means any


FAILURE_STATUSES = ("failed", "cancelled")


@dataclass(frozen=True)
class FailureGroup:
    """Failed and cancelled calls of one test phrase (or one assistant) in a period, out of all its calls."""

    key: str  # the test phrase, or the Vapi assistant id
    name: str  # what the screen shows: the phrase, or the assistant's name (its id when unknown)
    total: int
    failed: int
    cancelled: int

    @property
    def failures(self) -> int:
        return self.failed + self.cancelled

    @property
    def rate(self) -> float:
        return self.failures / self.total if self.total else 0.0


@dataclass(frozen=True)
class FailureDrilldown:
    """The phrases and assistants whose calls fail most, counted by the database (most failures first)."""

    phrases: tuple[FailureGroup, ...] = ()
    assistants: tuple[FailureGroup, ...] = ()


@dataclass(frozen=True)
class DayStatusCount:
    day: date
    status: str
    count: int


@dataclass(frozen=True)
class Stats:
    """What the stats screen shows, every number counted by the database."""

    intents: int
    assistants: int
    tests: int
    tests_completed: int
    tests_per_day: tuple[DayStatusCount, ...] = ()
    tests_per_language: tuple[tuple[str, int], ...] = ()
    tests_per_assistant: tuple[tuple[str, str, int], ...] = ()  # (assistant_id, display name, count)
    intents_per_week: tuple[tuple[date, int], ...] = ()

    @property
    def success_rate(self) -> float | None:
        return self.tests_completed / self.tests if self.tests else None

    @property
    def is_empty(self) -> bool:
        return not (self.intents or self.assistants or self.tests)


