"""How numbers, dates and ids read on screen."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from lib.screens.formatting import days_left, fmt_date, fmt_datetime, fmt_delta, fmt_int, fmt_pct, mask_id


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0"), (999, "999"), (1_234_567, "1,234,567"), (-4_500, "-4,500"), (2.6, "3"), (None, "—")]
)
def test_fmt_int(n, text) -> None:
    assert fmt_int(n) == text


@pytest.mark.parametrize(
    ("x", "text"), [(0.873, "87.3%"), (1, "100.0%"), (0, "0.0%"), (0.00049, "0.0%"), (None, "—"), (float("nan"), "—")]
)
def test_fmt_pct(x, text) -> None:
    assert fmt_pct(x) == text


@pytest.fixture
def in_zone():
    """Run the formatting in a zone (as the app does for each run), UTC again afterwards."""
    from zoneinfo import ZoneInfo

    from lib.screens import formatting

    def use(name: str) -> None:
        formatting.use_zone(ZoneInfo(name))

    yield use
    formatting.use_zone(ZoneInfo("UTC"))


def test_dates_read_the_same_whatever_the_locale() -> None:
    assert fmt_date(date(2026, 11, 25)) == "Nov 25, 2026"
    assert fmt_date(datetime(2026, 1, 5, 23, 59)) == "Jan 5, 2026"
    assert fmt_date(None) == "—"
    # an aware datetime is converted (here to UTC, the zone when none is set)
    assert fmt_date(datetime(2026, 11, 26, 1, 0, tzinfo=timezone(timedelta(hours=3)))) == "Nov 25, 2026"


def test_fmt_datetime_is_in_the_users_zone_and_does_not_name_it(in_zone) -> None:
    assert fmt_datetime(datetime(2026, 11, 25, 7, 40, 4)) == "Nov 25, 2026, 07:40"
    assert fmt_datetime(datetime(2026, 11, 25, 10, 40, tzinfo=timezone(timedelta(hours=3)))) == "Nov 25, 2026, 07:40"
    assert fmt_datetime(None) == "—"
    in_zone("Europe/Moscow")  # UTC+3: 22:30 UTC is 01:30 the next day
    assert fmt_datetime(datetime(2026, 11, 25, 22, 30, 5)) == "Nov 26, 2026, 01:30"
    assert fmt_datetime(datetime(2026, 11, 25, 22, 30, 5), seconds=True) == "Nov 26, 2026, 01:30:05"
    assert fmt_datetime(datetime(2026, 11, 25, 22, 30), year=False) == "Nov 26, 01:30"
    assert fmt_date(datetime(2026, 11, 25, 22, 30)) == "Nov 26, 2026"
    in_zone("America/Los_Angeles")  # UTC-8 in November
    assert fmt_datetime(datetime(2026, 11, 26, 5, 0)) == "Nov 25, 2026, 21:00"


def test_one_date_family_in_russian(in_zone) -> None:
    from lib import i18n
    from lib.screens.formatting import day_span, fmt_day_month

    i18n.use("ru")
    try:
        in_zone("Europe/Moscow")
        assert fmt_date(date(2026, 12, 3)) == "3 дек. 2026"
        assert fmt_datetime(datetime(2026, 12, 3, 5, 49)) == "3 дек. 2026, 08:49"
        assert fmt_datetime(datetime(2026, 12, 3, 5, 49), year=False) == "3 дек., 08:49"
        assert fmt_day_month(date(2026, 12, 3)) == "3 дек."
        assert day_span(date(2026, 11, 4), date(2026, 12, 3)) == "4 нояб. — 3 дек. 2026"
    finally:
        i18n.use("en")
    assert day_span(date(2026, 11, 4), date(2026, 12, 3)) == "Nov 4\u2009–\u2009Dec 3, 2026"  # CLDR: thin spaces round the dash
    assert day_span(date(2026, 11, 1), date(2026, 11, 15)) == "Nov 1\u2009–\u200915, 2026"
    assert day_span(date(2026, 11, 1), date(2026, 11, 1)) == "Nov 1, 2026"


@pytest.mark.parametrize(
    ("current", "previous", "delta"),
    [
        (1125, 1000, "+12.5%"),
        (970, 1000, "-3.0%"),
        (1000, 1000, "0.0%"),
        (0, 1000, "-100.0%"),
        (5, 0, "new"),
        (0, 0, None),
        (5, None, None),
        (None, 5, None),
    ],
)
def test_fmt_delta(current, previous, delta) -> None:
    assert fmt_delta(current, previous) == delta


def test_fmt_delta_sign_is_what_st_metric_reads() -> None:
    """st.metric colors a delta red when its text starts with an ASCII minus."""
    assert fmt_delta(1, 2).startswith("-")
    assert not fmt_delta(2, 1).startswith("-")


@pytest.mark.parametrize(
    ("s", "masked"), [("cus_NffrFeUfNV2Hib1234", "••••1234"), ("ab", "••••ab"), (None, "—"), ("", "—")]
)
def test_mask_id(s, masked) -> None:
    assert mask_id(s) == masked


def test_days_left() -> None:
    now = datetime(2026, 11, 25, 22, 0)
    assert days_left(datetime(2026, 12, 25, 1, 0), now) == 30
    assert days_left(datetime(2026, 11, 26, 0, 30), now) == 1
    assert days_left(datetime(2026, 11, 25, 23, 0), now) == 0
    assert days_left(datetime(2026, 11, 1), now) == 0
    assert days_left(date(2026, 11, 30), now) == 5
    aware_now = datetime(2026, 11, 26, 1, 0, tzinfo=timezone(timedelta(hours=3)))  # still the 25th in UTC
    assert days_left(datetime(2026, 11, 26, 12, 0), aware_now) == 1


def test_days_left_counts_the_users_dates(in_zone) -> None:
    in_zone("Europe/Moscow")  # 22:00 UTC is already the 26th there: a period ending on the 26th has 0 days left
    assert days_left(datetime(2026, 11, 26, 12, 0), datetime(2026, 11, 25, 22, 0)) == 0


def test_plural_agrees_with_the_count() -> None:
    from lib.screens.formatting import plural

    assert plural(1, "row") == "1 row"
    assert plural(0, "row") == "0 rows"
    assert plural(1234, "test call") == "1,234 test calls"
    assert plural(2, "entry", "entries") == "2 entries"


def test_fmt_ago_uses_the_largest_whole_unit() -> None:
    from datetime import datetime, timedelta

    from lib.screens.formatting import fmt_ago

    now = datetime(2026, 11, 27, 12, 0)
    cases = [(timedelta(seconds=5), "just now"), (timedelta(minutes=5, seconds=59), "5 min ago"),
             (timedelta(hours=3, minutes=59), "3 h ago"), (timedelta(days=1, hours=23), "1 day ago"),
             (timedelta(days=400), "400 days ago"), (timedelta(seconds=-30), "just now")]
    for ago, text in cases:
        assert fmt_ago(now - ago, now) == text, ago


def test_the_grids_remembered_updated_times_follow_the_zone_and_the_language(in_zone) -> None:
    """The Intents grid remembers each Updated text (5,000 per render): the same time shown again in another
    zone or language is that zone's and language's, never the text remembered for the first."""
    from lib import i18n
    from lib.screens.intents_grid import _day_time

    at = datetime(2026, 11, 25, 22, 30)
    assert _day_time(at) == "Nov 25, 22:30"
    in_zone("Europe/Moscow")
    assert _day_time(at) == "Nov 26, 01:30"
    i18n.use("ru")
    try:
        assert _day_time(at) == "26 нояб., 01:30"
    finally:
        i18n.use("en")
    in_zone("America/Los_Angeles")
    assert _day_time(at) == "Nov 25, 14:30"
