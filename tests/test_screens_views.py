# ruff: noqa: F811  (the fixtures imported from tests.test_screens are parameters here)
"""View state through the real app (AppTest) on PostgreSQL: periods (custom, shared by the
screens, labelled), the URL (shared views, bad parameters), the Tests pager, clear filters and the
failure drill-down, empty states included.  Expected numbers come from SQL written here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from lib.screens.urlstate import Period, zone
from tests.test_screens import (  # noqa: F401  (fixtures)
    all_text,
    app_on,
    credentials,
    database,
    empty_app,
    metric,
    open_screen,
    signed_in,
)
from tools import tables as schema

UTC_ZONE = zone(None)[0]


def today() -> date:
    return datetime.now(UTC).date()  # AppTest has no browser: the user's zone is UTC


def calls(url: str, user_id: str, start: datetime | None = None, end: datetime | None = None) -> list[tuple]:
    """The user's calls as (created_at, assistant_id, phrase, status shown), read here."""
    engine = sa.create_engine(url)
    t = schema.assistant_tests
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.created_at, t.c.assistant_id, t.c.test_phrase, t.c.status)
                            .where(t.c.user_id == user_id)).all()
    engine.dispose()
    return [(c, a, p, s or "initiated") for c, a, p, s in rows
            if (start is None or (c is not None and c >= start)) and (end is None or (c is not None and c < end))]


def caption_text(at: AppTest) -> str:
    return " ".join(str(c.value) for c in at.caption) + " " + " ".join(str(m.value) for m in at.markdown)


def rows_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Rows "))


def test_a_custom_range_is_inclusive_and_labelled(app_on, database: str) -> None:
    at = open_screen(app_on("alice"), "tests")
    first, last = today() - timedelta(days=20), today() - timedelta(days=10)
    at.radio(key="tests_preset").set_value("Custom").run()
    at.date_input(key="tests_from").set_value(first).run()
    at.date_input(key="tests_to").set_value(last).run()
    assert not at.exception
    start, end = Period("custom", first, last).bounds(UTC_ZONE, today())
    assert end == datetime.combine(last + timedelta(days=1), datetime.min.time())  # the last day is in
    want = len(calls(database, "user_demo_alice", start, end))
    assert metric(at, "Matching test calls") == f"{want:,}" and want > 0
    assert "(inclusive), UTC" in caption_text(at)
    assert dict(at.query_params) == {"period": "custom", "from": first.isoformat(), "to": last.isoformat()}
    at.date_input(key="tests_from").set_value(last + timedelta(days=3)).run()  # from after to: swapped, said
    assert not at.exception and any("From is after To" in w.value for w in at.warning)


def test_no_custom_day_after_today(app_on, database: str) -> None:
    """A link asking for a future end is brought back to today, and the calendar offers no later day."""
    at = app_on("alice")
    at.switch_page("../pages/tests.py")
    first = today() - timedelta(days=5)
    for k, v in {"period": "custom", "from": first.isoformat(), "to": (today() + timedelta(days=400)).isoformat()}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    to = at.date_input(key="tests_to")
    assert to.value == today() and to.max == today() and at.date_input(key="tests_from").max == today()
    start, end = Period("custom", first, today()).bounds(UTC_ZONE, today())
    assert metric(at, "Matching test calls") == f"{len(calls(database, 'user_demo_alice', start, end)):,}"


def test_the_period_is_kept_across_screens_and_every_figure_says_it(app_on, database: str) -> None:
    at = app_on("alice")
    at.radio(key="stats_preset").set_value("7 days").run()
    start, end = Period("7d").bounds(UTC_ZONE, today())
    assert metric(at, "Tests") == f"{len(calls(database, 'user_demo_alice', start, end)):,}"
    text = caption_text(at)
    assert "Intents and assistants: all time" in text and "Last 7 days (" in text
    tests_help = next(m for m in at.metric if m.label == "Tests").help
    assert "whole days only" in tests_help and "leaving out today" in tests_help
    at = open_screen(at, "assistants")
    assert at.radio(key="assistants_preset").value == "7 days"
    chosen = at.selectbox(key="assistants_chosen_id").value
    own = [c for c in calls(database, "user_demo_alice", start, end) if c[1] == chosen]
    assert metric(at, "Test calls") == f"{len(own):,}"  # the card counts the period, not all time
    next(b for b in at.button if b.label == "See its test calls").click()
    at.run()
    assert not at.exception and at.radio(key="tests_preset").value == "7 days"
    assert metric(at, "Matching test calls") == f"{len(own):,}"  # the same number on both screens
    assert at.multiselect(key="tests_assistants").value == [chosen]
    at = open_screen(at, "export")
    assert at.radio(key="export_preset").value == "7 days"


def test_pager_next_last_and_an_out_of_range_page(app_on, database: str) -> None:
    at = open_screen(app_on("alice"), "tests")
    start, end = Period("30d").bounds(UTC_ZONE, today())
    total = len(calls(database, "user_demo_alice", start, end))
    pages = -(-total // 50)
    assert rows_line(at) == f"Rows **1–50** of **{total:,}** · page 1 of {pages}"
    assert len(at.dataframe[0].value) == 50
    first_page = list(at.dataframe[0].value["Call id"])
    next(b for b in at.button if b.label == "Next").click()
    at.run()
    assert rows_line(at).startswith("Rows **51–100**") and at.query_params["page"] == "2"
    assert not (set(at.dataframe[0].value["Call id"]) & set(first_page)) - {"—"}
    at.button(key="tests_below_previous").click().run()  # the same pager under the table: no scrolling up
    assert rows_line(at).startswith("Rows **1–50**") and list(at.dataframe[0].value["Call id"]) == first_page
    at.button(key="tests_below_next").click().run()
    assert rows_line(at).startswith("Rows **51–100**")
    next(b for b in at.button if b.label == "Last").click()
    at.run()
    last_rows = total - (pages - 1) * 50
    assert rows_line(at) == f"Rows **{(pages - 1) * 50 + 1:,}–{total:,}** of **{total:,}** · page {pages} of {pages}"
    assert len(at.dataframe[0].value) == last_rows
    assert next(b for b in at.button if b.label == "Next").disabled
    at.number_input(key="tests_goto").set_value(999).run()  # clamped: the last page, no error box
    assert not at.exception and at.number_input(key="tests_goto").value == pages
    assert at.query_params["page"] == str(pages)
    next(b for b in at.button if b.label == "First").click()
    at.run()
    assert rows_line(at).startswith("Rows **1–50**") and "page" not in at.query_params


def test_clear_filters_and_the_failure_drilldown(app_on, database: str) -> None:
    at = open_screen(app_on("alice"), "tests")
    start, end = Period("30d").bounds(UTC_ZONE, today())
    rows = calls(database, "user_demo_alice", start, end)
    by_phrase: dict[str, list[int]] = {}
    for _c, _a, phrase, status in rows:
        n = by_phrase.setdefault(phrase, [0, 0, 0])
        n[0] += 1
        n[1] += status == "failed"
        n[2] += status == "cancelled"
    drill = at.dataframe[1].value
    assert len(drill) == min(10, sum(1 for n in by_phrase.values() if n[1] + n[2]))
    for _, r in drill.iterrows():
        assert [r["Calls"], r["Failed"], r["Cancelled"]] == by_phrase[r["Test phrase"]]
    fails = list(drill["Failed"] + drill["Cancelled"])
    assert fails == sorted(fails, reverse=True) and fails[0] == max(n[1] + n[2] for n in by_phrase.values())

    # what a click on the top row does (the browser test clicks it): that phrase's failed and cancelled calls
    top = drill.iloc[0]["Test phrase"]
    at.session_state["tests_statuses"] = ["failed", "cancelled"]
    at.session_state["tests_phrase"] = top
    at.run()
    table = at.dataframe[0].value
    assert set(table["Phrase"]) == {top} and set(table["Status"]) <= {"Failed", "Cancelled"}
    assert len(table) == by_phrase[top][1] + by_phrase[top][2]
    assert at.query_params["phrase"] == top and at.query_params["status"] == "failed,cancelled"
    assert any(f"exactly “{top}”" in c.value for c in at.caption)

    clear = next(b for b in at.button if b.label == "Clear filters")
    assert not clear.disabled
    clear.click()
    at.run()
    assert metric(at, "Matching test calls") == f"{len(rows):,}"
    assert at.multiselect(key="tests_statuses").value == [] and "phrase" not in at.query_params
    assert next(b for b in at.button if b.label == "Clear filters").disabled


def test_a_shared_url_opens_the_same_view_on_the_other_users_own_data(app_on, database: str) -> None:
    at = open_screen(app_on("alice"), "tests")
    at.radio(key="tests_preset").set_value("90 days").run()
    at.multiselect(key="tests_statuses").set_value(["completed"]).run()
    at.multiselect(key="tests_languages").set_value(["russian"]).run()
    next(b for b in at.button if b.label == "Next").click()
    at.run()
    shared = dict(at.query_params)
    assert shared == {"period": "90d", "status": "completed", "language": "russian", "page": "2"}

    bob = signed_in("bob")  # AppTest has no URL path: the link is opened once bob is in (the browser test
    for k, v in {**shared, "user_id": "user_demo_alice"}.items():  # signs in on the link itself)
        bob.query_params[k] = v  # a user id in a URL changes nothing
    bob.switch_page("../pages/tests.py")
    bob.run()
    assert not bob.exception
    assert bob.radio(key="tests_preset").value == "90 days"
    assert bob.multiselect(key="tests_statuses").value == ["completed"]
    start, end = Period("90d").bounds(UTC_ZONE, today())
    want = [c for c in calls(database, "user_demo_bob", start, end) if c[3] == "completed"]
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        t = schema.assistant_tests
        russian = conn.execute(sa.select(sa.func.count()).where(
            t.c.user_id == "user_demo_bob", t.c.created_at >= start, t.c.created_at < end, t.c.status == "completed",
            t.c.language == "russian")).scalar_one()
        bob_calls = set(conn.execute(sa.select(t.c.call_id).where(t.c.user_id == "user_demo_bob")).scalars())
    engine.dispose()
    assert want and metric(bob, "Matching test calls") == f"{russian:,}"
    if russian > 50:
        assert rows_line(bob).startswith("Rows **51–")
    assert set(bob.dataframe[0].value["Call id"]) <= bob_calls  # bob's own rows only


def test_bad_url_parameters_fall_back_with_a_notice(app_on) -> None:
    at = app_on("alice")
    for k, v in {"period": "forever", "status": "failed,bogus", "page": "-3", "assistant": "not_hers",
                 "phrase": "x" * 3000}.items():
        at.query_params[k] = v
    at.switch_page("../pages/tests.py")
    at.run()
    assert not at.exception and not at.error
    notice = " ".join(i.value for i in at.info)
    assert "the period “forever”" in notice and "“bogus”" in notice and "the page “-3”" in notice
    assert "7 days, 30 days, 90 days, All time, Custom" in notice  # what it can be, in the screen's words
    assert "Completed" in notice and "in_progress" not in notice  # statuses by their names, not their keys
    assert "not one of yours" in notice
    assert at.radio(key="tests_preset").value == "30 days" and at.multiselect(key="tests_statuses").value == ["failed"]
    assert dict(at.query_params) == {"period": "30d", "status": "failed"}  # the URL says what is shown
    at.run()
    assert any("Part of this link was not used" in i.value for i in at.info)  # it stays while the page reruns...
    at.button(key="tests_link_notice_close").click().run()
    assert not any("Part of this link was not used" in i.value for i in at.info)  # ...until it is dismissed


def test_empty_user_views(empty_app: AppTest) -> None:
    at = open_screen(empty_app, "tests")
    assert "No test calls match" in all_text(at) and "No failed or cancelled calls" in caption_text(at)
    assert not any(m.value.startswith("Rows ") for m in at.markdown)
    at.radio(key="tests_preset").set_value("Custom").run()
    assert not at.exception and at.query_params["period"] == "custom"
    at = open_screen(at, "stats")
    assert at.radio(key="stats_preset").value == "Custom"
    at = open_screen(at, "export")
    assert any(b.label == "Prepare CSV of 0 test calls" for b in at.button)
