"""The other download formats: JSON (what ``lib.files.importing`` reads back for intents), Parquet and
Excel, each from a frame, with the cell rules of ``lib.files.csv_encoding``."""

from __future__ import annotations

import io
import json
import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from lib.files.csv_encoding import (
    MAX_EXACT_INT,
    encode_cell,
    is_missing,
    json_default,
    json_text,
    unneutralize,
    utc_naive,
)

EXCEL_MAX_ROWS = 1_048_576  # including the header row


def _json_value(v: object) -> Any:
    if isinstance(v, str):
        return v
    if is_missing(v):
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
    return json_default(v)


def to_json(df: pd.DataFrame) -> bytes:
    """The frame as a UTF-8 JSON list of objects (lists as arrays, datetimes as ISO UTC, missing as
    null); the intents' JSON is what ``lib.files.importing.read_intents`` reads back."""
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
        s = pd.Series([None if is_missing(v) else json_text(v) for v in s.tolist()], dtype=object)
    try:
        return pa.Array.from_pandas(s)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed types: fall back to the CSV text of each cell (without neutralization).
        return pa.array([None if is_missing(v) else unneutralize(encode_cell(v)) for v in s.tolist()], pa.string())


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
            elif is_missing(v):
                continue
            elif isinstance(v, bool | np.bool_):
                ws.write_boolean(r, c, bool(v))
            elif isinstance(v, int | np.integer) and abs(int(v)) <= MAX_EXACT_INT:
                ws.write_number(r, c, int(v))
            elif isinstance(v, float | np.floating | Decimal):
                ws.write_number(r, c, float(v))
            elif isinstance(v, datetime | np.datetime64):
                ws.write_datetime(r, c, utc_naive(pd.Timestamp(v).to_pydatetime()), stamp)
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

