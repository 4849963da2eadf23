"""The spending view (View › Spending): where the money went over a period, by day,
project, model or role, as a chart with the table under it and the costliest runs.

The numbers are `troupe usage`'s (app/usage.py): the view gets a `load(period, by)`
that returns a UsageReport and never touches storage itself. pyqtgraph is
imported when the view is built (ui/spending_chart.py), not at the window's start.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.usage import PERIODS, UsageReport, money

if TYPE_CHECKING:
    from ui.spending_chart import Bar

log = logging.getLogger(__name__)

BY = {"day": "Day", "project": "Project", "model": "Model", "role": "Role"}
"""What the spending can be grouped by, as the chooser says it."""

RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1

Loader = Callable[[str, str], UsageReport]
"""(period key of app.usage.PERIODS, group-by key) -> the report."""


def _table(headers: list[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)  # the name or the goal
    return table


def _cell(text: str, right: bool = False, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tip:
        item.setToolTip(tip)
    return item


class SpendingView(QWidget):
    """A window of its own: period and grouping choosers, the chart, the table, the top runs.

    `runOpened(run_id)` asks the main window to show a run (double-click in the top runs).
    """

    runOpened = Signal(str)

    def __init__(self, load: Loader, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Spending — Troupe")
        self._load = load
        self.report: UsageReport | None = None
        self.chart_problem: str | None = None
        """Why the chart could not be drawn (pyqtgraph missing); None when it is."""
        self.period = QComboBox()
        for key, label in PERIODS.items():
            self.period.addItem(label, key)
        self.period.setCurrentIndex(list(PERIODS).index("30d"))
        self.by = QComboBox()
        for key, label in BY.items():
            self.by.addItem(label, key)
        self.total = QLabel()
        self.total.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chart = self._make_chart()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(placeholder-text);")
        self.empty = QLabel("No model calls in this period.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
        self.table = _table(["Day", "Calls", "Tokens", "Cost"], stretch=0)
        self.runs = _table(["Cost", "Date", "Project", "Goal"], stretch=3)
        self.runs.setToolTip("Double-click a run to open it in the main window")
        self._build()
        self.period.currentIndexChanged.connect(self._on_choice_changed)
        self.by.currentIndexChanged.connect(self._on_choice_changed)
        self.runs.itemDoubleClicked.connect(self._on_run_double_clicked)
        self.resize(980, 720)
        self.refresh()

    def _make_chart(self) -> QWidget:
        try:
            from ui.spending_chart import SpendingChart  # noqa: PLC0415 - pyqtgraph: only here

            return SpendingChart()
        except ImportError as exc:  # a broken install: the numbers are still in the table
            log.warning("the spending chart is unavailable: %s", exc)
            self.chart_problem = str(exc)
            label = QLabel(f"The chart could not be drawn ({exc}); the table below has the numbers.")
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label

    def _build(self) -> None:
        choosers = QHBoxLayout()
        for text, combo in (("Period:", self.period), ("By:", self.by)):
            choosers.addWidget(QLabel(text))
            choosers.addWidget(combo)
            choosers.addSpacing(12)
        choosers.addStretch(1)
        choosers.addWidget(self.total)
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.chart, 1)
        column.addWidget(self.note)
        column.addWidget(self.empty)
        bottom = QWidget()
        runs_column = QVBoxLayout(bottom)
        runs_column.setContentsMargins(0, 0, 0, 0)
        heading = QLabel("Top runs by cost")
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        runs_column.addWidget(heading)
        runs_column.addWidget(self.runs)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        for part, stretch in ((top, 5), (self.table, 3), (bottom, 3)):
            self.splitter.addWidget(part)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([500, 300, 300])  # proportions: the chart first
        layout = QVBoxLayout(self)
        layout.addLayout(choosers)
        layout.addWidget(self.splitter, 1)

    # --- choosing -------------------------------------------------------------------------

    def choose(self, period: str, by: str) -> None:
        """Show `period` (a key of app.usage.PERIODS) grouped by `by` (a key of BY)."""
        self.period.setCurrentIndex(self.period.findData(period))
        self.by.setCurrentIndex(self.by.findData(by))

    def refresh(self) -> None:
        """Read the chosen period again and show it."""
        self.report = self._load(self.period.currentData(), self.by.currentData())
        self._show(self.report)

    def _on_choice_changed(self, _index: int) -> None:
        self.refresh()

    def _on_run_double_clicked(self, item: QTableWidgetItem) -> None:
        cost = self.runs.item(item.row(), 0)
        run_id = cost.data(RUN_ID_ROLE) if cost is not None else None
        if run_id:
            self.runOpened.emit(run_id)

    # --- showing --------------------------------------------------------------------------

    def _show(self, report: UsageReport) -> None:
        has_calls = bool(report.rows)
        self.chart.setVisible(has_calls)
        self.empty.setVisible(not has_calls)
        self.total.setText(
            f"Total: <b>{money(report.cost, report.calls, report.unpriced_calls)}</b>"
            f" · {report.calls:,} calls · {report.total_tokens:,} tokens" if has_calls else "")
        mark = " (? on a day)" if report.by.value == "day" else ""
        self.note.setText(
            f"{report.unpriced_calls:,} calls went to models with no known price; they count as $0 "
            f"here{mark}. Set a price in Settings › Providers or with `troupe providers price`."
            if report.unpriced_calls else "")
        self.note.setVisible(bool(report.unpriced_calls))
        self._fill_table(report)
        self._fill_runs(report)
        self._draw(report)

    def _fill_table(self, report: UsageReport) -> None:
        self.table.setHorizontalHeaderItem(0, QTableWidgetItem(BY[report.by.value]))
        self.table.setRowCount(len(report.rows))
        for row, r in enumerate(report.rows):
            words = money(r.cost, r.calls, r.unpriced_calls)
            tip = "Some of these calls went to models with no known price: set one in " \
                  "Settings › Providers" if r.unpriced_calls else ""
            values = [_cell(r.key), _cell(f"{r.calls:,}", True), _cell(f"{r.total_tokens:,}", True),
                      _cell(words, True, tip)]
            for column, item in enumerate(values):
                self.table.setItem(row, column, item)

    def _fill_runs(self, report: UsageReport) -> None:
        self.runs.setRowCount(len(report.top_runs))
        for row, run in enumerate(report.top_runs):
            cost = _cell(money(run.cost, run.calls, run.unpriced_calls), True)
            cost.setData(RUN_ID_ROLE, run.id)
            goal = _cell(" ".join(run.goal.split()), tip=f"{run.goal}\n\nRun {run.id}")
            when = _cell(time.strftime("%Y-%m-%d", time.localtime(run.created)))
            for column, item in enumerate((cost, when, _cell(run.project), goal)):
                self.runs.setItem(row, column, item)

    def _draw(self, report: UsageReport) -> None:
        if not hasattr(self.chart, "show_bars"):
            return  # no pyqtgraph: the label says so
        from ui.spending_chart import Bar, bar_colour  # noqa: PLC0415

        by = report.by.value
        bars = [Bar(r.key, r.cost, money(r.cost, r.calls, r.unpriced_calls), bar_colour(by, r.key))
                for r in report.rows]
        if by == "day":
            bars = _every_day(bars, report.period.since, bar_colour(by, ""))
        self.chart.show_bars(bars, by_day=by == "day")

    # --- reading it back (tests, screenshots) ------------------------------------------------

    def table_rows(self) -> list[list[str]]:
        """The table's cells as shown."""
        return _texts(self.table)

    def run_rows(self) -> list[list[str]]:
        """The top runs' cells as shown."""
        return _texts(self.runs)


MAX_DAYS_DRAWN = 400
"""Past this many days (all time, over years) only the days with calls are drawn."""


def _every_day(bars: list[Bar], since: float | None, colour: str) -> list[Bar]:
    """One column per day from the period's start (or the first day with calls) to today,
    so that quiet days show as gaps, not as neighbours of the busy ones."""
    from ui.spending_chart import Bar  # noqa: PLC0415 - pyqtgraph: only once the view is open

    if not bars:
        return bars
    by_day = {bar.label: bar for bar in bars}
    first = dt.date.fromtimestamp(since) if since is not None else dt.date.fromisoformat(bars[0].label)
    last = max(dt.date.today(), dt.date.fromisoformat(bars[-1].label))
    if (last - first).days > MAX_DAYS_DRAWN:
        return bars
    days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return [by_day.get(d.isoformat()) or Bar(d.isoformat(), 0.0, "", colour) for d in days]


def _texts(table: QTableWidget) -> list[list[str]]:
    return [[cell.text() if (cell := table.item(r, c)) is not None else ""
             for c in range(table.columnCount())] for r in range(table.rowCount())]


__all__ = ["BY", "SpendingView"]
