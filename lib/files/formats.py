"""The other download formats: JSON (what ``lib.files.importing`` reads back for intents), Parquet and
Excel, each from a frame, with the cell rules of ``lib.files.csv_encoding``."""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

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
from lib.models import TEST_EXPORT_COLUMNS

EXCEL_MAX_ROWS = 1_048_576  # including the header row

# Every download format: its name on the buttons, the file's extension and media type.
FORMATS = {
    "CSV": ("csv", "text/csv"),
    "Excel": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "JSON": ("json", "application/json"),
    "Parquet": ("parquet", "application/vnd.apache.parquet"),
}


def tests_schema() -> Any:
    """The test-calls export's Parquet columns (``TEST_EXPORT_COLUMNS``): texts, and the times as UTC
    timestamps, whatever a chunk holds (a chunk whose calls have no call id is still a text column)."""
    import pyarrow as pa

    return pa.schema([(name, pa.timestamp("us", tz="UTC") if name.endswith("_at") else pa.string())
                      for name in TEST_EXPORT_COLUMNS])


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


def write_json(frames: Iterable[pd.DataFrame], out: IO[bytes]) -> int:
    """The frames' rows as one UTF-8 JSON list of objects, written record by record (lists as arrays,
    datetimes as ISO UTC, missing as null), byte for byte ``json.dumps(records, indent=2)``; returns the rows."""
    out.write(b"[")
    n = 0
    for df in frames:
        names = [str(c) for c in df.columns]
        for row in df.itertuples(index=False, name=None):
            record = json.dumps({name: _json_value(v) for name, v in zip(names, row, strict=True)},
                                ensure_ascii=False, indent=2)
            # indented one level as in a list; only the layout's own line feeds (a string's are escaped, and
            # textwrap would also break at U+0085 or U+2028 inside a string)
            out.write(((",\n  " if n else "\n  ") + record.replace("\n", "\n  ")).encode("utf-8"))
            n += 1
    out.write(b"\n]" if n else b"]")
    return n


def to_json(df: pd.DataFrame) -> bytes:
    """The frame as a UTF-8 JSON list of objects; the intents' JSON is what ``lib.files.importing.read_intents``
    reads back."""
    buf = io.BytesIO()
    write_json([df], buf)
    return buf.getvalue()


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


def _arrow_table(df: pd.DataFrame) -> Any:
    import pyarrow as pa

    return pa.Table.from_arrays([_arrow_column(df.iloc[:, i]) for i in range(df.shape[1])],
                                names=[str(c) for c in df.columns])


def write_parquet(frames: Iterable[pd.DataFrame], out: IO[bytes], *, schema: Any = None) -> int:
    """The frames as one Parquet file, a row group per frame: lists as list columns, dicts as JSON text,
    datetimes as UTC timestamps.  ``schema`` (pyarrow) fixes the columns' types when a frame may hold only
    missing values in a column; else the first frame's types are the file's.  Returns the rows."""
    import pyarrow.parquet as pq

    writer, n = None, 0
    for df in frames:
        table = _arrow_table(df)
        if writer is None:
            schema = schema or table.schema
            writer = pq.ParquetWriter(out, schema)
        writer.write_table(table.cast(schema))
        n += len(df)
    if writer is None:  # no frame at all: an empty file with the schema's columns
        pq.write_table((schema.empty_table() if schema is not None else _arrow_table(pd.DataFrame())), out)
    else:
        writer.close()
    return n


def to_parquet(df: pd.DataFrame) -> bytes:
    """The frame as Parquet (see ``write_parquet``)."""
    buf = io.BytesIO()
    write_parquet([df], buf)
    return buf.getvalue()


def _excel_column(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "M":
        s = s.astype("datetime64[us]")
    return s.tolist()


def write_excel(frames: Iterable[pd.DataFrame], out: IO[bytes] | str, *, sheet_name: str = "Export") -> int:
    """The frames' rows as one .xlsx sheet, written row by row (xlsxwriter's constant-memory mode: a million
    rows never sit in memory).  Every text is a string cell (never a formula or a link), lists and dicts
    are JSON text, datetimes naive UTC.  At most 1,048,575 rows (Excel's limit: ValueError past it).
    Returns the rows."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(out, {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "nan_inf_to_errors": True,
        "remove_timezone": True,
    })
    ws = wb.add_worksheet(re.sub(r"[\[\]:*?/\\]", " ", sheet_name)[:31] or "Export")
    bold = wb.add_format({"bold": True})
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    r, widths = 0, []
    for df in frames:
        if not widths:
            widths = [len(str(name)) + 2 for name in df.columns]
            for c, name in enumerate(df.columns):
                ws.write_string(0, c, str(name), bold)
        if r + len(df) + 1 > EXCEL_MAX_ROWS:
            raise ValueError(f"Excel holds at most {EXCEL_MAX_ROWS - 1:,} rows")
        columns = [_excel_column(df.iloc[:, c]) for c in range(df.shape[1])]
        for values in zip(*columns, strict=True):
            r += 1
            for c, v in enumerate(values):
                if isinstance(v, str):
                    ws.write_string(r, c, v)
                    widths[c] = max(widths[c], min(len(v), 60))
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
                    widths[c] = max(widths[c], 20)
                elif isinstance(v, date):
                    ws.write_datetime(r, c, datetime(v.year, v.month, v.day), day)
                    widths[c] = max(widths[c], 12)
                else:
                    text = unneutralize(encode_cell(v))
                    ws.write_string(r, c, text)
                    widths[c] = max(widths[c], min(len(text), 60))
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    if widths:
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, r, len(widths) - 1)
    wb.close()
    return r


def to_excel(df: pd.DataFrame, *, sheet_name: str = "Export") -> bytes:
    """The frame as an .xlsx workbook (see ``write_excel``)."""
    if len(df) + 1 > EXCEL_MAX_ROWS:
        raise ValueError(f"Excel holds at most {EXCEL_MAX_ROWS - 1:,} rows; this export has {len(df):,}")
    buf = io.BytesIO()
    write_excel([df], buf, sheet_name=sheet_name)
    return buf.getvalue()
