"""The Delivery page's chart: outcomes per hour as SVG geometry, computed here and drawn by the template.

One row per series (sent, retried, dead), each labelled in text and filled with its own pattern, so
the chart reads without colour; the same numbers go into a table for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alertmail.domain.delivery_report import HourOutcomes

__all__ = ["SERIES", "Chart", "hourly_chart"]

SERIES = (("sent", "Sent"), ("retried", "Retried"), ("dead", "Dead"))
WIDTH = 720
LABEL_WIDTH = 70
ROW_HEIGHT = 60
ROW_GAP = 14
AXIS_HEIGHT = 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # the bar's tooltip and accessible name: hour and count


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    top: float
    peak: int
    total: int
    bars: Sequence[Bar]


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    rows: Sequence[Row]
    ticks: Sequence[Tick]  # one at the start of each day
    axis_y: float
    busy_hours: Sequence[HourOutcomes]  # the table's rows: hours with at least one message


def hourly_chart(hours: Sequence[HourOutcomes], *, per_day: bool = False) -> Chart:
    """The chart of `hours` (each an hour, or each a day when `per_day`), a tick at each day or week."""
    slot = (WIDTH - LABEL_WIDTH) / max(1, len(hours))
    rows = [
        _row(name, label, index * (ROW_HEIGHT + ROW_GAP), hours, slot, per_day)
        for index, (name, label) in enumerate(SERIES)
    ]
    axis_y = len(SERIES) * (ROW_HEIGHT + ROW_GAP)
    ticks = [
        Tick(LABEL_WIDTH + n * slot, f"{hour.hour:%b %d}")
        for n, hour in enumerate(hours)
        if (hour.hour.weekday() == 0 if per_day else hour.hour.hour == 0)
    ]
    busy = [h for h in hours if h.sent or h.retried or h.dead]
    return Chart(WIDTH, int(axis_y + AXIS_HEIGHT), LABEL_WIDTH, rows, ticks, axis_y, busy)


def _row(name: str, label: str, top: float, hours: Sequence[HourOutcomes], slot: float, per_day: bool) -> Row:
    counts = [int(getattr(hour, name)) for hour in hours]
    peak = max(counts, default=0)
    bars = []
    for n, (hour, count) in enumerate(zip(hours, counts, strict=True)):
        if count == 0:
            continue
        height = max(2.0, ROW_HEIGHT * count / peak)
        when = f"{hour.hour:%Y-%m-%d}" if per_day else f"{hour.hour:%Y-%m-%d %H}:00 UTC"
        title = f"{when}: {count} {label.lower()}"
        bars.append(
            Bar(LABEL_WIDTH + n * slot, top + ROW_HEIGHT - height, max(1.0, slot - 0.5), height, title)
        )
    return Row(name, label, top, peak, sum(counts), bars)
