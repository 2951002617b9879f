"""Widget groups shared by several screens: chart cards, the frame around every screen (phone layout,
subscription banner), live updates, the intents grid's columns, the coverage card, the failure
drill-down and the tests' CSV download.  The view controls (period, filters, pager) are in
``lib.screens.controls``."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from lib import i18n
from lib.errors import StoreError
from lib.files import csv_encoding, formats
from lib.files.session_files import SessionFiles
from lib.i18n import N_, _, ngettext, pgettext
from lib.models import FAILURE_STATUSES, TestFilter
from lib.screens import billing, charts
from lib.screens.controls import period_label
from lib.screens.formatting import fmt_int
from lib.store import queries


def chart_card(title: str, fig: go.Figure | None) -> None:
    """A bordered card with a title and a plotly figure in the Streamlit theme (or a note when empty), and
    the figure's aggregated series as a CSV (lib.screens.charts.series_frame through lib.files.csv_encoding's writer), built
    only when clicked.  ``title`` is the English text (marked with N_): it names the CSV file, whatever the
    language; the card shows it translated."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")
    title = _(title)
    with st.container(border=True):
        if fig is None:
            st.markdown(f"**{title}**")
            st.caption(_("No data in this period."))
            return
        head = st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center",
                            wrap=False)
        head.markdown(f"**{title}**", width="content")
        head.download_button("CSV", data=lambda: csv_encoding.to_csv(charts.series_frame(fig)), file_name=f"{slug}.csv",
                              mime="text/csv", key=f"chart_csv_{slug}", on_click="ignore", type="tertiary",
                              icon=":material/download:", help=_("The numbers behind “{title}” as CSV").format(title=title))
        st.plotly_chart(fig, theme="streamlit", width="stretch", config=charts.plotly_config())


PHONE_MAX_PX = 640  # Streamlit stacks columns below this width
HEADER_PX = 60  # the height of Streamlit's top bar (the Menu button) on a phone
_PHONE_CSS = f"""<style>
[data-testid="stExpandSidebarButton"]::after {{ content: "{{menu}}"; font-size: 0.9rem; margin-left: 0.25rem; }}
@media (max-width: {PHONE_MAX_PX}px) {{
  [data-testid="stMainBlockContainer"] {{ padding-left: 0.75rem; padding-right: 0.75rem; }}
  .st-key-kpis [data-testid="stHorizontalBlock"] {{ flex-flow: row wrap; gap: 0.5rem; }}
  .st-key-kpis [data-testid="stColumn"] {{ flex: 1 1 calc(33% - 0.5rem) !important;
    min-width: calc(33% - 0.5rem) !important; width: calc(33% - 0.5rem) !important; }}
  .st-key-kpis [data-testid="stMetricValue"] {{ font-size: 1.25rem; }}
  .st-key-kpis [data-testid="stMetricLabel"] p {{ font-size: 0.8rem; }}
  [class*="st-key-filters_"] [data-testid="stColumn"] {{ flex: 1 1 calc(50% - 0.5rem) !important;
    min-width: calc(50% - 0.5rem) !important; width: calc(50% - 0.5rem) !important; }}
  [class*="st-key-filters_"] [data-testid="stHorizontalBlock"] {{ flex-flow: row wrap; gap: 0.5rem; }}
  h1 {{ font-size: 2rem !important; padding-top: 0.25rem !important; padding-bottom: 0.5rem !important; }}
  .st-key-subscription_banner [data-testid="stAlertContainer"] {{ padding: 0.5rem 0.75rem; }}
  /* the top bar (Menu) is {HEADER_PX} px high here: the first element (the banner) starts below it */
  [data-testid="stMainBlockContainer"] {{ padding-top: {HEADER_PX + 8}px !important; }}
  /* columns stack here: an empty one (e.g. the period's From/To until Custom is chosen) takes no gap */
  [data-testid="stColumn"]:has(> [data-testid="stVerticalBlock"]:empty) {{ display: none; }}
  /* the intent editor: an item's text field on its own line, its move and remove buttons in one row under it */
  [class*="st-key-editor_item_"] [data-testid="stHorizontalBlock"] {{ flex-flow: row wrap; gap: 0.5rem; }}
  [class*="st-key-editor_item_"] [data-testid="stColumn"] {{ flex: 0 0 auto !important; width: auto !important;
    min-width: 0 !important; }}
  [class*="st-key-editor_item_"] [data-testid="stColumn"]:first-child {{ flex: 1 1 100% !important;
    width: 100% !important; }}
  /* a metric's label wraps instead of being cut ("Matching test c…") */
  [data-testid="stMetricLabel"] > div, [data-testid="stMetricLabel"] p {{ white-space: normal !important;
    overflow: visible !important; text-overflow: clip !important; }}
}}
</style>"""
# Streamlit leaves the sidebar open over the page after a link in it is tapped on a phone: close it once per
# screen shown (the script's text names the screen, so it runs again only when the screen changes).
_COLLAPSE_JS = """<script>/* {path} */
if (window.innerWidth <= {width}) {{
  const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');  // only while open
  if (close) close.click();
}}
</script>"""


def screen_frame(current_path: str) -> None:
    """What every signed-in screen carries around its content: the phone layout (compact metric cards,
    a labelled menu button, the sidebar closed after choosing a screen).  The subscription banner
    (``subscription_banner``) is drawn by dashboard/app.py after the screen, in a slot above it."""
    st.html(_PHONE_CSS.replace("{menu}", _("Menu")))
    with st.sidebar:
        st.html(_COLLAPSE_JS.format(path=current_path, width=PHONE_MAX_PX), unsafe_allow_javascript=True)


def subscription_banner(current_path: str) -> None:
    """A slim line on every screen while the subscription needs attention (past due, unpaid, canceled...):
    what happened and why the assistant service is (or may be) paused, with a link to Billing.  The
    Billing screen itself shows the full notice instead."""
    if current_path == "billing":
        return
    try:
        sub = queries.subscription()
        text = billing.slim_banner(sub.status, queries.assistant_settings().is_active) if sub else None
    except StoreError:
        return  # the screen's own reads say what is wrong
    if text:
        with st.container(key="subscription_banner", horizontal=True, vertical_alignment="center", gap="small"):
            st.warning(text, icon=":material/credit_card_off:", width="stretch")
            st.page_link("../pages/billing.py", label=_("Billing"), icon=":material/arrow_forward:", width="content")


LIVE_FLAG = "_live_changed"  # session state: set by the live fragment just before it reruns the page


def live_updates(key: str, total: int) -> None:
    """Keep a screen of test calls live: every LIVE_REFRESH_SECONDS a fragment reads the user's change
    versions (one small statement) and reruns the page only when test calls (or intents, assistants)
    changed, or the database stopped or started answering.  ``total`` is the count the page shows: after
    such a rerun a toast says how many calls are new."""
    seconds = queries.settings().live_refresh_seconds
    topics = (queries.TESTS, queries.INTENTS, queries.ASSISTANTS)
    before = st.session_state.get(f"{key}_live_total")
    if st.session_state.pop(LIVE_FLAG, False) and before is not None:
        if total > before:
            st.toast(ngettext("{n} new test call", "{n} new test calls", total - before).format(n=fmt_int(total - before)),
                     icon=":material/call_received:")
        else:
            st.toast(_("Test calls were updated"), icon=":material/sync:")
    st.session_state[f"{key}_live_total"] = total
    if seconds <= 0:
        return
    shown = queries.freshness()
    inside_full_render = [True]  # the app has just read the versions: the first call skips its check

    def watch() -> None:
        if inside_full_render:
            inside_full_render.clear()
            return
        try:
            now = queries.check()
        except StoreError:
            return  # nothing known yet: the next full render reports it
        if now.reachable != shown.reachable or (now.reachable and now.of(*topics) != shown.of(*topics)):
            st.session_state[LIVE_FLAG] = True
            st.rerun()

    st.fragment(watch, run_every=seconds)()


INTENT_TITLES = {  # the grid's column titles (through _()); the import preview uses them too
    "intent_name": N_("Intent"),
    "example_user_phrases": N_("Example phrases"),
    "english_responses": N_("English responses"),
    "russian_responses": N_("Russian responses"),
}


def intent_columns() -> dict:
    """The intents grid's columns (pages/intents.py; the benchmark's bare-editor floor uses them too), sized
    so that all of them fit a 1400 px window beside the sidebar (pages/intents.py narrows the side margins)."""
    text = st.column_config.TextColumn
    return {
        "problems": text(_("Fix before saving"), disabled=True, width=260),
        "intent_name": text(_(INTENT_TITLES["intent_name"]), required=True, max_chars=200, width=140),
        **{c: st.column_config.ListColumn(_(INTENT_TITLES[c]), width=145) for c in list(INTENT_TITLES)[1:]},
        # what the grid shows of each list: its first item and "+N more"; the intent editor shows it whole
        **{shown: text(_(INTENT_TITLES[c]), disabled=True, width=140,
                       help=_("The first item; choose the intent in “Edit intent” to read and edit every item"))
           for c, shown in (("example_user_phrases", "phrases_shown"), ("english_responses", "english_shown"),
                            ("russian_responses", "russian_shown"))},
        "counts": text(_("Coverage"), disabled=True, width=72,
                       help=_("Example phrases · English responses · Russian responses")),
        "attention": text(pgettext("column", "Needs attention"), disabled=True, width=145),
        "used_by": text(_("Used by"), disabled=True, width=110, help=_("The assistants that use this intent")),
        "updated": text(_("Updated"), disabled=True, width=125, help=_("Last saved, in your time zone (named under History)")),
        "created_at": st.column_config.DatetimeColumn(_("Created"), format=_("MMM D, YYYY"), disabled=True),
        "updated_at": st.column_config.DatetimeColumn(_("Updated"), format=_("MMM D, HH:mm"), disabled=True, width=100),
    }


def preview_columns() -> dict:
    """The import preview's columns: the grid's titles, and the check of each row first."""
    return {
        "check": st.column_config.TextColumn(_("Result"), width=230),  # the data gets the rest of the width
        **{c: (st.column_config.TextColumn if c == "intent_name" else st.column_config.ListColumn)(_(title))
           for c, title in INTENT_TITLES.items()},
    }


def coverage_card() -> None:
    """Stats: how many intents are ready in both languages, linking to those that need attention."""
    from lib.screens import intent_checks

    report = intent_checks.check_cached(queries.intents(), queries.assistants())
    with st.container(border=True, key="coverage_card"):
        st.markdown("**" + _("Language coverage") + "**")
        if not report.total:
            st.caption(_("No intents yet: coverage shows how many have English and Russian responses."))
            return
        st.progress(report.ready / report.total, text=report.readiness())
        attention = len(report.attention)
        if attention:
            st.page_link("../pages/intents.py", label=ngettext("{n} intent needs attention", "{n} intents need attention",
                                                               attention).format(n=fmt_int(attention)),
                         icon=":material/warning:", query_params={"view": intent_checks.ATTENTION_VIEW})
        else:
            st.caption(_("Every intent has English and Russian responses and enough distinct example phrases."))


# -- failure drill-down -----------------------------------------------------------------------

def _pick(key: str, kind: str, widget: str, keys: tuple[str, ...]) -> None:
    """A drill-down row was clicked: show that phrase's (or assistant's) failed and cancelled calls, keep the
    row marked (the other table's mark is let go), and bring the filtered calls into view."""
    rows = st.session_state[widget].selection.rows
    if not rows or rows[0] >= len(keys):
        return
    st.session_state[f"{key}_statuses"] = list(FAILURE_STATUSES)
    if kind == "phrase":
        st.session_state[f"{key}_phrase"] = keys[rows[0]]
    else:
        st.session_state[f"{key}_assistants"] = [keys[rows[0]]]
    st.session_state[f"{key}_page"] = 1
    other = "assistant" if kind == "phrase" else "phrase"
    st.session_state[f"{key}_drill_{other}"] = st.session_state.get(f"{key}_drill_{other}", 0) + 1
    nonce = st.session_state[f"{key}_scroll_n"] = st.session_state.get(f"{key}_scroll_n", 0) + 1
    st.session_state[f"{key}_scroll"] = nonce


# Scrolls smoothly, then keeps the target at the top for two seconds while the rerun's layout settles (an
# element above it that Streamlit removes late would otherwise leave it above the viewport); the first
# wheel, touch, key or mouse press of the user's own ends it.
_SCROLL_JS = """(() => {
  const target = () => document.querySelector('.st-key-%s');
  let last = null, polls = 0, stop = false;
  const events = ['wheel', 'touchstart', 'keydown', 'mousedown'];
  const quit = () => { stop = true; };
  for (const e of events) addEventListener(e, quit, {capture: true});
  target()?.scrollIntoView({behavior: 'smooth', block: 'start'});
  const timer = setInterval(() => {
    const el = target();
    if (stop || !el || ++polls > 20) {
      clearInterval(timer);
      for (const e of events) removeEventListener(e, quit, {capture: true});
      return;
    }
    const top = Math.round(el.getBoundingClientRect().top);
    if (top === last && Math.abs(top) > 2) el.scrollIntoView({block: 'start'});
    last = top;
  }, 100);
})();"""


def scroll_into_view(anchor: str, nonce: int) -> None:
    """Scroll the page so that the container keyed ``anchor`` is at the top (``nonce``: a new element each
    time, so the browser runs it again)."""
    st.html(f"<span data-nonce='{nonce}'></span><script>{_SCROLL_JS % anchor}</script>", unsafe_allow_javascript=True)


def failure_drilldown(key: str, filters: TestFilter) -> None:
    """Failed and cancelled calls grouped by test phrase and by assistant over the filters' period (and
    assistant, language, search): the groups that fail most, counted by the database.  A click on a
    row filters this screen's table to those calls."""
    data = queries.failure_drilldown(filters)
    with st.container(border=True):
        st.markdown("**" + _("Where calls fail") + "**")
        if not (data.phrases or data.assistants):
            st.caption(_("No failed or cancelled calls. {period}.").format(period=period_label(key, zone=False)))
            return
        st.caption(_("Failed and cancelled calls by test phrase and by assistant, most first. {period}. "
                     "Click a row to list those calls.").format(period=period_label(key, zone=False)))
        ru = i18n.current() != "en"  # the cells are numbers: their format names the language's separators
        rate = st.column_config.NumberColumn(_("Failure rate"), format="%.1f %%" if ru else "%.1f%%", width=95,
                                             help=_("Failed and cancelled calls out of all its calls in the period."))
        # the frame's columns keep their English names (the table's data); the headers shown are translated,
        # and Russian ones, longer, get the width they need
        counts = {"Failed": st.column_config.NumberColumn(pgettext("count", "Failed"), format="%d",
                                                          width=None if ru else 65),
                  "Cancelled": st.column_config.NumberColumn(pgettext("count", "Cancelled"), format="%d",
                                                             width=None if ru else 85),
                  "Calls": st.column_config.NumberColumn(_("Calls"), format="%d", width=None if ru else 70,
                                                         help=_("All its calls in the period."))}
        chosen = {"phrase": bool(filters.phrase), "assistant": bool(filters.assistant_ids)}
        # one table under the other: side by side, the Russian counts' headers did not fit at 1400 px
        for col, (kind, title, groups) in zip((st.container(), st.container()), [("phrase", N_("Test phrase"), data.phrases),
                                                                  ("assistant", N_("Assistant"), data.assistants)],
                                              strict=True):
            widget = f"{key}_fail_{kind}_{st.session_state.get(f'{key}_drill_{kind}', 0)}"
            marked = st.session_state.get(widget)
            if marked is not None and marked.selection.rows and not chosen[kind]:  # its filter was cleared since
                st.session_state[f"{key}_drill_{kind}"] = st.session_state.get(f"{key}_drill_{kind}", 0) + 1
                widget = f"{key}_fail_{kind}_{st.session_state[f'{key}_drill_{kind}']}"
            col.dataframe(
                [{title: g.name, "Failure rate": round(g.rate * 100, 1), "Failed": g.failed, "Cancelled": g.cancelled,
                  "Calls": g.total} for g in groups],
                hide_index=True, width="stretch", height="content", key=widget,
                on_select=partial(_pick, key, kind, widget, tuple(g.key for g in groups)), selection_mode="single-row",
                column_config={title: st.column_config.TextColumn(_(title), width="large"), "Failure rate": rate, **counts},
            )


_FILES = "export_files"  # st.session_state key of this session's SessionFiles


def _session_files() -> SessionFiles:
    files = st.session_state.get(_FILES)
    if not isinstance(files, SessionFiles) or files.closed:
        files = st.session_state[_FILES] = SessionFiles()
    return files


def _reader(path: str) -> Callable[[], bytes]:
    """The file's bytes, read only when the user clicks Download (Streamlit's deferred data): a rerun
    never loads the file into Streamlit's media store, and the callable holds only the path."""
    return lambda: Path(path).read_bytes()


def tests_download(filters: TestFilter, key: str) -> None:
    """Prepare the whole filtered set as a file in the chosen format (CSV written by the database where it
    can; Excel, JSON and Parquet from the same rows in chunks), streamed to this session's export directory
    with progress, then offer it for download.  The file lives only while its download is offered (see
    lib.files.session_files); a busy server or a cut-off export says so."""
    total = queries.count_tests(filters)
    fmt = st.radio(_("Format"), list(formats.FORMATS), horizontal=True, key=f"{key}_format")
    ext, mime = formats.FORMATS[fmt]
    prepared = st.session_state.get(f"{key}_file")
    if prepared and not Path(prepared["path"]).exists():  # swept, or the session's directory is gone
        prepared = None
    if prepared and (prepared["filters"], prepared["ext"]) != (filters, ext):  # no longer offered: don't keep 100 MB for nothing
        _session_files().discard(key)
        prepared = st.session_state[f"{key}_file"] = None
    too_many = ext == "xlsx" and total >= formats.EXCEL_MAX_ROWS
    if too_many:
        st.caption(_("Excel holds at most {n} rows: choose CSV, JSON or Parquet, or narrow the filters.").format(
            n=fmt_int(formats.EXCEL_MAX_ROWS - 1)))
    if st.button(ngettext("Prepare {format} of {n} test call", "Prepare {format} of {n} test calls", total).format(
                     format=fmt, n=fmt_int(total)), key=f"{key}_prepare", disabled=not total or too_many,
                 icon=":material/download:"):
        try:
            files = _session_files()
        except StoreError as err:  # the export root is not private (lib.files.session_files.private_root)
            st.error(str(err))
            return
        path = files.file(key)  # replaces this screen's previous file
        st.session_state[f"{key}_file"] = prepared = None
        bar = st.progress(0.0, text=_("Preparing the export…"))

        def progress(rows: int) -> None:
            bar.progress(min(rows / total, 1.0), text=ngettext("Prepared {n} of {total} row…", "Prepared {n} of {total} rows…",
                                                               total).format(n=fmt_int(rows), total=fmt_int(total)))

        writers = {"xlsx": partial(formats.write_excel, sheet_name="tests"), "json": formats.write_json,
                   "parquet": partial(formats.write_parquet, schema=formats.tests_schema())}
        try:
            with open(path, "wb") as out:
                if ext == "csv":
                    rows = queries.export_tests_csv(filters, out, progress)
                else:
                    rows = queries.export_tests(filters, partial(writers[ext], out=out), progress)
        except (StoreError, ValueError) as err:  # ValueError: more rows than Excel holds arrived meanwhile
            files.discard(key)
            bar.empty()
            st.error(str(err) if isinstance(err, StoreError) else _(
                "Excel holds at most {n} rows: choose CSV, JSON or Parquet, or narrow the filters.").format(
                n=fmt_int(formats.EXCEL_MAX_ROWS - 1)))
            return
        bar.empty()
        prepared = {"path": str(path), "filters": filters, "ext": ext, "rows": rows}
        st.session_state[f"{key}_file"] = prepared
    if prepared:
        st.download_button(ngettext("Download tests.{ext} ({n} row)", "Download tests.{ext} ({n} rows)", prepared["rows"]).format(
                               ext=ext, n=fmt_int(prepared["rows"])), data=_reader(prepared["path"]),
                           file_name=f"tests.{ext}", mime=mime, key=f"{key}_download", type="primary",
                           on_click="ignore")  # no rerun: a rerun would replace the button's file id mid-click
