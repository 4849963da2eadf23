"""RunView: totals, controls, timeline and live output of one run.

Events are pushed in with `apply_event` from the asyncio loop (qasync runs it
on the Qt thread); each costs a few dict updates, and repaints and text
inserts are coalesced by Qt's update() and the live pane's flush timer.
The buttons only emit signals: the host decides what Run or Cancel means.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from agents.events import (
    RunEvent,
    RunStarted,
    StepStarted,
    TaskRetried,
    TaskStarted,
    TokenDelta,
    ToolCallFinished,
    ToolCallProgress,
    ToolCallRequested,
)
from agents.plan.estimate import RunEstimate
from agents.ports import CallbackSink
from agents.run.state import Change, RunStatus, TaskStatus, walk_plan
from app.constraints import constraints_line
from app.estimate_text import headline, notes, span
from ui import theme
from ui.run_view import format as fmt
from ui.run_view.live_output import LiveOutputPane
from ui.run_view.model import RETRYABLE, RunModel
from ui.run_view.steps import StepsPane
from ui.run_view.timeline import TimelineWidget
from ui.run_view.totals import RunTotals

STATES = tuple(RunStatus)
"""The run view's states are the fold's run statuses."""

_ENDED = frozenset({"run", "retry"})
# Which controls each state enables (Retry also needs a retryable task selected;
# it starts the run again, so not while it runs).
_ENABLED: dict[RunStatus, frozenset[str]] = {
    RunStatus.PLANNED: frozenset({"run"}),
    RunStatus.RUNNING: frozenset({"pause", "cancel"}),
    RunStatus.PAUSED: frozenset({"resume", "cancel"}),
    RunStatus.COMPLETED: _ENDED,
    RunStatus.FAILED: _ENDED,
    RunStatus.CANCELLED: _ENDED,
    RunStatus.INTERRUPTED: frozenset({"resume", "retry"}),
}

_STATE_LABELS = {RunStatus.PLANNED: "Ready"}
"""The chip's text where it is not the status capitalised."""
_STATE_COLOURS = {
    RunStatus.PLANNED: "pending",
    RunStatus.RUNNING: "running",
    RunStatus.PAUSED: "waiting_approval",
    RunStatus.COMPLETED: "completed",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
    RunStatus.INTERRUPTED: "blocked",
}
_AT_ONCE = frozenset({Change.TASKS, Change.STATE, Change.WARNINGS})
"""Changes shown at once, not on the refresh timer."""
WARNINGS_SHOWN = 3
"""Warnings listed in the banner; the rest are counted (all are in its tooltip)."""
WARNING_MARK = "⚠ "


class RunView(QWidget):
    """One run: controls and totals on top, the timeline, then the live output."""

    runRequested = Signal()
    pauseRequested = Signal()
    resumeRequested = Signal()
    cancelRequested = Signal()
    retryRequested = Signal(str)
    """The task id to run again."""

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self._clock = clock
        self.model = RunModel()
        self.sink = CallbackSink(self.apply_event)
        """An EventSink for this view, e.g. in a FanOut (call on the Qt thread; QObject has its own emit)."""
        self._state = RunStatus.PLANNED
        self._plan_runnable = True
        self._dirty: set[str] = set()
        self._dirty_tasks: set[str] = set()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(self.REFRESH_MS)
        self._refresh_timer.timeout.connect(self.flush)
        self.totals = RunTotals(clock=clock)
        self.timeline = TimelineWidget(self.model, clock=clock)
        self.output = LiveOutputPane()
        self.steps = StepsPane()
        self.steps.hide()  # until a task with steps is selected
        self.state_chip = QLabel()
        self.state_chip.setAccessibleName("Run state")
        self.warnings = _warning_banner()
        self.limits = QLabel()
        """The run's own budget and deadline: "Budget $0.50 · $0.12 spent  ·  Deadline 14:30 · 12 min left"."""
        self.limits.setAccessibleName("Run budget and deadline")
        self.limits.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme.dim(self.limits)
        self.limits.hide()
        self._limits_timer = QTimer(self)
        self._limits_timer.setInterval(self.LIMITS_MS)
        self._limits_timer.timeout.connect(self._show_limits)
        self.buttons: dict[str, QPushButton] = {}
        self._build()
        self.timeline.taskSelected.connect(self._on_timeline_task_selected)
        self.output.taskSelected.connect(self._on_output_task_selected)
        self.set_state(RunStatus.PLANNED)

    def _build(self) -> None:
        specs = (
            ("run", "Ru&n", "Start the run", self.runRequested.emit),
            ("pause", "&Pause", "Finish the calls in flight, start no new ones", self.pauseRequested.emit),
            ("resume", "Re&sume", "Carry on where the run stopped", self.resumeRequested.emit),
            ("cancel", "Cance&l", "Stop every task", self.cancelRequested.emit),
            ("retry", "Re&try task", "Run the selected task again (failed, cancelled, blocked or rejected), and what depends on it; finished work is kept", self._on_retry_clicked),
        )
        controls = QHBoxLayout()
        controls.setSpacing(6)
        for key, text, tip, slot in specs:
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            self.buttons[key] = button
            controls.addWidget(button)
            if key == "cancel":
                controls.addSpacing(10)
        # Two rows: state and controls, then the totals. One row needed ~860 px
        # and squeezed the conversation column beside it.
        top = QHBoxLayout()
        top.setSpacing(18)
        top.addWidget(self.state_chip, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addStretch(1)
        top.addLayout(controls)
        header = QVBoxLayout()
        header.setSpacing(6)
        header.addLayout(top)
        header.addWidget(self.totals, 0, Qt.AlignmentFlag.AlignLeft)
        header.addWidget(self.limits)
        header.addWidget(self.warnings)
        line = QFrame()
        line.setFixedHeight(1)
        line.setStyleSheet(f"background: {theme.css(theme.subtle_background(0.15))};")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.setHandleWidth(12)
        # a pattern task's steps (a map's items: a virtual list) beside its live output
        self.steps_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.steps_splitter.setChildrenCollapsible(False)
        self.steps_splitter.addWidget(self.steps)
        self.steps_splitter.addWidget(self.output)
        self.steps_splitter.setStretchFactor(0, 1)
        self.steps_splitter.setStretchFactor(1, 1)
        splitter.addWidget(self.timeline)
        splitter.addWidget(self.steps_splitter)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter
        self._splitter_moved = False
        splitter.splitterMoved.connect(self._on_splitter_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.setSpacing(8)
        layout.addLayout(header)
        layout.addWidget(line)
        layout.addWidget(splitter, 1)

    # --- feeding ----------------------------------------------------------------

    REFRESH_MS = 100

    def apply_event(self, event: RunEvent) -> None:
        """Show one RunEvent. Cheap; call it for every event of the run.

        Status and totals changes are folded into the model at once but shown
        at most every REFRESH_MS (a burst of 300 TaskStarted repaints once).
        """
        if isinstance(event, TokenDelta):
            self.output.append(event.task_id, event.text)
            return
        if isinstance(event, ToolCallRequested):
            self.output.tool_requested(event.task_id, event.call_id, event.tool, event.arguments)
            return
        if isinstance(event, ToolCallProgress):
            self.output.tool_progress(event.task_id, event.message)
            return
        if isinstance(event, ToolCallFinished):
            self.output.tool_finished(event.task_id, event.call_id, event.tool, event.result, event.error,
                                      event.duration_ms, event.permission)
            return
        if isinstance(event, StepStarted) and not self._is_map(event.task_id):
            self.output.step_started(event.task_id, event.step, event.agent)  # a map's items do not stream
        if isinstance(event, TaskStarted | TaskRetried):
            self._separate_attempt(event)
        revision = self.model.revision
        changes = self.model.apply(event)
        if not changes:
            return
        if self.model.revision != revision:
            changes = changes | {Change.TASKS}  # a task the plan did not list: show its row now
        task_id = getattr(event, "task_id", None)
        if task_id is not None and task_id in self.model.rows:
            self._dirty_tasks.add(task_id)
        elif isinstance(event, RunStarted):  # every task starts afresh (or keeps its result)
            self._dirty_tasks.update(self.model.rows)
        self._dirty |= changes
        if changes & _AT_ONCE:
            self.flush()
        elif not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def flush(self) -> None:
        """Show what apply_event() folded in since the last refresh."""
        self._refresh_timer.stop()
        changes, self._dirty = self._dirty, set()
        tasks, self._dirty_tasks = self._dirty_tasks, set()
        if not changes:
            return
        if Change.TASKS in changes:
            for row in self.model.rows.values():
                self.output.set_task_info(row.task_id, row.title, row.agent)
            self._fit_splitter()
        if Change.TIMELINE in changes or Change.TASKS in changes:
            self.timeline.refresh()
            for task_id in tasks:
                if task_id in self.model.rows:
                    row = self.model.rows[task_id]
                    waiting = row.waiting_for and fmt.waiting(row.waiting_for)
                    self.output.set_task_status(task_id, row.status, waiting)
        if Change.STEPS in changes or Change.TASKS in changes:
            self._show_steps(tasks)
        if Change.TOTALS in changes:
            self._show_totals()
        if Change.WARNINGS in changes:
            self._show_warnings()
        if Change.STATE in changes:
            self.set_state(self.model.status)
        else:
            self._update_retry()

    def apply_events(self, events: list[RunEvent]) -> None:
        for event in events:
            self.apply_event(event)
        self.flush()

    def load_plan(self, plan: Any) -> None:
        """Show a plan's tasks before it runs (a Plan or its to_dict())."""
        data: Mapping[str, Any] = plan if isinstance(plan, Mapping) else plan.to_dict()
        self.model.load_plan(data)
        for row in self.model.rows.values():
            self.output.set_task_info(row.task_id, row.title, row.agent)
        self.timeline.refresh()
        self._show_totals()
        self._fit_splitter()

    def set_estimate(self, estimate: RunEstimate | None) -> None:
        """The plan's cost estimate under the run's cost, to compare as the run spends."""
        if estimate is None:
            self.totals.set_estimate("", "")
            return
        unknown = estimate.unpriced and estimate.total.high == 0
        text = "est. price unknown" if unknown else f"est. {span(estimate.total)}"
        self.totals.set_estimate(text, "\n".join([headline(estimate), *notes(estimate)]))

    def reset(self) -> None:
        """Forget everything shown (a new run in the same view)."""
        self._refresh_timer.stop()
        self._dirty, self._dirty_tasks = set(), set()
        self.model.clear()
        self.output.clear()
        self._show_steps_of(None)
        self.totals.reset()
        self._show_warnings()
        self.timeline.select_task(None)
        self.timeline.refresh()
        self.set_state(RunStatus.PLANNED)

    # --- state ------------------------------------------------------------------

    def state(self) -> RunStatus:
        return self._state

    def set_plan_runnable(self, runnable: bool) -> None:
        """Run stays disabled while the plan is empty or invalid."""
        self._plan_runnable = runnable
        self._update_run()

    def _update_run(self) -> None:
        allowed = "run" in _ENABLED[self._state] and self._plan_runnable
        self.buttons["run"].setEnabled(allowed)

    def set_state(self, state: RunStatus) -> None:
        """Enable the controls for a run status (a stored run's, e.g. interrupted, overrides the fold's)."""
        try:
            state = RunStatus(state)
        except ValueError:
            raise ValueError(f"unknown run state {state!r}; expected one of {', '.join(STATES)}") from None
        self._state = state
        self.model.status = state
        enabled = _ENABLED[state]
        for key, button in self.buttons.items():
            button.setEnabled(key in enabled)
        self._update_run()
        self._update_retry()
        if self.model.live:
            if self.model.started is None:
                self.model.started = self._clock()
            if not self.totals.ticking or self.totals.started != self.model.started:
                self.totals.start_clock(self.model.started)
        else:
            self.totals.stop_clock(self.model.finished if self.model.finished is not None else self.model.last_ts)
        self._show_state_chip()
        self._show_limits()
        self.timeline.refresh()

    def selected_task(self) -> str | None:
        return self.timeline.selected_task() or self.output.current_task()

    def select_task(self, task_id: str) -> None:
        """Select a task in the timeline and show its live output."""
        self.timeline.select_task(task_id)
        self.output.show_task(task_id)
        self._show_steps_of(task_id)
        self._update_retry()

    def _is_map(self, task_id: str) -> bool:
        return any(task.get("id") == task_id and task.get("pattern") == "map"
                   for task, _depth in walk_plan(self.model.run.plan.get("tasks") or ()))

    def follow_task(self, task_id: str) -> None:
        """A task chosen elsewhere (the plan tree): shown here when the run knows it."""
        if task_id in self.model.rows and task_id != self.selected_task():
            self.select_task(task_id)

    def show_subtask(self, task_id: str, prefix: str) -> None:
        """Select a delegate task and list only one sub-task's steps (chosen in the plan tree)."""
        task = self.model.rows.get(task_id)
        if task is None:
            return
        self.timeline.select_task(task_id)
        self.output.show_task(task_id)
        self._show_steps_of(task_id, prefix)
        keys = [k for k in task.steps if k == prefix or k.startswith(prefix + " · ")]
        if keys:  # its first step's output at once
            self.steps.select_step(keys[0])
        self._update_retry()

    # --- internals --------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self._fit_splitter)  # once the splitter has its new size

    def _fit_splitter(self) -> None:
        """Give the timeline the height its rows need (35-65 %), until the person drags."""
        total = sum(self.splitter.sizes())
        if self._splitter_moved or total <= 0:
            return
        want = self.timeline.content_height()
        top = int(min(max(want, total * 0.35), total * 0.65))
        self.splitter.setSizes([top, total - top])

    def _on_splitter_moved(self, *_args: object) -> None:
        self._splitter_moved = True

    def _show_totals(self) -> None:
        m = self.model
        self.totals.set_usage(m.prompt_tokens, m.completion_tokens, m.tokens_estimated)
        self.totals.set_cost(m.cost, m.cost_known)
        self.totals.set_tasks(m.counts())
        self._show_limits()

    LIMITS_MS = 5000
    """How often the deadline's countdown is redrawn while the run is live."""

    def _show_limits(self) -> None:
        """The run's budget and deadline under the totals; hidden when it has neither."""
        run = self.model.run
        text = constraints_line(run.budget_usd, run.cost, run.deadline, self._clock(), live=self.model.live)
        self.limits.setText(text)
        self.limits.setVisible(bool(text))
        ticking = bool(text) and run.deadline is not None and self.model.live
        if ticking and not self._limits_timer.isActive():
            self._limits_timer.start()
        elif not ticking:
            self._limits_timer.stop()

    def _show_warnings(self) -> None:
        """The run's warnings (an MCP server that is not there) in the banner; hidden when none."""
        warnings = self.model.warnings
        lines = [WARNING_MARK + w for w in warnings[-WARNINGS_SHOWN:]]
        if len(warnings) > WARNINGS_SHOWN:
            lines.insert(0, f"{len(warnings) - WARNINGS_SHOWN} earlier warning(s), see the tooltip")
        self.warnings.setText("\n".join(lines))
        self.warnings.setToolTip("\n".join(warnings) if len(warnings) > WARNINGS_SHOWN else "")
        self.warnings.setVisible(bool(warnings))

    def _show_state_chip(self) -> None:
        text = _STATE_LABELS.get(self._state, self._state.value.capitalize())
        if self._state is RunStatus.COMPLETED and self.model.partial:
            text += " (partial)"
        colour = theme.status_colour(_STATE_COLOURS[self._state])
        self.state_chip.setText(text)
        self.state_chip.setStyleSheet(
            f"QLabel {{ background: {theme.css(colour)}; color: {theme.css(theme.contrasting_text(colour))};"
            " border-radius: 10px; padding: 3px 12px; font-weight: 600; }"
        )

    def _separate_attempt(self, event: TaskStarted | TaskRetried) -> None:
        """A task's next attempt begins (a retry, Retry task, a re-run): its live output says so.

        Called before the event is folded in: a start while the task is still
        running (after a retry) continues the attempt the retry began.
        """
        if not event.task_id:  # the planner's or the synthesizer's retry
            return
        row = self.model.rows.get(event.task_id)
        if isinstance(event, TaskStarted) and row is not None and row.status is TaskStatus.RUNNING:
            return
        self.output.begin_attempt(event.task_id)

    def _update_retry(self) -> None:
        task_id = self.selected_task()
        row = self.model.rows.get(task_id) if task_id is not None else None
        allowed = "retry" in _ENABLED[self._state] and row is not None and row.status in RETRYABLE
        self.buttons["retry"].setEnabled(allowed)

    def _on_retry_clicked(self) -> None:
        task_id = self.selected_task()
        if task_id is not None:
            self.retryRequested.emit(task_id)

    def _on_timeline_task_selected(self, task_id: str) -> None:
        self.output.show_task(task_id)
        self._show_steps_of(task_id)
        self._update_retry()

    def _on_output_task_selected(self, task_id: str) -> None:
        self.timeline.select_task(task_id)
        self._show_steps_of(task_id)
        self._update_retry()

    def _show_steps(self, dirty: set[str]) -> None:
        """Refresh the steps pane when its task changed (or the selected task got its first step)."""
        selected = self.selected_task()
        if self.steps.task_id is not None and self.steps.task_id in dirty:
            self.steps.refresh()
        elif selected is not None and selected in dirty:
            self._show_steps_of(selected)

    def _show_steps_of(self, task_id: str | None, prefix: str = "") -> None:
        """List the task's steps beside its live output; hide the list for a task without steps."""
        task = self.model.rows.get(task_id) if task_id is not None else None
        has_steps = task is not None and (bool(task.steps) or bool(prefix))
        self.steps.show_task(task if has_steps else None, prefix)
        if has_steps and self.steps.isHidden():  # half the width: the steps are what to read now
            self.steps.show()
            width = sum(self.steps_splitter.sizes())
            self.steps_splitter.setSizes([width // 2, width - width // 2])
        self.steps.setVisible(has_steps)


def _warning_banner() -> QLabel:
    """A hidden, word-wrapped strip in the waiting (amber) colour for the run's warnings."""
    colour = theme.STATUS_COLOURS["waiting_approval"]
    label = QLabel()
    label.setWordWrap(True)
    label.setAccessibleName("Run warnings")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(f"QLabel {{ background: {theme.tint(colour)}; border: 1px solid {colour}; "
                        "border-radius: 4px; padding: 6px 8px; }")
    label.hide()
    return label
