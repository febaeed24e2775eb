"""Charts drawn on the server as inline SVG: no script, nothing to download.

Each chart comes with its figures as a table in the page (screen readers and people
who would rather read get the same numbers); the SVG carries a ``<title>`` and
``role="img"``.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class ColumnChart:
    title: str
    columns: list[Column]
    series: list[str]
    width: int
    height: int
    column_width: float
    top: Decimal


def column_chart(
    days: list[tuple[str, dict[str, Decimal]]], *, title: str, height: int = 220, width: int = 720
) -> ColumnChart:
    """Stacked columns, one per day, a part per series (e.g. fee income by kind)."""
    series = sorted({name for _day, parts in days for name in parts})
    totals = [sum(parts.values(), Decimal(0)) for _day, parts in days]
    top = max(totals, default=Decimal(0)) or Decimal(1)
    slot = width / max(1, len(days))
    columns = []
    for index, (day, parts) in enumerate(days):
        y = float(height)
        stacked = []
        for name in series:
            amount = parts.get(name, Decimal(0))
            size = float(max(amount, Decimal(0)) / top) * (height - 10)
            y -= size
            stacked.append((name, amount, y, size))
        columns.append(Column(day, stacked, totals[index], index * slot + slot * 0.15))
    return ColumnChart(title, columns, series, width, height, slot * 0.7, top)
