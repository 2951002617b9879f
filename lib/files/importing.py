"""Reading an uploaded intents file -- the CSV or JSON ``lib.files`` writes -- into ``IntentInput`` rows.

Plain Python, no Streamlit.  Parsing only: the business rules (names, lengths, characters a
database cannot hold) are ``lib.store.validation``'s, applied to each row by the preview
(``lib.screens.import_preview``) and again on save.

An upload is untrusted, so every step here is bounded, and anything wrong ends in one
``ValidationError`` whose message is short -- never another exception:

* Size: at most ``MAX_UPLOAD_MB`` (the ``maxUploadSize`` of ``.streamlit/config.toml``; a test keeps
  the two equal) and ``MAX_ROWS`` intents; a JSON file holds at most ``MAX_JSON_VALUES`` values,
  counted before it is parsed, so memory stays bounded (under 200 MB for any 20 MB file, bench/imports.py).
* Depth: JSON -- the whole file or one CSV list cell -- may nest at most ``MAX_DEPTH`` levels; the
  depth is measured without recursion before ``json.loads`` runs, so a 2 KB ``[[[[...`` is refused
  instead of raising ``RecursionError``.
* Encodings: UTF-8 with or without a BOM, and UTF-16 or UTF-32 with a BOM (Excel's "Unicode text"),
  are decoded.  Other bytes are a legacy code page -- Excel on Russian Windows saves "CSV" as
  Windows-1251 -- told apart by charset-normalizer (``csv_encoding.detect_legacy``: the reading with
  the least mojibake and the most coherent language); the preview names the encoding it used.  Only
  an ambiguous file (two readings giving different letters equally likely, or too little text to
  tell) and UTF-16 without a BOM are refused, with a message that says why and how to save the file
  as UTF-8.
* Messages: at most ``MAX_PROBLEMS`` problems are listed, then how many more; no message quotes more
  than ``MAX_QUOTED`` characters of the file.
* Time: linear in the size of the file.
"""

from __future__ import annotations

import codecs
import csv
import gc
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from lib.errors import Problem, ValidationError
from lib.files.csv_encoding import AmbiguousEncoding, detect_legacy, encoding_name, unneutralize
from lib.i18n import N_, _
from lib.models import IntentInput

MAX_UPLOAD_MB = 20  # == [server] maxUploadSize in .streamlit/config.toml (tests/test_importing.py)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024  # Streamlit's megabyte
MAX_ROWS = 200_000
MAX_DEPTH = 32  # an intents file needs 3 (list > object > list)
MAX_JSON_VALUES = 2_000_000  # every JSON value costs up to ~70 bytes once parsed
MAX_COLUMNS = 100
MAX_PROBLEMS = ValidationError.SHOWN  # problems kept (a hostile file has millions)
MAX_QUOTED = 40

LIST_FIELDS = ("example_user_phrases", "english_responses", "russian_responses")
REQUIRED = ("intent_name", "example_user_phrases")

RESAVE = N_(
    "Save it as UTF-8 and upload it again: in Excel, File → Save As → “CSV UTF-8 (Comma delimited)”; "
    "in LibreOffice, Save As → Text CSV → Edit filter settings → Character set “Unicode (UTF-8)”; "
    "in Notepad, Save As → Encoding “UTF-8”."
)
LIST_HINT = N_('(write it as ["first", "second"])')


class JSONProblem(ValueError):
    """Why a JSON text cannot be read (``reason``, translated; ``kind``: "invalid", "too many", "other")."""

    def __init__(self, what: str, reason: str, kind: str = "other") -> None:
        super().__init__(f"{what} {reason}")
        self.reason, self.kind = reason, kind


class _Problems:
    """Problems as found, keeping only the first ``MAX_PROBLEMS`` (a hostile file has millions)."""

    def __init__(self) -> None:  # rows are labelled "line N" / "item N" (English: keys; shown by lib.errors.row_label)
        self.kept: list[Problem] = []
        self.total = 0
        self.by_row: dict[str, list[Problem]] = {}  # every row's own problems (a preview shows them all)

    def append(self, problem: Problem) -> None:
        self.total += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(problem)
        if problem.row.startswith(("line ", "item ")) and problem.row != "line 1":
            found = self.by_row.setdefault(problem.row, [])
            if len(found) < 10:
                found.append(problem)

    def __len__(self) -> int:
        return self.total

    def error(self) -> ValidationError:
        return ValidationError(self.kept, more=self.total - len(self.kept))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects that form no cycles
    (a file's rows): each of its passes would scan the growing heap, which doubles the time of
    an import.  Interleaved threads can only leave it enabled earlier, never disabled."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _refuse(row: str, field: str, message: str) -> ValidationError:
    return ValidationError([Problem(row, field, message)])


_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def quoted(text: str) -> str:
    """A piece of the user's file fit for a message: short, with control characters and lone
    surrogates (which no page can show) written as escapes."""
    short = text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "…"
    return _UNSHOWABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), short)


# -- decoding --------------------------------------------------------------------------------


def _looks_like_utf16(data: bytes) -> bool:
    """Mostly-Latin text in UTF-16 without a BOM: every other byte is zero."""
    head = data[:4096]
    return len(head) >= 4 and head.count(0) * 4 >= len(head)


def _ansi_name(data: bytes) -> str:
    """Which legacy code page undecodable bytes most likely are (a guess, only for the message).

    Cyrillic in Windows-1251 makes words of consecutive high bytes; Western text in Windows-1252
    has a lone accented letter between ASCII ones."""
    high = np.frombuffer(data[: 1 << 20], dtype=np.uint8) >= 0x80
    if not high.any():
        return _("a legacy code page")
    paired = high[1:] & high[:-1]
    in_runs = int(paired.sum()) * 2
    return (_("Windows-1251 (Cyrillic)") if in_runs >= int(high.sum())
            else _("a Windows code page such as Windows-1252"))


def decode(data: bytes) -> str:
    """The file's text (see ``decode_named``)."""
    return decode_named(data)[0]


def decode_named(data: bytes) -> tuple[str, str]:
    """The file's text and its encoding's name: UTF-8 (BOM optional), UTF-16 or UTF-32 with a BOM, or a
    legacy code page told apart by charset-normalizer (Windows-1251 as Excel on Russian Windows saves
    CSV, KOI8-R, Windows-1252, ...: ``csv_encoding.detect_legacy``); a refusal only when the bytes are
    ambiguous (it names the readings that tie and how to save the file as UTF-8)."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding, name = "utf-32", "UTF-32"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, name = "utf-16", "UTF-16"
    else:
        encoding, name = "utf-8-sig", "UTF-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        if name != "UTF-8":
            raise _refuse("file", "encoding", _("starts with a {name} byte-order mark but is not valid {name} "
                                                "(at byte {byte}).").format(name=name, byte=_n(e.start))
                          + " " + _(RESAVE)) from None
        if not _looks_like_utf16(data):
            try:
                codec = detect_legacy(data)
                return data.decode(codec), encoding_name(codec)
            except AmbiguousEncoding as ambiguous:
                if ambiguous.candidates:
                    raise _refuse("file", "encoding", _(
                        "is not UTF-8, and its encoding cannot be told for sure: it reads as {encodings} alike. "
                    ).format(encodings=", ".join(ambiguous.candidates)) + _(RESAVE)) from None
            except UnicodeDecodeError:
                pass
        looks = _("UTF-16 without a byte-order mark") if _looks_like_utf16(data) else _ansi_name(data)
        line = data.count(b"\n", 0, e.start) + 1
        raise _refuse("file", "encoding", _("is not UTF-8 text (line {line} has byte {byte}); it looks like {looks}.").format(
            line=_n(line), byte=f"0x{data[e.start]:02X}", looks=looks) + " " + _(RESAVE)) from None
    if name == "UTF-8" and "\x00" in text[:4096] and _looks_like_utf16(data):
        raise _refuse("file", "encoding", _("looks like UTF-16 without a byte-order mark.") + " " + _(RESAVE))
    return text, name


def _mb(size: int) -> str:
    from lib.screens.formatting import fmt_number

    return fmt_number(size / 1024 / 1024, 1)


def _n(n: int) -> str:
    from lib.screens.formatting import fmt_int

    return fmt_int(n)


# -- JSON without recursion risks ------------------------------------------------------------

# A JSON string, also an unterminated one (it runs to the end): possessive, so linear time.
_JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_CHUNK = 1 << 20


def _depth(skeleton: str) -> int:
    """The deepest nesting of brackets in JSON text whose strings were removed (no recursion)."""
    opens = skeleton.count("[") + skeleton.count("{")
    if opens <= MAX_DEPTH:
        return opens
    brackets = np.frombuffer(_NOT_BRACKET.sub("", skeleton).encode("ascii"), dtype=np.uint8)
    deepest = level = 0
    for start in range(0, len(brackets), _DEPTH_CHUNK):
        chunk = brackets[start : start + _DEPTH_CHUNK]
        steps = np.where((chunk == ord("[")) | (chunk == ord("{")), 1, -1).astype(np.int32)
        levels = np.cumsum(steps, dtype=np.int32) + level
        deepest = max(deepest, int(levels.max()))
        level = int(levels[-1])
    return deepest


_DECODER = json.JSONDecoder()
_JSON_SPACE = re.compile(r"[ \t\r\n]*")


def load_json(text: str, what: str, *, max_values: int | None = None) -> object:
    """``json.loads`` behind a depth check (and a count of values, if ``max_values`` is given), both
    made without recursion before parsing; raises ``ValueError`` with a short reason."""
    if max_values is not None or text.count("[") + text.count("{") > MAX_DEPTH:
        skeleton = _JSON_STRING.sub("", text)
        depth = _depth(skeleton)
        if depth > MAX_DEPTH:
            raise JSONProblem(what, _("is nested more than {n} levels deep").format(n=MAX_DEPTH))
        # a value is the first in its list or object, or follows a comma; a key precedes a colon
        if max_values is not None and sum(map(skeleton.count, ",:[{")) + 1 > max_values:
            raise JSONProblem(what, _("holds more than {n} values").format(n=_n(max_values)), "too many")
        del skeleton
    try:
        value, end = _DECODER.raw_decode(text, _JSON_SPACE.match(text).end())
        end = _JSON_SPACE.match(text, end).end()
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
        return value
    except RecursionError:  # not expected behind the depth check; never a traceback
        raise JSONProblem(what, _("is nested too deeply")) from None
    except json.JSONDecodeError as e:
        raise JSONProblem(what, _("is not valid JSON: {error} at line {line}, column {column}").format(
            error=e.msg, line=_n(e.lineno), column=_n(e.colno)), "invalid") from None
    except ValueError:  # e.g. an integer of more than 4,300 digits
        raise JSONProblem(what, _("holds a number too long to read")) from None


# -- CSV -------------------------------------------------------------------------------------

_CHUNK = 1 << 16


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their ends, a chunk at a time (``io.StringIO`` would copy the text at
    four bytes a character; a regex would cost a Python call per line).  Lines end at "\n" (so
    also at "\r\n"), or at "\r" in a file with no "\n" at all (old Mac spreadsheets)."""
    end_char = "\n" if "\n" in text or "\r" not in text else "\r"
    start, size = 0, len(text)
    while start < size:
        end = text.find(end_char, start + _CHUNK)
        end = size if end < 0 else end + 1
        parts = text[start:end].split(end_char)
        last = parts.pop()
        yield from [part + end_char for part in parts]
        if last:
            yield last
        start = end


def _first_line(text: str) -> str:
    end = text.find("\n")
    return text if end < 0 else text[:end]


def _delimiter(first: str) -> str:
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _list_value(value: object, label: str, field: str, problems: _Problems) -> tuple[str, ...]:
    """A decoded list field: None is empty, a plain text is a list of one; anything but a list of
    texts is a problem."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if not isinstance(value, list):
        problems.append(Problem(label, field, _("is not a list of texts") + " " + _(LIST_HINT)))
        return ()
    bad = next((n for n, item in enumerate(value, start=1) if not isinstance(item, str)), None)
    if bad is not None:
        problems.append(Problem(label, field, _("item {n} is not text").format(n=bad)))
        return ()
    return tuple(value)


def _csv_list(cell: str, label: str, field: str, problems: _Problems) -> tuple[str, ...]:
    text = unneutralize(cell).strip()
    if not text or text == "[]":
        return ()
    if not text.startswith(("[", "{", '"')):  # a plain value (`hi`) is a list of one item, or one per line
        return tuple(line for line in (part.strip() for part in text.splitlines()) if line)  # (Alt+Enter in Excel)
    try:
        value = load_json(text, "the cell")
    except JSONProblem as e:
        reason = _("is not a JSON array of texts") + " " + _(LIST_HINT) if e.kind == "invalid" else e.reason
        problems.append(Problem(label, field, reason))
        return ()
    return _list_value(value, label, field, problems)


def _csv_error(e: csv.Error) -> str:
    text = str(e)
    if "field limit" in text:
        return _("has a cell longer than {n} characters").format(n=_n(csv.field_size_limit()))
    if "new-line character" in text:
        return _("has a line break (a lone carriage return) outside quotes")
    return _("is not valid CSV ({error})").format(error=text[:200])


def _read_csv(text: str) -> tuple[list[IntentInput], _Problems]:
    if not text.strip():
        raise _refuse("file", "", _("it is empty, with no header row and nothing to import"))
    first = _first_line(text)
    delimiter = _delimiter(first)
    if first.count(delimiter) >= MAX_COLUMNS:
        raise _refuse("line 1", "header", _("has more than {n} columns; is this the intents file?").format(n=MAX_COLUMNS))
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=True)
    problems = _Problems()
    intents: list[IntentInput] = []
    line = 0
    try:
        header = [unneutralize(h).strip().lower() for h in next(reader)]
        line = 1
        shown = ", ".join(quoted(h) for h in header[:10]) + (", …" if len(header) > 10 else "")
        for name in REQUIRED:
            if name not in header:
                problems.append(Problem("line 1", name, _("column is missing (the header is: {header})").format(header=shown)))
        for name in (*REQUIRED, *LIST_FIELDS):
            if header.count(name) > 1:
                problems.append(Problem("line 1", name, _("column appears more than once")))
        if problems:
            raise problems.error()
        where = {name: header.index(name) for name in (*REQUIRED, *LIST_FIELDS, "id") if name in header}
        for row in reader:
            line += 1
            label = f"line {line}"
            if not row or not any(cell.strip() for cell in row):
                continue  # blank line, or a spreadsheet's empty row
            if len(row) > len(header) and not any(cell.strip() for cell in row[len(header) :]):
                row = row[: len(header)]
            if len(row) != len(header):
                problems.append(Problem(label, "row", _("has {n} fields; the header has {header}").format(
                    n=_n(len(row)), header=len(header))))
                intents.append(IntentInput(intent_name="", label=label))  # shown in the preview with its problem
                continue
            if len(intents) == MAX_ROWS:
                raise _refuse("file", "rows", _("has more than {n} intents; split it into smaller files").format(n=_n(MAX_ROWS)))
            lists = {f: _csv_list(row[where[f]], label, f, problems) if f in where else () for f in LIST_FIELDS}
            ident = unneutralize(row[where["id"]]).strip() if "id" in where else ""
            intents.append(IntentInput(intent_name=unneutralize(row[where["intent_name"]]), label=label, id=ident,
                                       **lists))
    except csv.Error as e:
        problems.append(Problem(f"line {line + 1}", "file", _csv_error(e)))
        raise problems.error() from None  # the rest of the file cannot be read
    return intents, problems


# -- JSON ------------------------------------------------------------------------------------


def _read_json(text: str) -> tuple[list[IntentInput], _Problems]:
    try:
        data = load_json(text, "the file", max_values=MAX_JSON_VALUES)
    except JSONProblem as e:
        reason = e.reason
        if e.kind == "too many":
            reason += "; " + _("split it into smaller files (at most {n} intents each)").format(n=_n(MAX_ROWS))
        raise _refuse("file", "JSON", reason) from None
    if not isinstance(data, list):
        raise _refuse("file", "JSON", _("must be a list of intent objects ([{...}, {...}])"))
    if len(data) > MAX_ROWS:
        raise _refuse("file", "rows", _("has {n} items; at most {max} intents fit in one file").format(
            n=_n(len(data)), max=_n(MAX_ROWS)))
    problems = _Problems()
    intents: list[IntentInput] = []
    for n, item in enumerate(data, start=1):
        label = f"item {n}"
        if not isinstance(item, dict):
            problems.append(Problem(label, "item", _("is not an object with intent_name, example_user_phrases, ...")))
            intents.append(IntentInput(intent_name="", label=label))  # shown in the preview with its problem
            continue
        for name in REQUIRED:
            if name not in item:
                problems.append(Problem(label, name, _("is missing")))
        name = item.get("intent_name", "")
        if not isinstance(name, str):
            problems.append(Problem(label, "intent_name", _("is not text")))
            name = ""
        lists = {f: _list_value(item.get(f), label, f, problems) for f in LIST_FIELDS}
        ident = item.get("id")
        intents.append(IntentInput(intent_name=name, label=label, id=ident.strip() if isinstance(ident, str) else "",
                                   **lists))
    return intents, problems


def read_intents(data: bytes, filename: str) -> list[IntentInput]:
    """``read_intent_rows``, refusing the file if any row could not be read."""
    rows, problems = read_intent_rows(data, filename)
    if problems:
        found = [p for row in problems.values() for p in row]
        raise ValidationError(found[:MAX_PROBLEMS], more=max(0, len(found) - MAX_PROBLEMS))
    return rows


def read_intent_rows(data: bytes, filename: str) -> tuple[list[IntentInput], dict[str, list[Problem]]]:
    """``read_intent_file`` without the encoding's name."""
    found = read_intent_file(data, filename)
    return found.rows, found.problems


@dataclass(frozen=True)
class IntentFile:
    rows: list[IntentInput]
    problems: dict[str, list[Problem]]
    encoding: str  # e.g. "UTF-8", "Windows-1251": the preview names it


def read_intent_file(data: bytes, filename: str) -> IntentFile:
    """Parse an uploaded intents file -- the CSV or JSON ``lib.files`` writes -- without judging it.

    CSV: comma, semicolon or tab separated (guessed from the header line); needs the columns
    intent_name and example_user_phrases, english_responses and russian_responses are optional, id (the
    Export's) names the intent a row updates, others (created_at, ...) are ignored; list cells are JSON arrays
    of texts, or a plain value (one item per line; an empty cell is an empty list); blank rows are skipped.  Labels are
    "line N", N being the row number a spreadsheet shows (the header is line 1).  JSON: a list of objects; labels are "item N" (from 1).
    Encodings, sizes and depth: see the module docstring.  Business rules (non-empty names,
    lengths, characters) are ``lib.store.validation``'s.  Returns every row (one that could not be read is
    an empty row) and each row's own problems by label, so a preview reports them all at once.  A
    file that cannot be read as a whole (encoding, size, header, broken CSV) raises one
    ``ValidationError`` naming what to fix, and nothing else is raised.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise _refuse("file", "size", _("is {size} MB; at most {max} MB can be imported at once. Split it into "
                                        "smaller files").format(size=_mb(len(data)), max=MAX_UPLOAD_MB))
    text, encoding = decode_named(data)
    suffix = os.path.splitext(filename or "")[1].lower()
    is_json = suffix == ".json" or (suffix not in (".csv", ".tsv", ".txt") and text.lstrip()[:1] in ("[", "{"))
    with gc_paused():
        rows, problems = _read_json(text) if is_json else _read_csv(text)
    return IntentFile(rows, problems.by_row, encoding)
