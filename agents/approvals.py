"""What an approval asks about, as values: the typed parts of an ApprovalRequest.

The core fills these in; every edge that shows a question (the window's card,
the terminal prompt, the stored history) reads their fields and renders its
own text. Nothing downstream parses text the core wrote.

They travel inside `ApprovalRequested` events too, so they must survive
`dataclasses.asdict` -> JSON -> `from_dict` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Subject(StrEnum):
    """What an approval is about."""

    TASK = "task"
    """A task that needs the person's go-ahead before it runs."""
    TOOL = "tool"
    """A tool call (a risky one, or one in doubt after a crash)."""
    BUDGET = "budget"
    """The run's budget (or its project's monthly budget) is spent: continue or stop."""
    DEADLINE = "deadline"
    """The run's deadline has come: continue (with a new deadline or none) or stop and
    write up what is finished."""
    CONFLICT = "conflict"
    """Agents disagree (a review never approved, a split vote, an undecided judge):
    the person settles it."""


@dataclass(frozen=True)
class TaskRef:
    """A task named in a question (e.g. one whose output is an input)."""

    task_id: str
    title: str


@dataclass(frozen=True)
class TaskQuestion:
    """May this task run as planned?"""

    agent: str
    """The role that would run it."""
    instructions: str
    """The instructions it would run with (what an edit starts from)."""
    inputs: tuple[TaskRef, ...] = ()
    """The tasks whose outputs it receives."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskQuestion:
        inputs = tuple(TaskRef(**ref) if isinstance(ref, dict) else ref for ref in data.get("inputs", ()))
        return cls(agent=data.get("agent", ""), instructions=data.get("instructions", ""), inputs=inputs)


@dataclass(frozen=True)
class AskedCall:
    """A tool call as the model asks for it."""

    tool: str
    arguments: str
    """A JSON object, as text."""


@dataclass(frozen=True)
class ToolQuestion:
    """May this tool call run (or, in doubt, run again)?"""

    tool: str
    """The tool's name."""
    arguments: str
    """The exact arguments that would run: a JSON object, as text (what an edit starts from)."""
    in_doubt: bool = False
    """It started before Troupe stopped and its end was never recorded: it may
    or may not have taken effect. Approving runs it again."""
    instead: AskedCall | None = None
    """In doubt only: the resumed model asked for this other call at the same
    place; it runs after this one is settled."""
    risk: str = ""
    """What the tool can do (read / write / execute / network); "" when unknown."""
    confinement: str = ""
    """For code tools: what confines the call (the sandbox and its limits, or that
    this machine has none); "" for other tools."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolQuestion:
        instead = data.get("instead")
        return cls(
            tool=data.get("tool", ""), arguments=data.get("arguments", ""),
            in_doubt=bool(data.get("in_doubt", False)),
            instead=AskedCall(**instead) if isinstance(instead, dict) else instead,
            risk=data.get("risk", ""), confinement=data.get("confinement", ""),
        )


class BudgetScope(StrEnum):
    """Whose budget was reached."""

    RUN = "run"
    """This run's budget (set at intake, else the settings' budget per run)."""
    PROJECT_MONTH = "project_month"
    """The project's budget for the calendar month, across all its runs."""


@dataclass(frozen=True)
class BudgetQuestion:
    """The run has spent its budget (or its project's for the month): allow another step, or stop?"""

    spent: float
    """US dollars spent so far (by the run; for the project's month, by all its runs this month)."""
    limit: float
    """The limit that was reached."""
    step: float
    """How much more approving allows this run to spend before it asks again."""
    scope: BudgetScope = BudgetScope.RUN
    """The run's budget or the project's monthly one."""
    project: str = ""
    """PROJECT_MONTH: the project's name."""
    month: str = ""
    """PROJECT_MONTH: the month in words ("December 2026")."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", BudgetScope(self.scope))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BudgetQuestion:
        return cls(spent=float(data["spent"]), limit=float(data["limit"]), step=float(data["step"]),
                   scope=BudgetScope(data.get("scope") or BudgetScope.RUN),
                   project=data.get("project", ""), month=data.get("month", ""))


@dataclass(frozen=True)
class DeadlineQuestion:
    """The run's deadline has come: carry on (with a new deadline, or none), or stop and
    write up what is finished? Approve: no deadline; edit: the text is the new deadline
    (epoch seconds); reject: stop, and synthesise the finished tasks as a partial result."""

    deadline: float
    """The deadline that passed, epoch seconds."""
    done: int
    """Tasks finished so far."""
    total: int
    """Tasks in the plan (leaves)."""
    running: int = 0
    """Tasks under way now (stopping cancels them)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeadlineQuestion:
        return cls(deadline=float(data["deadline"]), done=int(data.get("done", 0)),
                   total=int(data.get("total", 0)), running=int(data.get("running", 0)))


@dataclass(frozen=True)
class Claim:
    """What one agent said in a conflict."""

    who: str
    """The agent (role, and model when a vote named one), and its part: "reviewer, round 3"."""
    text: str


@dataclass(frozen=True)
class ConflictQuestion:
    """Agents disagree: pick one claim, write the answer, run another round, or accept
    the pattern's own result."""

    kind: str
    """The pattern it arose in: review, vote, debate, route."""
    why: str
    """One line: "the reviewer did not approve after 3 rounds", "the votes split 2-1-1"."""
    claims: tuple[Claim, ...]
    proposed: str
    """The pattern's own result, taken when the person accepts as is (or under --yes)."""
    can_retry: bool = True
    """Whether "run another round" means something here."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConflictQuestion:
        claims = tuple(Claim(**c) if isinstance(c, dict) else c for c in data.get("claims", ()))
        return cls(kind=data.get("kind", ""), why=data.get("why", ""), claims=claims,
                   proposed=data.get("proposed", ""), can_retry=bool(data.get("can_retry", True)))


__all__ = [
    "AskedCall", "BudgetQuestion", "BudgetScope", "Claim", "ConflictQuestion", "DeadlineQuestion", "Subject",
    "TaskQuestion", "TaskRef", "ToolQuestion",
]
