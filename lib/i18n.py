"""Every user-visible word goes through here: gettext catalogs kept with Babel.

Catalogs: ``locales/<language>/LC_MESSAGES/messages.po`` (committed), compiled to ``messages.mo``.
``make i18n`` extracts the strings (``pybabel extract``), updates the catalogs and compiles them.

The language of the current script run (or API request) is a context variable: ``use("ru")`` at the top
of a run, then ``_("...")`` / ``ngettext(...)`` anywhere below it.  Never cache translated text across
languages: translate when rendering, or key the cache on ``current()``.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALES = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = ("en", "ru")  # English is the source language: its catalog is the strings themselves
DEFAULT = "en"

_language: ContextVar[str] = ContextVar("language", default=DEFAULT)


def use(language: str) -> str:
    """Make ``language`` (one of LANGUAGES; anything else means English) the current one; returns it."""
    language = language if language in LANGUAGES else DEFAULT
    _language.set(language)
    return language


def current() -> str:
    return _language.get()


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


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined (a constant); translate it with ``_()`` when shown."""
    return message
