"""Export files and the intents import: what a spreadsheet sees, and what an import reads back."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.files import formats, frames
from lib.files.csv_encoding import (
    FORMULA_TRIGGERS,
    encode_cell,
    encode_column,
    iter_csv,
    neutralize,
    to_csv,
    unneutralize,
    write_csv,
)
from lib.files.formats import to_excel, to_json, to_parquet
from lib.files.frames import INTENT_COLUMNS, assistants_frame, intents_frame, subscription_frame
from lib.models import TEST_COLUMNS, TEST_EXPORT_COLUMNS, Assistant, Intent, Subscription, TestCall

BOM = b"\xef\xbb\xbf"


def rows_of(data: bytes) -> list[list[str]]:
    """The CSV as a spreadsheet would split it (BOM removed)."""
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def intent(n: int, name: str = "", phrases: tuple[str, ...] = ("hi",), en=(), ru=()) -> Intent:
    when = datetime(2026, 11, 25, 7, 40, 4) + timedelta(minutes=n)
    return Intent(f"00000000-0000-0000-0000-{n:012d}", name or f"intent {n}", phrases, en, ru, when, when)


# -- to_csv ---------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_formula_triggers_are_neutralized_in_cells_and_header(trigger: str) -> None:
    text = f'{trigger}HYPERLINK("http://evil")'
    df = pd.DataFrame({f"{trigger}col": [text], "safe": ["plain"]})
    header, row = rows_of(to_csv(df))
    assert header == [f"'{trigger}col", "safe"]
    assert row == [f"'{text}", "plain"]


def test_triggers_are_the_owasp_set() -> None:
    assert set(FORMULA_TRIGGERS) == {"=", "+", "-", "@", "\t", "\r"}


# Every formula trigger, pinned by example (the exported cell as a spreadsheet reads it), rather
# than derived from FORMULA_TRIGGERS or left for hypothesis to find.
NEUTRALIZED = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil.example","click")', "'=HYPERLINK(\"http://evil.example\",\"click\")"),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("=", "'="),
    ("+1", "'+1"),
    ("+A1+A2", "'+A1+A2"),
    ("+", "'+"),
    ("-1", "'-1"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("-", "'-"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("@", "'@"),
    ("\t=1+1", "'\t=1+1"),
    ("\tplain", "'\tplain"),
    ("\t", "'\t"),
    ("\r=1+1", "'\r=1+1"),
    ("\rplain", "'\rplain"),
    ("\r", "'\r"),
    # text that already starts with apostrophes before a trigger gets one more, so the import can undo it
    ("'=1+1", "''=1+1"),
    ("''+1", "'" + "''+1"),
    ("'-1", "''-1"),
    ("'@x", "''@x"),
    ("'\tx", "''\tx"),
    ("'\rx", "''\rx"),
]
LEFT_ALONE = [
    " =1+1",  # a leading space: spreadsheets read the cell as text
    "  +1",
    "\n=1+1",  # a line feed is not a trigger
    "\u00a0=1",
    "\uff1d1+1",  # a full-width equals sign
    "a=1",
    "1-2",
    "'",
    "'x",
    "''",
    "'' =1",
    "",
    "%1",
    "|cmd",
    "!A1",
    "#REF",
    "$A$1",
    "[1]",
    "{}",
]


@pytest.mark.parametrize(("text", "cell"), NEUTRALIZED)
def test_every_formula_trigger_is_neutralized_on_every_path(text: str, cell: str) -> None:
    assert neutralize(text) == cell and unneutralize(cell) == text
    assert encode_cell(text) == cell
    assert encode_column(pd.Series([text, "plain"], dtype="str")) == [cell, "plain"]  # the text column fast path
    assert encode_column(pd.Series([text, 1], dtype=object)) == [cell, "1"]  # the per-cell path
    header, row = rows_of(to_csv(pd.DataFrame({text: [text]})))
    assert header == [cell] and row == [cell]


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_text_without_a_leading_trigger_is_left_alone_on_every_path(text: str) -> None:
    assert neutralize(text) == text and unneutralize(text) == text
    assert encode_cell(text) == text
    assert encode_column(pd.Series([text], dtype="str")) == [text]
    assert encode_column(pd.Series([text, 1], dtype=object)) == [text, "1"]


def test_every_first_character_but_the_six_triggers_is_left_alone() -> None:
    triggers = {"=", "+", "-", "@", "\t", "\r"}
    for code in range(0x250):
        text = chr(code) + "1+1"
        assert neutralize(text) == ("'" + text if chr(code) in triggers else text), repr(text)


def test_non_text_values_that_print_as_formulas_are_neutralized() -> None:
    assert encode_cell(float("-inf")) == "'-inf"
    assert encode_cell(float("inf")) == "inf"
    assert encode_cell(Decimal("-Infinity")) == "'-Infinity"
    assert encode_cell(Decimal("-1.5")) == "-1.5"  # a number stays a number
    assert encode_cell(-3) == "-3"

    class Shown:
        def __str__(self) -> str:
            return "=1+1"

    assert encode_cell(Shown()) == "'=1+1"
    assert encode_cell(["=1+1"]) == '["=1+1"]'  # JSON text starts with a bracket


def test_text_that_looks_safe_is_left_alone() -> None:
    df = pd.DataFrame({"a": ["hello", "'quoted", "[1]", " =space first", "a=b", ""]})
    assert [r[0] for r in rows_of(to_csv(df))[1:]] == ["hello", "'quoted", "[1]", " =space first", "a=b", ""]


def test_apostrophe_before_a_trigger_gets_one_more_so_import_can_undo_it() -> None:
    assert neutralize("'=x") == "''=x"
    assert neutralize("''-1") == "'''-1"
    for text in ["=x", "'=x", "''=x", "'x", "x", "", "'", "-"]:
        assert unneutralize(neutralize(text)) == text


def test_numbers_stay_numbers_but_numeric_text_is_neutralized() -> None:
    df = pd.DataFrame({"int": [-5, 3], "float": [-2.5, 4.0], "text": ["-5", "+3"]})
    assert rows_of(to_csv(df))[1:] == [["-5", "-2.5", "'-5"], ["3", "4", "'+3"]]
    assert pd.read_csv(io.BytesIO(to_csv(df[["int", "float"]])), encoding="utf-8-sig")["int"].tolist() == [-5, 3]


def test_integral_floats_read_as_integers_whatever_the_dtype() -> None:
    as_int = pd.DataFrame({"n": [1, 2]})
    as_float = pd.DataFrame({"n": [1.0, 2.0]})
    assert to_csv(as_int) == to_csv(as_float)
    assert encode_cell(1e20) == "1e+20"
    assert encode_cell(0.1) == "0.1"
    assert encode_cell(float("-inf")) == "'-inf"


def test_cyrillic_round_trips_with_a_bom() -> None:
    df = pd.DataFrame({"фраза": ["Привет, мир", 'Ёлка "в кавычках"', "строка\nвторая"]})
    data = to_csv(df)
    assert data.startswith(BOM)
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert back.columns.tolist() == ["фраза"]
    assert back["фраза"].tolist() == df["фраза"].tolist()


def test_lists_and_dicts_are_json() -> None:
    df = pd.DataFrame(
        {
            "l": [["a", "б", "=c"], ("x",), [], np.array(["n"])],
            "d": [{"k": "в"}, {}, None, {"n": [1, 2]}],
        }
    )
    rows = rows_of(to_csv(df))[1:]
    assert rows[0] == ['["a", "б", "=c"]', '{"k": "в"}']
    assert [json.loads(r[0]) for r in rows] == [["a", "б", "=c"], ["x"], [], ["n"]]
    assert rows[2][1] == ""
    assert json.loads(rows[3][1]) == {"n": [1, 2]}


def test_missing_values_are_empty_and_booleans_lowercase() -> None:
    df = pd.DataFrame(
        {
            "o": [None, np.nan, pd.NA, pd.NaT, "x"],
            "b": [True, False, True, False, True],
            "nb": pd.array([True, None, False, None, True], dtype="boolean"),
            "ni": pd.array([1, None, -3, None, 5], dtype="Int64"),
            "s": pd.Series(["a", None, "b", None, "-c"], dtype="str"),
        }
    )
    assert rows_of(to_csv(df))[1:] == [
        ["", "true", "true", "1", "a"],
        ["", "false", "", "", ""],
        ["", "true", "false", "-3", "b"],
        ["", "false", "", "", ""],
        ["x", "true", "true", "5", "'-c"],
    ]


def test_datetimes_are_iso_utc() -> None:
    naive = pd.Series(pd.to_datetime(["2026-11-25 07:40:04", "2026-11-25 07:40:04.123456", None], format="ISO8601"))
    aware = naive.dt.tz_localize("Europe/Moscow")
    df = pd.DataFrame(
        {
            "naive": naive,
            "aware": aware,
            "objects": pd.Series([datetime(2026, 11, 25, 10, 40, 4, tzinfo=timezone(timedelta(hours=3))), None, None]),
            "day": [date(2026, 11, 25), None, None],
        }
    )
    assert rows_of(to_csv(df))[1:] == [
        ["2026-11-25T07:40:04Z", "2026-11-25T04:40:04Z", "2026-11-25T07:40:04Z", "2026-11-25"],
        ["2026-11-25T07:40:04.123456Z", "2026-11-25T04:40:04.123456Z", "", ""],
        ["", "", "", ""],
    ]


def test_nanoseconds_are_dropped_like_the_per_cell_path() -> None:
    s = pd.Series(pd.to_datetime(["2026-11-25 07:40:04.000000999", "1969-12-31 23:59:59.9999995"]))
    assert (
        encode_column(s)
        == [encode_cell(v) for v in s.tolist()]
        == [
            "2026-11-25T07:40:04Z",
            "1969-12-31T23:59:59.999999Z",
        ]
    )


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
        ),
        max_size=20,
    ),
    st.sampled_from([None, "UTC", "Asia/Tokyo", "America/New_York"]),
)
@settings(max_examples=100, deadline=None)
def test_typed_datetime_columns_encode_like_single_cells(values: list[datetime | None], tz: str | None) -> None:
    typed = pd.Series(values, dtype="datetime64[us]")
    if tz:
        typed = typed.dt.tz_localize("UTC").dt.tz_convert(tz)
    assert encode_column(typed) == [encode_cell(v) for v in typed.astype(object).tolist()]


@given(st.lists(st.one_of(st.integers(-(2**62), 2**62), st.booleans()), max_size=20))
def test_typed_int_and_bool_columns_encode_like_single_cells(values: list[int | bool]) -> None:
    ints = pd.Series([int(v) for v in values], dtype="int64")
    bools = pd.Series([bool(v) for v in values], dtype="bool")
    for s in (ints, bools):
        assert encode_column(s) == [encode_cell(v) for v in s.astype(object).tolist()]


def test_empty_frame_is_bom_and_header() -> None:
    assert to_csv(pd.DataFrame(columns=["a", "=b"])) == BOM + b"a,'=b\r\n"
    assert to_csv(intents_frame([])) == BOM + ",".join(INTENT_COLUMNS).encode() + b"\r\n"


def test_no_chunks_gives_the_given_header_or_just_a_bom() -> None:
    assert b"".join(iter_csv([], columns=TEST_COLUMNS)) == BOM + ",".join(TEST_COLUMNS).encode() + b"\r\n"
    assert b"".join(iter_csv([])) == BOM


def test_chunks_must_share_columns() -> None:
    with pytest.raises(ValueError, match="differ"):
        b"".join(iter_csv([pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [1]})]))


def big_frame(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01")
    texts = np.array(["=SUM(A1)", "привет", "-5", "plain, comma", 'say "hi"', "line\nbreak", "@me", ""])
    return pd.DataFrame(
        {
            "id": [f"id-{i}" for i in range(n)],
            "assistant_id": rng.choice(["a1", "a2", "асс"], n),
            "test_phrase": texts[rng.integers(0, len(texts), n)],
            "n": rng.integers(-1000, 1000, n),
            "created_at": start + pd.to_timedelta(rng.integers(0, 10**12, n), unit="us"),
        }
    )


def test_large_frame_row_count() -> None:
    df = big_frame(200_000)
    data = to_csv(df)
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False, dtype=str)
    assert len(back) == 200_000
    assert back["id"].iloc[-1] == "id-199999"
    assert set(back["test_phrase"]) <= {
        "'=SUM(A1)",
        "привет",
        "'-5",
        "plain, comma",
        'say "hi"',
        "line\nbreak",
        "'@me",
        "",
    }


def test_streamed_chunks_are_byte_identical_to_the_whole() -> None:
    df = big_frame(200_000, seed=11)
    chunks = [df.iloc[i : i + 7_777] for i in range(0, len(df), 7_777)]
    seen: list[int] = []
    streamed = b"".join(iter_csv(chunks, on_progress=seen.append))
    assert streamed == to_csv(df)
    assert seen[-1] == 200_000 and len(seen) == len(chunks) and seen == sorted(seen)


def test_chunks_with_different_dtypes_still_match_the_whole() -> None:
    """pandas promotes ints to float and datetimes to object when a chunk has missing values."""
    a = pd.DataFrame({"n": [1, 2], "t": pd.to_datetime(["2026-01-01", "2026-01-02"]), "s": ["x", "y"]})
    b = pd.DataFrame({"n": [None, 3.0], "t": [None, None], "s": [None, "=z"]})
    whole = pd.concat([a, b], ignore_index=True)
    assert b"".join(iter_csv([a, b])) == to_csv(whole)


def test_write_csv_streams_one_chunk_at_a_time(tmp_path) -> None:
    events: list[str] = []
    df = big_frame(3_000)

    def chunks():
        for i in range(0, len(df), 1_000):
            events.append(f"make {i}")
            yield df.iloc[i : i + 1_000]

    class Sink(io.BytesIO):
        def write(self, b: bytes) -> int:
            events.append("write")
            return super().write(b)

    sink = Sink()
    progress: list[int] = []
    assert write_csv(chunks(), sink, on_progress=progress.append) == 3_000
    assert sink.getvalue() == to_csv(df)
    assert progress == [1_000, 2_000, 3_000]
    # the next chunk is asked for only after the previous one's bytes were written
    assert events == ["make 0", "write", "write", "make 1000", "write", "make 2000", "write"]

    path = tmp_path / "tests.csv"
    assert write_csv(iter([df]), path) == 3_000
    assert path.read_bytes() == to_csv(df)
    assert write_csv(iter([]), str(path), columns=["a"]) == 0
    assert path.read_bytes() == BOM + b"a\r\n"


# -- Parquet, Excel, JSON ---------------------------------------------------------------------


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["=cmd", "Привет"],
            "phrases": [["a", "б"], []],
            "config": [{"voice": "x"}, {}],
            "when": pd.to_datetime(["2026-11-25 07:40:04", None]),
            "n": [1, -2],
        }
    )


def test_parquet_keeps_lists_and_utc_times() -> None:
    table = pq.read_table(io.BytesIO(to_parquet(sample_frame())))
    assert str(table.schema.field("when").type) == "timestamp[us, tz=UTC]"
    back = table.to_pylist()
    assert back[0]["name"] == "=cmd"
    assert back[0]["phrases"] == ["a", "б"]
    assert json.loads(back[0]["config"]) == {"voice": "x"}
    assert back[0]["when"] == datetime(2026, 11, 25, 7, 40, 4, tzinfo=UTC)
    assert back[1]["when"] is None


def test_parquet_falls_back_to_text_for_mixed_columns() -> None:
    back = pq.read_table(io.BytesIO(to_parquet(pd.DataFrame({"m": [1, "x", None]})))).to_pylist()
    assert [r["m"] for r in back] == ["1", "x", None]


def test_excel_writes_text_as_strings_never_formulas() -> None:
    data = to_excel(sample_frame())
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        # constant-memory mode writes each text inline (<is><t>…</t></is>), not in a shared-strings table
        strings = "".join(re.findall(r"<is><t[^>]*>(.*?)</t></is>", sheet, flags=re.S))
    assert "<f>" not in sheet and "sharedStrings" not in " ".join(z.namelist())
    assert "=cmd" in strings and "Привет" in strings
    assert "[&quot;a&quot;, &quot;б&quot;]" in strings or '["a", "б"]' in strings
    assert '{"voice": "x"}' in strings.replace("&quot;", '"')


def test_excel_refuses_more_rows_than_excel_holds(monkeypatch) -> None:
    monkeypatch.setattr(formats, "EXCEL_MAX_ROWS", 3)
    with pytest.raises(ValueError, match="at most"):
        to_excel(pd.DataFrame({"a": [1, 2, 3]}))


def test_json_export_is_plain_json() -> None:
    records = json.loads(to_json(sample_frame()))
    assert records[0] == {
        "name": "=cmd",
        "phrases": ["a", "б"],
        "config": {"voice": "x"},
        "when": "2026-11-25T07:40:04Z",
        "n": 1,
    }
    assert records[1]["when"] is None


# -- the frames -------------------------------------------------------------------------------


def test_intents_frame_shape() -> None:
    aware = datetime(2026, 11, 25, 10, 40, tzinfo=timezone(timedelta(hours=3)))
    df = intents_frame([intent(1, en=("hello",)), Intent("x", "n", (), (), (), aware, None)])
    assert df.columns.tolist() == list(INTENT_COLUMNS)
    assert "user_id" not in df.columns
    assert df["example_user_phrases"].tolist() == [["hi"], []]
    assert df["created_at"].iloc[1] == pd.Timestamp("2026-11-25 07:40")
    assert pd.isna(df["updated_at"].iloc[1])
    assert all(isinstance(v, str) for v in df["id"])


def test_other_frames_shapes() -> None:
    when = datetime(2026, 1, 1)
    a = assistants_frame([Assistant("id1", "vapi-1", "Bot", {"k": 1}, ("greet",), when, when)])
    assert a.columns.tolist() == [
        "id",
        "vapi_assistant_id",
        "name",
        "config",
        "intents_used",
        "created_at",
        "updated_at",
    ]
    assert a["config"].iloc[0] == {"k": 1} and a["intents_used"].iloc[0] == ["greet"]
    assert assistants_frame([]).columns.tolist() == a.columns.tolist()

    sub = Subscription("cus_1", "sub_1", "active", "pro", "monthly", when, when, when, None)
    s = subscription_frame(sub)
    assert len(s) == 1 and s["plan_type"].iloc[0] == "pro" and "user_id" not in s.columns
    assert len(subscription_frame(None)) == 0 and subscription_frame(None).columns.tolist() == s.columns.tolist()

    t = frames.tests_frame([TestCall("1", "a", "hi", "english", None, "completed", when, None),
                            TestCall("2", "b", "yo", "russian", "c", "failed", when, when)], {"a": "Front desk"})
    assert t.columns.tolist() == list(TEST_EXPORT_COLUMNS)
    assert rows_of(to_csv(t))[1] == ["1", "a", "Front desk", "hi", "english", "", "completed", "2026-01-01T00:00:00Z", ""]
    assert rows_of(to_csv(t))[2][:3] == ["2", "b", ""]  # no assistant of the user has that id


def test_previews_say_what_a_row_is_first_in_plain_words() -> None:
    when = datetime(2026, 1, 1)
    tests = frames.preview_frame(frames.tests_frame(
        [TestCall("5f0c-uuid", "vapi_1", "hi", "english", None, "completed", when, None)], {"vapi_1": "Front desk"}))
    assert tests.columns.tolist()[:5] == ["Created", "Assistant", "Phrase", "Language", "Status"]
    assert tests.columns.tolist()[-1] == "Id" and tests.iloc[0]["Assistant"] == "Front desk"
    intents = frames.preview_frame(frames.intents_frame([]))
    assert intents.columns.tolist()[0] == "Intent" and intents.columns.tolist()[-1] == "Id"
    assert frames.preview_frame(frames.assistants_frame([])).columns.tolist()[:2] == ["Name", "Vapi assistant id"]
    assert frames.preview_frame(frames.subscription_frame(None)).columns.tolist()[:2] == ["Plan", "Status"]
    for frame in (tests, intents):
        assert not any("_" in c for c in frame.columns)
    assert len(frames.preview_frame(pd.DataFrame({"x": range(500)}))) == 100


def test_json_keeps_line_separators_inside_texts_as_they_are() -> None:
    """U+0085, U+2028 and U+2029 are line breaks to Python's splitlines, not to JSON: a text holding one comes
    back unchanged (the streamed writer indents only the layout's own line feeds)."""
    texts = ["\x85  ", "a\u2028b", "c\u2029", "d\ne"]
    back = json.loads(to_json(pd.DataFrame({"t": texts, "l": [[t] for t in texts]})))
    assert [r["t"] for r in back] == texts and [r["l"] for r in back] == [[t] for t in texts]
