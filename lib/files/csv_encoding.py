"""Files the user downloads (CSV, Parquet, Excel, JSON); ``lib.importing`` reads the intents' files back.

Plain Python, no Streamlit.  One cell encoder serves every CSV, whole or streamed, so a file
built from chunks is byte-identical to one built from the whole frame.

CSV conventions (``to_csv``/``iter_csv``), chosen so Excel shows the file right and an import
can read it back:

* UTF-8 with a BOM, comma-separated, CRLF line ends (RFC 4180), header row first.
* Lists, tuples and arrays as JSON arrays, dicts as JSON objects (``ensure_ascii=False``).
* Datetimes in UTC, ISO 8601 with a ``Z``: ``2026-11-25T07:40:04Z``; the microseconds
  (``.123456``) are written only when non-zero.  Naive datetimes are taken as UTC; aware ones
  are converted; nanoseconds are dropped.  Dates are ``2026-11-25``.
* Missing values (None, NaN, NaT, NA) as empty cells; booleans as ``true``/``false``.
* Numbers as numbers.  An integral float is written as an integer (``3``, not ``3.0``) so a
  column reads the same whether or not pandas promoted it to float for a missing value.
  ``inf`` is written as text (``inf``, ``'-inf``).
* Formula neutralization (OWASP "CSV injection"): a text cell or column name that a spreadsheet
  would run as a formula -- one starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return -- gets a leading apostrophe.  So that the import can undo it exactly, text that already
  starts with apostrophes followed by such a character gets one more; ``unneutralize`` strips one
  apostrophe from a cell that starts with one or more apostrophes followed by a trigger.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import IO, Any

import numpy as np
import pandas as pd

from lib.models import TEST_COLUMNS, TEST_EXPORT_COLUMNS, Assistant, Intent, Subscription, TestCall

BOM = "\ufeff"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALIZE = re.compile(r"'*[=+\-@\t\r]")
_UNNEUTRALIZE = re.compile(r"'+[=+\-@\t\r]")
_FIRST_CHARS = frozenset("'=+-@\t\r")
_MAX_EXACT_INT = 2**53
EXCEL_MAX_ROWS = 1_048_576  # including the header row

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


# -- cell encoding (one way, shared by every CSV and JSON writer) -------------------------------


def neutralize(text: str) -> str:
    """``text`` with a leading apostrophe if a spreadsheet would run it as a formula."""
    if text and text[0] in _FIRST_CHARS and _NEUTRALIZE.match(text):
        return "'" + text
    return text


def unneutralize(text: str) -> str:
    """The inverse of ``neutralize``: one leading apostrophe removed before a formula trigger."""
    if text and text[0] == "'" and _UNNEUTRALIZE.match(text):
        return text[1:]
    return text


def _is_missing(v: object) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float):
        return v != v
    if isinstance(v, np.datetime64 | np.timedelta64):
        return bool(np.isnat(v))
    return False


def _utc_naive(v: datetime) -> datetime:
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo is not None else v


def iso_utc(v: datetime) -> str:
    """``2026-11-25T07:40:04Z`` (with ``.ffffff`` only when the microseconds are non-zero)."""
    v = _utc_naive(v)
    text = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if v.microsecond:
        text += f".{v.microsecond:06d}"
    return text + "Z"


def _json_default(o: object) -> Any:
    if isinstance(o, datetime):
        return iso_utc(o)
    if isinstance(o, date | time):
        return o.isoformat()
    if isinstance(o, np.datetime64):
        return None if np.isnat(o) else iso_utc(pd.Timestamp(o))
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, set | frozenset):
        return sorted(o, key=str)
    return str(o)


_JSON = json.JSONEncoder(ensure_ascii=False, default=_json_default)


def _json_text(v: object) -> str:
    if isinstance(v, np.ndarray):
        v = v.tolist()
    elif isinstance(v, set | frozenset):
        v = _json_default(v)
    return _JSON.encode(v)


def _float_text(v: float) -> str:
    if math.isinf(v):
        return neutralize("inf" if v > 0 else "-inf")
    if v.is_integer() and abs(v) < _MAX_EXACT_INT:
        return str(int(v))
    return repr(float(v))


def encode_cell(v: object) -> str:
    """One value as CSV cell text (see the module docstring for the conventions)."""
    if type(v) is str:
        return neutralize(v)
    if _is_missing(v):
        return ""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return _float_text(float(v))
    if isinstance(v, Decimal):
        return str(v) if v.is_finite() else neutralize(str(v))
    if isinstance(v, datetime):
        return iso_utc(v)
    if isinstance(v, np.datetime64):
        return iso_utc(pd.Timestamp(v))
    if isinstance(v, date | time):
        return v.isoformat()
    if isinstance(v, list | tuple | np.ndarray | dict | set | frozenset):
        return neutralize(_json_text(v))
    return neutralize(str(v))


def _encode_datetimes(s: pd.Series) -> list[str]:
    """The vectorized form of ``encode_cell`` for a datetime64 column (same text, cell by cell)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    arr = s.to_numpy(dtype="datetime64[us]")
    text = [t + "Z" for t in np.datetime_as_string(arr, unit="s").tolist()]
    for i in np.flatnonzero(np.isnat(arr)).tolist():
        text[i] = ""
    fraction = np.flatnonzero(~np.isnat(arr) & (arr.astype("datetime64[s]") != arr)).tolist()
    for i, t in zip(fraction, np.datetime_as_string(arr[fraction], unit="us").tolist(), strict=True):
        text[i] = t + "Z"
    return text


def encode_column(s: pd.Series) -> list[str]:
    """Every cell of a column as CSV text; typed columns take a fast path with the same result."""
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        return _encode_datetimes(s)
    if isinstance(dtype, np.dtype):
        if dtype.kind == "b":
            return np.where(s.to_numpy(), "true", "false").tolist()
        if dtype.kind in "iu":
            return s.to_numpy().astype(str).tolist()
    if isinstance(dtype, pd.StringDtype):  # text only: neutralize the formula-like cells in one pass
        formula = s.str.match(_NEUTRALIZE.pattern).fillna(False).to_numpy(dtype=bool)
        text = s.fillna("")
        if formula.any():
            text = text.where(~formula, "'" + text)
        return text.tolist()
    return [encode_cell(v) for v in s.tolist()]


def _csv_text(rows: Iterable[Sequence[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def header_bytes(columns: Sequence[object]) -> bytes:
    """The start of every CSV: the BOM and the header row (for writers that make the rows elsewhere)."""
    return (BOM + _csv_text([[neutralize(str(c)) for c in columns]])).encode("utf-8")


def _rows_bytes(df: pd.DataFrame) -> bytes:
    if df.empty:
        return b""
    columns = [encode_column(df.iloc[:, i]) for i in range(df.shape[1])]
    return _csv_text(zip(*columns, strict=True)).encode("utf-8")


# -- CSV ------------------------------------------------------------------------------------


def iter_csv(
    chunks: Iterable[pd.DataFrame],
    *,
    columns: Sequence[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The CSV of all chunks, one piece per chunk: BOM and header first, then each chunk's rows.

    ``columns`` gives the header when the chunks may be none at all (an empty result); otherwise
    the first chunk's columns are the header.  Every chunk must have the same columns.
    ``on_progress(rows_so_far)`` is called after each chunk.
    """
    header = [str(c) for c in columns] if columns is not None else None
    if header is not None:
        yield header_bytes(header)
    rows = 0
    for chunk in chunks:
        names = [str(c) for c in chunk.columns]
        if header is None:
            header = names
            yield header_bytes(header)
        elif names != header:
            raise ValueError(f"chunk columns {names} differ from the header {header}")
        data = _rows_bytes(chunk)
        if data:
            yield data
        rows += len(chunk)
        if on_progress is not None:
            on_progress(rows)
    if header is None:
        yield BOM.encode("utf-8")


def to_csv(df: pd.DataFrame) -> bytes:
    """The whole frame as one CSV file (see the module docstring for the conventions)."""
    return b"".join(iter_csv([df]))


def write_csv(
    chunks: Iterable[pd.DataFrame],
    path_or_fileobj: str | os.PathLike[str] | IO[bytes],
    on_progress: Callable[[int], None] | None = None,
    *,
    columns: Sequence[str] | None = None,
) -> int:
    """Stream the chunks' CSV to a path or binary file, holding one chunk at a time; returns rows."""
    rows = 0

    def count(n: int) -> None:
        nonlocal rows
        rows = n
        if on_progress is not None:
            on_progress(n)

    pieces = iter_csv(chunks, columns=columns, on_progress=count)
    if isinstance(path_or_fileobj, str | os.PathLike):
        with open(path_or_fileobj, "wb") as f:
            for piece in pieces:
                f.write(piece)
    else:
        for piece in pieces:
            path_or_fileobj.write(piece)
    return rows


# -- JSON, Parquet, Excel --------------------------------------------------------------------


def _json_value(v: object) -> Any:
    if isinstance(v, str):
        return v
    if _is_missing(v):
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else str(v)
    if isinstance(v, np.ndarray):
        return [_json_value(x) for x in v.tolist()]
    if isinstance(v, list | tuple | set | frozenset):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return _json_default(v)


def to_json(df: pd.DataFrame) -> bytes:
    """The frame as a UTF-8 JSON list of objects (lists as arrays, datetimes as ISO UTC, missing as
    null); the intents' JSON is what ``lib.importing.read_intents`` reads back."""
    names = [str(c) for c in df.columns]
    records = [
        {name: _json_value(v) for name, v in zip(names, row, strict=True)}
        for row in df.itertuples(index=False, name=None)
    ]
    return json.dumps(records, ensure_ascii=False, indent=2).encode("utf-8")


def _arrow_column(s: pd.Series) -> Any:
    import pyarrow as pa

    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC")
    elif isinstance(s.dtype, np.dtype) and s.dtype.kind == "M":
        s = s.dt.tz_localize("UTC")
    elif s.dtype == object and any(isinstance(v, dict) for v in s.tolist()):
        s = pd.Series([None if _is_missing(v) else _json_text(v) for v in s.tolist()], dtype=object)
    try:
        return pa.Array.from_pandas(s)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed types: fall back to the CSV text of each cell (without neutralization).
        return pa.array([None if _is_missing(v) else unneutralize(encode_cell(v)) for v in s.tolist()], pa.string())


def to_parquet(df: pd.DataFrame) -> bytes:
    """The frame as Parquet: lists as list columns, dicts as JSON text, datetimes as UTC timestamps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays(
        [_arrow_column(df.iloc[:, i]) for i in range(df.shape[1])], names=[str(c) for c in df.columns]
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def to_excel(df: pd.DataFrame, *, sheet_name: str = "Export") -> bytes:
    """The frame as an .xlsx workbook.  Every text is a string cell (never a formula or a link),
    lists and dicts are JSON text, datetimes naive UTC.  At most 1,048,575 rows (Excel's limit)."""
    import xlsxwriter

    if len(df) + 1 > EXCEL_MAX_ROWS:
        raise ValueError(f"Excel holds at most {EXCEL_MAX_ROWS - 1:,} rows; this export has {len(df):,}")
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": True,
            "remove_timezone": True,
        },
    )
    ws = wb.add_worksheet(re.sub(r"[\[\]:*?/\\]", " ", sheet_name)[:31] or "Export")
    bold = wb.add_format({"bold": True})
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    for c, name in enumerate(df.columns):
        ws.write_string(0, c, str(name), bold)
        s = df.iloc[:, c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        if isinstance(s.dtype, np.dtype) and s.dtype.kind == "M":
            s = s.astype("datetime64[us]")
        width = len(str(name)) + 2
        for r, v in enumerate(s.tolist(), start=1):
            if isinstance(v, str):
                ws.write_string(r, c, v)
                width = max(width, min(len(v), 60))
            elif _is_missing(v):
                continue
            elif isinstance(v, bool | np.bool_):
                ws.write_boolean(r, c, bool(v))
            elif isinstance(v, int | np.integer) and abs(int(v)) <= _MAX_EXACT_INT:
                ws.write_number(r, c, int(v))
            elif isinstance(v, float | np.floating | Decimal):
                ws.write_number(r, c, float(v))
            elif isinstance(v, datetime | np.datetime64):
                ws.write_datetime(r, c, _utc_naive(pd.Timestamp(v).to_pydatetime()), stamp)
                width = max(width, 20)
            elif isinstance(v, date):
                ws.write_datetime(r, c, datetime(v.year, v.month, v.day), day)
                width = max(width, 12)
            else:
                text = unneutralize(encode_cell(v))
                ws.write_string(r, c, text)
                width = max(width, min(len(text), 60))
        ws.set_column(c, c, width)
    if df.shape[1]:
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, len(df), df.shape[1] - 1)
    wb.close()
    return buf.getvalue()


# -- the frames of each table ----------------------------------------------------------------

# What a preview calls each column (the files keep the database's names, which an import reads back).
PREVIEW_LABELS = {
    "intent_name": "Intent", "example_user_phrases": "Example phrases", "english_responses": "English responses",
    "russian_responses": "Russian responses", "name": "Name", "vapi_assistant_id": "Vapi assistant id",
    "config": "Config", "intents_used": "Intents used", "assistant_name": "Assistant",
    "assistant_id": "Vapi assistant id", "test_phrase": "Phrase", "language": "Language", "call_id": "Call id",
    "status": "Status", "plan_type": "Plan", "billing_cycle": "Billing cycle",
    "current_period_start": "Period start", "current_period_end": "Period end",
    "stripe_customer_id": "Stripe customer", "stripe_subscription_id": "Stripe subscription",
    "created_at": "Created", "updated_at": "Updated", "id": "Id",
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
    return frame.head(rows)[order].rename(columns=lambda c: PREVIEW_LABELS.get(c, c.replace("_", " ").capitalize()))



def _times(values: Iterable[datetime | None]) -> pd.Series:
    return pd.Series([None if v is None else _utc_naive(v) for v in values], dtype="datetime64[us]")


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
