"""Server-side SVG charts for the dashboard: the page needs no script to draw them.

Each chart is a plain description (bars, polylines, axis labels, and a data table as the
accessible fallback) that ``templates/_charts.html`` turns into an ``<svg class="chart">``
with a Chinese ``<title>`` and ``<desc>``. Coordinates are in the SVG's own viewBox; the CSS
scales it to the page width."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

WIDTH = 720
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 34
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
ROW_H = 34
"""Height of one row of a horizontal bar chart."""
LABEL_W = 110
"""Width of the row labels of a horizontal bar chart."""


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str
    """A class from insights.css (``s1`` … ``s4``): the series' colour."""
    percent: bool = False


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    css: str
    tip: str


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True, slots=True)
class Line:
    points: str
    css: str


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    css: str
    tip: str


@dataclass(slots=True)
class Chart:
    id: str
    title: str
    desc: str
    width: int = WIDTH
    height: int = HEIGHT
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)
    """y of the horizontal grid lines."""
    legend: list[tuple[str, str]] = field(default_factory=list)
    """(name, css class) per series."""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    """The data as a table: the fallback for screen readers and for copying."""

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 5 × 10ⁿ at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * exp:
            return float(step * exp)
    return float(10 * exp)


def _day_label(day: date) -> str:
    return f"{day.month}/{day.day}"


def _fmt(value: float | None, percent: bool) -> str:
    if value is None:
        return "—"
    return pct(value) if percent else f"{value:g}"


def _axis(chart: Chart, days: Sequence[date], top: float, percent: bool) -> None:
    for frac in (0.0, 0.5, 1.0):
        y = TOP + PLOT_H * (1 - frac)
        chart.grid.append(round(y, 1))
        label = f"{top * frac * 100:.0f}%" if percent else f"{top * frac:g}"
        chart.texts.append(Text(LEFT - 6, round(y + 4, 1), label, "end"))
    every = max(1, math.ceil(len(days) / 10))
    step = PLOT_W / max(len(days), 1)
    for i, day in enumerate(days):
        if i % every == 0:
            chart.texts.append(
                Text(round(LEFT + step * (i + 0.5), 1), HEIGHT - BOTTOM + 16, _day_label(day))
            )


def _table(chart: Chart, days: Sequence[date], series: Sequence[Series]) -> None:
    chart.headers = ["日期", *(s.name for s in series)]
    chart.rows = [
        [day.isoformat(), *(_fmt(s.values[i], s.percent) for s in series)]
        for i, day in enumerate(days)
    ]


def day_bars(
    chart_id: str, title: str, desc: str, days: Sequence[date], series: Sequence[Series]
) -> Chart:
    """Grouped bars per day, one bar per series."""
    chart = Chart(chart_id, title, desc, legend=[(s.name, s.css) for s in series])
    top = nice_max(max((v or 0 for s in series for v in s.values), default=0))
    _axis(chart, days, top, percent=False)
    slot = PLOT_W / max(len(days), 1)
    bar = slot * 0.8 / max(len(series), 1)
    for i, day in enumerate(days):
        for j, s in enumerate(series):
            value = s.values[i] or 0
            h = PLOT_H * value / top
            chart.rects.append(
                Rect(
                    round(LEFT + slot * i + slot * 0.1 + bar * j, 2),
                    round(TOP + PLOT_H - h, 2),
                    round(max(bar - 0.5, 0.5), 2),
                    round(h, 2),
                    s.css,
                    f"{day.isoformat()} {s.name}：{value:g}",
                )
            )
    _table(chart, days, series)
    return chart


def day_lines(
    chart_id: str, title: str, desc: str, days: Sequence[date], series: Sequence[Series]
) -> Chart:
    """Percentages per day as lines (0–100 %); a day without data breaks the line."""
    chart = Chart(chart_id, title, desc, legend=[(s.name, s.css) for s in series])
    _axis(chart, days, 1.0, percent=True)
    slot = PLOT_W / max(len(days), 1)
    for s in series:
        run: list[str] = []
        for i, day in enumerate(days):
            value = s.values[i]
            if value is None:
                if len(run) > 1:
                    chart.lines.append(Line(" ".join(run), s.css))
                run = []
                continue
            x = round(LEFT + slot * (i + 0.5), 2)
            y = round(TOP + PLOT_H * (1 - value), 2)
            run.append(f"{x},{y}")
            chart.dots.append(Dot(x, y, s.css, f"{day.isoformat()} {s.name}：{pct(value)}"))
        if len(run) > 1:
            chart.lines.append(Line(" ".join(run), s.css))
    _table(chart, days, series)
    return chart


@dataclass(frozen=True, slots=True)
class HRow:
    label: str
    value: float
    """Bar length as a fraction of the full width (0–1)."""
    text: str
    css: str


def hbars(chart_id: str, title: str, desc: str, rows: Sequence[HRow], headers: list[str]) -> Chart:
    """One horizontal bar per row (rates, or counts scaled to the largest)."""
    height = TOP + ROW_H * max(len(rows), 1) + 8
    chart = Chart(chart_id, title, desc, height=height)
    full = WIDTH - LABEL_W - RIGHT - 150
    for i, row in enumerate(rows):
        y = TOP + ROW_H * i
        w = round(full * max(0.0, min(row.value, 1.0)), 2)
        chart.texts.append(Text(LABEL_W - 8, y + ROW_H / 2 + 2, row.label, "end"))
        chart.rects.append(Rect(LABEL_W, y + 6, full, ROW_H - 14, "track", row.text))
        if w > 0:
            chart.rects.append(Rect(LABEL_W, y + 6, w, ROW_H - 14, row.css, row.text))
        chart.texts.append(Text(LABEL_W + full + 8, y + ROW_H / 2 + 2, row.text, "start"))
    chart.headers = headers
    chart.rows = [[r.label, r.text] for r in rows]
    return chart
