"""TimelineWidget: a Gantt chart of a run, painted with QPainter.

One row per task (plan order, groups indented), a bar from start to finish
coloured by agent, ongoing bars growing with the clock, a sticky time axis on
top and task titles on the left. The whole run is scaled to the width, so
only rows scroll. Only the visible rows are painted, so 300+ tasks are cheap.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QToolTip, QWidget

from agents.events import RunEvent
from agents.run.state import TaskStatus
from ui import theme
from ui.run_view import format as fmt
from ui.run_view.model import RunModel, TaskRow
from ui.run_view.sub_bars import COLOUR_KEYS, SubBar, sub_bars

ROW_H = 26
AXIS_H = 28
BAR_H = 14
GROUP_BAR_H = 6
STEP_STRIP_H = 6
"""The steps' sub-bars under a task's bar (the bar moves up to make room)."""
INDENT = 14
MIN_SPAN = 10.0
"""Seconds: the narrowest time range the chart shows."""
MAX_TICKS = 200
TICK_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
MIN_TICK_PX = 64
REPAINT_MS = 250
"""How often ongoing bars grow."""

Bar = tuple[str, float, float | None, str]


class TimelineWidget(QAbstractScrollArea):
    """The run as a Gantt chart; `bars()` gives what is drawn."""

    taskSelected = Signal(str)
    """A row was clicked or chosen with the arrow keys (its task id)."""

    def __init__(
        self,
        model: RunModel | None = None,
        parent: QWidget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.model = model if model is not None else RunModel()
        self._clock = clock
        self._rows: list[TaskRow] = []
        self._revision = -1
        self._selected: str | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Run timeline")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QAbstractScrollArea.Shape.StyledPanel)
        self.viewport().setMouseTracking(True)
        self.viewport().setBackgroundRole(QPalette.ColorRole.Base)
        self.verticalScrollBar().setSingleStep(ROW_H)
        self._ticker = QTimer(self)
        self._ticker.setInterval(REPAINT_MS)
        self._ticker.timeout.connect(self.viewport().update)
        self.refresh()

    # --- feeding ----------------------------------------------------------------

    def apply_event(self, event: RunEvent) -> None:
        """Fold an event into the model and repaint (standalone use)."""
        if self.model.apply(event):
            self.refresh()

    def refresh(self) -> None:
        """Re-read the model (after it changed) and schedule a repaint."""
        if self._revision != self.model.revision:
            self._revision = self.model.revision
            self._rows = list(self.model.rows.values())
            self._update_scrollbar()
        growing = self.model.live and bool(self._rows)
        if growing and not self._ticker.isActive():
            self._ticker.start()
        elif not growing:
            self._ticker.stop()
        self.viewport().update()

    # --- reading -----------------------------------------------------------------

    def bars(self) -> list[Bar]:
        """[(task_id, start, end_or_None, agent)] of every task that started."""
        return [(r.task_id, r.started, r.finished, r.agent) for r in self._rows if r.started is not None]

    def step_bars(self, task_id: str) -> list[SubBar]:
        """The sub-bars drawn for a task's steps (binned past a few dozen)."""
        row = self.model.rows.get(task_id)
        return sub_bars(row.steps.values(), self._now()) if row is not None else []

    def content_height(self) -> int:
        """Pixels needed to show every row without scrolling."""
        return AXIS_H + len(self.model.rows) * ROW_H + 2 * self.frameWidth() + 2

    def selected_task(self) -> str | None:
        return self._selected

    def select_task(self, task_id: str | None) -> None:
        if task_id == self._selected:
            return
        self._selected = task_id
        index = self._row_index(task_id)
        if index is not None:
            self._ensure_visible(index)
        self.viewport().update()

    def time_range(self) -> tuple[float, float]:
        """(t0, t1): the epoch seconds at the left and right edge of the plot."""
        starts = [r.started for r in self._rows if r.started is not None]
        t0 = self.model.started if self.model.started is not None else min(starts, default=0.0)
        if starts:
            t0 = min(t0, min(starts))
        ends = [r.finished for r in self._rows if r.finished is not None]
        t1 = max(ends + starts, default=t0)
        if any(self._ongoing(r) for r in self._rows) or self._live():
            t1 = max(t1, self._now())
        if self.model.finished is not None:
            t1 = max(t1, self.model.finished)
        span = max(t1 - t0, MIN_SPAN) * 1.03
        return t0, t0 + span

    # --- geometry -----------------------------------------------------------------

    def _label_width(self) -> int:
        return int(min(280, max(150, self.viewport().width() * 0.26)))

    def _plot(self) -> tuple[float, float]:
        left = self._label_width() + 8
        right = self.viewport().width() - 14
        return left, max(left + 10, right)

    def _x(self, t: float, t0: float, scale: float, left: float) -> float:
        return left + (t - t0) * scale

    def _row_at(self, y: float) -> int | None:
        if y < AXIS_H:
            return None
        index = int((y - AXIS_H + self.verticalScrollBar().value()) // ROW_H)
        return index if 0 <= index < len(self._rows) else None

    def _row_index(self, task_id: str | None) -> int | None:
        for i, row in enumerate(self._rows):
            if row.task_id == task_id:
                return i
        return None

    def _ensure_visible(self, index: int) -> None:
        bar = self.verticalScrollBar()
        top, height = index * ROW_H, self.viewport().height() - AXIS_H
        if top < bar.value():
            bar.setValue(top)
        elif top + ROW_H > bar.value() + height:
            bar.setValue(top + ROW_H - height)

    def _update_scrollbar(self) -> None:
        height = max(0, self.viewport().height() - AXIS_H)
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, len(self._rows) * ROW_H - height))
        bar.setPageStep(max(ROW_H, height))

    def _live(self) -> bool:
        return self.model.live

    def _now(self) -> float:
        """The clock while the run is live; else when it ended (or its last event)."""
        if self._live():
            return self._clock()
        end = self.model.finished if self.model.finished is not None else self.model.last_ts
        return end if end is not None else self._clock()

    def _ongoing(self, row: TaskRow) -> bool:
        return row.started is not None and row.finished is None

    # --- Qt events ------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_scrollbar()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    def sizeHint(self):  # noqa: ANN201 - QSize
        size = super().sizeHint()
        size.setWidth(720)
        size.setHeight(AXIS_H + ROW_H * 10)
        return size

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            self._show_tooltip(event)  # type: ignore[arg-type]
            return True
        return super().viewportEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self._row_at(event.position().y())
        if index is not None and event.button() == Qt.MouseButton.LeftButton:
            self._choose(index)
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1}.get(Qt.Key(event.key()))
        if step is None or not self._rows:
            super().keyPressEvent(event)
            return
        current = self._row_index(self._selected)
        index = 0 if current is None else min(len(self._rows) - 1, max(0, current + step))
        self._choose(index)

    def _choose(self, index: int) -> None:
        task_id = self._rows[index].task_id
        self.select_task(task_id)
        self.taskSelected.emit(task_id)

    def _show_tooltip(self, event: QHelpEvent) -> None:
        index = self._row_at(event.pos().y())
        if index is None:
            QToolTip.hideText()
            return
        QToolTip.showText(event.globalPos(), self.tooltip_for(self._rows[index].task_id), self.viewport())

    def tooltip_for(self, task_id: str) -> str:
        """The rich-text tooltip of a task's row."""
        index = self._row_index(task_id)
        if index is None:
            return ""
        row = self._rows[index]
        t0, _t1 = self.time_range()
        lines = [f"<b>{html.escape(row.title)}</b> <span>({html.escape(row.task_id)})</span>"]
        status = fmt.waiting(row.waiting_for) if row.waiting_for else theme.status_label(row.status)
        lines.append(f"{html.escape(row.agent or 'group')} · {html.escape(status)}")
        if row.started is not None:
            now = self._now()
            worked = row.duration(now) or 0.0
            end = row.finished if row.finished is not None else now
            waited = max(0.0, end - row.started - worked)  # rate-limit waits are not its duration
            lines.append(f"started at +{fmt.duration(row.started - t0)}, took {fmt.took(worked, waited)}"
                         + ("" if row.finished is not None else " so far"))
        if row.attempts > 1 or row.retries:
            lines.append(f"attempts: {max(row.attempts, len(row.retries) + 1)}")
        if row.tokens:
            lines.append(f"{fmt.tokens(row.tokens)} tokens, {fmt.cost(row.cost)}")
        if row.error and row.status is not TaskStatus.COMPLETED:
            colour = theme.FAILED_COLOUR if row.status is TaskStatus.FAILED else ""
            style = f' style="color:{colour}"' if colour else ""
            lines.append(f"<span{style}>{html.escape(row.error[:300])}</span>")
        return "<br>".join(lines)

    # --- painting -------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = self.viewport().width()
        height = self.viewport().height()
        t0, t1 = self.time_range()
        left, right = self._plot()
        scale = (right - left) / (t1 - t0)
        ticks = self._ticks(t0, t1, scale)
        pal = self.palette()
        grid = theme.mix(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text), 0.09)
        if not self._rows:
            painter.setPen(theme.dim_text_colour())
            painter.drawText(QRectF(0, AXIS_H, width, height - AXIS_H), Qt.AlignmentFlag.AlignCenter,
                             "The timeline fills in as tasks start.")
        first = self.verticalScrollBar().value() // ROW_H
        offset = AXIS_H - self.verticalScrollBar().value()
        last = min(len(self._rows), first + (height - AXIS_H) // ROW_H + 2)
        painter.setClipRect(QRectF(0, AXIS_H, width, height - AXIS_H))
        bottom = min(height, offset + len(self._rows) * ROW_H)
        for index in range(first, last):
            self._paint_row_background(painter, index, offset + index * ROW_H, width)
        painter.setPen(QPen(grid, 1))
        painter.drawLine(QPointF(left - 8.5, AXIS_H), QPointF(left - 8.5, height))
        for t, _label in ticks:
            x = self._x(t, t0, scale, left)
            painter.drawLine(QPointF(x, AXIS_H), QPointF(x, bottom))
        for index in range(first, last):
            self._paint_row(painter, index, offset + index * ROW_H, t0, scale, left)
        if self._live() and self._rows:
            x = self._x(self._now(), t0, scale, left)
            now_pen = QPen(pal.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DashLine)
            painter.setPen(now_pen)
            painter.drawLine(QPointF(x, AXIS_H), QPointF(x, bottom))
        painter.setClipping(False)
        self._paint_axis(painter, width, ticks, t0, scale, left, grid)
        painter.end()

    def _ticks(self, t0: float, t1: float, scale: float) -> list[tuple[float, str]]:
        step = next((s for s in TICK_STEPS if s * scale >= MIN_TICK_PX), TICK_STEPS[-1])
        while (t1 - t0) / step > MAX_TICKS:  # a span beyond the table (days of a stale run)
            step *= 2
        out, k = [], 0
        while t0 + k * step <= t1 + 1e-9:
            out.append((t0 + k * step, fmt.offset(k * step)))
            k += 1
        return out

    def _paint_axis(self, painter: QPainter, width: int, ticks: list[tuple[float, str]],
                    t0: float, scale: float, left: float, grid: QColor) -> None:
        pal = self.palette()
        painter.fillRect(QRectF(0, 0, width, AXIS_H), pal.color(QPalette.ColorRole.Window))
        painter.setPen(QPen(grid.darker(115), 1))
        painter.drawLine(QPointF(0, AXIS_H - 0.5), QPointF(width, AXIS_H - 0.5))
        painter.setPen(theme.dim_text_colour())
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        done, total = self.model.counts()[:2]
        painter.drawText(QRectF(10, 0, self._label_width(), AXIS_H),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         f"Tasks ({done}/{total} done)")
        right_edge = width - 4
        for t, label in ticks:
            x = self._x(t, t0, scale, left)
            w = metrics.horizontalAdvance(label)
            lx = min(max(x - w / 2, left - 2), right_edge - w)
            painter.drawText(QPointF(lx, AXIS_H / 2 + metrics.ascent() / 2 - 1), label)

    def _paint_row_background(self, painter: QPainter, index: int, y: float, width: int) -> None:
        pal = self.palette()
        if self._rows[index].task_id == self._selected:
            highlight = QColor(pal.color(QPalette.ColorRole.Highlight))
            highlight.setAlphaF(0.22)
            painter.fillRect(QRectF(0, y, width, ROW_H), highlight)
        elif index % 2:
            base = pal.color(QPalette.ColorRole.Base)
            painter.fillRect(QRectF(0, y, width, ROW_H), theme.mix(base, pal.color(QPalette.ColorRole.Text), 0.03))

    def _paint_row(self, painter: QPainter, index: int, y: float, t0: float, scale: float, left: float) -> None:
        row = self._rows[index]
        self._paint_label(painter, row, y)
        if row.started is None:
            self._paint_no_bar(painter, row, y, left)
            return
        end = row.finished if row.finished is not None else max(self._now(), row.started)
        x0 = self._x(row.started, t0, scale, left)
        x1 = max(x0 + 3, self._x(end, t0, scale, left))
        if row.is_group:
            self._paint_group_bar(painter, row, x0, x1, y)
        else:
            self._paint_bar(painter, row, x0, x1, y, t0, scale, left)

    def _paint_label(self, painter: QPainter, row: TaskRow, y: float) -> None:
        x = 10 + row.depth * INDENT
        colour = theme.role_colour(row.agent or "orchestrator")
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour if not row.is_group else Qt.BrushStyle.NoBrush)
        if row.is_group:
            painter.setPen(QPen(colour, 1.5))
        painter.drawEllipse(QRectF(x, y + ROW_H / 2 - 4, 8, 8))
        font = QFont(self.font())
        font.setBold(row.is_group)
        painter.setFont(font)
        if row.status is TaskStatus.FAILED:
            painter.setPen(QColor(theme.FAILED_COLOUR))
        elif row.status in (TaskStatus.BLOCKED, TaskStatus.SKIPPED, TaskStatus.CANCELLED):
            painter.setPen(theme.dim_text_colour())
        else:
            painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        avail = self._label_width() - x - 14
        text = QFontMetrics(font).elidedText(row.title, Qt.TextElideMode.ElideRight, int(avail))
        painter.drawText(QRectF(x + 14, y, avail, ROW_H),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)

    def _paint_no_bar(self, painter: QPainter, row: TaskRow, y: float, left: float) -> None:
        notes = {
            TaskStatus.WAITING_APPROVAL: "waiting for approval",
            TaskStatus.BLOCKED: "blocked",
            TaskStatus.SKIPPED: "skipped",
            TaskStatus.CANCELLED: "cancelled",
            TaskStatus.FAILED: "failed",
        }
        note = notes.get(row.status)
        if not note:
            return
        font = QFont(self.font())
        font.setItalic(True)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        painter.setPen(theme.status_colour(row.status) if row.status in
                       (TaskStatus.WAITING_APPROVAL, TaskStatus.FAILED) else theme.dim_text_colour())
        painter.drawText(QRectF(left + 4, y, 300, ROW_H),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, note)

    def _paint_group_bar(self, painter: QPainter, row: TaskRow, x0: float, x1: float, y: float) -> None:
        colour = theme.dim_text_colour()
        if row.status is TaskStatus.FAILED:
            colour = QColor(theme.FAILED_COLOUR)
        top = y + (ROW_H - GROUP_BAR_H) / 2
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRect(QRectF(x0, top, x1 - x0, GROUP_BAR_H / 2))
        painter.drawRect(QRectF(x0, top, 2, GROUP_BAR_H))
        painter.drawRect(QRectF(x1 - 2, top, 2, GROUP_BAR_H))

    def _paint_bar(self, painter: QPainter, row: TaskRow, x0: float, x1: float, y: float,
                   t0: float, scale: float, left: float) -> None:
        colour = theme.role_colour(row.agent)
        top = y + (ROW_H - BAR_H) / 2
        if row.steps:  # room for the steps' strip below
            top = y + ROW_H - STEP_STRIP_H - BAR_H - 4
            self._paint_steps(painter, row, y + ROW_H - STEP_STRIP_H - 2, t0, scale, left)
        rect = QRectF(x0, top, x1 - x0, BAR_H)
        fill = QColor(colour)
        pen = QPen(Qt.PenStyle.NoPen)
        if row.waiting_for:  # only waiting for a rate limit: a hatched bar, not a working one
            fill.setAlphaF(0.55)
        elif row.status is TaskStatus.RUNNING:
            fill.setAlphaF(0.55)
        elif row.status is TaskStatus.FAILED:
            fill.setAlphaF(0.3)
            pen = QPen(QColor(theme.FAILED_COLOUR), 2)
        elif row.status in (TaskStatus.CANCELLED, TaskStatus.BLOCKED, TaskStatus.SKIPPED):
            fill.setAlphaF(0.25)
            pen = QPen(theme.dim_text_colour(), 1.2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill, Qt.BrushStyle.BDiagPattern) if row.waiting_for else fill)
        painter.drawRoundedRect(rect, 3, 3)
        if row.status is TaskStatus.RUNNING and not row.waiting_for:  # a solid head shows where it grows
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            head = min(4.0, rect.width())
            painter.drawRoundedRect(QRectF(rect.right() - head, rect.top(), head, rect.height()), 1.5, 1.5)
        if row.retries:
            painter.setPen(QPen(theme.contrasting_text(colour), 2))
            for ts in row.retries:
                x = min(max(self._x(ts, t0, scale, left), rect.left() + 1), rect.right() - 1)
                painter.drawLine(QPointF(x, rect.top() + 2), QPointF(x, rect.bottom() - 2))

    def _paint_steps(self, painter: QPainter, row: TaskRow, top: float, t0: float, scale: float,
                     left: float) -> None:
        """One thin bar per step (in lanes), or a density strip of time bins for many."""
        colours = {status: theme.status_colour(key) for status, key in COLOUR_KEYS.items()}
        for bar in sub_bars(row.steps.values(), self._now()):
            x0 = self._x(bar.start, t0, scale, left)
            x1 = self._x(bar.end, t0, scale, left) - (0 if bar.binned else 1)  # a gap between steps
            lane_h = STEP_STRIP_H / bar.lanes
            colour = QColor(colours[bar.status])
            if bar.weight < 1:
                colour.setAlphaF(0.3 + 0.7 * bar.weight)
            height = lane_h - (0.5 if bar.lanes > 1 else 0)
            painter.fillRect(QRectF(x0, top + bar.lane * lane_h, max(2.0, x1 - x0), height), colour)
