"""The state of a run as one pure fold over its events.

`RunState.apply(event)` is the only place where events become statuses,
attempts, outputs, totals, warnings and pending approvals. The runner keeps
its own RunState by folding what it emits; the run view, the plan tree and
`troupe show` fold the same events; the storage projections follow the same
rules in SQL (a test holds them equal on recorded event streams).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from agents.approvals import Subject
from agents.events import (
    ApprovalRequested,
    ApprovalResolved,
    ConstraintsSet,
    DeliverableReady,
    LLMCallFinished,
    PlanEdited,
    PlanProposed,
    RateLimitWaited,
    RateLimitWaiting,
    RunEvent,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    RunWarning,
    StepFailed,
    StepFinished,
    StepStarted,
    SubtasksPlanned,
    TaskBlocked,
    TaskCancelled,
    TaskFailed,
    TaskFinished,
    TaskRetried,
    TaskSkipped,
    TaskStarted,
)
from agents.ports import Action


class TaskStatus(StrEnum):
    PENDING = "pending"
    WAITING_APPROVAL = "waiting_approval"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self not in _LIVE


_LIVE = frozenset({TaskStatus.PENDING, TaskStatus.WAITING_APPROVAL, TaskStatus.RUNNING})


class RunStatus(StrEnum):
    PLANNED = "planned"
    """Created; no plan has run yet."""
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    """Its process ended mid-run (closed window, crash); storage decides this."""

    @property
    def finished(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)

    @property
    def resumable(self) -> bool:
        return self in (RunStatus.INTERRUPTED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.PAUSED)


class Counts(NamedTuple):
    """How a run's leaf tasks stand."""

    done: int
    """Completed."""
    total: int
    failed: int
    """Failed (after their retries)."""
    not_run: int
    """Rejected (skipped), blocked by a task that did not complete, or cancelled."""


class Change(StrEnum):
    """What one event changed, so a view refreshes only that."""

    TASKS = "tasks"
    """The set or order of tasks (a plan arrived)."""
    TIMELINE = "timeline"
    """A task's status, times or attempts."""
    TOTALS = "totals"
    """Tokens, cost or task counts."""
    STATE = "state"
    """The run's status."""
    WARNINGS = "warnings"
    APPROVALS = "approvals"
    """A question was asked or answered."""
    STEPS = "steps"
    """A step of a task with a pattern (a draft, a vote, an item) started or ended."""
    DELIVERABLE = "deliverable"


class StepStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class StepState:
    """One agent's turn inside a task with a pattern."""

    step: str
    agent: str
    status: StepStatus = StepStatus.RUNNING
    output: str = ""
    note: str = ""
    error: str = ""
    cost: float = 0.0
    replayed: bool = False
    started: float | None = None
    finished: float | None = None
    """When it got its slot and when it ended (epoch seconds; a replayed step: when replayed)."""


@dataclass
class TaskState:
    """One task as its run's events left it."""

    task_id: str
    title: str = ""
    """The plan's title (the id when the plan is unknown)."""
    agent: str = ""
    depth: int = 0
    """Nesting level in the plan tree (0 at the top)."""
    is_group: bool = False
    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    output: str = ""
    error: str = ""
    """Why it failed, was blocked, skipped or cancelled; or the last retried error."""
    started: float | None = None
    """When its latest start happened (epoch seconds)."""
    finished: float | None = None
    """When it reached a terminal status; None while it is live."""
    retries: list[float] = field(default_factory=list)
    """When each failed attempt of the latest start was retried."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False
    """Some of its calls' tokens were counted by Troupe, not the provider (shown "~")."""
    cost: float = 0.0
    """US dollars: its calls so far, then what TaskFinished reports."""
    cost_known: bool = True
    """False once a call of it had no known price (its $0 is not free: "price unknown")."""
    approval: Action | None = None
    """The person's last answer about the task itself, if it needed one."""
    source: str = ""
    """Where a completed output came from: model, override, group, resumed."""
    steps: dict[str, StepState] = field(default_factory=dict)
    """A task with a pattern: its steps by key, in the order they started."""
    subtasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """A delegate: the sub-tasks its manager planned, by the manager's step prefix
    ("" for the task itself); their steps are "sub <id>" (and "sub <id> · ...")."""
    waits: dict[str, str] = field(default_factory=dict)
    """Calls waiting for a provider's rate limiter: step ("" for the task's own) -> provider."""
    waited: float = 0.0
    """Seconds of this start spent only waiting for rate limiters (not counted as its duration)."""
    wait_since: float | None = None
    """When it began waiting, while it is (every call of it in flight waits)."""

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def waiting_for(self) -> str:
        """The provider whose rate limit it waits for while nothing of it runs; "" otherwise."""
        if self.status is not TaskStatus.RUNNING or not self.waits:
            return ""
        running = [k for k, s in self.steps.items() if s.status is StepStatus.RUNNING]
        if any(k not in self.waits for k in running):
            return ""  # another of its steps is working
        return next(iter(self.waits.values()))

    def duration(self, now: float) -> float | None:
        """Seconds it has worked: from its start to its end (or `now`), less its waits."""
        if self.started is None:
            return None
        end = self.finished if self.finished is not None else now
        waiting = (end - self.wait_since) if self.wait_since is not None else 0.0
        return max(0.0, end - self.started - self.waited - max(0.0, waiting))

    @property
    def retrying(self) -> bool:
        """Running again after a failed attempt."""
        return (self.status is TaskStatus.RUNNING and bool(self.retries)
                and self.started is not None and self.retries[-1] >= self.started)


@dataclass(frozen=True)
class PendingApproval:
    """A question asked and not answered yet."""

    request_id: str
    task_id: str
    subject: Subject
    title: str


@dataclass
class RunState:
    """A run as its events left it. Mutable, owned by whoever folds."""

    run_id: str = ""
    goal: str = ""
    status: RunStatus = RunStatus.PLANNED
    plan: dict[str, Any] = field(default_factory=dict)
    """The latest plan (Plan.to_dict())."""
    tasks: dict[str, TaskState] = field(default_factory=dict)
    """In plan order (depth first); tasks the plan did not list come last."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    """Sum of every model call, the planner's and earlier processes' included."""
    tokens_estimated: bool = False
    """Some calls' tokens were counted by Troupe, not the provider (shown "~")."""
    cost_known: bool = True
    """False once a call's price was unknown (cost is then a lower bound)."""
    started: float | None = None
    """The first start of the run."""
    finished: float | None = None
    deliverable: str = ""
    partial: bool = False
    """The deliverable covers only the tasks that finished (set by DeliverableReady and
    RunFinished, cleared by RunStarted; storage keeps the same in `runs.partial`)."""
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    """RunWarning messages of the latest start, oldest first, each once."""
    approvals: dict[str, PendingApproval] = field(default_factory=dict)
    """Unanswered questions by request id."""
    last_ts: float | None = None
    """Timestamp of the latest event folded in (where an interrupted run stopped)."""
    revision: int = 0
    """Bumped whenever tasks are added, removed or reordered."""
    budget_usd: float | None = None
    """The run's own budget (ConstraintsSet); None: none set at intake."""
    deadline: float | None = None
    """The run's deadline, epoch seconds (ConstraintsSet); None: none."""

    # --- reading ------------------------------------------------------------------

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def leaves(self) -> Iterator[TaskState]:
        return (t for t in self.tasks.values() if not t.is_group)

    def counts(self) -> Counts:
        """How the leaf tasks stand."""
        done = total = failed = not_run = 0
        for task in self.leaves():
            if task.status is TaskStatus.SKIPPED and task.error.startswith(NOT_CHOSEN):
                continue  # a route took another way: not part of the work
            total += 1
            if task.status is TaskStatus.COMPLETED:
                done += 1
            elif task.status is TaskStatus.FAILED:
                failed += 1
            elif task.status in _NOT_RUN:
                not_run += 1
        return Counts(done, total, failed, not_run)

    def task(self, task_id: str) -> TaskState:
        """The task's state, added at the end when the plan did not list it."""
        state = self.tasks.get(task_id)
        if state is None:
            state = self.tasks[task_id] = TaskState(task_id, title=task_id)
            self.revision += 1
        return state

    # --- folding --------------------------------------------------------------------

    def apply(self, event: RunEvent) -> frozenset[Change]:
        """Fold one event in; returns what it changed."""
        if self.last_ts is None or event.ts > self.last_ts:
            self.last_ts = event.ts
        handler = _HANDLERS.get(type(event))
        return handler(self, event) if handler is not None else _NOTHING

    def load_plan(self, plan: Mapping[str, Any]) -> None:
        """Tasks for every task of a Plan.to_dict(), keeping what is known of them."""
        old, self.tasks = self.tasks, {}
        self.plan = dict(plan)
        self.revision += 1
        for task, depth in walk_plan(plan.get("tasks") or ()):
            tid = str(task.get("id", ""))
            state = old.get(tid) or TaskState(tid)
            state.title = str(task.get("title") or tid)
            state.agent = str(task.get("agent") or state.agent)
            state.depth = depth
            state.is_group = bool(task.get("children"))
            self.tasks[tid] = state

    def interrupt(self) -> None:
        """Its process ended mid-run (storage knows this, the events cannot): what
        was live stops where the events stop and waits, pending, for a resume."""
        self.status = RunStatus.INTERRUPTED
        self.approvals.clear()
        for task in self.tasks.values():
            if task.status.terminal:
                continue
            if task.started is not None:
                task.finished = max(self.last_ts or task.started, task.started)
                _stop_waiting(task, task.finished)
            task.status = TaskStatus.PENDING

    def restore(self, task_id: str, output: str, attempts: int) -> None:
        """Seed a task finished by an earlier process (a resume), without an event."""
        state = self.task(task_id)
        state.status, state.output, state.attempts = TaskStatus.COMPLETED, output, attempts
        state.error, state.source = "", "resumed"

    # --- handlers (one per event type) --------------------------------------------------

    def _run_started(self, e: RunStarted) -> frozenset[Change]:
        self.run_id, self.goal = e.run_id, e.goal
        self.load_plan(e.plan)
        for tid, task in self.tasks.items():
            if not keeps(e, tid, task.status):
                self.tasks[tid] = _fresh(task)  # it runs again: no stale status, times or spend
        if self.started is None or not e.resumed:
            self.started = e.ts
        self.finished, self.error, self.status = None, "", RunStatus.RUNNING
        self.partial = False  # running again: an end says whether it is partial
        self.approvals.clear()  # a question of an ended process is asked again
        self.warnings = []  # a start reports its own
        return _ALL

    def _constraints(self, e: ConstraintsSet) -> frozenset[Change]:
        self.budget_usd, self.deadline = e.budget_usd, e.deadline
        return _TOTALS

    def _plan(self, e: PlanProposed | PlanEdited) -> frozenset[Change]:
        self.load_plan(e.plan)
        return frozenset({Change.TASKS, Change.TIMELINE, Change.TOTALS})

    def _warning(self, e: RunWarning) -> frozenset[Change]:
        where = self.tasks[e.task_id].title if e.task_id in self.tasks else e.task_id
        text = f"{where}: {e.message}" if where else e.message
        if text in self.warnings:
            return _NOTHING
        self.warnings.append(text)
        return frozenset({Change.WARNINGS})

    def _call_finished(self, e: LLMCallFinished) -> frozenset[Change]:
        self.prompt_tokens += e.prompt_tokens
        self.completion_tokens += e.completion_tokens
        self.cost += e.cost
        self.cost_known = self.cost_known and e.cost_known
        self.tokens_estimated = self.tokens_estimated or e.tokens_estimated
        if e.task_id and e.task_id in self.tasks:
            task = self.tasks[e.task_id]
            task.tokens_estimated = task.tokens_estimated or e.tokens_estimated
            task.cost_known = task.cost_known and (e.cost_known or not e.ok)
            task.prompt_tokens += e.prompt_tokens
            task.completion_tokens += e.completion_tokens
            task.cost += e.cost
        return _TOTALS

    def _task_started(self, e: TaskStarted) -> frozenset[Change]:
        task = self.task(e.task_id)
        task.agent = e.agent or task.agent
        task.status, task.started, task.finished, task.error = TaskStatus.RUNNING, e.ts, None, ""
        task.retries = []
        task.waits, task.waited, task.wait_since = {}, 0.0, None
        task.attempts = e.attempt
        return _TASK_CHANGED

    def _task_retried(self, e: TaskRetried) -> frozenset[Change]:
        if not e.task_id:  # the planner's or the synthesizer's call
            return _NOTHING
        task = self.task(e.task_id)
        task.retries.append(e.ts)
        task.attempts = max(task.attempts, e.attempt + 1)
        task.error = e.error
        return frozenset({Change.TIMELINE})

    def _task_finished(self, e: TaskFinished) -> frozenset[Change]:
        task = self.task(e.task_id)
        task.status, task.output, task.error, task.source = TaskStatus.COMPLETED, e.output, "", e.source
        task.attempts = e.attempts
        task.started = task.started if task.started is not None else e.started
        task.finished = max(e.finished, task.started)
        task.prompt_tokens, task.completion_tokens, task.cost = e.prompt_tokens, e.completion_tokens, e.cost
        _stop_waiting(task, task.finished)
        task.waited = e.waited or task.waited
        return _TASK_CHANGED

    def _task_failed(self, e: TaskFailed) -> frozenset[Change]:
        task = self.task(e.task_id)
        task.attempts = e.attempts
        self._end(task, TaskStatus.FAILED, e.error, e.ts)
        return _TASK_CHANGED

    def _task_blocked(self, e: TaskBlocked) -> frozenset[Change]:
        self._end(self.task(e.task_id), TaskStatus.BLOCKED, blocked_reason(e.because), e.ts)
        return _TASK_CHANGED

    def _task_skipped(self, e: TaskSkipped) -> frozenset[Change]:
        self._end(self.task(e.task_id), TaskStatus.SKIPPED, e.reason, e.ts)
        return _TASK_CHANGED

    def _task_cancelled(self, e: TaskCancelled) -> frozenset[Change]:
        self._end(self.task(e.task_id), TaskStatus.CANCELLED, "", e.ts)
        return _TASK_CHANGED

    @staticmethod
    def _end(task: TaskState, status: TaskStatus, error: str, ts: float) -> None:
        task.status, task.error = status, error
        task.finished = ts if task.started is None else max(ts, task.started)
        _stop_waiting(task, task.finished)

    def _rate_limit_waiting(self, e: RateLimitWaiting) -> frozenset[Change]:
        if not e.task_id:  # the planner's or the synthesizer's call
            return _NOTHING
        task = self.task(e.task_id)
        task.waits[e.step] = e.provider
        return _rewait(task, e.ts)

    def _rate_limit_waited(self, e: RateLimitWaited) -> frozenset[Change]:
        if not e.task_id or e.task_id not in self.tasks:
            return _NOTHING
        task = self.tasks[e.task_id]
        task.waits.pop(e.step, None)
        return _rewait(task, e.ts)

    def _approval_requested(self, e: ApprovalRequested) -> frozenset[Change]:
        self.approvals[e.request_id] = PendingApproval(e.request_id, e.task_id, e.subject, e.title)
        if e.task_id and not self.task(e.task_id).status.terminal:
            self.tasks[e.task_id].status = TaskStatus.WAITING_APPROVAL
        return _QUESTION

    def _approval_resolved(self, e: ApprovalResolved) -> frozenset[Change]:
        asked = self.approvals.pop(e.request_id, None)
        if not e.task_id or e.task_id not in self.tasks:
            return frozenset({Change.APPROVALS})
        task = self.tasks[e.task_id]
        mid_task = asked is not None and asked.subject in MID_TASK
        if not mid_task:
            task.approval = Action(e.action)
        if task.status is TaskStatus.WAITING_APPROVAL:
            # a tool call was asked about mid-task; a task waits for its start
            task.status = TaskStatus.RUNNING if mid_task else TaskStatus.PENDING
        return _QUESTION

    def _step_started(self, e: StepStarted) -> frozenset[Change]:
        task = self.task(e.task_id)
        task.steps[e.step] = StepState(e.step, e.agent, started=e.ts)
        return _STEPS | _rewait(task, e.ts)

    def _step_finished(self, e: StepFinished) -> frozenset[Change]:
        steps = self.task(e.task_id).steps
        step = steps.get(e.step) or steps.setdefault(e.step, StepState(e.step, e.agent))
        step.status, step.output, step.note, step.error = StepStatus.DONE, e.output, e.note, ""
        step.cost, step.replayed, step.finished = e.cost, e.replayed, e.ts
        step.started = step.started if step.started is not None else e.ts
        return _STEPS | _rewait(self.tasks[e.task_id], e.ts)

    def _subtasks(self, e: SubtasksPlanned) -> frozenset[Change]:
        self.task(e.task_id).subtasks[e.within] = list(e.tasks)
        return _STEPS

    def _step_failed(self, e: StepFailed) -> frozenset[Change]:
        steps = self.task(e.task_id).steps
        step = steps.get(e.step) or steps.setdefault(e.step, StepState(e.step, e.agent))
        step.status, step.error, step.finished = StepStatus.FAILED, e.error, e.ts
        return _STEPS | _rewait(self.tasks[e.task_id], e.ts)

    def _paused(self, e: RunPaused | RunResumed) -> frozenset[Change]:
        self.status = RunStatus.PAUSED if isinstance(e, RunPaused) else RunStatus.RUNNING
        return frozenset({Change.STATE})

    def _deliverable(self, e: DeliverableReady) -> frozenset[Change]:
        self.deliverable, self.partial = e.markdown, e.partial
        return frozenset({Change.DELIVERABLE})

    def _run_finished(self, e: RunFinished) -> frozenset[Change]:
        self.finished, self.error, self.partial = e.ts, e.error, e.partial
        self.status = RunStatus(e.status)
        self.approvals.clear()
        for task in self.tasks.values():
            if task.started is not None and task.finished is None:
                task.finished = max(e.ts, task.started)
                _stop_waiting(task, task.finished)
        return frozenset({Change.TIMELINE, Change.TOTALS, Change.STATE, Change.APPROVALS})


MID_TASK = frozenset({Subject.TOOL, Subject.CONFLICT})
"""Questions asked while their task runs: once answered it runs on (storage follows)."""

NOT_CHOSEN = "not chosen by "
"""Starts the skip reason of a task a route did not choose (agents/run/runner.py)."""


def fold(events: Iterable[RunEvent], state: RunState | None = None) -> RunState:
    """The state `events` lead to (from `state`, or from nothing)."""
    state = state if state is not None else RunState()
    for event in events:
        state.apply(event)
    return state


def keeps(e: RunStarted, task_id: str, status: str) -> bool:
    """Whether this start keeps the task's earlier result (storage follows the same rule)."""
    if e.kept:
        return task_id in e.kept and status == TaskStatus.COMPLETED
    return e.resumed and status == TaskStatus.COMPLETED


def blocked_reason(because: str) -> str:
    """A blocked task's error: the dependency that did not complete."""
    return f"{because} did not complete"


def _rewait(task: TaskState, ts: float) -> frozenset[Change]:
    """Start or stop timing the task's wait after its waits or steps changed."""
    waiting = bool(task.waiting_for)
    if waiting == (task.wait_since is not None):
        return _NOTHING
    if waiting:
        task.wait_since = ts
    else:
        _stop_waiting(task, ts, ended=False)
    return _WAITING


def _stop_waiting(task: TaskState, ts: float, *, ended: bool = True) -> None:
    """The task stopped only waiting (or `ended`: its waits end with it); the wait joins `waited`."""
    if task.wait_since is not None:
        task.waited += max(0.0, ts - task.wait_since)
    task.wait_since = None
    if ended:
        task.waits = {}


def _fresh(task: TaskState) -> TaskState:
    return TaskState(task.task_id, title=task.title, agent=task.agent, depth=task.depth,
                     is_group=task.is_group)


def walk_plan(tasks: Iterable[Any], depth: int = 0) -> Iterator[tuple[Mapping[str, Any], int]]:
    """Every task dict of a plan dict's task list, depth first, with its depth."""
    for task in tasks:
        if isinstance(task, Mapping):
            yield task, depth
            yield from walk_plan(task.get("children") or (), depth + 1)


_NOT_RUN = frozenset({TaskStatus.SKIPPED, TaskStatus.BLOCKED, TaskStatus.CANCELLED})
_NOTHING: frozenset[Change] = frozenset()
_ALL = frozenset(Change)
_TOTALS = frozenset({Change.TOTALS})
_TASK_CHANGED = frozenset({Change.TIMELINE, Change.TOTALS})
_QUESTION = frozenset({Change.TIMELINE, Change.APPROVALS})
_STEPS = frozenset({Change.STEPS})
_WAITING = frozenset({Change.TIMELINE})

_HANDLERS: dict[type[RunEvent], Callable[[RunState, Any], frozenset[Change]]] = {
    RunStarted: RunState._run_started,
    ConstraintsSet: RunState._constraints,
    PlanProposed: RunState._plan,
    PlanEdited: RunState._plan,
    RunWarning: RunState._warning,
    LLMCallFinished: RunState._call_finished,
    TaskStarted: RunState._task_started,
    TaskRetried: RunState._task_retried,
    RateLimitWaiting: RunState._rate_limit_waiting,
    RateLimitWaited: RunState._rate_limit_waited,
    TaskFinished: RunState._task_finished,
    TaskFailed: RunState._task_failed,
    TaskBlocked: RunState._task_blocked,
    TaskSkipped: RunState._task_skipped,
    TaskCancelled: RunState._task_cancelled,
    StepStarted: RunState._step_started,
    StepFinished: RunState._step_finished,
    StepFailed: RunState._step_failed,
    SubtasksPlanned: RunState._subtasks,
    ApprovalRequested: RunState._approval_requested,
    ApprovalResolved: RunState._approval_resolved,
    RunPaused: RunState._paused,
    RunResumed: RunState._paused,
    DeliverableReady: RunState._deliverable,
    RunFinished: RunState._run_finished,
}
