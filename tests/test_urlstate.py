"""lib.screens.urlstate: the view in the URL (bad values fall back with a notice, never an exception) and the
period maths (the user's zone, DST days, an inclusive last day, a fair comparison)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as hs

from lib.models import TestFilter
from lib.screens.controls import day_range
from lib.screens.urlstate import Period, View, clamp_page, comparison, day_span, local_today, parse, to_params, zone
from tools import tables as schema

BERLIN, _ = zone("Europe/Berlin")
UTC_ZONE, _ = zone(None)
NOV27 = date(2026, 11, 27)


# -- parsing ------------------------------------------------------------------------------------

def test_a_full_view_round_trips() -> None:
    view = View(Period("custom", date(2026, 11, 1), date(2026, 11, 15)), ("asst_1", "asst_2"), ("russian",),
                ("failed", "cancelled"), 3, "Привет & co", "Book a table, please")
    params = to_params(view)
    assert params == {"period": "custom", "from": "2026-11-01", "to": "2026-11-15", "assistant": "asst_1,asst_2",
                      "language": "russian", "status": "failed,cancelled", "page": "3", "q": "Привет & co",
                      "phrase": "Book a table, please"}
    assert parse(params) == (view, [])


def test_defaults_leave_the_url_short() -> None:
    assert to_params(View()) == {"period": "30d"}
    assert parse({}) == (View(), [])
    assert parse({"user_id": "user_demo_bob", "view": "attention"}) == (View(), [])  # not ours: left alone


@pytest.mark.parametrize(("params", "field"), [
    ({"period": "365d"}, "period"),
    ({"period": "custom", "from": "2026-11-15", "to": "2026-11-01"}, "custom range"),
    ({"period": "custom", "from": "2026-02-30", "to": "2026-03-01"}, "custom range"),
    ({"period": "custom", "from": "yesterday", "to": "2026-03-01"}, "custom range"),
    ({"from": "1999-12-31", "to": "2026-01-01"}, "custom range"),
    ({"language": "klingon,russian"}, "language"),
    ({"status": "FAILED"}, "status"),
    ({"page": "-1"}, "page"),
    ({"page": "0"}, "page"),
    ({"page": "2.5"}, "page"),
    ({"page": "٣"}, "page"),  # an Arabic-Indic digit: isdigit() says yes, the URL means no
    ({"page": "9" * 40}, "page"),
    ({"q": "x" * 201}, "q"),
    ({"q": "a\x00b"}, "q"),
    ({"assistant": "ok, bad id"}, "assistant"),
])
def test_bad_values_fall_back_to_defaults_with_a_notice(params: dict[str, str], field: str) -> None:
    view, notices = parse(params)
    assert len(notices) == 1 and field.split()[0] in notices[0]
    defaults = View()
    assert view.period == defaults.period and view.page == defaults.page and view.q == defaults.q
    if field == "language":
        assert view.languages == ("russian",)  # the good part is kept
    if field == "assistant":
        assert view.assistants == ("ok",)


@settings(max_examples=300, deadline=None)
@given(hs.dictionaries(hs.sampled_from(["period", "from", "to", "assistant", "language", "status", "page", "q",
                                        "phrase", "other"]), hs.text(max_size=60)))
def test_any_url_parses_to_a_valid_view(params: dict[str, str]) -> None:
    view, notices = parse(params)  # never raises
    assert isinstance(notices, list) and all(isinstance(n, str) and len(n) < 400 for n in notices)
    assert view.period.kind in ("7d", "30d", "90d", "all", "custom") and view.page >= 1
    if view.period.kind == "custom":
        assert view.period.first <= view.period.last
    again, more = parse(to_params(view))
    assert again == view and more == []  # what we write reads back the same, cleanly


def test_clamp_page() -> None:
    assert [clamp_page(p, 21) for p in (-5, 0, 1, 21, 22, 999)] == [1, 1, 1, 21, 21, 21]
    assert clamp_page(3, 0) == 1


# -- periods ------------------------------------------------------------------------------------

def test_presets_are_local_calendar_days_today_included() -> None:
    start, end = Period("7d").bounds(BERLIN, NOV27)
    assert (start, end) == (datetime(2026, 11, 20, 23), datetime(2026, 11, 27, 23))  # CET is UTC+1
    assert Period("30d").bounds(UTC_ZONE, NOV27) == day_range(30, today=NOV27)
    assert Period("all").bounds(BERLIN, NOV27) == (None, None)
    assert Period("30d").label("Europe/Berlin", NOV27) == "Last 30 days (Oct 29\u2009–\u2009Nov 27, 2026), Europe/Berlin"
    assert Period("all").label("UTC", NOV27) == "All time"


def test_a_custom_range_includes_its_last_day() -> None:
    p = Period("custom", date(2026, 11, 1), date(2026, 11, 15))
    assert p.bounds(UTC_ZONE, NOV27) == (datetime(2026, 11, 1), datetime(2026, 11, 16))
    assert p.label("UTC", NOV27) == "Nov 1\u2009–\u200915, 2026 (inclusive), UTC"
    one = Period("custom", date(2026, 11, 5), date(2026, 11, 5))
    assert one.bounds(BERLIN, NOV27) == (datetime(2026, 11, 4, 23), datetime(2026, 11, 5, 23))


def test_days_across_a_dst_change_are_23_and_25_hours() -> None:
    spring = Period("custom", date(2026, 3, 29), date(2026, 3, 29)).bounds(BERLIN, NOV27)
    autumn = Period("custom", date(2026, 10, 25), date(2026, 10, 25)).bounds(BERLIN, NOV27)
    assert spring == (datetime(2026, 3, 28, 23), datetime(2026, 3, 29, 22))
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def test_today_follows_the_users_zone() -> None:
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert local_today(BERLIN, late) == date(2026, 11, 28)
    assert local_today(zone("Asia/Tokyo")[0], datetime(2026, 11, 27, 16)) == date(2026, 11, 28)
    assert local_today(UTC_ZONE, late) == NOV27
    assert zone("Not/AZone") == zone(None) and zone(None)[1] == "UTC"


def test_a_second_mention_of_the_period_leaves_the_zone_out() -> None:
    """The zone is named once per screen (the control's caption); the other captions say only the days."""
    assert Period("7d").label("Europe/Moscow", NOV27, zone=False) == "Last 7 days (Nov 21\u2009–\u200927, 2026)"
    assert Period("custom", date(2026, 11, 1), date(2026, 11, 1)).label("UTC", NOV27, zone=False) == (
        "Nov 1, 2026 (inclusive)")
    assert Period("all").label("UTC", NOV27, zone=False) == "All time"


def test_day_span_reads_naturally() -> None:
    assert day_span(date(2026, 10, 28), date(2026, 11, 3)) == "Oct 28\u2009–\u2009Nov 3, 2026"
    assert day_span(date(2025, 12, 30), date(2026, 1, 2)) == "Dec 30, 2025\u2009–\u2009Jan 2, 2026"


def test_the_comparison_uses_whole_days_only() -> None:
    c = comparison(Period("7d"), UTC_ZONE, NOV27)
    assert c.days == 6 and c.current == (datetime(2026, 11, 21), datetime(2026, 11, 27))
    assert c.previous == (datetime(2026, 11, 15), datetime(2026, 11, 21))
    assert "whole days" in c.help and "today" in c.help
    past = comparison(Period("custom", date(2026, 11, 1), date(2026, 11, 15)), BERLIN, NOV27)
    assert past.days == 15 and past.previous == (datetime(2026, 10, 16, 22), datetime(2026, 10, 31, 23))
    assert "today" not in past.help
    assert comparison(Period("custom", NOV27, NOV27), UTC_ZONE, NOV27) is None  # today alone: nothing whole
    assert comparison(Period("all"), UTC_ZONE, NOV27) is None


def test_the_comparison_is_fair_on_rows_at_known_times(pg_clean: str) -> None:
    """Every day has the same calls, today only its morning's: the whole-days delta is 0%, where the
    old partial-today comparison reported a drop."""
    from lib.screens.formatting import fmt_delta
    from lib.store.direct import DirectStore

    store = DirectStore(pg_clean)
    now = datetime(2026, 11, 27, 9, 0)  # 09:00 UTC: today is 9 hours old
    rows = []
    for back in range(0, 20):
        day = datetime(2026, 11, 27) - timedelta(days=back)
        for hour in (3, 8, 15, 20):  # four calls a day; today only those before 09:00 exist
            at = day + timedelta(hours=hour)
            if at <= now:
                rows.append({"id": str(uuid.uuid4()), "user_id": "u1", "assistant_id": "a", "test_phrase": "p",
                             "language": "english", "call_id": None, "status": "completed", "created_at": at,
                             "updated_at": at})
    owner = sa.create_engine(pg_clean)
    with owner.begin() as conn:
        conn.execute(sa.insert(schema.assistant_tests), rows)
    owner.dispose()
    user = store.for_user("u1")
    c = comparison(Period("7d"), UTC_ZONE, now.date())
    assert (user.count_tests(TestFilter(*c.current)), user.count_tests(TestFilter(*c.previous))) == (24, 24)
    assert fmt_delta(user.count_tests(TestFilter(*c.current)), user.count_tests(TestFilter(*c.previous))) == "0.0%"
    start, end = Period("7d").bounds(UTC_ZONE, now.date())
    old_previous = (start - (end - start), start)
    assert fmt_delta(user.count_tests(TestFilter(start, end)), user.count_tests(TestFilter(*old_previous))) == "-7.1%"
    store.close()
