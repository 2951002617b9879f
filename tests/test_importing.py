"""The intents import: what an uploaded file gives, for files the export wrote and files built to break it."""

from __future__ import annotations

import codecs
import csv
import io
import json
import tomllib
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.dataframe_util import convert_pandas_df_to_arrow_bytes

from lib.errors import Problem, ValidationError
from lib.files.csv_encoding import BOM, neutralize, to_csv, unneutralize
from lib.files.formats import to_json
from lib.files.frames import intents_frame
from lib.files.importing import (
    MAX_COLUMNS,
    MAX_DEPTH,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_MB,
    read_intent_file,
    read_intents,
)
from lib.models import Intent, IntentDiff, IntentInput
from lib.screens.import_preview import import_preview, problem_lines
from lib.store.validation import MAX_LIST_ITEMS, clean_intent, refuse_new_duplicates, validate_diff


def intent(n: int, name: str = "", phrases: tuple[str, ...] = ("hi",), en=(), ru=()) -> Intent:
    when = datetime(2026, 11, 25, 7, 40, 4) + timedelta(minutes=n)
    return Intent(f"00000000-0000-0000-0000-{n:012d}", name or f"intent {n}", phrases, en, ru, when, when)


# -- read_intents -----------------------------------------------------------------------------


def as_inputs(intents: list[Intent], prefix: str, first: int) -> list[IntentInput]:
    return [
        IntentInput(i.intent_name, i.example_user_phrases, i.english_responses, i.russian_responses, f"{prefix} {n}")
        for n, i in enumerate(intents, start=first)
    ]


def test_csv_export_reads_back() -> None:
    intents = [
        intent(1, "=greet", ("Привет", "-hi", 'say "x", y'), ("Hello",), ("Здравствуйте",)),
        intent(2, "'=tricky", ("@a\nb",)),
        intent(3, "plain", ()),
    ]
    assert read_intents(to_csv(intents_frame(intents)), "intents.csv") == as_inputs(intents, "line", 2)


def test_json_export_reads_back() -> None:
    intents = [intent(1, "=greet", ("Привет",), ("Hello",)), intent(2, "b", ())]
    assert read_intents(to_json(intents_frame(intents)), "intents.json") == as_inputs(intents, "item", 1)


texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("=+-@\t\r\n'\",;[]{} \\ёЖ")),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=30,
)
intents_strategy = st.lists(
    st.builds(
        lambda n, p, e, r: (n, tuple(p), tuple(e), tuple(r)),
        texts,
        st.lists(texts, max_size=4),
        st.lists(texts, max_size=3),
        st.lists(texts, max_size=3),
    ),
    max_size=6,
)


@given(intents_strategy)
@settings(max_examples=300, deadline=None)
def test_csv_round_trip_of_any_text(rows) -> None:
    intents = [intent(k, "", ()) for k in range(len(rows))]
    intents = [
        Intent(i.id, n, p, e, r, i.created_at, i.updated_at) for i, (n, p, e, r) in zip(intents, rows, strict=True)
    ]
    back = read_intents(to_csv(intents_frame(intents)), "export.csv")
    # a row whose every cell is blank is skipped, as a spreadsheet's empty row; exported rows never are
    assert back == as_inputs(intents, "line", 2)


@given(intents_strategy)
@settings(max_examples=200, deadline=None)
def test_json_round_trip_of_any_text(rows) -> None:
    intents = [Intent(str(k), n, p, e, r, None, None) for k, (n, p, e, r) in enumerate(rows)]
    assert read_intents(to_json(intents_frame(intents)), "export.json") == as_inputs(intents, "item", 1)


@given(texts)
def test_neutralize_round_trip(text: str) -> None:
    assert unneutralize(neutralize(text)) == text
    assert neutralize(text)[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_hand_written_csv_variants() -> None:
    semicolons = b'intent_name;example_user_phrases\r\n\'=x;["a"]\r\n;;\r\nname;\r\n'
    assert read_intents(semicolons, "mine.csv") == [
        IntentInput("=x", ("a",), label="line 2"),
        IntentInput("name", (), label="line 4"),
    ]
    # Excel's trailing empty columns; no BOM; header in any case; optional response columns absent
    excel = b'Intent_Name,Example_User_Phrases,,\r\ngreet,"[""hi""]",,\r\n'
    assert read_intents(excel, "book.csv") == [IntentInput("greet", ("hi",), label="line 2")]
    # sniffed without a known suffix
    assert read_intents(b'[{"intent_name": "a", "example_user_phrases": ["b"]}]', "upload") == [
        IntentInput("a", ("b",), label="item 1")
    ]


def problems_of(data: bytes, filename: str) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as err:
        read_intents(data, filename)
    return [(p.row, p.field) for p in err.value.problems]


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"intent_name\r\nx\r\n", "a.csv", [("line 1", "example_user_phrases")]),
        (b"name,phrases\r\n", "a.csv", [("line 1", "intent_name"), ("line 1", "example_user_phrases")]),
        (b"intent_name,example_user_phrases,intent_name\r\n", "a.csv", [("line 1", "intent_name")]),
        (b"intent_name,example_user_phrases\r\nb,[1]\r\n", "a.csv", [("line 2", "example_user_phrases")]),
        (b'intent_name,example_user_phrases\r\nb,"{""a"": 1}"\r\n', "a.csv", [("line 2", "example_user_phrases")]),
        (
            b'intent_name,example_user_phrases,english_responses\r\nb,[],"[""x"""\r\n',
            "a.csv",
            [("line 2", "english_responses")],
        ),
        (b"intent_name,example_user_phrases\r\na,[],extra\r\n", "a.csv", [("line 2", "row")]),
        (b"intent_name,example_user_phrases\r\nonly\r\n", "a.csv", [("line 2", "row")]),
        (b'intent_name,example_user_phrases\r\n"unclosed,[]\r\n', "a.csv", [("line 2", "file")]),
        (b"", "a.csv", [("file", "")]),
        (b"\xff\xfeintent_name", "a.csv", [("file", "encoding")]),
        (b'[{"intent_name": "a"', "a.json", [("file", "JSON")]),
        (b'{"intent_name": "a"}', "a.json", [("file", "JSON")]),
        (b'[{"intent_name": "a", "example_user_phrases": []}, 3]', "a.json", [("item 2", "item")]),
        (b'[{"intent_name": "a"}]', "a.json", [("item 1", "example_user_phrases")]),
        (
            b'[{"intent_name": 5, "example_user_phrases": "hi"}]',
            "a.json",
            [("item 1", "intent_name")],
        ),
        (
            b'[{"intent_name": "a", "example_user_phrases": 5}]',
            "a.json",
            [("item 1", "example_user_phrases")],
        ),
        (
            b'[{"intent_name": "a", "example_user_phrases": ["x", null]}]',
            "a.json",
            [("item 1", "example_user_phrases")],
        ),
    ],
)
def test_malformed_files_name_the_line_and_field(data: bytes, filename: str, expected) -> None:
    assert problems_of(data, filename) == expected


def test_a_plain_value_in_a_list_column_is_a_list_of_one() -> None:
    """Issue 13.7: `hi` in a list column (CSV) or "hi" (JSON) is one item, not a refused file."""
    csv_file = b'intent_name,example_user_phrases,english_responses\r\na,hello,"""Hi there"""\r\nb,,[]\r\n'
    assert read_intents(csv_file, "a.csv") == [
        IntentInput("a", ("hello",), ("Hi there",), label="line 2"),
        IntentInput("b", (), (), label="line 3"),
    ]
    json_file = b'[{"intent_name": "a", "example_user_phrases": "hello", "russian_responses": "\xd0\xbf"}]'
    assert read_intents(json_file, "a.json") == [IntentInput("a", ("hello",), (), ("\u043f",), label="item 1")]


def test_every_bad_row_is_reported_at_once() -> None:
    """Issue 13.7: three bad rows give three rows' problems, each under its own line."""
    from lib.files.importing import read_intent_rows

    data = (b'intent_name,example_user_phrases\r\nok,hi\r\nx,[1]\r\ny,"[""a"""\r\nz,[],extra\r\n'
            b'fine,"[""b""]"\r\n')
    rows, problems = read_intent_rows(data, "a.csv")
    assert [r.label for r in rows] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert {label: [p.field for p in found] for label, found in problems.items()} == {
        "line 3": ["example_user_phrases"], "line 4": ["example_user_phrases"], "line 5": ["row"]}


def test_problem_messages_are_readable_and_capped() -> None:
    with pytest.raises(ValidationError) as err:
        read_intents(b"intent_name,example_user_phrases\r\nb,[hello\r\n", "a.csv")
    assert "line 2, example_user_phrases: is not a JSON array of texts" in str(err.value)
    many = b"intent_name,example_user_phrases\r\n" + b"x,[nope\r\n" * 120
    with pytest.raises(ValidationError) as err:
        read_intents(many, "a.csv")
    assert len(err.value.problems) == 50 and err.value.more == 70
    assert str(err.value).endswith("; and 70 more")


# -- hostile files: depth ---------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
HEADER = "intent_name,example_user_phrases,english_responses,russian_responses\r\n"


def refusal(data: bytes, filename: str) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        read_intents(data, filename)
    return err.value


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_a_deeply_nested_json_file_is_refused_not_a_recursion_error(depth: int) -> None:
    err = refusal(("[" * depth + "]" * depth).encode(), "deep.json")
    assert [(p.row, p.field) for p in err.problems] == [("file", "JSON")]
    assert err.problems[0].message == f"is nested more than {MAX_DEPTH} levels deep"


def test_deep_nesting_inside_one_intent_object_is_refused() -> None:
    deep = "[" * 1_000 + "]" * 1_000
    data = f'[{{"intent_name": "a", "example_user_phrases": ["hi"], "extra": {deep}}}]'.encode()
    assert "nested more than" in refusal(data, "a.json").problems[0].message
    # the same file under a name that says nothing is sniffed as JSON and refused alike
    assert "nested more than" in refusal(data, "upload").problems[0].message


def test_a_deeply_nested_csv_cell_names_its_line_and_field() -> None:
    deep = "[" * 1_000 + "]" * 1_000
    data = (HEADER + 'a,"[""hi""]",[],[]\r\n' + f'b,"[""hi""]",{deep},[]\r\n').encode()
    err = refusal(data, "a.csv")
    assert [(p.row, p.field, p.message) for p in err.problems] == [
        ("line 3", "english_responses", f"is nested more than {MAX_DEPTH} levels deep")
    ]


def test_nesting_up_to_the_limit_is_read() -> None:
    # list > object > the extra field's own levels: exactly MAX_DEPTH in all
    inner = MAX_DEPTH - 2
    extra = "[" * inner + "]" * inner
    data = f'[{{"intent_name": "a", "example_user_phrases": ["hi"], "extra": {extra}}}]'.encode()
    assert read_intents(data, "a.json") == [IntentInput("a", ("hi",), label="item 1")]


def test_brackets_inside_texts_are_not_nesting() -> None:
    brackets = "[{" * 1_000
    intents = [intent(1, "{" * 150, (brackets, '\\"[' * 300)), intent(2, "x", ("]" * 900,))]
    assert read_intents(to_json(intents_frame(intents)), "a.json") == as_inputs(intents, "item", 1)
    assert read_intents(to_csv(intents_frame(intents)), "a.csv") == as_inputs(intents, "line", 2)


@pytest.mark.parametrize(
    "text",
    [
        '[{"intent_name": "' + '\\"[' * 100_000,  # an unterminated string full of escaped quotes
        '["' + "\\" * 100_001,  # ends inside an escape
        "[" * 40 + '"' + "]" * 40,
    ],
)
def test_unterminated_strings_are_refused_as_invalid_json(text: str) -> None:
    err = refusal(text.encode(), "a.json")
    assert err.problems[0].field == "JSON"


# -- hostile files: characters PostgreSQL cannot hold -------------------------------------------


def test_nul_and_lone_surrogates_are_named_by_row_and_field_in_the_preview() -> None:
    data = (
        b'[{"intent_name": "ok", "example_user_phrases": ["fine", "a\\u0000b"]},'
        b' {"intent_name": "x\\ud800", "example_user_phrases": ["hi"]},'
        b' {"intent_name": "y", "example_user_phrases": ["hi"], "russian_responses": ["\\udc00"]},'
        b' {"intent_name": "good", "example_user_phrases": ["hi"]}]'
    )
    preview = import_preview(read_intents(data, "a.json"))
    assert preview.bad_rows == 3
    assert list(preview.frame["check"]) == [
        "✗ example user phrases: item 2 contains a NUL character (U+0000) at character 2, "
        "which cannot be stored; remove it",
        "✗ intent name: contains a lone surrogate (U+D800) at character 2, which cannot be stored; remove it",
        "✗ russian responses: item 1 contains a lone surrogate (U+DC00) at character 1, "
        "which cannot be stored; remove it",
        "✓ new",
    ]
    assert [(p.row, p.field) for p in preview.problems] == [
        ("item 1", "example_user_phrases"),
        ("item 2", "intent_name"),
        ("item 3", "russian_responses"),
    ]
    assert preview.frame["intent_name"].tolist() == ["ok", "x\ufffd", "y", "good"]
    # what st.dataframe does with the frame: Arrow needs UTF-8, which a lone surrogate has not
    assert convert_pandas_df_to_arrow_bytes(preview.frame)
    assert preview.summary() == "3 of 4 rows have problems; fix the file and upload it again."


def test_a_nul_in_a_csv_cell_is_named_by_line_and_field() -> None:
    data = (HEADER + 'a\x00b,"[""hi""]",[],[]\r\n' + 'c,"[""x\\u0000""]",[],[]\r\n').encode()
    preview = import_preview(read_intents(data, "a.csv"))
    assert [(p.row, p.field) for p in preview.problems] == [
        ("line 2", "intent_name"),
        ("line 3", "example_user_phrases"),
    ]
    assert "NUL character" in preview.frame["check"][0] and "NUL character" in preview.frame["check"][1]


# -- hostile files: encodings -------------------------------------------------------------------

SAMPLE = [intent(1, "привет", ("Как дела?", "hello")), intent(2, "café", ("=1+1", "日本語 🎙️"))]


def sample_text() -> str:
    return to_csv(intents_frame(SAMPLE)).decode("utf-8-sig")


def test_utf8_with_and_without_a_bom_read_the_same() -> None:
    expected = as_inputs(SAMPLE, "line", 2)
    assert read_intents(sample_text().encode("utf-8-sig"), "a.csv") == expected
    assert read_intents(sample_text().encode("utf-8"), "a.csv") == expected


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-16"),  # native order, with a BOM
        lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: t.encode("utf-32"),
    ],
)
def test_utf16_and_utf32_with_a_bom_are_decoded(encode) -> None:
    assert read_intents(encode(sample_text()), "a.csv") == as_inputs(SAMPLE, "line", 2)


def test_excel_unicode_text_is_read() -> None:
    """Excel's "Unicode Text (*.txt)": UTF-16 LE with a BOM, tab-separated."""
    text = 'intent_name\texample_user_phrases\r\nпривет\t"[""Как дела?""]"\r\n'
    assert read_intents(text.encode("utf-16"), "intents.txt") == [
        IntentInput("привет", ("Как дела?",), label="line 2")
    ]


def encoding_message(data: bytes) -> str:
    err = refusal(data, "a.csv")
    assert [(p.row, p.field) for p in err.problems] == [("file", "encoding")]
    message = err.problems[0].message
    assert "UTF-8" in message and "CSV UTF-8 (Comma delimited)" in message and "Save As" in message
    return message


@pytest.mark.parametrize("text", ["intent_name,example_user_phrases\r\n", "intent_name\r\ncafé\r\n"])
def test_utf16_without_a_bom_is_refused_by_name(text: str) -> None:
    assert "looks like UTF-16 without a byte-order mark" in encoding_message(text.encode("utf-16-le"))


def test_windows_1251_from_excel_is_read_and_named() -> None:  # issue 19: no longer refused
    data = ('intent_name,example_user_phrases\r\nприветствие,"[""Здравствуйте, как дела?""]"\r\n').encode("cp1251")
    found = read_intent_file(data, "a.csv")
    assert found.encoding == "Windows-1251"
    assert found.rows == [IntentInput("приветствие", ("Здравствуйте, как дела?",), label="line 2")]


def test_cyrillic_after_a_long_ascii_start_and_other_code_pages_are_read() -> None:
    late = "intent_name;example_user_phrases\r\n" + "".join(f"name{i};hello\r\n" for i in range(5000)) + \
        "прощание;Это всё, спасибо\r\n"
    found = read_intent_file(late.encode("cp1251"), "a.csv")  # the sample starts at the first non-ASCII line
    assert (found.encoding, found.rows[-1].intent_name) == ("Windows-1251", "прощание")
    text = 'intent_name,example_user_phrases\r\nприветствие,"[""Здравствуйте, как дела?""]"\r\n'
    for codec, name in (("koi8_r", "KOI8-R"), ("cp866", "DOS-866 (CP866)")):
        found = read_intent_file(text.encode(codec), "a.csv")
        assert (found.encoding, found.rows[0].example_user_phrases) == (name, ("Здравствуйте, как дела?",))


def test_an_ambiguous_code_page_is_refused_with_why() -> None:
    data = "intent_name,example_user_phrases\r\nx,é\r\n".encode("cp1252")  # one byte: й, щ, И or é alike
    message = encoding_message(data)
    assert message.startswith("is not UTF-8, and its encoding cannot be told for sure")


def test_windows_1252_is_read_and_named() -> None:
    data = 'intent_name,example_user_phrases\r\ncafé,"[""déjà vu""]"\r\n'.encode("cp1252")
    found = read_intent_file(data, "a.csv")
    assert (found.encoding, found.rows[0].intent_name, found.rows[0].example_user_phrases) == (
        "Windows-1252", "café", ("déjà vu",))


def test_a_byte_order_mark_that_lies_is_refused() -> None:
    message = encoding_message(codecs.BOM_UTF16_LE + b"abc")
    assert message.startswith("starts with a UTF-16 byte-order mark but is not valid UTF-16")


# -- hostile files: linear time, bounded output ---------------------------------------------------


class NoRescan(list):
    """A problems list that fails if it is read: checking a row must not scan earlier problems."""

    def __iter__(self):
        raise AssertionError("clean_intent scanned the problems of earlier rows")

    def __contains__(self, item: object) -> bool:
        raise AssertionError("clean_intent scanned the problems of earlier rows")


def test_checking_a_row_never_rescans_earlier_problems() -> None:
    problems = NoRescan([Problem(f"line {n}", "example_user_phrases", "x") for n in range(1_000)])
    clean_intent(IntentInput("", (), label="line 1001"), problems)
    clean_intent(IntentInput("ok", ("",), label="line 1002"), problems)
    assert [(p.row, p.field) for p in list.__iter__(problems)][1_000:] == [
        ("line 1001", "intent_name"),
        ("line 1001", "example_user_phrases"),
        ("line 1002", "example_user_phrases"),
    ]


def test_a_huge_bad_list_costs_a_few_problems_not_one_per_item() -> None:
    problems: list[Problem] = []
    clean_intent(IntentInput("ok", ("",) * 100_000 + (5,) * 3, label="item 1"), problems)
    assert [p.message for p in problems] == [
        "items 1, 2, 3, 4, 5 and 99995 more are empty",
        "items 100001, 100002 and 100003 are not text",
        f"has 100003 items; at most {MAX_LIST_ITEMS} are allowed",
    ]


def test_a_big_json_file_uploaded_under_a_csv_name_gets_a_short_refusal() -> None:
    """The issue's 57 MB error message: 200,000 JSON objects on one line, read as CSV."""
    rows = [{"intent_name": f"intent {n}", "example_user_phrases": [f"hello {n}"]} for n in range(MAX_ROWS)]
    err = refusal(json.dumps(rows).encode(), "intents.csv")
    assert len(str(err)) < 300
    assert err.problems[0].message == f"has more than {MAX_COLUMNS} columns; is this the intents file?"


def test_a_file_with_every_row_bad_lists_fifty_problems_and_counts_the_rest() -> None:
    data = (HEADER + "x,[nope,[1],\"[\"\"\"\"\"\r\n" * 5_000).encode()
    err = refusal(data, "a.csv")
    assert len(err.problems) == ValidationError.SHOWN and err.more == 5_000 * 3 - ValidationError.SHOWN
    assert str(err).endswith(f"; and {err.more:,} more")
    assert len(str(err)) < 10_000


def test_a_header_of_huge_names_is_quoted_briefly() -> None:
    data = (",".join(f"{c}" * 10_000 for c in "abcdefghijklmn") + "\r\n").encode()
    err = refusal(data, "a.csv")
    assert [(p.row, p.field) for p in err.problems] == [("line 1", "intent_name"), ("line 1", "example_user_phrases")]
    assert all(len(p.message) < 700 for p in err.problems)


def test_the_preview_caps_each_rows_reasons() -> None:
    bad = IntentInput("", ("",) * 300 + (1,), ("",), ("", "\x00"), label="line 2")
    [check] = import_preview([bad]).frame["check"]
    assert check.startswith("✗ intent name: must not be empty; example user phrases: items 1, 2, 3, 4, 5 and 295")
    assert check.endswith("; and 4 more") and len(check) < 400


def test_a_validation_error_message_is_bounded_whatever_the_count() -> None:
    err = ValidationError([Problem(f"row {n}", "intent_name", "must not be empty") for n in range(100_000)])
    assert len(err.problems) == ValidationError.SHOWN and err.more == 100_000 - ValidationError.SHOWN
    assert str(err).startswith("Nothing was saved: 100,000 problems: row 0, intent_name: must not be empty;")
    assert len(str(err)) < 3_000


# -- the upload limit ---------------------------------------------------------------------------


def test_the_import_is_built_for_the_configured_upload_limit() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert MAX_UPLOAD_BYTES == MAX_UPLOAD_MB * 1024 * 1024  # Streamlit's megabyte


def full_size_csv() -> tuple[bytes, int]:
    """A CSV in the export's format of just under ``MAX_UPLOAD_BYTES``, and its number of intents."""
    head = (BOM + HEADER).encode()
    p, r = "Как дела? " * 20, "Здравствуйте! " * 10
    rows: list[bytes] = []
    size = len(head)
    while True:
        n = len(rows)
        row = f'intent {n},"[""{p}{n}"", ""hello {n}""]","[""Hi {n}""]","[""{r}""]"\r\n'.encode()
        if size + len(row) > MAX_UPLOAD_BYTES:
            return head + b"".join(rows), len(rows)
        rows.append(row)
        size += len(row)


def test_a_file_of_the_upload_limit_is_read_and_checked_in_bounded_memory() -> None:
    data, count = full_size_csv()
    assert MAX_UPLOAD_BYTES - 1_000 < len(data) <= MAX_UPLOAD_BYTES
    tracemalloc.start()
    try:
        preview = import_preview(read_intents(data, "intents.csv"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(preview.intents) == count and preview.bad_rows == 0
    assert preview.intents[-1].intent_name == f"intent {count - 1}"
    assert peak < 300 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


def test_a_file_over_the_upload_limit_is_refused() -> None:
    err = refusal(b"\n" * (MAX_UPLOAD_BYTES + 1), "a.csv")
    assert [(p.row, p.field) for p in err.problems] == [("file", "size")]
    assert f"at most {MAX_UPLOAD_MB} MB" in err.problems[0].message


def test_more_rows_than_the_cap_are_refused() -> None:
    data = (HEADER + 'x,"[""y""]",,\r\n' * (MAX_ROWS + 1)).encode()
    err = refusal(data, "a.csv")
    assert [(p.row, p.field) for p in err.problems] == [("file", "rows")]
    assert f"more than {MAX_ROWS:,} intents" in err.problems[0].message


# -- any bytes under any name: rows with reasons, or one clear refusal ------------------------------

FRAGMENTS = [
    b"[", b"]", b"{", b"}", b'"', b'""', b",", b":", b";", b"\t", b"\r\n", b"\n", b"\r", b"\\", b" ",
    b"\\u0000", b"\\ud800", b"\\udfff", b"\\ud83c\\udf99", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
    b"\xff\xfe\x00\x00", b"\xed\xa0\x80", b"\xd0\xbf", b"\xcf\xf0", b"\xe9", b"null", b"true", b"1e999", b"-0",
    b"'=", b"intent_name", b"example_user_phrases", b"english_responses", b"russian_responses",
    b"[" * 40, b"]" * 40, b"{" * 40, b"9" * 5_000, b'["hi"]', b'"[""hi""]"', b"x" * 1_001,
]
hostile_bytes = st.one_of(
    st.binary(max_size=3_000),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=6)), max_size=80).map(b"".join),
)
# lists joined, not st.text: st.text leaves lone surrogates out of any alphabet but a plain sampled_from
hostile_text = st.lists(
    st.one_of(st.sampled_from(list("\x00\ud800\udc00 \t\r\n\"',;[]{}\\=ёЖ")), st.characters()), max_size=40
).map("".join)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=3)),
    max_leaves=12,
)
intent_keys = st.sampled_from(["intent_name", "example_user_phrases", "english_responses", "russian_responses", "id"])
intentish_json = st.lists(
    st.one_of(st.dictionaries(st.one_of(intent_keys, hostile_text), json_values, max_size=6),
              st.fixed_dictionaries({"intent_name": hostile_text, "example_user_phrases": st.lists(hostile_text, max_size=4)},
                                    optional={"english_responses": st.lists(hostile_text, max_size=3),
                                              "russian_responses": st.lists(hostile_text, max_size=3)})),
    max_size=6,
).map(lambda items: json.dumps(items).encode())  # ASCII: lone surrogates and NUL arrive as \u escapes
cells = st.one_of(hostile_text, st.lists(hostile_text, max_size=4).map(json.dumps), json_values.map(json.dumps))


def _csv_bytes(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([header, *rows])
    return buf.getvalue().encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


intentish_csv = st.builds(
    _csv_bytes,
    st.lists(st.one_of(intent_keys, hostile_text), min_size=1, max_size=5),
    st.lists(st.lists(cells, max_size=5), max_size=6),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1251", "utf-32"]),
)
file_names = st.one_of(
    st.sampled_from(["a.csv", "a.json", "a.txt", "a.tsv", "a.CSV", "upload", "", "a.xlsx", "x.json.csv", ".json"]),
    hostile_text,
)


def assert_one_clear_refusal(err: ValidationError) -> None:
    message = str(err)
    message.encode("utf-8")  # shows on any page
    assert 1 <= len(err.problems) <= ValidationError.SHOWN
    assert len(message) <= 40_000
    assert all(len(str(p)) <= 800 for p in err.problems), [str(p)[:100] for p in err.problems]
    assert all(line.encode("utf-8") for line in problem_lines(err))


def assert_rows_with_reasons(rows: list[IntentInput]) -> None:
    preview = import_preview(rows)
    assert len(preview.frame) == len(preview.intents) == len(rows)
    checks = preview.frame["check"].tolist()
    assert all(c == "✓ new" or (c.startswith("✗ ") and len(c) <= 1_000) for c in checks)  # nothing stored: new or bad
    assert sum(c != "✓ new" for c in checks) == preview.bad_rows
    convert_pandas_df_to_arrow_bytes(preview.frame)  # st.dataframe's own encoding: no UnicodeEncodeError
    preview.summary().encode("utf-8")
    # the preview and the save apply the same rules (the store's, and lib.queries' duplicate names)
    diff = IntentDiff(added=tuple(rows))
    if preview.bad_rows:
        with pytest.raises(ValidationError):
            validate_diff(diff)
            refuse_new_duplicates(diff, [])
    elif rows:
        assert validate_diff(diff).added == preview.intents
        refuse_new_duplicates(diff, [])


def import_any(data: bytes, filename: str) -> None:
    try:
        rows = read_intents(data, filename)
    except ValidationError as err:
        assert_one_clear_refusal(err)
    else:
        assert_rows_with_reasons(rows)


@given(st.one_of(hostile_bytes, intentish_json, intentish_csv), file_names)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_bytes_under_any_name_give_rows_with_reasons_or_one_clear_refusal(data: bytes, filename: str) -> None:
    import_any(data, filename)


@given(intentish_json, st.sampled_from(["a.json", "upload"]))
@settings(max_examples=300, deadline=None)
def test_any_json_of_intent_objects_gives_rows_with_reasons_or_one_clear_refusal(data: bytes, filename: str) -> None:
    import_any(data, filename)


@given(intentish_csv)
@settings(max_examples=300, deadline=None)
def test_any_csv_gives_rows_with_reasons_or_one_clear_refusal(data: bytes) -> None:
    import_any(data, "a.csv")
