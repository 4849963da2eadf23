"""Plain, frozen snapshots returned by the Store (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.approvals import Subject


@dataclass(frozen=True)
class SearchHit:
    """Where a searched run matched, and the words around the match."""

    kind: str
    """goal / plan / output / deliverable / approval (search_docs.kind)."""
    ref: str
    """The task id of an output, the request id of an approval edit, else ""."""
    where: str
    """Said to a person: "goal", "output of “Draft”", "approval edit of “Draft”"."""
    text: str
    """A few words around the match on one line; "…" where the text was cut."""
    marks: tuple[tuple[int, int], ...] = ()
    """(start, end) of each matched word in `text`."""

    def marked(self, before: str, after: str) -> str:
        """`text` with `before` and `after` around each matched word."""
        out, last = [], 0
        for start, end in self.marks:
            out += [self.text[last:start], before, self.text[start:end], after]
            last = end
        return "".join([*out, self.text[last:]])

    def to_dict(self) -> dict[str, Any]:
        """The hit for JSON (`troupe runs --search --json`)."""
        return {"kind": self.kind, "ref": self.ref, "where": self.where, "text": self.text,
                "marks": [list(m) for m in self.marks]}


@dataclass(frozen=True)
class RunSummary:
    """One line of the history list."""

    id: str
    """The run id (short uuid hex)."""
    project: str
    """The project's name."""
    goal: str
    """The goal, verbatim."""
    status: str
    """planned / running / paused / completed / failed / cancelled / interrupted."""
    created: float
    """When the run was created (seconds since the epoch)."""
    updated: float
    """When the run last changed (last event written)."""
    prompt_tokens: int
    """Prompt tokens so far (final once the run finished)."""
    completion_tokens: int
    """Completion tokens so far."""
    cost: float
    """US dollars so far."""
    task_count: int
    """Tasks in the plan as run (0 before it started)."""
    tasks_completed: int
    """How many of them completed."""
    partial: bool = False
    """Its deliverable covers only the tasks that finished (some were rejected); with
    status "completed" this is a partial success."""
    unpriced_calls: int = 0
    """Its model calls whose price was unknown (counted as $0 in `cost`)."""
    estimated_calls: int = 0
    """Its model calls whose tokens Troupe counted (the provider sent none): totals are "~"."""
    hit: SearchHit | None = None
    """In a search's results: where the run matched and the words around it."""
    follow_up_of: str | None = None
    """The run whose result this one followed up ("Follow up…" on its deliverable)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TaskRow:
    """A task's current state (projection of its events)."""

    task_id: str
    """The plan's task id."""
    parent_id: str | None
    """The group it belongs to, None at the top level."""
    position: int
    """Order in the plan, depth first."""
    title: str
    """Short name."""
    agent: str
    """Roster role running it."""
    instructions: str
    """Instructions (as edited on approval)."""
    depends_on: tuple[str, ...]
    """Ids it waits for."""
    requires_approval: bool
    """Whether it waits for the person."""
    status: str
    """pending / running / waiting_approval / completed / failed / blocked / skipped / cancelled."""
    attempts: int
    """Attempts so far."""
    output: str | None
    """The result text once completed."""
    prompt_tokens: int
    """Prompt tokens spent on it."""
    completion_tokens: int
    """Completion tokens spent on it."""
    cost: float
    """US dollars spent on it."""
    started: float | None
    """When it first started."""
    finished: float | None
    """When it completed, failed or was cancelled."""
    error: str | None
    """Why it failed, was blocked or skipped."""


@dataclass(frozen=True)
class RunDetail:
    """Everything the run view shows about one run."""

    id: str
    """The run id."""
    project: str
    """The project's name."""
    goal: str
    """The goal, verbatim."""
    status: str
    """The run's status."""
    created: float
    """When created."""
    updated: float
    """When last changed."""
    settings: dict[str, Any]
    """model, planner_model, api_base, max_parallel, ... (never keys)."""
    deliverable: str | None
    """The final Markdown, once synthesized."""
    prompt_tokens: int
    """Total prompt tokens."""
    completion_tokens: int
    """Total completion tokens."""
    cost: float
    """Total US dollars (of the priced calls: see unpriced_calls)."""
    error: str | None
    """Why the run failed, if it did."""
    plan_version: int | None
    """The latest plan version number, None if no plan was stored."""
    partial: bool = False
    """The deliverable covers only the tasks that finished (some were rejected)."""
    tasks: tuple[TaskRow, ...] = field(default_factory=tuple)
    """The tasks in plan order."""
    unpriced_calls: int = 0
    """Model calls whose price was unknown (counted as $0 in `cost`)."""
    estimated_calls: int = 0
    """Model calls whose tokens Troupe counted (the provider sent none): totals are "~"."""
    estimate: dict[str, Any] | None = None
    """The cost estimate made before it started (`RunEstimate.to_dict()`); None: none made."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def task(self, task_id: str) -> TaskRow:
        for row in self.tasks:
            if row.task_id == task_id:
                return row
        raise KeyError(task_id)


@dataclass(frozen=True)
class AnswerSample:
    """One finished model call's answer length, for estimating future ones."""

    role: str
    """The task's agent role; "synthesis" for a deliverable's synthesis."""
    kind: str
    """The task's pattern kind ("single", "review", ...)."""
    run_id: str
    task_id: str
    completion_tokens: int


@dataclass(frozen=True)
class PlanVersionRow:
    """One stored version of a run's plan."""

    version: int
    """1, 2, ... in order of storage."""
    source: str
    """proposed / edited / file."""
    plan: dict[str, Any]
    """Plan.to_dict() form."""
    created: float
    """When stored."""


@dataclass(frozen=True)
class FinishedTask:
    """A completed task's result, as a resumed run needs it (mirrors TaskFinished)."""

    task_id: str
    """The plan's task id."""
    output: str
    """The result text."""
    attempts: int
    """Attempts it took."""
    prompt_tokens: int
    """Prompt tokens spent."""
    completion_tokens: int
    """Completion tokens spent."""
    cost: float
    """US dollars spent."""
    started: float
    """When it started."""
    finished: float
    """When it finished."""


@dataclass(frozen=True)
class LLMCallRow:
    """One model call (from LLMCallFinished)."""

    task_id: str
    """Task served, "" for planner and synthesizer."""
    purpose: str
    """task / plan / synthesis."""
    model: str
    """The model as the person named it ("llm/smol"; older rows: the litellm string)."""
    prompt_tokens: int
    """Prompt tokens."""
    completion_tokens: int
    """Completion tokens."""
    cost: float
    """US dollars (0 when unknown)."""
    cost_known: bool
    """False when the model's price is unknown."""
    latency_ms: float
    """Wall time of the call."""
    ok: bool
    """False if the call failed."""
    error: str
    """The failure, if any."""
    ts: float
    """When it finished."""
    agent: str = ""
    """The role that made it ("" for planner and synthesizer, and in rows from before 0004)."""
    tokens_estimated: bool = False
    """Troupe counted its tokens (the provider reported none)."""


@dataclass(frozen=True)
class ApprovalRow:
    """An approval request and, once given, its answer."""

    request_id: str
    """The request's id."""
    task_id: str
    """The task concerned."""
    subject: Subject
    title: str
    """What is asked."""
    details: str
    """What the person approves, as plain text (app.approval_text)."""
    action: str | None
    """approve / edit / reject / override; None while pending."""
    text: str | None
    """New instructions or the person's output."""
    requested_at: float
    """When asked."""
    resolved_at: float | None
    """When answered; None while pending."""


@dataclass(frozen=True)
class WriteError:
    """An event the EventWriter could not store."""

    run_id: str
    """The event's run."""
    event_type: str
    """The event's kind."""
    message: str
    """The exception, as text."""
    ts: float
    """When the write failed."""


@dataclass(frozen=True)
class ToolCallRow:
    """A tool call on record (exactly once across crashes)."""

    key: str
    """"<run>:<task>:<step>:<index>"."""
    task_id: str
    tool: str
    arguments_hash: str
    """Hash of the tool name and the arguments the model asked with."""
    arguments: str
    """The arguments that ran (JSON text)."""
    status: str
    """started (in doubt if its process is gone) / finished."""
    result: str | None
    error: bool
    started_at: float
    finished_at: float | None
