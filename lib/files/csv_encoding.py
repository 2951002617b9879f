"""How a cell is written in every file the user downloads, and the CSV writers; ``lib.files.importing``
reads the intents' files back (``lib.files.formats`` writes JSON, Parquet and Excel).

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import IO, Any

import numpy as np
import pandas as pd

BOM = "\ufeff"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALIZE = re.compile(r"'*[=+\-@\t\r]")
_UNNEUTRALIZE = re.compile(r"'+[=+\-@\t\r]")
_FIRST_CHARS = frozenset("'=+-@\t\r")
MAX_EXACT_INT = 2**53


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


def is_missing(v: object) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float):
        return v != v
    if isinstance(v, np.datetime64 | np.timedelta64):
        return bool(np.isnat(v))
    return False


def utc_naive(v: datetime) -> datetime:
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo is not None else v


def iso_utc(v: datetime) -> str:
    """``2026-11-25T07:40:04Z`` (with ``.ffffff`` only when the microseconds are non-zero)."""
    v = utc_naive(v)
    text = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if v.microsecond:
        text += f".{v.microsecond:06d}"
    return text + "Z"


def json_default(o: object) -> Any:
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


_JSON = json.JSONEncoder(ensure_ascii=False, default=json_default)


def json_text(v: object) -> str:
    if isinstance(v, np.ndarray):
        v = v.tolist()
    elif isinstance(v, set | frozenset):
        v = json_default(v)
    return _JSON.encode(v)


def _float_text(v: float) -> str:
    if math.isinf(v):
        return neutralize("inf" if v > 0 else "-inf")
    if v.is_integer() and abs(v) < MAX_EXACT_INT:
        return str(int(v))
    return repr(float(v))


def encode_cell(v: object) -> str:
    """One value as CSV cell text (see the module docstring for the conventions)."""
    if type(v) is str:
        return neutralize(v)
    if is_missing(v):
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
        return neutralize(json_text(v))
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



# -- reading: which legacy code page a non-UTF-8 file is in ---------------------------------------

ENCODING_NAMES = {  # Python codec -> how people know it (Excel on Russian Windows saves "CSV" as Windows-1251)
    "cp1251": "Windows-1251", "koi8_r": "KOI8-R", "koi8_u": "KOI8-U", "cp866": "DOS-866 (CP866)",
    "mac_cyrillic": "Mac Cyrillic", "iso8859_5": "ISO-8859-5", "cp1252": "Windows-1252", "cp1250": "Windows-1250",
    "latin_1": "ISO-8859-1", "iso8859_15": "ISO-8859-15", "utf_16": "UTF-16", "utf_32": "UTF-32",
}
LEGACY = ("cp1251", "koi8_r", "cp866", "mac_cyrillic", "cp1252")  # the code pages a file here comes in
SAMPLE = 1 << 16  # bytes of a file the detection reads (6 MB whole took 10 s; its first 64 KB decide as well)
CLOSE_CHAOS = 0.05  # readings this close in charset-normalizer's "chaos" (mojibake) are all candidates
CLOSE_SHAPE = 0.1  # ... and this close in word shape: the file is ambiguous
_WORD = re.compile(r"[^\W\d_]+")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


class AmbiguousEncoding(ValueError):
    """No single reading of the bytes is clearly the right one: ``candidates`` names the readings that tie."""

    def __init__(self, candidates: Sequence[str]) -> None:
        super().__init__(", ".join(candidates))
        self.candidates = tuple(candidates)


def encoding_name(codec: str) -> str:
    return ENCODING_NAMES.get(codec, codec.replace("_", "-").upper())


def word_shape(text: str) -> float:
    """How much the words with non-ASCII letters look like words (0 to 1): one script each, lower case or
    capitalized (all capitals count half), and Latin words with at most half their letters accented.  The
    wrong code page gives inverted case (KOI8-R read as Windows-1251: "зДРАВСТВУЙТЕ"), mixed scripts or
    runs of accents (Windows-1251 read as Windows-1252: "ïðèâåò")."""
    words = [w for w in _WORD.findall(text) if not w.isascii()]
    if not words:
        return 0.0
    good = 0.0
    for w in words:
        cyrillic = sum(1 for c in w if "\u0400" <= c <= "\u04ff")
        if 0 < cyrillic < len(w) or (not cyrillic and sum(1 for c in w if not c.isascii()) * 2 > len(w)):
            continue
        good += 1.0 if w.islower() or w.istitle() else 0.5 if w.isupper() else 0.0
    others = [c for c in text if not c.isascii() and c not in "«»–—№…’“”„"]  # typography is fine in any reading
    letters = sum(1 for c in others if c.isalpha()) / len(others) if others else 1.0
    return good / len(words) * letters


def _more_letters(a: str, b: str) -> bool:
    """Where two readings of single-byte text differ, ``a`` has more letters (``b``: a quote for a capital)."""
    if len(a) != len(b):
        return False
    differ = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return sum(x.isalpha() for x, _y in differ) > sum(y.isalpha() for _x, y in differ)


def detect_legacy(data: bytes) -> str:
    """The Python codec of text that is not UTF-8: Windows-1251 (Excel on Russian Windows), KOI8-R, DOS-866,
    Mac Cyrillic or Windows-1252.  charset-normalizer ranks the readings by mojibake ("chaos"); among those
    as clean as the best, the one whose words look most like words (``word_shape``) wins.  Raises
    ``AmbiguousEncoding`` when two readings giving different text remain equally likely."""
    from charset_normalizer import from_bytes  # imported when a legacy file comes, not at startup

    # A sample from the first non-ASCII byte on tells the code page; the whole file is decoded with it afterwards.
    high = _HIGH_BYTE.search(data)
    first = high.start() if high else 0
    start = data.rfind(b"\n", 0, first) + 1
    sample = data[start : start + SAMPLE]
    if start + SAMPLE < len(data) and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]
    found = list(from_bytes(sample, cp_isolation=list(LEGACY)))
    if not found:
        raise AmbiguousEncoding([])
    clean = [m for m in found if m.chaos <= found[0].chaos + CLOSE_CHAOS]
    scored = sorted(((word_shape(str(m)), n, m) for n, m in enumerate(clean)), key=lambda s: (-s[0], s[1]))
    shape, _n, best = scored[0]
    text = str(best)
    rivals = [m for s, _k, m in scored[1:] if s >= shape - CLOSE_SHAPE and str(m) != text
              and not _more_letters(text, str(m))]
    if rivals or shape == 0:
        raise AmbiguousEncoding([encoding_name(m.encoding) for m in (best, *rivals[:2])])
    return best.encoding
