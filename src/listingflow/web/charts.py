"""Server-side SVG chart geometry (grouped bars per day); the template draws the shapes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from listingflow.dashboard.schemas import DayActivity

SERIES = (
    ("imports", "Imports", "#1e88e5"),
    ("optimizations", "Optimizations", "#43a047"),
    ("publications", "Publications", "#fb8c00"),
)
WIDTH, HEIGHT = 720, 240
LEFT, BOTTOM, TOP = 40, 28, 10


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal grid lines
    labels: list[tuple[float, str]]  # (x, text) under the groups
    legend: Sequence[tuple[str, str]]
    baseline: float
    empty: bool


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def activity_chart(days: Sequence[DayActivity]) -> Chart:
    peak = max((getattr(d, key) for d in days for key, _, _ in SERIES), default=0)
    top = _nice_max(peak)
    plot_h = HEIGHT - BOTTOM - TOP
    group_w = (WIDTH - LEFT) / max(len(days), 1)
    bar_w = group_w * 0.8 / len(SERIES)
    bars = []
    labels = []
    for i, day in enumerate(days):
        x0 = LEFT + i * group_w + group_w * 0.1
        for j, (key, name, color) in enumerate(SERIES):
            value = getattr(day, key)
            h = plot_h * value / top
            bars.append(
                Bar(
                    x=round(x0 + j * bar_w, 1),
                    y=round(TOP + plot_h - h, 1),
                    width=round(bar_w - 1, 1),
                    height=round(h, 1),
                    color=color,
                    label=f"{day.day}: {value} {name.lower()}",
                )
            )
        if len(days) <= 14 or i % 2 == 0:
            labels.append((round(LEFT + i * group_w + group_w / 2, 1), day.day[5:]))
    ticks = [(round(TOP + plot_h - plot_h * k / 4, 1), top * k // 4) for k in range(5)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        ticks=ticks,
        labels=labels,
        legend=[(name, color) for _, name, color in SERIES],
        baseline=TOP + plot_h,
        empty=peak == 0,
    )
