"""Figures built from a Stats: the right traces, values, colors and order; None when empty."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import plotly.graph_objects as go
import pytest

from lib.models import DayStatusCount, Stats
from lib.screens import charts

D1, D2, D3 = date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27)


def make_stats(**kw) -> Stats:
    base = dict(intents=3, assistants=2, tests=0, tests_completed=0)
    base.update(kw)
    return Stats(**base)


EMPTY = make_stats(intents=0, assistants=0)


@pytest.mark.parametrize(
    "build", [charts.tests_per_day, charts.tests_by_language, charts.tests_per_assistant, charts.intents_per_week]
)
def test_empty_stats_give_none(build) -> None:
    assert build(EMPTY) is None
    # rows that count nothing are as good as none
    zeros = make_stats(
        tests_per_day=(DayStatusCount(D1, "completed", 0),),
        tests_per_language=(("english", 0),),
        tests_per_assistant=(("a", "A", 0),),
        intents_per_week=((D1, 0),),
    )
    assert build(zeros) is None


def assert_themeable(fig: go.Figure) -> None:
    layout = fig.to_dict()["layout"]
    assert "template" not in layout
    assert layout["paper_bgcolor"] == layout["plot_bgcolor"] == "rgba(0,0,0,0)"
    assert layout["height"] == charts.HEIGHT


def test_tests_per_day_stacks_statuses_in_a_fixed_order_and_color() -> None:
    stats = make_stats(
        tests=1_240,
        tests_per_day=(
            DayStatusCount(D1, "initiated", 3),
            DayStatusCount(D1, "completed", 1_200),
            DayStatusCount(D2, "failed", 5),
            DayStatusCount(D2, "completed", 20),
            DayStatusCount(D3, "in_progress", 2),
            DayStatusCount(D3, "cancelled", 10),
            DayStatusCount(D3, "mystery", 0),
        ),
    )
    fig = charts.tests_per_day(stats)
    assert isinstance(fig, go.Figure)
    assert_themeable(fig)
    names = [t.name for t in fig.data]
    assert names == ["Completed", "Failed", "Cancelled", "In progress", "Initiated"]
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["Completed"].x) == [D1, D2]
    assert list(by_name["Completed"].y) == [1_200, 20]
    assert list(by_name["Cancelled"].x) == [D3]
    assert by_name["Completed"].marker.color == charts.STATUS_COLORS["completed"]
    assert by_name["Failed"].marker.color == charts.STATUS_COLORS["failed"]
    assert {t.type for t in fig.data} == {"bar"}
    assert fig.layout.barmode == "stack"
    assert fig.layout.legend.traceorder == "normal"
    assert list(fig.layout.xaxis.ticktext)[:2] == ["Nov 22", "Nov 23"]  # the app's date family (Babel), as in Russian
    assert fig.layout.xaxis.hoverformat == "%b %-d, %Y"  # d3's spelling of the same form: Nov 22, 2026
    assert ",d" in by_name["Completed"].hovertemplate
    assert sum(sum(t.y) for t in fig.data) == stats.tests


def test_status_colors_are_distinct_and_cover_every_status() -> None:
    from lib.models import TEST_STATUSES

    assert set(charts.STATUS_ORDER) == set(TEST_STATUSES) == set(charts.STATUS_COLORS)
    assert len(set(charts.STATUS_COLORS.values())) == len(TEST_STATUSES)


def test_unknown_status_comes_last() -> None:
    fig = charts.tests_per_day(
        make_stats(tests_per_day=(DayStatusCount(D1, "weird_one", 2), DayStatusCount(D1, "failed", 1)))
    )
    assert [t.name for t in fig.data] == ["Failed", "Weird one"]


def test_tests_by_language_labels_and_values() -> None:
    fig = charts.tests_by_language(make_stats(tests_per_language=(("russian", 30), ("english", 70), ("kazakh", 5))))
    assert_themeable(fig)
    (pie,) = fig.data
    assert list(pie.labels) == ["English", "Russian", "Kazakh"]
    assert list(pie.values) == [70, 30, 5]
    assert pie.hole > 0
    assert "%{value:,d}" in pie.hovertemplate


def test_tests_per_assistant_keeps_top_15_and_sums_the_rest() -> None:
    rows = tuple((f"asst-{k:02d}", f"Bot {k:02d}", 100 - k) for k in range(20))
    fig = charts.tests_per_assistant(make_stats(tests_per_assistant=rows))
    assert_themeable(fig)
    (bar,) = fig.data
    assert bar.orientation == "h"
    assert list(bar.y) == [f"Bot {k:02d}" for k in range(15)] + ["Other"]
    assert list(bar.x) == [100 - k for k in range(15)] + [sum(100 - k for k in range(15, 20))]
    assert fig.layout.yaxis.autorange == "reversed"  # the busiest on top
    assert "5 other assistants" in bar.customdata[-1]


def test_tests_per_assistant_never_merges_bars() -> None:
    rows = (("id-aaaaaa", "Same", 5), ("id-bbbbbb", "Same", 4), ("id-cccccc", "", 3), ("id-dddddd", "x" * 80, 2))
    fig = charts.tests_per_assistant(make_stats(tests_per_assistant=rows))
    labels = list(fig.data[0].y)
    assert len(set(labels)) == 4
    assert labels[0] == "Same" and "bbbbbb" in labels[1]
    assert labels[2] == "id-cccccc"
    assert len(labels[3]) <= charts.MAX_LABEL and labels[3].endswith("…")
    assert "Other" not in labels


def test_intents_per_week() -> None:
    weeks = ((date(2026, 11, 16), 4), (date(2026, 11, 23), 1_500))
    fig = charts.intents_per_week(make_stats(intents_per_week=weeks))
    assert_themeable(fig)
    (bar,) = fig.data
    assert list(bar.x) == [date(2026, 11, 16), date(2026, 11, 23)]
    assert list(bar.y) == [4, 1_500]
    assert bar.customdata[1].startswith("Week 2026-W48")
    assert "Nov 23, 2026 – Nov 29, 2026" in bar.customdata[1]
    assert "%{y:,d}" in bar.hovertemplate


def test_figures_serialize_to_json() -> None:
    stats = make_stats(
        tests_per_day=(DayStatusCount(D1, "completed", 1),),
        tests_per_language=(("english", 1),),
        tests_per_assistant=(("a", "A", 1),),
        intents_per_week=((D1, 1),),
    )
    import json

    for build in (charts.tests_per_day, charts.tests_by_language, charts.tests_per_assistant, charts.intents_per_week):
        spec = json.loads(build(stats).to_json())  # what the browser receives
        (trace,) = spec["data"]
        values = [v for axis in ("x", "y", "values", "labels") for v in (trace.get(axis) or [])]
        assert 1 in values, (build.__name__, trace)  # the one call (or intent) counted
        assert spec["layout"]


def _tick_labels(axis: dict, largest: int) -> list[str]:
    """The labels plotly draws on a count axis from 0 to ``largest`` with the axis' tick0/dtick and
    ``,d`` format (d rounds a fraction to the nearest integer, as d3-format does)."""
    step, at, labels = axis["dtick"], axis.get("tick0", 0), []
    while at <= largest:
        labels.append(f"{round(at):,d}")
        at += step
    return labels


@pytest.mark.parametrize("largest", [1, 2, 3, 4, 5, 7, 9, 12, 37, 100, 999, 1_240, 54_321])
def test_count_axes_have_integer_ticks_that_never_repeat(largest: int) -> None:
    stats = make_stats(
        tests=largest,
        tests_per_day=(DayStatusCount(D1, "completed", largest),),
        tests_per_assistant=(("vapi_a", "Alpha", largest),),
        intents_per_week=((D1, largest),),
    )
    axes = [charts.tests_per_day(stats).to_dict()["layout"]["yaxis"],
            charts.tests_per_assistant(stats).to_dict()["layout"]["xaxis"],
            charts.intents_per_week(stats).to_dict()["layout"]["yaxis"]]
    for axis in axes:
        assert "dtick" in axis, axis  # plotly's own choice for 3 is 0.5: labels 0, 1, 1, 2, 2, 3
        assert float(axis["dtick"]).is_integer() and axis["dtick"] >= 1
        labels = _tick_labels(axis, largest)
        assert len(labels) == len(set(labels)) and 2 <= len(labels) <= 7, labels


def test_stacked_days_scale_ticks_to_the_tallest_stack() -> None:
    stats = make_stats(tests=30, tests_per_day=(
        DayStatusCount(D1, "completed", 10), DayStatusCount(D1, "failed", 10), DayStatusCount(D1, "cancelled", 10),
        DayStatusCount(D2, "completed", 3)))
    axis = charts.tests_per_day(stats).to_dict()["layout"]["yaxis"]
    assert axis["dtick"] == 10  # 0, 10, 20, 30: the stack of 30, not the tallest single status (10)


SERIES = make_stats(
    tests=13,
    tests_per_day=(DayStatusCount(D2, "failed", 1), DayStatusCount(D1, "completed", 4),
                   DayStatusCount(D2, "completed", 2), DayStatusCount(D3, "in_progress", 6)),
    tests_per_language=(("russian", 5), ("english", 8)),
    tests_per_assistant=(("vapi_x", "=HYPERLINK(\"http://evil\")", 9), ("vapi_y", "Приёмная " + "x" * 60, 4)),
    intents_per_week=((D1, 2),),
)


def test_each_chart_series_as_a_csv_holds_the_fixtures_numbers() -> None:
    """The CSV of a chart card: lib.files.csv_encoding's writer (BOM, CRLF, formula prefix) over the chart's series."""
    from lib.files.csv_encoding import to_csv

    def csv_of(build) -> str:
        data = to_csv(charts.series_frame(build(SERIES)))
        assert data.startswith(b"\xef\xbb\xbf")
        return data.decode("utf-8-sig")

    assert csv_of(charts.tests_per_day) == (
        "Day,Completed,Failed,In progress\r\n"
        "2026-11-24,4,0,0\r\n2026-11-25,2,1,0\r\n2026-11-27,0,0,6\r\n")
    assert csv_of(charts.tests_by_language) == "Language,Tests\r\nEnglish,8\r\nRussian,5\r\n"
    assert csv_of(charts.tests_per_assistant) == (  # full names, not the chart's shortened labels; formula neutralized
        "Assistant,Tests\r\n\"'=HYPERLINK(\"\"http://evil\"\")\",9\r\n" f"Приёмная {'x' * 60},4\r\n")
    assert csv_of(charts.intents_per_week) == "Week,Intents created\r\n2026-11-24,2\r\n"


def test_the_other_assistants_are_one_row_in_the_csv() -> None:
    many = make_stats(tests=40, tests_per_assistant=tuple((f"v{i:02d}", f"A{i:02d}", 20 - i) for i in range(20)))
    frame = charts.series_frame(charts.tests_per_assistant(many))
    assert len(frame) == charts.TOP_ASSISTANTS + 1 and frame.iloc[-1].tolist() == [charts.OTHER, sum(range(1, 6))]
    assert frame["Tests"].sum() == sum(20 - i for i in range(20))


def test_a_lone_day_or_week_is_not_one_bar_across_the_card() -> None:
    lone = make_stats(tests=3, tests_per_day=(DayStatusCount(D2, "completed", 3),), intents_per_week=((D1, 2),))
    day_axis = charts.tests_per_day(lone).to_dict()["layout"]["xaxis"]
    week_axis = charts.intents_per_week(lone).to_dict()["layout"]["xaxis"]
    for axis, days in ((day_axis, 7), (week_axis, 42)):
        start, end = (datetime.fromisoformat(v) for v in axis["range"])
        assert (end - start).days == days and start.date() <= D1 + timedelta(days=1) <= end.date()
    many = make_stats(intents_per_week=tuple((D1 - timedelta(weeks=k), 1) for k in range(10)))
    assert "range" not in charts.intents_per_week(many).to_dict()["layout"]["xaxis"]  # plotly fits them
