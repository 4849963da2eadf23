"""Runtime columns of the plan tree: what a run did to each task.

`RuntimeState` is one task's status, tokens and cost; `apply_run_event`
folds one agents.events event into the states. Kept apart from the model
so the mapping from events to statuses reads in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

from agents.events import (
    ApprovalRequested,
    ApprovalResolved,
    LLMCallFinished,
    RunEvent,
    TaskBlocked,
    TaskCancelled,
    TaskFailed,
    TaskFinished,
    TaskRetried,
    TaskSkipped,
    TaskStarted,
)
from agents.run.state import TaskStatus
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

_TASK_EVENTS = (
    TaskStarted,
    TaskRetried,
    LLMCallFinished,
    TaskFinished,
    TaskFailed,
    TaskBlocked,
    TaskSkipped,
    TaskCancelled,
    ApprovalRequested,
    ApprovalResolved,
)
_HOLLOW = {TaskStatus.PENDING, TaskStatus.SKIPPED}
_icons: dict[str, QIcon] = {}


@dataclass
class RuntimeState:
    """One task's progress in the current (or a stored) run."""

    status: str | None = None
    """A TaskStatus value or RETRYING; None before the run touches the task."""
    tokens: int | None = None
    """Prompt + completion tokens; None until something reported usage."""
    cost: float | None = None
    """US dollars; None until something reported a cost."""
    detail: str = ""
    """Why it failed / was blocked / skipped, or the retry's error."""


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "")


def status_icon(status: str | None) -> QIcon | None:
    """A small coloured circle for the status (hollow while nothing happens)."""
    if not status or status not in STATUS_COLOURS:
        return None
    if status not in _icons:
        _icons[status] = _circle_icon(QColor(STATUS_COLOURS[status]), status in _HOLLOW)
    return _icons[status]


def _circle_icon(colour: QColor, hollow: bool) -> QIcon:
    size = 14
    pixmap = QPixmap(size * 2, size * 2)  # drawn at 2x so it stays crisp on HiDPI
    pixmap.setDevicePixelRatio(2.0)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(colour.darker(120), 1.5))
    painter.setBrush(Qt.BrushStyle.NoBrush if hollow else colour)
    painter.drawEllipse(QRectF(2.5, 2.5, size - 5, size - 5))
    painter.end()
    return QIcon(pixmap)


def problem_icon() -> QIcon:
    """A small red warning triangle for rows with a problem."""
    if "!problem" not in _icons:
        size = 14
        pixmap = QPixmap(size * 2, size * 2)
        pixmap.setDevicePixelRatio(2.0)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
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


def apply_run_event(states: dict[str, RuntimeState], event: RunEvent) -> str | None:
    """Fold one event into `states`; returns the task id it changed, if any."""
    task_id = getattr(event, "task_id", "")
    if not task_id or not isinstance(event, _TASK_EVENTS):
        return None  # run-level events, token deltas, planner/synthesizer calls
    state = states.setdefault(task_id, RuntimeState())
    match event:
        case TaskStarted():
            state.status, state.detail = TaskStatus.RUNNING, ""
        case TaskRetried():
            state.status = RETRYING
            state.detail = f"attempt {event.attempt} failed: {event.error}"
        case LLMCallFinished():
            # live usage while the task runs; TaskFinished then sets the total
            state.tokens = (state.tokens or 0) + event.prompt_tokens + event.completion_tokens
            state.cost = (state.cost or 0.0) + event.cost
        case TaskFinished():
            state.status, state.detail = TaskStatus.COMPLETED, ""
            state.tokens = event.prompt_tokens + event.completion_tokens
            state.cost = event.cost
        case TaskFailed():
            state.status, state.detail = TaskStatus.FAILED, event.error
        case TaskBlocked():
            state.status, state.detail = TaskStatus.BLOCKED, f"{event.because} did not complete"
        case TaskSkipped():
            state.status, state.detail = TaskStatus.SKIPPED, event.reason
        case TaskCancelled():
            state.status, state.detail = TaskStatus.CANCELLED, ""
        case ApprovalRequested():
            state.status, state.detail = TaskStatus.WAITING_APPROVAL, ""
        case ApprovalResolved():
            # the runner puts the task back in the queue until it starts
            state.status, state.detail = TaskStatus.PENDING, f"approval: {event.action}"
    return task_id
