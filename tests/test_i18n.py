"""Translations: the catalogs are complete and current, no user-visible literal bypasses them, Russian
plurals take their three forms, formats follow the language, and the Cyrillic yo is ie in phrase clashes."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from lib import i18n
from lib.i18n import _, ngettext
from lib.i18n_check import catalog, missing, stale_mo

ROOT = Path(__file__).resolve().parent.parent
PYBABEL = Path(sys.executable).with_name("pybabel")


@pytest.fixture(autouse=True)
def english_after() -> None:
    yield
    i18n.use("en")


# -- the catalogs ----------------------------------------------------------------------------------

def test_every_message_has_a_russian_translation_and_none_is_fuzzy() -> None:
    assert missing(catalog("ru")) == []


def test_the_completeness_check_catches_an_untranslated_a_fuzzy_and_a_half_plural_message() -> None:
    planted = Catalog(locale="ru")
    planted.add("Save", "Сохранить")
    planted.add("Discard", "")
    planted.add("Cancel", "Отмена", flags=["fuzzy"])
    planted[("{n} row", "{n} rows")] = Message(("{n} row", "{n} rows"), ("{n} строка", "", "{n} строк"))
    assert missing(planted) == ["untranslated: 'Discard'", "fuzzy: 'Cancel'", "untranslated: '{n} row'"]


def test_the_compiled_mo_matches_the_po() -> None:
    assert not stale_mo("ru"), "run `make i18n`: locales/ru/LC_MESSAGES/messages.mo is not the .po compiled"


def test_the_mo_check_notices_a_changed_po(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", copy)
    po = copy / "ru" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Сохранить"', 'msgstr "Записать"'), encoding="utf-8")
    monkeypatch.setattr("lib.i18n_check.LOCALES", copy)
    assert stale_mo("ru")


def extracted(tmp_path: Path) -> set:
    pot = tmp_path / "messages.pot"
    subprocess.run([str(PYBABEL), "extract", "-F", "babel.cfg", "--no-default-keywords", "-k", "_",
                    "-k", "ngettext:1,2", "-k", "pgettext:1c,2", "-k", "N_", "-o", str(pot), "."],
                   cwd=ROOT, check=True, capture_output=True)
    with open(pot, "rb") as f:
        return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(f) if m.id}


def test_the_catalog_holds_every_string_of_the_code(tmp_path: Path) -> None:
    """A new _() string makes this fail until `make i18n` is run and it is translated."""
    in_code = extracted(tmp_path)
    in_catalog = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog("ru") if m.id}
    assert in_code - in_catalog == set(), "run `make i18n` and translate the new strings (make i18n-missing)"


# -- no literal bypasses translation ---------------------------------------------------------------

UI_FILES = sorted([*ROOT.glob("pages/*.py"), ROOT / "dashboard" / "app.py", *ROOT.glob("lib/screens/*.py"),
                   *(ROOT / "lib" / "identity" / f"{m}.py" for m in ("session", "local_signin", "clerk_signin",
                                                                       "navigation", "signin"))])
LOGGERS = {"log", "logger", "logging"}  # log.info(...) is for the operator, in English
TRANSLATORS = {"_", "ngettext", "pgettext", "N_"}
# Streamlit calls that put text on the screen, and their arguments that are text.
DISPLAY = {"title", "header", "subheader", "markdown", "caption", "write", "text", "error", "warning", "info",
           "success", "toast", "button", "download_button", "link_button", "page_link", "form_submit_button",
           "metric", "text_input", "text_area", "number_input", "selectbox", "multiselect", "radio", "toggle",
           "checkbox", "date_input", "time_input", "file_uploader", "expander", "popover", "tabs", "progress",
           "spinner", "status", "slider", "select_slider", "segmented_control", "pills", "Page", "set_page_config",
           "TextColumn", "ListColumn", "NumberColumn", "DatetimeColumn", "DateColumn", "CheckboxColumn",
           "SelectboxColumn", "LinkColumn", "ProgressColumn", "Column"}
TEXT_KEYWORDS = {"label", "help", "placeholder", "title", "text", "body", "page_title", "caption"}
ALLOWED_WORDS = {"Stripe", "Vapi", "Clerk", "CSV", "JSON", "UTC"}


def _name(func: ast.expr) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def bare_literals(node: ast.AST) -> list[str]:
    """String constants in ``node`` that no translation function wraps."""
    if isinstance(node, ast.Call):
        if _name(node.func) in TRANSLATORS:
            return []
        # "...".format(...) and ", ".join(...) show their pieces; another function's arguments are keys
        # (period_label("tests")) or data, and what it returns is checked where it is made
        parts = [node.func, *node.args, *(k.value for k in node.keywords)] \
            if _name(node.func) in ("format", "join") else [node.func]
        return [text for part in parts for text in bare_literals(part)]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Compare):  # x == "username": compared, not shown
        return []
    if isinstance(node, ast.IfExp):
        return bare_literals(node.body) + bare_literals(node.orelse)
    if isinstance(node, ast.Subscript):  # prepared["rows"]: a key
        return bare_literals(node.value)
    found: list[str] = []
    for child in ast.iter_child_nodes(node):
        found += bare_literals(child)
    return found


def is_words(text: str) -> bool:
    """Text a person would read as English: a word of two letters or more that is not a product name, an
    icon (:material/x:) or a format placeholder."""
    import re

    text = re.sub(r":material/[a-z_]+:|\{[^}]*\}|%\{[^}]*\}", " ", text)
    return any(w not in ALLOWED_WORDS for w in re.findall(r"[A-Za-z]{2,}", text))


def bypasses(source: str, filename: str = "<planted>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or _name(node.func) not in DISPLAY:
            continue
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in LOGGERS:
            continue
        name = _name(node.func)
        texts = list(node.args[:2] if name == "metric" else [] if name in ("page_link", "Page") else node.args[:1])
        texts += [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        for expr in texts:
            for literal in bare_literals(expr):
                if is_words(literal):
                    found.append(f"{filename}:{node.lineno}: {literal[:60]!r}")
    return found


def test_no_user_visible_literal_bypasses_translation() -> None:
    found = [hit for path in UI_FILES for hit in bypasses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert found == []


@pytest.mark.parametrize("planted", [
    'st.button("Save")',
    'cols[0].metric(_("Plan"), "Active")',
    'st.caption(f"{n} rows")',
    'st.info(_("Hello") + " and goodbye")',
    'st.column_config.TextColumn("Intent", width=10)',
    'st.text_input(_("Search"), placeholder="e.g. booking")',
    'st.Page(f, title="Sign in")',
])
def test_the_literal_check_catches_a_planted_bypass(planted: str) -> None:
    assert bypasses(planted)


@pytest.mark.parametrize("fine", [
    'st.button(_("Save"))', 'st.caption(ngettext("{n} row", "{n} rows", n).format(n=n))',
    'head.download_button("CSV", data=x)', 'st.markdown("**" + _("Configuration") + "**")',
    'st.button(_("Add"), icon=":material/add:", key="intents_add")', 'st.metric(_("Plan"), plan)',
])
def test_the_literal_check_lets_translated_text_and_product_names_through(fine: str) -> None:
    assert bypasses(fine) == []


# -- Russian plurals: one, few, many ----------------------------------------------------------------

FORMS = {0: "строк", 1: "строка", 2: "строки", 5: "строк", 11: "строк", 21: "строка", 22: "строки", 25: "строк",
         101: "строка", 111: "строк"}


@pytest.mark.parametrize("n", sorted(FORMS))
def test_russian_plural_forms(n: int) -> None:
    i18n.use("ru")
    assert ngettext("{n} row", "{n} rows", n).format(n=n) == f"{n} {FORMS[n]}"
    i18n.use("en")
    assert ngettext("{n} row", "{n} rows", n).format(n=n) == f"{n} {'row' if n == 1 else 'rows'}"


def test_the_import_button_agrees_with_its_numbers() -> None:
    """"Add 3 and update 1 intent": the noun takes the form of the number next to it, in both languages."""
    from lib.models import IntentInput
    from lib.screens.import_preview import ImportPreview

    def label(added: int, updated: int) -> str:
        new = tuple(IntentInput(f"n{i}", ("hi",), ("Hi",), ()) for i in range(added))
        return ImportPreview(pd.DataFrame(), new, 0, (), added=new, updated=(object(),) * updated).save_label()

    i18n.use("ru")
    assert label(3, 1) == "Добавить 3 и обновить 1 интент"
    assert label(1, 2) == "Добавить 1 и обновить 2 интента"
    assert label(2, 5) == "Добавить 2 и обновить 5 интентов"
    i18n.use("en")
    assert (label(3, 1), label(1, 2)) == ("Add 3 and update 1 intent", "Add 1 and update 2 intents")


def test_the_plural_test_would_catch_a_wrong_plural_rule(tmp_path: Path) -> None:
    """With an English-style rule (two forms) in the catalog, 21 would read "21 строки"."""
    import gettext

    from babel.messages.mofile import write_mo

    cat = catalog("ru")
    cat.plural_forms  # noqa: B018 (read: Babel's rule for ru)
    broken = Catalog(locale="en")  # the wrong rule: n != 1
    broken[("{n} row", "{n} rows")] = Message(("{n} row", "{n} rows"), ("{n} строка", "{n} строки"))
    path = tmp_path / "messages.mo"
    with open(path, "wb") as f:
        write_mo(f, broken)
    with open(path, "rb") as f:
        wrong = gettext.GNUTranslations(f)
    assert wrong.ngettext("{n} row", "{n} rows", 21).format(n=21) != f"21 {FORMS[21]}"


# -- the language of a run --------------------------------------------------------------------------

def test_english_is_the_source_and_russian_comes_from_the_catalog() -> None:
    assert i18n.use("en") == "en" and _("Stats") == "Stats"
    assert i18n.use("ru") == "ru" and _("Stats") == "Статистика"
    assert i18n.use("fr") == "en" and _("Stats") == "Stats"  # anything else is English


def test_a_callback_outside_the_run_asks_the_fallback() -> None:
    import contextvars

    i18n.set_fallback(lambda: "ru")
    try:
        assert contextvars.Context().run(lambda: _("Save")) == "Сохранить"  # a fresh thread's context
    finally:
        i18n.set_fallback(lambda: None)


@pytest.mark.parametrize(("tag", "language"), [("ru-RU", "ru"), ("ru", "ru"), ("RU_ru", "ru"), ("en-US", "en"),
                                               ("uk-UA", "en"), ("", "en"), (None, "en")])
def test_browser_language(tag: str | None, language: str) -> None:
    from lib.screens.language import from_tag

    assert from_tag(tag) == language


def test_accept_language_takes_the_first_language() -> None:
    from lib.screens.language import accept_language

    assert accept_language("ru-RU,ru;q=0.9,en-US;q=0.8") == "ru-RU"
    assert accept_language("*, en;q=0.5") == "en"
    assert accept_language(None) is None


# -- formats ----------------------------------------------------------------------------------------

def test_russian_formats() -> None:
    from lib.screens import formatting as f

    i18n.use("ru")
    assert f.fmt_int(2500) == "2\xa0500"
    assert f.fmt_pct(0.125) == "12,5\xa0%"
    assert f.fmt_date(date(2026, 12, 3)) == "3 дек. 2026"  # the short family, without the year's "г."
    assert f.fmt_datetime(datetime(2026, 11, 25, 7, 40)) == "25 нояб. 2026, 07:40"  # the zone: named once per screen
    assert f.fmt_delta(12, 10) == "+20,0\xa0%" and f.fmt_delta(9, 10) == "-10,0\xa0%"  # ASCII: st.metric reads the direction from it
    assert f.fmt_ago(datetime(2026, 1, 1), datetime(2026, 1, 3, 5)) == "2 дня назад"
    assert f.fmt_ago(datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 5)) == "5 минут назад"
    assert f.fmt_duration(45) == "45 секунд" and f.fmt_duration(120) == "2 минуты"


def test_russian_period_label() -> None:
    from lib.screens.urlstate import Period

    i18n.use("ru")
    assert Period("30d").label("UTC", date(2026, 12, 3)) == "Последние 30 дней (4 нояб. — 3 дек. 2026), UTC"
    i18n.use("en")
    assert Period("30d").label("UTC", date(2026, 12, 3)) == "Last 30 days (Nov 4\u2009–\u2009Dec 3, 2026), UTC"


def test_russian_charts_name_their_ticks_and_separators() -> None:
    from lib.models import DayStatusCount, Stats
    from lib.screens import charts

    i18n.use("ru")
    stats = Stats(intents=1, assistants=1, tests=3, tests_completed=2,
                  tests_per_day=(DayStatusCount(date(2026, 12, 1), "completed", 2500),
                                 DayStatusCount(date(2026, 12, 2), "failed", 1)))
    fig = charts.tests_per_day(stats)
    assert fig.layout.separators == ",\xa0"
    assert "1 дек." in fig.layout.xaxis.ticktext and not any("Dec" in t for t in fig.layout.xaxis.ticktext)
    assert [t.name for t in fig.data] == ["Завершён", "С ошибкой"]
    assert list(charts.series_frame(fig).columns) == ["Day", "Completed", "Failed"]  # the CSV stays machine-stable
    pie = charts.tests_by_language(Stats(intents=1, assistants=1, tests=3, tests_completed=3,
                                         tests_per_language=(("english", 2), ("russian", 1))))
    assert list(pie.data[0].text) == ["66,7\xa0%", "33,3\xa0%"] and pie.data[0].textinfo == "text"
    assert list(pie.data[0].labels) == ["Английский", "Русский"]


# -- ё is е -----------------------------------------------------------------------------------------

def test_yo_and_ye_make_one_phrase_clash() -> None:
    from lib.models import Intent
    from lib.screens import intent_checks

    t = datetime(2026, 12, 3)
    a = Intent("1", "goodbye", ("Это всё, спасибо",), (), (), t, t)
    b = Intent("2", "thanks", ("Это все спасибо",), (), (), t, t)
    report = intent_checks.check([a, b])
    assert [c.names() for c in report.clashes] == [("goodbye", "thanks")]
    assert intent_checks.phrase_key("ЁЛКА") == intent_checks.phrase_key("елка")
