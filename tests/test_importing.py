"""The intents import: what an uploaded file gives, for files the export wrote and files built to break it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.errors import ValidationError
from lib.export import intents_frame, neutralize, to_csv, to_json, unneutralize
from lib.importing import read_intents
from lib.models import Intent, IntentInput


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
        (
            b'intent_name,example_user_phrases\r\na,"[""ok""]"\r\nb,hello\r\n',
            "a.csv",
            [("line 3", "example_user_phrases")],
        ),
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
        (b"", "a.csv", [("file", "header")]),
        (b"\xff\xfeintent_name", "a.csv", [("file", "encoding")]),
        (b'[{"intent_name": "a"', "a.json", [("file", "JSON")]),
        (b'{"intent_name": "a"}', "a.json", [("file", "JSON")]),
        (b'[{"intent_name": "a", "example_user_phrases": []}, 3]', "a.json", [("item 2", "item")]),
        (b'[{"intent_name": "a"}]', "a.json", [("item 1", "example_user_phrases")]),
        (
            b'[{"intent_name": 5, "example_user_phrases": "hi"}]',
            "a.json",
            [("item 1", "intent_name"), ("item 1", "example_user_phrases")],
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


def test_problem_messages_are_readable_and_capped() -> None:
    with pytest.raises(ValidationError) as err:
        read_intents(b"intent_name,example_user_phrases\r\nb,hello\r\n", "a.csv")
    assert "line 2, example_user_phrases: is not a JSON array of texts" in str(err.value)
    many = b"intent_name,example_user_phrases\r\n" + b"x,nope\r\n" * 120
    with pytest.raises(ValidationError) as err:
        read_intents(many, "a.csv")
    assert len(err.value.problems) == 50 and err.value.more == 70
    assert str(err.value).endswith("; and 70 more")
