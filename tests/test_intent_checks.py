"""The pure checks behind the Intents screen's columns, its Needs-attention filter and the Stats coverage card
(lib/screens/intent_checks.py), the duplicate-name rule (lib/validation.py) and the grid's working-frame model
(lib/screens/intents_grid.py): no database needed."""

from __future__ import annotations

import string
from datetime import datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.errors import ValidationError
from lib.models import Assistant, Intent, IntentDiff, IntentEdit, IntentInput, IntentRef
from lib.screens import import_preview, intent_checks, intents_grid
from lib.screens.intent_checks import check, clashes, new_clashes, phrase_key
from lib.store.validation import duplicate_problems, refuse_new_duplicates

T = datetime(2026, 11, 1, 12, 0)


def intent(ident: str, name: str, phrases=None, en=("Hi",), ru=("Привет",)) -> Intent:
    phrases = (f"{ident} one", f"{ident} two", f"{ident} three") if phrases is None else phrases
    return Intent(ident, name, tuple(phrases), tuple(en), tuple(ru), T, T)


def assistant(name: str, names=(), ids=()) -> Assistant:
    return Assistant(f"a-{name}", f"vapi-{name}", name, {}, tuple(names), T, T, tuple(ids))


def test_a_phrase_held_by_many_intents_names_three_and_says_others() -> None:
    many = [intent(str(n), f"intent{n}", phrases=("Hello!", f"p{n}", f"q{n}")) for n in range(2000)]
    report = check(many)
    assert report.checks["0"].reasons == ("shares a phrase with “intent1”, “intent2”, “intent3” and others",)
    assert report.checks["1999"].reasons == ("shares a phrase with “intent0”, “intent1”, “intent2” and others",)
    assert [len(c.intents) for c in report.clashes] == [2000]  # each holder once, in order
    small = check([intent("a", "alpha", phrases=("hi", "x", "y")), intent("b", "beta", phrases=("Hi!", "hi", "z"))])
    assert small.checks["a"].reasons == ("shares a phrase with “beta”",)  # one intent listed once


# -- the phrase normalizer ------------------------------------------------------------------------

def test_phrases_compare_ignoring_case_space_and_punctuation() -> None:
    assert phrase_key("Hello, there!") == phrase_key("hello there") == phrase_key("  HELLO   THERE ")
    assert phrase_key("Как дела?") == phrase_key("как  дела")
    assert phrase_key("ＨＥＬＬＯ") == phrase_key("hello")  # full-width letters (NFKC)
    assert phrase_key("book a table") != phrase_key("book the table")
    assert phrase_key("?!...") == ""


words = st.text(alphabet=string.ascii_letters + "абвгдеЁё", min_size=1, max_size=8)
noise = st.text(alphabet=" \t.,!?;:'\"()-—«»", max_size=3)


@given(st.lists(words, min_size=1, max_size=5), st.lists(noise, min_size=6, max_size=6))
def test_normalizer_ignores_inserted_space_punctuation_and_case(parts: list[str], gaps: list[str]) -> None:
    plain = " ".join(parts)
    noisy = gaps[0] + "".join(p.upper() + g for p, g in zip(parts, gaps[1:] * 2, strict=False))
    assert phrase_key(noisy) == phrase_key(plain)
    assert phrase_key(phrase_key(plain)) == phrase_key(plain)  # idempotent


@given(st.text(max_size=30))
def test_normalizer_never_fails_and_is_idempotent(text: str) -> None:
    key = phrase_key(text)
    assert phrase_key(key) == key
    assert not any(ch.isspace() for ch in key)


# -- coverage, attention, clashes, usage ------------------------------------------------------------

def test_coverage_and_the_reasons_an_intent_needs_attention() -> None:
    intents = [
        intent("1", "ready"),
        intent("2", "no_russian", ru=()),
        intent("3", "no_english", en=(), phrases=("x", "y")),
        intent("4", "shares", phrases=("Hello there!", "d", "e")),
        intent("5", "greets", phrases=("hello there", "f", "g")),
    ]
    report = check(intents)
    assert report.readiness() == "3 of 5 intents ready in both languages"
    assert report.checks["1"].reasons == ()
    assert report.checks["1"].coverage.counts() == "3 · 1 · 1"
    assert report.checks["2"].reasons == ("no Russian responses",)
    assert report.checks["3"].reasons == ("no English responses", "2 example phrases (needs 3)")
    assert report.checks["4"].reasons == ("shares a phrase with “greets”",)
    assert set(report.attention) == {"2", "3", "4", "5"}
    assert [(c.phrase, c.names()) for c in report.clashes] == [("Hello there!", ("shares", "greets"))]
    assert intent_checks.clash_line(report.clashes[0]) == "“Hello there!” is an example phrase of “shares”, “greets”"


def test_a_phrase_repeated_within_one_intent_is_not_a_clash() -> None:
    assert clashes([("1", "a", ["hi", "Hi!"]), ("2", "b", ["bye"])]) == ()


def test_duplicate_names_are_reported_not_hidden() -> None:
    report = check([intent("1", "greeting"), intent("2", " Greeting"), intent("3", "refund")])
    assert report.duplicates == (("1", "2"),)
    assert "another intent has the same name" in report.checks["2"].reasons


def test_usage_by_assistant_ids_or_names_and_unused_intents() -> None:
    intents = [intent("1", "greeting"), intent("2", "greeting"), intent("3", "refund"), intent("4", "hours")]
    assistants = [assistant("Front desk", ("greeting", "refund"), ("2", "3")),
                  assistant("Old bot", ("hours",)),  # no ids known: matched by name
                  assistant("Gone", ("(deleted intent)",), ("99",))]
    report = check(intents, assistants)
    assert report.checks["2"].used_by == ("Front desk",)
    assert report.checks["1"].used_by == ()  # same name, but Front desk stores the other one's id
    assert report.checks["3"].used_by == ("Front desk",)
    assert report.checks["4"].used_by == ("Old bot",)
    assert report.unused == ("1",)


def test_empty() -> None:
    report = check([], [])
    assert (report.total, report.ready, report.attention, report.clashes) == (0, 0, (), ())


def test_new_clashes_are_only_those_a_save_creates() -> None:
    report = check([intent("1", "a", ["hi there", "x"]), intent("2", "b", ["Hi there!"]), intent("3", "c", ["bye"])])
    assert new_clashes(report, [("1", "a", ["hi there", "x", "new"])]) == ()  # an existing clash is not new
    found = new_clashes(report, [("3", "c", ["bye", "X."]), ("new:0", "d", ["BYE"])])
    assert sorted((c.phrase, c.names()) for c in found) == [("X.", ("a", "c")), ("bye", ("c", "d"))]
    assert new_clashes(report, [("new:0", "d", ["x"])], gone=["1"]) == ()  # the other holder is deleted


# -- duplicate names at the save's edge --------------------------------------------------------------

STORED = [("1", "greeting"), ("2", "refund"), ("3", "dup"), ("4", "Dup")]


def test_renaming_to_a_taken_name_is_refused_naming_the_other_row() -> None:
    diff = IntentDiff(edited=(IntentEdit("2", T, IntentInput(" GREETING ", ("x",), label="“GREETING”")),))
    problems = duplicate_problems(diff, STORED)
    assert [(p.row, p.field) for p in problems] == [("“GREETING”", "intent_name")]
    assert "saved intent “greeting”" in problems[0].message
    with pytest.raises(ValidationError):
        refuse_new_duplicates(diff, STORED)


def test_two_new_rows_with_one_name_and_a_new_row_like_a_saved_one() -> None:
    diff = IntentDiff(added=(IntentInput("hours", label="new row 1"), IntentInput("Hours", label="new row 2"),
                             IntentInput("refund", label="new row 3")))
    found = {p.row: p.message for p in duplicate_problems(diff, STORED)}
    assert set(found) == {"new row 1", "new row 2", "new row 3"}
    assert "new row 2" in found["new row 1"] and "saved intent “refund”" in found["new row 3"]


def test_existing_duplicates_stay_fixable() -> None:
    # editing one of a pair without renaming it, renaming one of a pair, or deleting one: all allowed
    keep = IntentDiff(edited=(IntentEdit("3", T, IntentInput("dup", ("new phrase",), label="“dup”")),))
    rename = IntentDiff(edited=(IntentEdit("4", T, IntentInput("dup2", label="“dup2”")),))
    delete = IntentDiff(deleted=(IntentRef("3", T, "“dup”"),))
    # and freeing a name lets another row take it in the same save
    swap = IntentDiff(edited=(IntentEdit("1", T, IntentInput("hello", label="“hello”")),),
                      added=(IntentInput("greeting", label="new row 1"),))
    for diff in (keep, rename, delete, swap):
        assert duplicate_problems(diff, STORED) == [], diff


# -- the grid's working frame -----------------------------------------------------------------------

def frame(intents: list[Intent]) -> pd.DataFrame:
    return intents_grid.grid_frame(intents, report=check(intents))


def test_new_rows_go_on_top_with_empty_cells_and_count_as_new() -> None:
    base = frame([intent("1", "greeting"), intent("2", "refund")])
    working = intents_grid.with_new_row(base)
    assert str(working.index[0]).startswith(intents_grid.NEW) and list(working.index[1:]) == ["1", "2"]
    top = working.iloc[0]
    assert top["intent_name"] == "" and list(top["example_user_phrases"]) == [] and top["used_by"] == ""
    pend = intents_grid.pending(base, working)
    assert [a.label for a in pend.diff.added] == ["new row 1"]
    problems = intents_grid.check_pending(pend, [("1", "greeting"), ("2", "refund")])
    assert ("new row 1", "intent_name") in {(p.row, p.field) for p in problems}
    marked = intents_grid.mark_problems(working, pend, problems)
    assert marked.columns[0] == intents_grid.PROBLEMS
    assert marked.iloc[0][intents_grid.PROBLEMS].startswith("⚠ intent name must not be empty")
    assert marked.iloc[1][intents_grid.PROBLEMS] == ""


def test_edits_fold_into_the_working_frame_and_deletes_can_be_restored() -> None:
    base = frame([intent("1", "greeting"), intent("2", "refund"), intent("3", "hours")])
    state = {"edited_rows": {0: {"intent_name": "hello"}}, "deleted_rows": [1, 2], "added_rows": []}
    shown = intents_grid.apply_edits(base, state)
    pend = intents_grid.pending(base, shown)
    assert [e.values.intent_name for e in pend.diff.edited] == ["hello"]
    assert pend.deleted_names() == "“refund”, “hours”"
    back = intents_grid.restore_deleted(base, shown)
    assert list(back.index) == ["1", "2", "3"] and back.iloc[0]["intent_name"] == "hello"
    assert [(len(p.diff.edited), len(p.diff.deleted)) for p in [intents_grid.pending(base, back)]] == [(1, 0)]


# -- the import preview --------------------------------------------------------------------------------

def test_import_preview_reports_every_row_and_leaves_names_you_have() -> None:
    from lib.files.importing import read_intent_rows

    data = (b"intent_name,example_user_phrases\r\n"
            b"parking,Where can I park?\r\n"  # fine: a plain value is one phrase
            b"Greeting,hi\r\n"  # the user has "greeting": only adding, it is left as it is
            b"hours,[1]\r\n"  # not a list of texts
            b"parking ,again\r\n"  # same name as line 2
            b",[]\r\n")  # no name, no phrase
    rows, problems = read_intent_rows(data, "a.csv")
    preview = import_preview.import_preview(rows, problems, stored=["greeting", "refund"])
    checks = list(preview.frame["check"])
    assert checks[0] == "✓ new"
    assert checks[1] == "– you have “greeting”: left as is" and preview.left == 1
    assert checks[2].startswith("✗ example user phrases: item 1 is not text")
    assert "is also the name on line 2" in checks[3]
    assert "intent name: must not be empty" in checks[4] and "needs at least one example phrase" in checks[4]
    assert preview.bad_rows == 3 and preview.summary().startswith("3 of 5 rows have problems")
    assert {p.row for p in preview.problems} == {"line 4", "line 5", "line 6"}


def test_import_preview_uses_the_grids_column_titles() -> None:
    from lib.screens import widgets

    titles = {k: v["label"] for k, v in widgets.preview_columns().items()}
    grid = {k: v["label"] for k, v in widgets.intent_columns().items()}
    assert titles["check"] == "Result"
    assert all(titles[c] == grid[c] for c in intents_grid.EDITABLE)
    assert titles["intent_name"] == "Intent" and titles["example_user_phrases"] == "Example phrases"
