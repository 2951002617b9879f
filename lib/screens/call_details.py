"""One test call in full: what a click on a row of the Tests table opens.

Every stored field, the assistant's name, how long the call took (``updated_at`` minus ``created_at`` once it has
finished), the intent whose example phrase the caller said, and how many other calls said the same phrase
(with a button that lists them).  Reads: the cached intents and assistants, and one count.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from lib.i18n import _, ngettext
from lib.identity.session import escape_md
from lib.models import Assistant, Intent, TestCall, TestFilter
from lib.screens.charts import language_label, status_label
from lib.screens.formatting import fmt_datetime, fmt_int
from lib.screens.intent_checks import phrase_key
from lib.store import queries

FINISHED = ("completed", "failed", "cancelled")  # a call in these states has ended: updated_at is its end


def duration(call: TestCall) -> timedelta | None:
    """How long a finished call took; None while it runs, or without both times."""
    if call.status not in FINISHED or call.created_at is None or call.updated_at is None:
        return None
    took = call.updated_at - call.created_at
    return took if took >= timedelta(0) else None


def fmt_duration(took: timedelta | None) -> str:
    if took is None:
        return "—"
    seconds = int(took.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("{h} h {m} min {s} s").format(h=hours, m=minutes, s=seconds)
    if minutes:
        return _("{m} min {s} s").format(m=minutes, s=seconds)
    return _("{s} s").format(s=seconds)


def matching_intents(phrase: str, intents: tuple[Intent, ...]) -> list[str]:
    """The intents with this example phrase, compared as the phrase clashes compare them."""
    key = phrase_key(phrase)
    return [i.intent_name for i in intents if any(phrase_key(p) == key for p in i.example_user_phrases)]


def _show_phrase(key: str, phrase: str) -> None:
    st.session_state.update({f"{key}_phrase": phrase, f"{key}_statuses": [], f"{key}_page": 1})
    st.session_state.pop(f"{key}_call", None)


def render(key: str, call: TestCall, assistants: list[Assistant], period: TestFilter) -> None:
    """The call's details in a dialog (closed by its close button, Escape or a click outside)."""

    @st.dialog(_("Test call"), width="large", on_dismiss=lambda: st.session_state.pop(f"{key}_call", None))
    def show() -> None:
        names = {a.vapi_assistant_id: a.name for a in assistants}
        intents = matching_intents(call.test_phrase, queries.intents())
        same = queries.count_tests(TestFilter(start=period.start, end=period.end, phrase=call.test_phrase))
        rows = [
            (_("Phrase"), call.test_phrase),
            (_("Status"), status_label(call.status or "")),
            (_("Language"), language_label(call.language or "")),
            (_("Assistant"), names.get(call.assistant_id) or _("(not one of your assistants)")),
            (_("Vapi assistant id"), call.assistant_id),
            (_("Call id"), call.call_id or "—"),
            (_("Started"), fmt_datetime(call.created_at, seconds=True)),
            (_("Last updated"), fmt_datetime(call.updated_at, seconds=True)),
            (_("Duration"), fmt_duration(duration(call))),
            (_("Intent with this phrase"), ", ".join(intents) if intents else _("none: no intent has this phrase")),
            (_("Test id"), call.id),
        ]
        for label, value in rows:  # as text the page holds (a grid's canvas would not let it be selected or read)
            left, right = st.columns([1, 3])
            left.caption(label)
            right.markdown(escape_md(str(value)))
        others = max(same - 1, 0)
        st.caption(ngettext("{n} other test call said this phrase in the period shown.",
                            "{n} other test calls said this phrase in the period shown.", others).format(
                                n=fmt_int(others)))
        if others and st.button(_("Show the calls with this phrase"), icon=":material/filter_alt:",
                                key=f"{key}_call_phrase"):
            _show_phrase(key, call.test_phrase)
            st.rerun()

    show()
