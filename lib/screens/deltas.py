"""The Tests card's change against the period before it: a percentage only where one means something.

Three rules, the first that applies wins, and the card's help names it:

1. the earlier period is not wholly inside the account's history (the first test call came after it began):
   nothing fair to compare with, so the card says "new" and no percentage;
2. fewer than MIN_BASE calls in the earlier period: the change in calls ("+37"), not a percentage of a
   handful;
3. otherwise the relative change ("+12.5%"), whole days against as many whole days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lib.i18n import _, ngettext
from lib.screens.formatting import fmt_date, fmt_delta, fmt_int

MIN_BASE = 20  # calls: below this a percentage says more about chance than about change


@dataclass(frozen=True)
class Change:
    delta: str | None  # for st.metric(delta=...): None shows no change
    rule: str  # for the card's help: which comparison was made, in words


def tests_change(current: int | None, previous: int | None, *, previous_start: datetime | None,
                 first_call: datetime | None, whole_days: str) -> Change:
    """The change of the test calls in the period's whole days (``current``) against as many days before
    (``previous``, from ``previous_start``); ``first_call`` is when the account's history begins and
    ``whole_days`` says which days are compared (``urlstate.Comparison.help``)."""
    if current is None or previous is None or previous_start is None:
        return Change(None, _("No whole day to compare yet."))
    if first_call is None or first_call > previous_start:
        return Change(_("new") if current else None,
                      _("No change is shown: your first test call ({date}) came after the days before this "
                        "period began, so there is nothing fair to compare with.").format(
                          date=fmt_date(first_call) if first_call else "—"))
    if previous < MIN_BASE:
        change = current - previous
        return Change(f"{'+' if change > 0 else '-' if change < 0 else ''}{fmt_int(abs(change))}",
                      ngettext("{rule} The change is counted in calls, not as a percentage: the days before "
                               "held fewer than {n} call.",
                               "{rule} The change is counted in calls, not as a percentage: the days before "
                               "held fewer than {n} calls.", MIN_BASE).format(rule=whole_days, n=MIN_BASE))
    return Change(fmt_delta(current, previous), whole_days)
