"""Figures of the stats screen: ``Stats`` in, plotly ``Figure`` out.  No Streamlit here.

Every figure leaves the template unset and its backgrounds transparent, so
``st.plotly_chart(fig, theme="streamlit")`` styles it for the light and the dark theme alike;
only the status colors are fixed, so a status looks the same on every chart.

Each builder returns None when there is nothing to draw (no tests, no intents): the page shows
an empty state (e.g. ``st.info``) instead of an empty chart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache, wraps

import pandas as pd
import plotly.graph_objects as go
from babel.dates import get_day_names, get_month_names

from lib import i18n
from lib.i18n import N_, _, current, ngettext
from lib.models import Stats
from lib.screens.formatting import fmt_date, fmt_day_month, fmt_int, fmt_pct

HEIGHT = 320
TOP_ASSISTANTS = 15
OTHER = N_("Other")  # in the figure: _(OTHER); in its CSV (series_frame): "Other", machine-stable
MAX_LABEL = 40

# Outcomes first (they stack at the bottom and lead the legend), then the still-running states.
STATUS_ORDER = ("completed", "failed", "cancelled", "in_progress", "initiated")
STATUS_COLORS = {
    "completed": "#2e9e5b",  # green
    "failed": "#d64545",  # red
    "cancelled": "#e8a317",  # amber
    "in_progress": "#3b82f6",  # blue
    "initiated": "#9ca3af",  # gray
}
STATUS_LABELS = {  # English, as the charts' CSV names them; shown through _()
    "completed": N_("Completed"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
    "in_progress": N_("In progress"),
    "initiated": N_("Initiated"),
}
LANGUAGE_LABELS = {"english": N_("English"), "russian": N_("Russian")}
LANGUAGE_COLORS = {"english": "#3b82f6", "russian": "#8b5cf6"}
OTHER_COLOR = "#6b7280"
DAY_MS = 24 * 3600 * 1000


def status_label(status: str, *, stable: bool = False) -> str:
    """A status as the screen shows it (``stable``: in English, for a file)."""
    label = STATUS_LABELS.get(status)
    if label is None:
        return status.replace("_", " ").capitalize()
    return label if stable else _(label)


def language_label(language: str, *, stable: bool = False) -> str:
    label = LANGUAGE_LABELS.get(language)
    if label is None:
        return language.capitalize()
    return label if stable else _(label)


DATE_STEPS = (1, 2, 3, 7, 14, 28, 56, 91, 182, 364)  # days between the ticks of a date axis


def count_step(largest: int, *, ticks: int = 5) -> int:
    """A whole-number tick step for a count axis up to ``largest``: 1, 2, 5, 10, 20, 50, ... giving at
    most about ``ticks`` + 1 ticks.  Plotly's own choice for small counts is 0.5, which ``,d`` prints as
    0, 1, 1, 2, 2, 3."""
    need = max(1, largest) / ticks
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            if m * magnitude >= need:
                return m * magnitude
        magnitude *= 10


def count_axis(largest: int) -> dict:
    """An axis of counts: integer ticks from 0, thousands separated."""
    return {"tickformat": ",d", "rangemode": "tozero", "tick0": 0, "dtick": count_step(largest)}


def date_axis(first: date, last: date, *, least: timedelta, **extra: object) -> dict:
    """A date axis that shows at least ``least`` of time: a lone day or week would otherwise be one bar
    stretched across the whole card.  Its ticks are the app's date family, written by Babel in either language
    (Plotly's own names are English, with no locale bundled offline); ``hover=True`` gives the hover a date
    too, the same form through d3 (Russian month names: plotly_config)."""
    hover = bool(extra.pop("hover", False))
    axis: dict = {"type": "date", **extra}
    lo, hi = first, last
    if last - first < least:
        middle = datetime.combine(first, datetime.min.time()) + (last - first) / 2
        axis["range"] = [(middle - least / 2).isoformat(), (middle + least / 2).isoformat()]
        lo, hi = (middle - least / 2).date(), (middle + least / 2).date()
    span = (hi - lo).days
    step = next((s for s in DATE_STEPS if span / s <= 7), DATE_STEPS[-1])
    ticks = [lo + timedelta(days=k) for k in range(0, span + 1, step)]
    axis |= {"tickmode": "array", "tickvals": [t.isoformat() for t in ticks],
             "ticktext": [fmt_day_month(t) for t in ticks]}
    if hover:  # the family's form, through d3 (Russian names: plotly_config); the unified title is a template,
        # since plotly writes a day that is also a tick with its tick text (no year)
        axis["hoverformat"] = "%b %-d, %Y" if i18n.current() == "en" else "%-d %b %Y"
        axis["unifiedhovertitle"] = {"text": "%{x|" + axis["hoverformat"] + "}"}
    return axis


def plotly_config() -> dict:
    """The charts' plotly config: no mode bar, and in Russian a locale of Babel's month and day names (plotly's own
    locale scripts are not bundled offline), so that a hover date reads as every other date: 3 дек. 2026."""
    config: dict = {"displayModeBar": False}
    if i18n.current() != "en":
        names = {kind: [str(v) for _k, v in sorted(get(width, context="format", locale=i18n.locale()).items())]
                 for kind, get, width in (("months", get_month_names, "wide"),
                                          ("shortMonths", get_month_names, "abbreviated"),
                                          ("days", get_day_names, "wide"), ("shortDays", get_day_names, "abbreviated"))}
        names["days"] = names["days"][-1:] + names["days"][:-1]  # d3 weeks start on Sunday, Babel's on Monday
        names["shortDays"] = names["shortDays"][-1:] + names["shortDays"][:-1]
        config |= {"locale": i18n.current(), "locales": {i18n.current(): {"format": names}}}
    return config


def _built_once(build: Callable[[Stats], go.Figure | None]) -> Callable[[Stats], go.Figure | None]:
    """A figure is built once per numbers (``Stats`` is frozen and hashable), day and language, and the very
    same object handed out again: every render of an unchanged screen used to rebuild its figures (about a
    fifth of the server's busy time in the load journey, py-spy).  Callers never modify a figure."""
    memo = lru_cache(maxsize=256)(lambda stats, _day, _language: build(stats))

    @wraps(build)
    def figure(stats: Stats) -> go.Figure | None:
        return memo(stats, date.today(), current())

    return figure


def _layout(fig: go.Figure, **extra: object) -> go.Figure:
    fig.update_layout(
        height=HEIGHT,
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        separators=".," if i18n.current() == "en" else ",\u00a0",  # decimal, then thousands
        **extra,
    )
    fig.layout.template = None  # let Streamlit's theme (light or dark) style the figure
    return fig


@_built_once
def tests_per_day(stats: Stats) -> go.Figure | None:
    """Stacked daily bars, one trace per status in ``STATUS_ORDER`` (unknown statuses last)."""
    counts: dict[str, dict[date, int]] = {}
    for row in stats.tests_per_day:
        if row.count:
            per_day = counts.setdefault(row.status, {})
            per_day[row.day] = per_day.get(row.day, 0) + row.count
    if not counts:
        return None
    statuses = [s for s in STATUS_ORDER if s in counts] + sorted(s for s in counts if s not in STATUS_ORDER)
    fig = go.Figure()
    for status in statuses:
        days = sorted(counts[status])
        fig.add_trace(
            go.Bar(
                x=days,
                y=[counts[status][d] for d in days],
                name=status_label(status),
                meta=status_label(status, stable=True),  # its column in the CSV
                marker_color=STATUS_COLORS.get(status, OTHER_COLOR),
                width=[DAY_MS * 0.8] * len(days),
                hovertemplate="%{fullData.name}: %{y:,d}<extra></extra>",
            )
        )
    return _layout(
        fig,
        barmode="stack",
        hovermode="x unified",
        meta={"category": "Day", "value": "Tests"},  # the CSV's column names: English, machine-stable
        legend={"orientation": "h", "traceorder": "normal", "y": 1.02, "yanchor": "bottom", "x": 0},
        xaxis=date_axis(min(min(per_day) for per_day in counts.values()),
                        max(max(per_day) for per_day in counts.values()), least=timedelta(days=7),
                        hover=True),
        yaxis=count_axis(max(sum(per_day.get(d, 0) for per_day in counts.values())
                             for d in {d for per_day in counts.values() for d in per_day})),
    )


@_built_once
def tests_by_language(stats: Stats) -> go.Figure | None:
    """A donut of tests per language, English first, then Russian, then anything else."""
    counts = {lang: n for lang, n in stats.tests_per_language if n}
    if not counts:
        return None
    order = [lang for lang in LANGUAGE_LABELS if lang in counts] + sorted(c for c in counts if c not in LANGUAGE_LABELS)
    fig = go.Figure(
        go.Pie(
            labels=[language_label(lang) for lang in order],
            values=[counts[lang] for lang in order],
            marker={"colors": [LANGUAGE_COLORS.get(lang, OTHER_COLOR) for lang in order]},
            hole=0.55,
            sort=False,
            direction="clockwise",
            textinfo="percent",
            hovertemplate="%{label}: %{value:,d} (%{percent})<extra></extra>",
        )
    )
    if i18n.current() != "en":  # d3 writes "64,3%": the language's own percent ("64,3 %") is written here
        total = sum(counts.values())
        fig.update_traces(text=[fmt_pct(counts[lang] / total) for lang in order], textinfo="text",
                          hovertemplate="%{label}: %{value:,d} (%{text})<extra></extra>")
    return _layout(fig, showlegend=True, legend={"orientation": "h", "y": -0.05, "x": 0.5, "xanchor": "center"},
                   meta={"category": "Language", "value": "Tests",
                         "labels": [language_label(lang, stable=True) for lang in order]})


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


@_built_once
def tests_per_assistant(stats: Stats) -> go.Figure | None:
    """Horizontal bars of the 15 busiest assistants, the biggest on top, the rest summed as "Other"."""
    rows = sorted(
        ((aid, name, n) for aid, name, n in stats.tests_per_assistant if n), key=lambda r: (-r[2], r[1], r[0])
    )
    if not rows:
        return None
    top, rest = rows[:TOP_ASSISTANTS], rows[TOP_ASSISTANTS:]
    labels: list[str] = []
    seen: set[str] = {_(OTHER)} if rest else set()
    for aid, name, _n in top:
        label = _short(name or aid)
        if label in seen:  # two assistants with one name must not share a bar
            label = _short(f"{name or aid} ({aid[-6:]})")
        base, k = label, 2
        while label in seen:
            label, k = f"{base} #{k}", k + 1
        seen.add(label)
        labels.append(label)
    values = [n for _aid, _name, n in top]
    hover = [f"{name or aid}<br>{aid}" for aid, name, _n in top]
    colors = ["#3b82f6"] * len(top)
    if rest:
        labels.append(_(OTHER))
        values.append(sum(n for _aid, _name, n in rest))
        hover.append(ngettext("{n} other assistant", "{n} other assistants", len(rest)).format(n=fmt_int(len(rest))))
        colors.append(OTHER_COLOR)
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colors,
            customdata=hover,
            hovertemplate=_("%{customdata}<br>%{x:,d} tests") + "<extra></extra>",  # plotly formats the count
        )
    )
    return _layout(
        fig,
        showlegend=False,
        meta={"category": "Assistant", "value": "Tests", "labels": [name or aid for aid, name, _n in top]
              + ([OTHER] if rest else [])},
        xaxis=count_axis(max(values)),
        yaxis={"type": "category", "autorange": "reversed", "automargin": True},
    )


@_built_once
def intents_per_week(stats: Stats) -> go.Figure | None:
    """Bars of intents created per ISO week (x = the week's Monday)."""
    weeks = sorted((w, n) for w, n in stats.intents_per_week if n)
    if not weeks:
        return None
    hover = [
        _("Week {week}").format(week=f"{w.isocalendar().year}-W{w.isocalendar().week:02d}")
        + f"<br>{fmt_date(w)} – {fmt_date(w + timedelta(days=6))}"
        for w, _n in weeks
    ]
    fig = go.Figure(
        go.Bar(
            x=[w for w, _n in weeks],
            y=[n for _w, n in weeks],
            width=[DAY_MS * 6] * len(weeks),
            marker_color="#3b82f6",
            customdata=hover,
            hovertemplate=_("%{customdata}<br>%{y:,d} intents") + "<extra></extra>",
        )
    )
    return _layout(
        fig,
        showlegend=False,
        meta={"category": "Week", "value": "Intents created"},
        xaxis=date_axis(weeks[0][0], weeks[-1][0], least=timedelta(weeks=6)),
        yaxis=count_axis(max(n for _w, n in weeks)),
    )


def series_frame(fig: go.Figure) -> pd.DataFrame:
    """The figure's aggregated series as a table (what its CSV download holds): one row per category
    (day, week, language, assistant), one column per trace (a status on the stacked chart, else the
    count).  Column names come from the builder's ``layout.meta``; full names replace shortened labels."""
    meta = dict(fig.layout.meta or {})
    category, value = meta.get("category", "Category"), meta.get("value", "Value")
    columns: dict[str, dict] = {}
    order: dict = {}  # every category, in the order first seen
    for trace in fig.data:
        if trace.type == "pie":
            keys, counts = trace.labels, trace.values
        elif trace.orientation == "h":
            keys, counts = trace.y, trace.x
        else:
            keys, counts = trace.x, trace.y
        if meta.get("labels") and len(fig.data) == 1:
            keys = meta["labels"]
        name = trace.meta if isinstance(trace.meta, str) else trace.name
        column = columns.setdefault(name if len(fig.data) > 1 and name else value, {})
        for key, count in zip(keys, counts, strict=True):
            order.setdefault(key)
            column[key] = column.get(key, 0) + int(count)
    order = sorted(order) if all(isinstance(k, date) for k in order) else list(order)
    frame = pd.DataFrame({category: order})
    for name, column in columns.items():
        frame[name] = [column.get(k, 0) for k in order]
    return frame
