"""The frame of each table for a download or a preview: its columns in file order, its values typed
for the writers of ``lib.files.csv_encoding`` and ``lib.files.formats``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import pandas as pd

from lib.files.csv_encoding import utc_naive
from lib.i18n import N_, _
from lib.models import TEST_COLUMNS, TEST_EXPORT_COLUMNS, Assistant, FailureDrilldown, Intent, Subscription, TestCall
from lib.store.validation import search_fold

INTENT_COLUMNS = (
    "id",
    "intent_name",
    "example_user_phrases",
    "english_responses",
    "russian_responses",
    "created_at",
    "updated_at",
)
ASSISTANT_COLUMNS = ("id", "vapi_assistant_id", "name", "config", "intents_used", "created_at", "updated_at")
SUBSCRIPTION_COLUMNS = (
    "stripe_customer_id",
    "stripe_subscription_id",
    "status",
    "plan_type",
    "billing_cycle",
    "current_period_start",
    "current_period_end",
    "created_at",
    "updated_at",
)


# -- the frames of each table ----------------------------------------------------------------

# What a preview calls each column, translated when shown (the files keep the database's names, which an import
# reads back).
PREVIEW_LABELS = {
    "intent_name": N_("Intent"), "example_user_phrases": N_("Example phrases"), "english_responses": N_("English responses"),
    "russian_responses": N_("Russian responses"), "name": N_("Name"), "vapi_assistant_id": N_("Vapi assistant id"),
    "config": N_("Config"), "intents_used": N_("Intents used"), "assistant_name": N_("Assistant"),
    "assistant_id": N_("Vapi assistant id"), "test_phrase": N_("Phrase"), "language": N_("Language"), "call_id": N_("Call id"),
    "status": N_("Status"), "plan_type": N_("Plan"), "billing_cycle": N_("Billing cycle"),
    "current_period_start": N_("Period start"), "current_period_end": N_("Period end"),
    "stripe_customer_id": N_("Stripe customer"), "stripe_subscription_id": N_("Stripe subscription"),
    "created_at": N_("Created"), "updated_at": N_("Updated"), "id": N_("Id"),
}
PREVIEW_ORDERS = {  # a column only that table has -> what a row is about first, internal ids last
    "test_phrase": ("created_at", "assistant_name", "test_phrase", "language", "status", "call_id", "assistant_id"),
    "intent_name": ("intent_name", "example_user_phrases", "english_responses", "russian_responses"),
    "vapi_assistant_id": ("name", "vapi_assistant_id", "intents_used", "config"),
    "plan_type": ("plan_type", "status", "billing_cycle", "current_period_start", "current_period_end"),
}


def preview_frame(frame: pd.DataFrame, rows: int = 100) -> pd.DataFrame:
    """The first ``rows`` rows as a preview shows them: readable column names, the columns that say what
    a row is first (a test call's time and assistant, an intent's name), the row's id last."""
    lead = next((order for marker, order in PREVIEW_ORDERS.items() if marker in frame.columns), ())
    first = [c for c in lead if c in frame.columns]
    last = [c for c in ("id",) if c in frame.columns and c not in first]
    order = first + [c for c in frame.columns if c not in first and c not in last] + last
    shown = frame.head(rows)[order].copy()
    for column, label in _value_labels(frame).items():  # the screens' words ("Completed"); the file keeps the value
        shown[column] = [v if v is None or pd.isna(v) else label(str(v)) for v in shown[column]]
    return shown.rename(columns=lambda c: _(PREVIEW_LABELS[c]) if c in PREVIEW_LABELS
                        else c.replace("_", " ").capitalize())


def _value_labels(frame: pd.DataFrame) -> dict:
    """Columns whose values a preview shows as the screens name them: a test call's status and language (as the
    Tests screen), a subscription's status (as Billing)."""
    from lib.screens import billing, charts  # (the screens' own label functions; lib.screens imports lib.files)

    if "test_phrase" in frame.columns:
        return {c: f for c, f in (("status", charts.status_label), ("language", charts.language_label))
                if c in frame.columns}
    if "plan_type" in frame.columns and "status" in frame.columns:
        return {"status": billing.status_label}
    return {}


def _times(values: Iterable[datetime | None]) -> pd.Series:
    return pd.Series([None if v is None else utc_naive(v) for v in values], dtype="datetime64[us]")


def _texts(values: Iterable[object]) -> pd.Series:
    return pd.Series([None if v is None else str(v) for v in values], dtype="str")


def _lists(values: Iterable[Iterable[str]]) -> pd.Series:
    return pd.Series([list(v) for v in values], dtype=object)


def intents_frame(intents: Sequence[Intent]) -> pd.DataFrame:
    """The intents table as shown and exported (lists as lists, datetimes naive UTC)."""
    return pd.DataFrame(
        {
            "id": _texts(i.id for i in intents),
            "intent_name": _texts(i.intent_name for i in intents),
            "example_user_phrases": _lists(i.example_user_phrases for i in intents),
            "english_responses": _lists(i.english_responses for i in intents),
            "russian_responses": _lists(i.russian_responses for i in intents),
            "created_at": _times(i.created_at for i in intents),
            "updated_at": _times(i.updated_at for i in intents),
        },
        columns=list(INTENT_COLUMNS),
    )


def assistants_frame(assistants: Sequence[Assistant]) -> pd.DataFrame:
    """The assistants table: ``config`` as dicts, ``intents_used`` as lists of intent names."""
    return pd.DataFrame(
        {
            "id": _texts(a.id for a in assistants),
            "vapi_assistant_id": _texts(a.vapi_assistant_id for a in assistants),
            "name": _texts(a.name for a in assistants),
            "config": pd.Series([dict(a.config) for a in assistants], dtype=object),
            "intents_used": _lists(a.intents_used for a in assistants),
            "created_at": _times(a.created_at for a in assistants),
            "updated_at": _times(a.updated_at for a in assistants),
        },
        columns=list(ASSISTANT_COLUMNS),
    )


def subscription_frame(subscription: Subscription | None) -> pd.DataFrame:
    """The user's subscription as one row (none when there is no subscription)."""
    subs = [subscription] if subscription is not None else []
    data: dict[str, pd.Series] = {}
    for name in SUBSCRIPTION_COLUMNS:
        values = [getattr(s, name) for s in subs]
        timed = name.endswith(("_at", "_start", "_end"))
        data[name] = _times(values) if timed else _texts(values)
    return pd.DataFrame(data, columns=list(SUBSCRIPTION_COLUMNS))


def tests_frame(rows: Iterable[TestCall], names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Test calls in the shape ``UserStore.iter_tests`` yields (``TEST_EXPORT_COLUMNS``); ``names`` gives
    the assistants' names by Vapi id (missing: empty)."""
    rows, names = list(rows), names or {}
    data = {
        name: _times(getattr(r, name) for r in rows) if name.endswith("_at") else _texts(getattr(r, name) for r in rows)
        for name in TEST_COLUMNS
    }
    data["assistant_name"] = _texts(names.get(r.assistant_id) for r in rows)
    return pd.DataFrame(data, columns=list(TEST_EXPORT_COLUMNS))


tests_frame.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name



def intents_matching(intents: Iterable[Intent], search: str) -> list[Intent]:
    """The intents whose name or an example phrase contains ``search`` (search_fold: case, and yo as ie; empty: all),
    as the Export screen's search and the API's ``q`` filter them."""
    text = search_fold(search.strip())
    return [i for i in intents if not text or text in search_fold(i.intent_name)
            or any(text in search_fold(p) for p in i.example_user_phrases)]


FAILURE_COLUMNS = ("kind", "key", "name", "total", "failed", "cancelled")


def failures_frame(drilldown: FailureDrilldown) -> pd.DataFrame:
    """The failure drill-down as one table: the phrase groups, then the assistant groups (``kind``)."""
    groups = [("phrase", g) for g in drilldown.phrases] + [("assistant", g) for g in drilldown.assistants]
    return pd.DataFrame({
        "kind": _texts(k for k, _g in groups), "key": _texts(g.key for _k, g in groups),
        "name": _texts(g.name for _k, g in groups),
        **{c: pd.Series([getattr(g, c) for _k, g in groups], dtype="int64") for c in ("total", "failed", "cancelled")},
    }, columns=list(FAILURE_COLUMNS))
