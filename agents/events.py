"""Typed, immutable run events: the audit trail and the resume checkpoint.

Every event carries the run id and a wall-clock timestamp. `to_dict` /
`event_from_dict` give the JSON form stored in SQLite and printed by
`troupe run --json`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from agents.approvals import (
    BudgetQuestion,
    ConflictQuestion,
    DeadlineQuestion,
    Subject,
    TaskQuestion,
    ToolQuestion,
)


@dataclass(frozen=True, kw_only=True)
class RunEvent:
    """Base of every event."""

    run_id: str
    """The run this event belongs to."""
    ts: float = field(default_factory=time.time)
    """When it happened (seconds since the epoch)."""

    kind: ClassVar[str] = "RunEvent"
    persist: ClassVar[bool] = True
    """False for high-volume events the history does not need (token deltas)."""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["type"] = self.kind
        return data


_REGISTRY: dict[str, type[RunEvent]] = {}


def _event(cls: type[RunEvent]) -> type[RunEvent]:
    cls.kind = cls.__name__
    _REGISTRY[cls.__name__] = cls
    return cls


def event_from_dict(data: dict[str, Any]) -> RunEvent:
    payload = dict(data)
    cls = _REGISTRY[payload.pop("type")]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in payload.items() if k in names})


@_event
@dataclass(frozen=True, kw_only=True)
class RunStarted(RunEvent):
    goal: str
    """The goal being worked on."""
    plan: dict[str, Any]
    """The plan as run (Plan.to_dict())."""
    resumed: bool = False
    """True when this continues an earlier start of the run (some results are kept)."""
    kept: list[str] = field(default_factory=list)
    """Tasks whose earlier results this start keeps; every other task runs (again).
    Empty in events stored before it existed: then a resume keeps every completed task."""


@_event
@dataclass(frozen=True, kw_only=True)
class ConstraintsSet(RunEvent):
    """The run's own budget and deadline (agents.constraints.Constraints): set at intake
    and announced by every start, or changed when the person answers the deadline."""

    budget_usd: float | None = None
    """US dollars this run may spend before it asks; None: the settings' budget applies."""
    deadline: float | None = None
    """When the run should be done, epoch seconds; None: no deadline."""
    reason: str = ""
    """Why they changed, in words ("a new deadline"); "" at a start."""


@_event
@dataclass(frozen=True, kw_only=True)
class PlanProposed(RunEvent):
    plan: dict[str, Any]
    """The orchestrator's plan."""
    attempts: int = 1
    """How many planner calls it took."""
    template: str = ""
    """The built-in plan shape used instead of asking a model too small to plan
    (agents/plan/templates.py); "": the orchestrator wrote it."""


@_event
@dataclass(frozen=True, kw_only=True)
class PlanEdited(RunEvent):
    plan: dict[str, Any]
    """The plan after the person's edit."""
    note: str = ""
    """What changed, in words."""


@_event
@dataclass(frozen=True, kw_only=True)
class PlanRejectedByModel(RunEvent):
    error: str
    """Why the orchestrator's answer was not a valid plan (before a repair)."""
    attempt: int
    """Which planner attempt failed."""


@_event
@dataclass(frozen=True, kw_only=True)
class TaskStarted(RunEvent):
    task_id: str
    agent: str
    attempt: int
    """1 for the first try."""


@_event
@dataclass(frozen=True, kw_only=True)
class TokenDelta(RunEvent):
    task_id: str
    """Task streaming the text, or "" for the planner/synthesizer."""
    text: str
    persist: ClassVar[bool] = False


@_event
@dataclass(frozen=True, kw_only=True)
class LLMCallFinished(RunEvent):
    task_id: str
    """Task the call served ("" for planner and synthesizer)."""
    purpose: str
    """"task", "plan" or "synthesis"."""
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    """US dollars, from litellm's cost map; 0 when unknown."""
    cost_known: bool
    latency_ms: float
    ok: bool = True
    error: str = ""
    agent: str = ""
    """The role that made the call (a review's reviewer); "" for planner and synthesizer."""
    tokens_estimated: bool = False
    """The provider sent no usage: Troupe counted the tokens itself (shown as "~")."""


@_event
@dataclass(frozen=True, kw_only=True)
class ToolCallRequested(RunEvent):
    task_id: str
    call_id: str
    """Stable id of the call: "<task id>:<step>:<index>"."""
    tool: str
    arguments: str
    """The arguments as the model wrote them (JSON text)."""


@_event
@dataclass(frozen=True, kw_only=True)
class ToolCallFinished(RunEvent):
    task_id: str
    call_id: str
    tool: str
    result: str
    """What went back to the model (cut for the event past a few thousand characters)."""
    error: bool = False
    """The tool failed, was refused by policy or by the person."""
    duration_ms: float = 0.0
    permission: str = ""
    """How the call was let through: allow / ask (approved) / deny / rejected / overridden;
    replayed (its recorded result, from before a crash) / in_doubt_rerun / in_doubt_skipped /
    in_doubt_overridden (it had started before a crash; the person chose)."""


@_event
@dataclass(frozen=True, kw_only=True)
class ToolCallProgress(RunEvent):
    """A running tool call says how far it is (an MCP server's progress report)."""

    task_id: str
    call_id: str
    tool: str
    message: str
    """One short line: "step 3 (40%)"."""
    persist: ClassVar[bool] = False


@_event
@dataclass(frozen=True, kw_only=True)
class RunWarning(RunEvent):
    """Something the person should know that does not stop the run (an MCP server
    that did not start or stopped answering: the run goes on without its tools)."""

    message: str
    """One line (more for a server's last stderr lines), worded for the person."""
    source: str = ""
    """What it is about, e.g. "mcp:<server name>"."""
    task_id: str = ""
    """The task that met the problem; "" when it concerns the whole run."""


@_event
@dataclass(frozen=True, kw_only=True)
class TaskRetried(RunEvent):
    task_id: str
    attempt: int
    """The attempt that failed."""
    error: str
    delay: float
    """Seconds waited before the next attempt."""


@_event
@dataclass(frozen=True, kw_only=True)
class ModelFellBack(RunEvent):
    """A model failed after its retries; the call moves to the next in its fallback list."""

    task_id: str
    """The task ("" for the planner or the synthesizer)."""
    failed_model: str
    """The model reference that failed."""
    next_model: str
    """The model reference tried next."""
    error: str
    """Why the failed model gave up."""


@_event
@dataclass(frozen=True, kw_only=True)
class RateLimitWaiting(RunEvent):
    """A model call waits for its provider's rate limiter (agents/llm/limiter.py): its task
    shows "waiting for <provider> rate limit", and the wait is not part of its duration."""

    task_id: str
    """The task ("" for the planner or the synthesizer)."""
    step: str = ""
    """The step of a task with a pattern ("draft 2"); "" for the task's own call."""
    provider: str
    """The provider's name, as in "waiting for <provider> rate limit"."""
    reason: str = ""
    """Why, in a few words: "5 calls in flight, its limit", "the server said 429; ..."."""


@_event
@dataclass(frozen=True, kw_only=True)
class RateLimitWaited(RunEvent):
    """The call that waited (RateLimitWaiting) got its turn, or stopped waiting."""

    task_id: str
    step: str = ""
    provider: str
    seconds: float
    """How long it waited."""


@_event
@dataclass(frozen=True, kw_only=True)
class TaskFinished(RunEvent):
    task_id: str
    output: str
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    started: float
    finished: float
    source: str = "model"
    """"model", "override" (the person's text), "group" or "resumed"."""
    waited: float = 0.0
    """Seconds of `finished - started` spent waiting for a rate limiter (not its work)."""


@_event
@dataclass(frozen=True, kw_only=True)
class TaskFailed(RunEvent):
    task_id: str
    error: str
    attempts: int


@_event
@dataclass(frozen=True, kw_only=True)
class TaskBlocked(RunEvent):
    task_id: str
    because: str
    """The dependency that failed, was rejected or cancelled."""


@_event
@dataclass(frozen=True, kw_only=True)
class StepStarted(RunEvent):
    """One agent's turn inside a task that has a pattern (a draft, a vote, an item)."""

    task_id: str
    step: str
    """Stable within the task across resumes: "draft 2", "review 2", "answer 3", "item 17"."""
    agent: str
    """The role (and "@model" when the plan named one)."""


@_event
@dataclass(frozen=True, kw_only=True)
class StepFinished(RunEvent):
    """A step's result; a resumed run reuses it instead of asking the model again."""

    task_id: str
    step: str
    agent: str
    output: str
    note: str = ""
    """What the pattern made of it, in a few words: "approved", "revise", "chose code"."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    replayed: bool = False
    """Taken from an earlier start of the run, not asked again."""


@_event
@dataclass(frozen=True, kw_only=True)
class SubtasksPlanned(RunEvent):
    """A manager (the delegate pattern) planned its sub-tasks: they show under its task."""

    task_id: str
    within: str = ""
    """The step prefix of a nested manager ("sub a"); "" for the plan's own task."""
    tasks: list[dict[str, Any]] = field(default_factory=list)
    """The sub-tasks, as plan-file task dicts (ids as the manager wrote them)."""


@_event
@dataclass(frozen=True, kw_only=True)
class StepFailed(RunEvent):
    task_id: str
    step: str
    agent: str
    error: str


@_event
@dataclass(frozen=True, kw_only=True)
class TaskSkipped(RunEvent):
    task_id: str
    reason: str


@_event
@dataclass(frozen=True, kw_only=True)
class TaskCancelled(RunEvent):
    task_id: str


@_event
@dataclass(frozen=True, kw_only=True)
class ApprovalRequested(RunEvent):
    """A question for the person; `agents.ports.request_from_event` rebuilds the ApprovalRequest.

    Exactly one of `task` / `tool` / `budget` / `conflict` / `deadline` is set, the one `subject` names
    (none in events stored before they existed, which carried only text).
    """

    request_id: str
    task_id: str
    subject: Subject
    title: str
    task: TaskQuestion | None = None
    tool: ToolQuestion | None = None
    budget: BudgetQuestion | None = None
    conflict: ConflictQuestion | None = None
    deadline: DeadlineQuestion | None = None

    def __post_init__(self) -> None:
        # event_from_dict hands over JSON: the enum as text, the questions as dicts
        object.__setattr__(self, "subject", Subject(self.subject))
        questions = (("task", TaskQuestion), ("tool", ToolQuestion), ("budget", BudgetQuestion),
                     ("conflict", ConflictQuestion), ("deadline", DeadlineQuestion))
        for name, kind in questions:
            value = getattr(self, name)
            if isinstance(value, dict):
                object.__setattr__(self, name, kind.from_dict(value))


@_event
@dataclass(frozen=True, kw_only=True)
class ApprovalResolved(RunEvent):
    request_id: str
    task_id: str
    action: str
    """approve / edit / reject / override; for a conflict also pick / retry."""
    text: str = ""
    """New instructions (edit) or the person's output (override)."""


@_event
@dataclass(frozen=True, kw_only=True)
class RunPaused(RunEvent):
    pass


@_event
@dataclass(frozen=True, kw_only=True)
class RunResumed(RunEvent):
    pass


@_event
@dataclass(frozen=True, kw_only=True)
class DeliverableReady(RunEvent):
    markdown: str
    partial: bool = False
    """It covers only the tasks that finished (the person rejected others)."""


@_event
@dataclass(frozen=True, kw_only=True)
class RunFinished(RunEvent):
    status: str
    """completed / failed / cancelled (agents.run.state.RunStatus)."""
    prompt_tokens: int
    completion_tokens: int
    cost: float
    error: str = ""
    partial: bool = False
    """Completed with a deliverable of only the tasks that finished."""
