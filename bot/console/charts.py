"""Bar charts as plain numbers for an inline SVG: the template draws them, with a text
table beside each, so nothing depends on seeing the picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROW = 32  # px a bar's row takes
BAR = 22  # px a bar is high
LABEL_WIDTH = 150
BARS_WIDTH = 260
COUNT_WIDTH = 48
LABEL_CHARACTERS = 18  # longer labels are shortened in the picture; the table has them whole


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    y: int
    width: int


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR

    @property
    def summary(self) -> str:
        """The chart in words, for people who can't see it."""
        return "; ".join(f"{b.label}: {b.count}" for b in self.bars)


def bar_chart(distribution: Sequence[tuple[str, int]]) -> BarChart:
    most = max((n for _, n in distribution), default=0) or 1
    bars = tuple(
        Bar(_short(label), count, i * ROW, round(BARS_WIDTH * count / most))
        for i, (label, count) in enumerate(distribution)
    )
    return BarChart(bars, LABEL_WIDTH + BARS_WIDTH + COUNT_WIDTH, max(ROW, len(bars) * ROW))


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"
