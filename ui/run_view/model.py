"""What the run view shows, folded from RunEvents. Plain Python, no Qt.

`RunModel.apply(event)` updates the rows and totals and says which parts of
the view need a refresh, so a burst of events costs a few dict updates each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.events import (
    ApprovalRequested,
    ApprovalResolved,
    LLMCallFinished,
    PlanEdited,
    PlanProposed,
    RunEvent,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    RunWarning,
    TaskBlocked,
    TaskCancelled,
    TaskFailed,
    TaskFinished,
    TaskRetried,
    TaskSkipped,
    TaskStarted,
)
from agents.run.state import TaskStatus

# What apply() reports as changed.
TASKS = "tasks"
"""Row set or row order changed (a plan arrived)."""
TIMELINE = "timeline"
"""A bar or a status changed."""
TOTALS = "totals"
"""Tokens, cost or task counts changed."""
STATE = "state"
"""The run's lifecycle state changed (see RunModel.state)."""
WARNINGS = "warnings"
"""A warning arrived (see RunModel.warnings)."""

RETRYABLE = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.BLOCKED})
# Sets, not tuples of TaskStatus.X: an enum member lookup costs ~120 ns on 3.11
# and counts() runs over every row.
_DONE = frozenset({TaskStatus.COMPLETED, TaskStatus.SKIPPED})
_FAILED = frozenset({TaskStatus.FAILED, TaskStatus.BLOCKED, TaskStatus.CANCELLED})


@dataclass
class TaskRow:
    """One task as the run view shows it."""

    task_id: str
    title: str
    """Plan title (the id when the plan is unknown)."""
    agent: str
    depth: int = 0
    """Nesting level in the plan tree (0 at the top)."""
    is_group: bool = False
    status: TaskStatus = TaskStatus.PENDING
    start: float | None = None
    """When the task (its latest attempt series) started, epoch seconds."""
    end: float | None = None
    """When it reached a terminal status; None while it runs."""
    attempts: int = 0
    retries: list[float] = field(default_factory=list)
    """Timestamps of failed attempts that were retried."""
    error: str = ""
    tokens: int = 0
    cost: float = 0.0


@dataclass
class RunModel:
    """Rows by task id (plan order), totals and the run's lifecycle state."""

    rows: dict[str, TaskRow] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cost_known: bool = True
    """False once a call's price was unknown (cost is then a lower bound)."""
    started: float | None = None
    finished: float | None = None
    state: str = "idle"
    """idle / running / paused / finished / interrupted."""
    outcome: str = ""
    """RunFinished.status once the run ended."""
    revision: int = 0
    """Bumped whenever rows are added, removed or reordered."""
    last_ts: float | None = None
    """Timestamp of the latest event folded in (where an interrupted run stopped)."""
    warnings: list[str] = field(default_factory=list)
    """RunWarning messages of the latest start of the run, oldest first, each once."""

    def clear(self) -> None:
        """Back to an empty, idle run (same object: views keep their reference)."""
        revision = self.revision
        self.__init__()  # type: ignore[misc]
        self.revision = revision + 1

    # --- plan ------------------------------------------------------------------

    def load_plan(self, plan: Mapping[str, Any]) -> None:
        """Rows for every task of a Plan.to_dict(), keeping progress already known."""
        old = self.rows
        self.rows = {}
        self.revision += 1
        for task, depth in _walk(plan.get("tasks", ()), 0):
            tid = str(task.get("id", ""))
            row = old.get(tid) or TaskRow(tid, str(task.get("title") or tid), str(task.get("agent", "")))
            row.title = str(task.get("title") or tid)
            row.agent = str(task.get("agent", row.agent))
            row.depth = depth
            row.is_group = bool(task.get("children"))
            self.rows[tid] = row

    def row(self, task_id: str, agent: str = "") -> TaskRow:
        """The row of a task, added at the end when the plan did not list it."""
        row = self.rows.get(task_id)
        if row is None:
            row = self.rows[task_id] = TaskRow(task_id, task_id or "orchestrator", agent)
            self.revision += 1
        return row

    # --- totals ----------------------------------------------------------------

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def leaves(self) -> Iterable[TaskRow]:
        return (r for r in self.rows.values() if not r.is_group)

    def counts(self) -> tuple[int, int, int]:
        """(done, total, failed) over leaf tasks; skipped ones count as done."""
        done = total = failed = 0
        for row in self.rows.values():
            if row.is_group:
                continue
            total += 1
            status = row.status
            if status in _DONE:
                done += 1
            elif status in _FAILED:
                failed += 1
        return done, total, failed

    # --- events ----------------------------------------------------------------

    def apply(self, event: RunEvent) -> set[str]:
        """Fold one event in; returns what changed (TASKS, TIMELINE, TOTALS, STATE)."""
        if self.last_ts is None or event.ts > self.last_ts:
            self.last_ts = event.ts
        handler = _HANDLERS.get(type(event))
        return handler(self, event) if handler is not None else set()

    def _run_started(self, e: RunStarted) -> set[str]:
        self.load_plan(e.plan)
        if self.started is None or not e.resumed:
            self.started = e.ts
        self.finished = None
        self.state, self.outcome = "running", ""
        had_warnings, self.warnings = bool(self.warnings), []  # a resumed run reports its own
        return {TASKS, TIMELINE, TOTALS, STATE} | ({WARNINGS} if had_warnings else set())

    def _warning(self, e: RunWarning) -> set[str]:
        where = self.rows[e.task_id].title if e.task_id in self.rows else e.task_id
        text = f"{where}: {e.message}" if where else e.message
        if text in self.warnings:
            return set()
        self.warnings.append(text)
        return {WARNINGS}

    def _plan(self, e: PlanProposed | PlanEdited) -> set[str]:
        self.load_plan(e.plan)
        return {TASKS, TIMELINE, TOTALS}

    def _task_started(self, e: TaskStarted) -> set[str]:
        row = self.row(e.task_id, e.agent)
        row.agent = e.agent or row.agent
        row.status = TaskStatus.RUNNING
        row.start, row.end, row.error = e.ts, None, ""
        row.attempts = max(row.attempts, e.attempt)
        return {TIMELINE, TOTALS}

    def _task_retried(self, e: TaskRetried) -> set[str]:
        if not e.task_id:
            return set()
        row = self.row(e.task_id)
        row.retries.append(e.ts)
        row.attempts = max(row.attempts, e.attempt + 1)
        row.error = e.error
        return {TIMELINE}

    def _call_finished(self, e: LLMCallFinished) -> set[str]:
        self.prompt_tokens += e.prompt_tokens
        self.completion_tokens += e.completion_tokens
        self.cost += e.cost
        self.cost_known = self.cost_known and e.cost_known
        if e.task_id and e.task_id in self.rows:
            row = self.rows[e.task_id]
            row.tokens += e.prompt_tokens + e.completion_tokens
            row.cost += e.cost
        return {TOTALS}

    def _task_finished(self, e: TaskFinished) -> set[str]:
        row = self.row(e.task_id)
        row.status = TaskStatus.COMPLETED
        row.start = row.start if row.start is not None else e.started
        row.end = max(e.finished, row.start)
        row.attempts = max(row.attempts, e.attempts)
        row.error = ""
        return {TIMELINE, TOTALS}

    def _task_failed(self, e: TaskFailed) -> set[str]:
        row = self.row(e.task_id)
        row.status, row.error = TaskStatus.FAILED, e.error
        row.attempts = max(row.attempts, e.attempts)
        self._end(row, e.ts)
        return {TIMELINE, TOTALS}

    def _task_ended(self, e: TaskBlocked | TaskSkipped | TaskCancelled) -> set[str]:
        row = self.row(e.task_id)
        if isinstance(e, TaskBlocked):
            row.status, row.error = TaskStatus.BLOCKED, f"blocked: {e.because} did not complete"
        elif isinstance(e, TaskSkipped):
            row.status, row.error = TaskStatus.SKIPPED, e.reason
        else:
            row.status, row.error = TaskStatus.CANCELLED, "cancelled"
        self._end(row, e.ts)
        return {TIMELINE, TOTALS}

    @staticmethod
    def _end(row: TaskRow, ts: float) -> None:
        if row.start is not None and row.end is None:
            row.end = max(ts, row.start)

    def _approval(self, e: ApprovalRequested | ApprovalResolved) -> set[str]:
        if not e.task_id:  # a run-level question (the budget): no task row waits
            return set()
        row = self.row(e.task_id)
        if not row.status.terminal:
            waiting = isinstance(e, ApprovalRequested)
            row.status = TaskStatus.WAITING_APPROVAL if waiting else TaskStatus.PENDING
        return {TIMELINE}

    def _paused(self, e: RunPaused | RunResumed) -> set[str]:
        self.state = "paused" if isinstance(e, RunPaused) else "running"
        return {STATE}

    def _run_finished(self, e: RunFinished) -> set[str]:
        self.finished = e.ts
        self.state, self.outcome = "finished", e.status
        # Our sum also holds planner calls; the runner's is authoritative when
        # it saw calls we did not (a resumed run's earlier process).
        self.prompt_tokens = max(self.prompt_tokens, e.prompt_tokens)
        self.completion_tokens = max(self.completion_tokens, e.completion_tokens)
        self.cost = max(self.cost, e.cost)
        for row in self.rows.values():
            if row.start is not None and row.end is None:
                row.end = max(e.ts, row.start)
        return {TIMELINE, TOTALS, STATE}


def _walk(tasks: Iterable[Any], depth: int) -> Iterable[tuple[Mapping[str, Any], int]]:
    for task in tasks:
        if isinstance(task, Mapping):
            yield task, depth
            yield from _walk(task.get("children") or (), depth + 1)


_HANDLERS: dict[type, Any] = {
    RunStarted: RunModel._run_started,
    PlanProposed: RunModel._plan,
    PlanEdited: RunModel._plan,
    TaskStarted: RunModel._task_started,
    TaskRetried: RunModel._task_retried,
    LLMCallFinished: RunModel._call_finished,
    TaskFinished: RunModel._task_finished,
    TaskFailed: RunModel._task_failed,
    TaskBlocked: RunModel._task_ended,
    TaskSkipped: RunModel._task_ended,
    TaskCancelled: RunModel._task_ended,
    ApprovalRequested: RunModel._approval,
    ApprovalResolved: RunModel._approval,
    RunPaused: RunModel._paused,
    RunResumed: RunModel._paused,
    RunFinished: RunModel._run_finished,
    RunWarning: RunModel._warning,
}
