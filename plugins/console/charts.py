"""Charts drawn on the server as inline SVG: no script, nothing to download.

Each chart comes with its figures as a table in the page (screen readers and people
who would rather read get the same numbers); the SVG carries a ``<title>`` and
``role="img"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

#: the chart's drawing area in SVG units (it scales to the page's width)
WIDTH, BAR_HEIGHT, GAP, LABEL_WIDTH = 640, 22, 8, 220


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    #: the bar's length, 0..1 of the widest
    share: float
    text: str


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int
    gap: int

    @property
    def plot_width(self) -> int:
        return self.width - self.label_width - 90


def _figure(value: float, unit: str) -> str:
    if unit == "h" and value < 1:
        return f"{round(value * 60)} min"
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if unit != "" else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def bar_chart(points: list[tuple[str, float]], *, unit: str = "", title: str = "") -> BarChart:
    """Horizontal bars, one per ``(label, value)``, scaled to the largest value."""
    top = max((value for _label, value in points), default=0.0) or 1.0
    bars = [Bar(label, value, max(0.0, value) / top, _figure(value, unit)) for label, value in points]
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP)
    return BarChart(title, bars, WIDTH, height, LABEL_WIDTH, BAR_HEIGHT, GAP)


@dataclass(frozen=True)
class Column:
    label: str
    #: stacked parts: (series, amount, top y, height) in SVG units
    parts: list[tuple[str, Decimal, float, float]]
    total: Decimal
    x: float
    #: the label is drawn under the column (every few columns when there are many)
    labelled: bool = True


@dataclass(frozen=True)
class ColumnChart:
    title: str
    columns: list[Column]
    series: list[str]
    width: int
    height: int
    column_width: float
    top: Decimal
    #: room under the columns for their labels, in SVG units
    label_height: int = 0

    def series_class(self, name: str) -> str:
        """The CSS class that colours a series (``series-0`` .. ``series-5``, then again)."""
        return f"series-{self.series.index(name) % SERIES_COLOURS}"


#: the colours console.css has for a chart's series
SERIES_COLOURS = 6
#: at most this many column labels are drawn (e.g. every third day of 30)
MAX_LABELS = 10


def column_chart(
    days: list[tuple[str, dict[str, Decimal]]],
    *,
    title: str,
    height: int = 220,
    width: int = 720,
    short: Callable[[str], str] = str,
) -> ColumnChart:
    """Stacked columns, one per day, a part per series (e.g. fee income by kind).

    Negative amounts (refunds) are drawn as nothing (the table under the chart has the
    figures); ``short`` shortens the labels drawn under the columns (``2026-01-05`` →
    ``01-05``), of which at most :data:`MAX_LABELS` are drawn, evenly spaced."""
    series = sorted({name for _day, parts in days for name in parts})
    totals = [sum(parts.values(), Decimal(0)) for _day, parts in days]
    tallest = [
        sum((max(amount, Decimal(0)) for amount in parts.values()), Decimal(0)) for _day, parts in days
    ]
    top = max(tallest, default=Decimal(0)) or Decimal(1)
    slot = width / max(1, len(days))
    every = max(1, -(-len(days) // MAX_LABELS))
    columns = []
    for index, (day, parts) in enumerate(days):
        y = float(height)
        stacked = []
        for name in series:
            amount = parts.get(name, Decimal(0))
            size = float(max(amount, Decimal(0)) / top) * (height - 10)
            y -= size
            stacked.append((name, amount, y, size))
        labelled = index % every == 0
        columns.append(Column(short(day), stacked, totals[index], index * slot + slot * 0.15, labelled))
    return ColumnChart(title, columns, series, width, height, slot * 0.7, top, label_height=24)
