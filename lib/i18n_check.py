"""``python -m lib.i18n_check`` (``make i18n-missing``): the messages of each catalog that still need a
translator (untranslated, a plural form missing, or fuzzy), and whether the compiled .mo is current."""

from __future__ import annotations

import io
import sys

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from lib.i18n import DEFAULT, LANGUAGES, LOCALES


def catalog(language: str) -> Catalog:
    with open(LOCALES / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


def missing(cat: Catalog) -> list[str]:
    """What a translator still has to do, one line per message (empty when the catalog is complete)."""
    out = []
    for m in cat:
        if not m.id:
            continue
        ident = m.id[0] if isinstance(m.id, tuple) else m.id
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy:
            out.append(f"fuzzy: {ident!r}")
        elif (len(strings) < cat.num_plurals and isinstance(m.id, tuple)) or not all(strings):
            out.append(f"untranslated: {ident!r}")
    return out


def compiled(cat: Catalog) -> dict:
    """The messages a .mo compiled from ``cat`` would hold (as gettext reads them back)."""
    buf = io.BytesIO()
    write_mo(buf, cat)
    buf.seek(0)
    return _messages(read_mo(buf))


def _messages(cat: Catalog) -> dict:
    def plain(v: object) -> object:
        return tuple(v) if isinstance(v, list | tuple) else v

    return {(m.context, plain(m.id)): plain(m.string) for m in cat if m.id}


def stale_mo(language: str) -> bool:
    path = LOCALES / language / "LC_MESSAGES" / "messages.mo"
    if not path.exists():
        return True
    with open(path, "rb") as f:
        return _messages(read_mo(f)) != compiled(catalog(language))


def main() -> int:
    bad = 0
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        for line in missing(catalog(language)):
            print(f"{language}: {line}")
            bad += 1
        if stale_mo(language):
            print(f"{language}: messages.mo does not match messages.po: run `make i18n`")
            bad += 1
    print(f"{bad} to do" if bad else "every catalog is complete")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
