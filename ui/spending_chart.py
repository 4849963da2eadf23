"""The spending view's bar chart, drawn by pyqtgraph.

Imported only when the view opens (ui/spending.py), so the window's start never
pays for pyqtgraph. Days are columns in time order; projects, models and roles
are rows, costliest on top, each labelled with what it cost in words ("free",
"price unknown (2 calls)"), so a zero-length bar still says why.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")  # the app's binding, whatever else is installed

import pyqtgraph as pg  # noqa: E402
from PySide6.QtGui import QColor, QFontMetrics, QPalette  # noqa: E402
from PySide6.QtWidgets import QSizePolicy  # noqa: E402

from ui import theme  # noqa: E402

UNKNOWN = "price unknown"
UNPRICED_MARK = "?"
"""Drawn on a day's column when some of its calls have no known price."""

MAX_LABEL = 28
"""Longer category names are cut in the chart (the table has them whole)."""


@dataclass(frozen=True)
class Bar:
    """One group as the chart draws it."""

    label: str
    """The day, project, model or role."""
    cost: float
    """US dollars: the bar's length."""
    words: str
    """The cost as the table says it ("$0.0123", "free", "price unknown (2 calls)")."""
    colour: str
    """The bar's colour (#rrggbb)."""


class DollarAxis(pg.AxisItem):
    """An axis whose numbers are dollars ("$0.25"), never SI-scaled ("250 (x0.001)")."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):  # type: ignore[no-untyped-def]  # noqa: N802 - pyqtgraph's name
        places = 0 if spacing >= 1 else max(2, math.ceil(-math.log10(spacing)))
        return [f"${v * scale:,.{places}f}" for v in values]


class SpendingChart(pg.PlotWidget):
    """Cost per group as bars, in the application's light or dark palette."""

    def __init__(self) -> None:
        super().__init__(enableMenu=False,
                         axisItems={"left": DollarAxis("left"), "bottom": DollarAxis("bottom")})
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(180)
        self.plotItem.hideButtons()
        self.plotItem.setMouseEnabled(x=False, y=False)  # a picture of numbers, not an instrument
        self.plotItem.getViewBox().setDefaultPadding(0.02)
        self._bars: tuple[Bar, ...] = ()
        self._by_day = True
        self._ready = True  # Qt sends palette changes while PlotWidget is still being built
        self._apply_palette()

    def show_bars(self, bars: Sequence[Bar], by_day: bool) -> None:
        """Draw `bars`: columns over time when `by_day`, else rows costliest on top."""
        self._bars, self._by_day = tuple(bars), by_day
        self._draw()

    def bar_labels(self) -> list[str]:
        """The labels drawn, in order (for tests)."""
        return [bar.label for bar in self._bars]

    def _draw(self) -> None:
        self.plotItem.clear()
        if not self._bars:
            return
        if self._by_day:
            self._draw_columns()
        else:
            self._draw_rows()

    def _draw_columns(self) -> None:
        bars = self._bars
        heights = [b.cost for b in bars]
        item = pg.BarGraphItem(x=list(range(len(bars))), height=heights, width=0.7,
                               brushes=[QColor(b.colour) for b in bars], pen=pg.mkPen(None))
        self.plotItem.addItem(item)
        for x, bar in enumerate(bars):
            if UNKNOWN in bar.words:  # some of the day's calls have no price: the bar is short
                mark = pg.TextItem(UNPRICED_MARK, color=self._text_colour, anchor=(0.5, 1))
                mark.setPos(x, bar.cost)
                self.plotItem.addItem(mark)
        step = max(1, len(bars) // 8)  # about eight dates fit under any width
        ticks = [(i, _short_day(b.label)) for i, b in enumerate(bars) if i % step == 0]
        self.getAxis("bottom").setTicks([ticks])
        left = self.getAxis("left")
        left.setTicks(None)
        left.setWidth(QFontMetrics(self.font()).horizontalAdvance("$0,000.00") + 12)
        self.plotItem.setXRange(-0.6, len(bars) - 0.4, padding=0)
        self.plotItem.setYRange(0, max(max(heights), 1e-9) * 1.1, padding=0)
        self.plotItem.showGrid(x=False, y=True, alpha=0.15)

    def _draw_rows(self) -> None:
        bars = self._bars
        n = len(bars)
        ys = [n - 1 - i for i in range(n)]  # the costliest on top
        widths = [b.cost for b in bars]
        item = pg.BarGraphItem(x0=[0] * n, y=ys, height=0.6, width=widths,
                               brushes=[QColor(b.colour) for b in bars], pen=pg.mkPen(None))
        self.plotItem.addItem(item)
        longest = max(widths) or 1.0
        for y, bar in zip(ys, bars, strict=True):
            text = pg.TextItem(bar.words, color=self._text_colour, anchor=(0, 0.5))
            text.setPos(bar.cost + longest * 0.01, y)
            self.plotItem.addItem(text)
        labels = [(y, _cut(b.label)) for y, b in zip(ys, bars, strict=True)]
        left = self.getAxis("left")
        left.setTicks([labels])
        left.setLabel(None)
        left.setWidth(min(260, max(QFontMetrics(self.font()).horizontalAdvance(t) for _, t in labels) + 16))
        self.getAxis("bottom").setTicks(None)
        # room on the right for the words after the longest bar
        self.plotItem.setXRange(0, longest * 1.45, padding=0)
        self.plotItem.setYRange(-0.6, n - 0.4, padding=0)
        self.plotItem.showGrid(x=False, y=False)  # each bar says its amount

    def _apply_palette(self) -> None:
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        self._text_colour = palette.color(QPalette.ColorRole.Text)
        self.setBackground(base)
        axis_pen = pg.mkPen(theme.dim_text_colour())
        for name in ("left", "bottom"):
            axis = self.getAxis(name)
            axis.setPen(axis_pen)
            axis.setTextPen(pg.mkPen(self._text_colour))
        self._draw()

    def changeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if getattr(self, "_ready", False) and event.type() in (
                event.Type.PaletteChange, event.Type.ApplicationPaletteChange):
            self._apply_palette()  # light <-> dark while open


def _short_day(day: str) -> str:
    """"2026-12-07" -> "Dec 7" (the year is in the period chooser)."""
    import datetime as dt  # noqa: PLC0415

    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        return day
    return f"{date:%b} {date.day}"


def _cut(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def bar_colour(by: str, key: str) -> str:
    """A role's own colour; one accent colour for days, projects and models."""
    if by == "role":
        return theme.css(theme.role_colour(key))
    return theme.css(theme.palette_colour(QPalette.ColorRole.Highlight))


__all__ = ["UNPRICED_MARK", "Bar", "SpendingChart", "bar_colour"]
