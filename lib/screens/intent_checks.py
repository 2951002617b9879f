"""What an intent still needs: language coverage, phrase clashes, duplicate names and usage by assistants.

Plain Python over the rows the cached helper already holds (``queries.intents()``, ``queries.assistants()``):
no query of its own.  The Intents screen shows it per row and filters on it ("Needs attention"); the Stats
screen shows the coverage card.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from lib import i18n
from lib.i18n import _, ngettext
from lib.models import Assistant, Intent
from lib.store.validation import name_key

MIN_PHRASES = 3  # fewer example phrases than this and an intent needs attention
ATTENTION_VIEW = "attention"  # ?view=attention on the Intents screen (the coverage card links to it)


_ASCII_DROP = {i: None for i in range(128)  # the spaces and punctuation among ASCII, for the quick path
               if chr(i).isspace() or unicodedata.category(chr(i)).startswith("P")}


@lru_cache(maxsize=65536)
def phrase_key(text: str) -> str:
    """How phrases are compared: case-, space- and punctuation-insensitively ("Hello, there!" is
    "hello there" is "HELLO THERE"); compatibility forms folded (NFKC), so full-width letters match too;
    the Cyrillic yo is ie (speech-to-text writes ie: "all, thanks" with yo is the same phrase without it)."""
    if text.isascii():
        return text.lower().translate(_ASCII_DROP)
    key = text.replace("ё", "е").replace("Ё", "Е").replace("е\u0308", "е").replace("Е\u0308", "Е")
    for _round in range(4):  # to a fixed point: folding can make spaces ("¨" is " ̈") and removing them composes
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", key).casefold()).replace("ё", "е")
        kept = unicodedata.normalize(
            "NFKC", "".join(ch for ch in folded if not ch.isspace() and not unicodedata.category(ch).startswith("P")))
        if kept == key:
            break
        key = kept
    return key


@dataclass(frozen=True)
class Coverage:
    phrases: int
    english: int
    russian: int

    @property
    def both_languages(self) -> bool:
        return self.english > 0 and self.russian > 0

    def counts(self) -> str:
        """Phrases · English · Russian, as the grid's column shows it."""
        return f"{self.phrases} · {self.english} · {self.russian}"


def coverage(intent: Intent) -> Coverage:
    return Coverage(len(intent.example_user_phrases), len(intent.english_responses), len(intent.russian_responses))


@dataclass(frozen=True)
class Clash:
    """One example phrase (as first written) held by two or more intents."""

    phrase: str
    intents: tuple[tuple[str, str], ...]  # (id, name), in the order the intents are listed

    def names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.intents)


@dataclass(frozen=True)
class IntentCheck:
    coverage: Coverage
    reasons: tuple[str, ...]  # why it needs attention; empty when it does not
    used_by: tuple[str, ...]  # names of the assistants that use it


@dataclass(frozen=True)
class Report:
    """Checks of all of a user's intents, by intent id."""

    checks: Mapping[str, IntentCheck]
    clashes: tuple[Clash, ...]
    duplicates: tuple[tuple[str, ...], ...]  # groups of ids that share a name
    names: Mapping[str, str] = field(default_factory=dict)  # id -> name
    phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # phrase key -> ids of intents holding it

    @property
    def total(self) -> int:
        return len(self.checks)

    @cached_property
    def ready(self) -> int:
        """Intents with English and Russian responses."""
        return sum(1 for c in self.checks.values() if c.coverage.both_languages)

    @cached_property
    def attention(self) -> tuple[str, ...]:
        return tuple(i for i, c in self.checks.items() if c.reasons)

    @cached_property
    def unused(self) -> tuple[str, ...]:
        return tuple(i for i, c in self.checks.items() if not c.used_by)

    def readiness(self) -> str:
        return ngettext("{ready} of {n} intents ready in both languages", "{ready} of {n} intents ready in both languages",
                        self.total).format(ready=_n(self.ready), n=_n(self.total))


def _holders(intents: Sequence[tuple[str, str, Iterable[str]]]) -> tuple[dict, dict]:
    """Phrase key -> [(id, name)] of the intents holding it (each once), and key -> the phrase as first written."""
    holders: dict[str, dict[str, str]] = {}  # key -> {id: name}: a dict, so a phrase common to thousands stays linear
    first: dict[str, str] = {}
    for ident, name, phrases in intents:
        for phrase in phrases:
            key = phrase_key(phrase)
            if not key:
                continue
            holders.setdefault(key, {}).setdefault(ident, name)
            first.setdefault(key, phrase)
    return {k: list(h.items()) for k, h in holders.items()}, first


def clashes(intents: Sequence[tuple[str, str, Iterable[str]]]) -> tuple[Clash, ...]:
    """Phrases held by two or more intents, from (id, name, phrases) rows; a phrase repeated within one
    intent is not a clash.  Linear in the number of phrases."""
    holders, first = _holders(intents)
    return tuple(Clash(first[k], tuple(h)) for k, h in holders.items() if len(h) > 1)


def _usage(intents: Sequence[Intent], assistants: Iterable[Assistant]) -> dict[str, list[str]]:
    """Assistant names per intent id: by the ids an assistant stores, or (older rows) by name."""
    by_name: dict[str, list[str]] = {}
    for i in intents:
        by_name.setdefault(i.intent_name, []).append(i.id)
    known = {i.id for i in intents}
    used: dict[str, list[str]] = {}
    for a in assistants:
        ids = [i for i in getattr(a, "intent_ids", ()) if i in known]
        if not ids:
            ids = [i for n in a.intents_used for i in by_name.get(n, ())]
        for i in dict.fromkeys(ids):
            used.setdefault(i, []).append(a.name)
    return used


def _names(names: Iterable[str], shown: int = 3) -> str:
    names = list(names)
    listed = ", ".join(f"“{n}”" for n in names[:shown])
    return listed + (" " + _("and {n} more").format(n=len(names) - shown) if len(names) > shown else "")


SHOWN_SHARED = 3  # names listed in "shares a phrase with ..."


def check(intents: Sequence[Intent], assistants: Iterable[Assistant] = ()) -> Report:
    """Coverage, needs-attention reasons, phrase clashes, duplicate names and usage of every intent."""
    holders, first = _holders([(i.id, i.intent_name, i.example_user_phrases) for i in intents])
    found = tuple(Clash(first[k], tuple(h)) for k, h in holders.items() if len(h) > 1)
    shared: dict[str, dict[str, None]] = {}  # id -> the first SHOWN_SHARED + 1 other names (enough to say "and others")
    for c in found:
        for ident, _name in c.intents:
            names = shared.setdefault(ident, {})
            for j, n in c.intents:
                if len(names) > SHOWN_SHARED:
                    break
                if j != ident:
                    names.setdefault(n)
    same_name: dict[str, list[str]] = {}
    for i in intents:
        same_name.setdefault(name_key(i.intent_name), []).append(i.id)
    duplicates = tuple(tuple(ids) for ids in same_name.values() if len(ids) > 1)
    used = _usage(intents, assistants)
    checks: dict[str, IntentCheck] = {}
    for i in intents:
        cov = coverage(i)
        reasons: list[str] = []
        if not cov.english:
            reasons.append(_("no English responses"))
        if not cov.russian:
            reasons.append(_("no Russian responses"))
        if cov.phrases < MIN_PHRASES:
            reasons.append(ngettext("{n} example phrase (needs {min})", "{n} example phrases (needs {min})",
                                    cov.phrases).format(n=cov.phrases, min=MIN_PHRASES))
        if i.id in shared:
            others = list(shared[i.id])
            names = ", ".join(f"“{n}”" for n in others[:SHOWN_SHARED])
            reasons.append(_("shares a phrase with {names} and others").format(names=names)
                           if len(others) > SHOWN_SHARED else _("shares a phrase with {names}").format(names=names))
        if len(same_name[name_key(i.intent_name)]) > 1:
            reasons.append(_("another intent has the same name"))
        checks[i.id] = IntentCheck(cov, tuple(reasons), tuple(used.get(i.id, ())))
    return Report(checks, found, duplicates, {i.id: i.intent_name for i in intents},
                  {k: tuple(i for i, _ in h) for k, h in holders.items()})


_recent: OrderedDict[tuple, tuple] = OrderedDict()  # (id(intents), language) -> (intents, assistants, report)
_recent_lock = threading.Lock()
RECENT = 64  # reports kept: one per user with a screen open, roughly


def check_cached(intents: Sequence[Intent], assistants: Sequence[Assistant]) -> Report:
    """``check``, reused while the rows are the same: the cached helper hands out the very same intents
    tuple until the data changes (it is held here, so its id cannot be reused by another object), and a
    user's assistants are the very same tuple too, or compare equal.  Otherwise computed again (about 60 ms
    at 5,000 intents)."""
    key = (id(intents), i18n.current())  # the reasons are text in the session's language
    with _recent_lock:
        hit = _recent.get(key)
        if hit is not None and hit[0] is intents and (hit[1] is assistants or list(hit[1]) == list(assistants)):
            _recent.move_to_end(key)
            return hit[2]
    report = check(intents, assistants)
    with _recent_lock:
        _recent[key] = (intents, assistants, report)
        _recent.move_to_end(key)
        while len(_recent) > RECENT:
            _recent.popitem(last=False)
    return report


def new_clashes(report: Report, changed: Sequence[tuple[str, str, Iterable[str]]],
                gone: Iterable[str] = ()) -> tuple[Clash, ...]:
    """Clashes a pending save would create: ``changed`` are the (id, name, phrases) of the rows it adds or
    edits (added rows with ids of their own), ``gone`` the ids it deletes; ``report`` is of the intents as
    stored.  A phrase counts when it would be held by two or more intents and by some that do not hold it
    now.  Costs the changed rows' phrases, not all intents'."""
    out = {ident for ident, _, _ in changed} | set(gone)
    mine, first = _holders(changed)
    found = []
    for key, rows in mine.items():
        stored = report.phrases.get(key, ())
        holders = [(i, report.names.get(i, i)) for i in stored if i not in out] + rows
        if len(holders) > 1 and not {i for i, _ in holders} <= set(stored):
            found.append(Clash(first[key], tuple(holders)))
    return tuple(found)


def clash_line(c: Clash) -> str:
    return _("“{phrase}” is an example phrase of {intents}").format(phrase=c.phrase, intents=_names(c.names(), shown=5))


def _n(n: int) -> str:
    from lib.screens.formatting import fmt_int

    return fmt_int(n)
