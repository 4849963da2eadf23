"""Runtime columns of the plan tree: what a run did to each task.

The plan model keeps the run's `RunState` (agents.run.state, the one fold
of its events); these functions turn one `TaskState` into what the status,
tokens and cost cells show.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

from agents.run.state import RunState, RunStatus, TaskState, TaskStatus
from ui import theme

RETRYING = "retrying"
"""Display-only status: running again after a failed attempt."""

STATUS_COLOURS = theme.STATUS_COLOURS  # one palette for the whole app

STATUS_LABELS: dict[str, str] = {
    TaskStatus.PENDING: "pending",
    TaskStatus.WAITING_APPROVAL: "waiting approval",
    TaskStatus.RUNNING: "running",
    RETRYING: "retrying",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.BLOCKED: "blocked",
    TaskStatus.SKIPPED: "skipped",
    TaskStatus.CANCELLED: "cancelled",
}

PROBLEM_COLOUR = "#c62828"
"""Text colour of rows involved in a plan problem."""

_HOLLOW = {TaskStatus.PENDING, TaskStatus.SKIPPED}
_icons: dict[str, QIcon] = {}


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "")


def status_icon(status: str | None) -> QIcon | None:
    """A small coloured circle for the status (hollow while nothing happens)."""
    if not status or status not in STATUS_COLOURS:
        return None
    if status not in _icons:
        _icons[status] = _circle_icon(QColor(STATUS_COLOURS[status]), status in _HOLLOW)
    return _icons[status]


ICON_SIZE = 14


def icon_canvas() -> tuple[QPixmap, QPainter]:
    """A transparent ICON_SIZE pixmap drawn at 2x (crisp on HiDPI) and a painter on it;
    the caller draws, then ends the painter."""
    pixmap = QPixmap(ICON_SIZE * 2, ICON_SIZE * 2)
    pixmap.setDevicePixelRatio(2.0)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    return pixmap, painter


def _circle_icon(colour: QColor, hollow: bool) -> QIcon:
    size = ICON_SIZE
    pixmap, painter = icon_canvas()
    painter.setPen(QPen(colour.darker(120), 1.5))
    painter.setBrush(Qt.BrushStyle.NoBrush if hollow else colour)
    painter.drawEllipse(QRectF(2.5, 2.5, size - 5, size - 5))
    painter.end()
    return QIcon(pixmap)


def problem_icon() -> QIcon:
    """A small red warning triangle for rows with a problem."""
    if "!problem" not in _icons:
        pixmap, painter = icon_canvas()
        red = QColor(PROBLEM_COLOUR)
        painter.setPen(QPen(red.darker(115), 1))
        painter.setBrush(red)
        painter.drawPolygon(QPolygonF([QPointF(7, 1.5), QPointF(13, 12.5), QPointF(1, 12.5)]))
        painter.setPen(QPen(Qt.GlobalColor.white, 1.6))
        painter.drawLine(QPointF(7, 5), QPointF(7, 8.6))
        painter.drawPoint(QPointF(7, 10.6))
        painter.end()
        _icons["!problem"] = QIcon(pixmap)
    return _icons["!problem"]


def shown(run: RunState, task: TaskState) -> bool:
    """Whether the run has touched the task (a planned run's tasks show nothing)."""
    return (run.status is not RunStatus.PLANNED or task.status is not TaskStatus.PENDING
            or task.approval is not None or task.started is not None)


def display_status(task: TaskState) -> str:
    """The task's status, or RETRYING while it runs again after a failed attempt."""
    return RETRYING if task.retrying else task.status.value


def status_text(task: TaskState) -> str:
    """The status cell's words: whom a task waits for while its calls only wait for a
    provider's rate limiter (agents/llm/limiter.py), else its status's label."""
    if task.waiting_for:
        return f"waiting for {task.waiting_for} rate limit"
    return status_label(display_status(task))


def has_usage(task: TaskState) -> bool:
    """Whether the tokens and cost cells show numbers (something reported usage)."""
    return bool(task.tokens or task.cost) or task.status is TaskStatus.COMPLETED


def detail(task: TaskState) -> str:
    """The status cell's tooltip: why it failed, was blocked or skipped, or the retry's error."""
    if task.retrying:
        return f"attempt {task.attempts - 1} failed: {task.error}"
    if task.status is TaskStatus.PENDING and task.approval is not None:
        return f"approval: {task.approval.value}"
    return task.error
