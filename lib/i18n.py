"""Every user-visible word goes through here: gettext catalogs kept with Babel.

Catalogs: ``locales/<language>/LC_MESSAGES/messages.po`` (committed, with the compiled ``messages.mo``
beside it; tests/test_i18n.py checks that the .mo matches the .po).  ``make i18n`` extracts the strings
(``pybabel extract``), updates the catalogs and compiles them; ``make i18n-missing`` lists what still
needs a translation.

The language of the current script run (or API request) is a context variable: ``use("ru")`` at the top
of a run, then ``_("...")`` / ``ngettext(...)`` anywhere below it.  A Streamlit widget callback runs in a
fresh thread before the script sets it: there ``current()`` asks the ``fallback`` registered by the app
(the session's choice).  Never cache translated text across languages: translate when rendering, or key
the cache on ``current()``.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALES = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = ("en", "ru")  # English is the source language: its catalog is the strings themselves
DEFAULT = "en"
BABEL_LOCALES = {"en": "en_US", "ru": "ru_RU"}  # the Babel locale behind each language (numbers, dates)

_language: ContextVar[str | None] = ContextVar("language", default=None)
_fallback: list[Callable[[], str | None]] = []


def use(language: str | None) -> str:
    """Make ``language`` (one of LANGUAGES; anything else means English) the current one; returns it."""
    language = language if language in LANGUAGES else DEFAULT
    _language.set(language)
    return language


def set_fallback(fallback: Callable[[], str | None]) -> None:
    """Where ``current()`` looks when no ``use()`` ran in this context (e.g. a Streamlit callback)."""
    _fallback[:] = [fallback]


def current() -> str:
    language = _language.get()
    if language is None and _fallback:
        try:
            language = _fallback[0]()
        except Exception:  # outside a session: English
            language = None
    return language if language in LANGUAGES else DEFAULT


def locale() -> str:
    """The Babel locale of the current language (``ru_RU``, ``en_US``)."""
    return BABEL_LOCALES[current()]


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    if language == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation("messages", localedir=LOCALES, languages=[language], fallback=True)


def _(message: str) -> str:
    """``message`` in the current language."""
    return _catalog(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for ``n`` (Russian has three: 1 вызов, 2 вызова, 5 вызовов); format ``n`` in yourself."""
    return _catalog(current()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language where one English word needs two translations (the assistant
    service "Active" is not the subscription's "Active" in Russian)."""
    return _catalog(current()).pgettext(context, message)


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined (a constant); translate it with ``_()`` when shown."""
    return message
