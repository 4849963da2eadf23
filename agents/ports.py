"""The small interfaces through which the core reaches the world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from agents.approvals import (
    BudgetQuestion,
    ConflictQuestion,
    DeadlineQuestion,
    Subject,
    TaskQuestion,
    ToolQuestion,
)
from agents.events import ApprovalRequested, RunEvent

if TYPE_CHECKING:
    from agents.llm.prices import Price

# --- LLM ---------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for."""

    id: str
    """The provider's id for the call; tool results answer to it."""
    name: str
    arguments: str
    """The arguments as the model wrote them: a JSON object, as text."""


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str
    """system / user / assistant / tool."""
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    """An assistant message's calls of tools."""
    tool_call_id: str | None = None
    """A tool message: the call it gives the result of."""


@dataclass(frozen=True)
class Limits:
    """How hard one provider may be driven (agents/llm/limiter.py keeps to it)."""

    concurrent: int | None = None
    """Calls in flight at once; None: no cap (the limiter still learns one from 429s)."""
    rpm: int | None = None
    """Requests per minute; None: not limited."""
    tpm: int | None = None
    """Tokens (prompt and answer) per minute; None: not limited."""

    def __post_init__(self) -> None:
        for name in ("concurrent", "rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")

    def to_dict(self) -> dict[str, int | None]:
        return {"concurrent": self.concurrent, "rpm": self.rpm, "tpm": self.tpm}

    @classmethod
    def from_dict(cls, data: Any) -> Limits:
        """Limits from JSON; 0 or null mean "not limited". Raises ValueError on bad values."""
        if not isinstance(data, dict):
            raise ValueError(f"limits must be an object, not {type(data).__name__}")
        values = {k: data.get(k) or None for k in ("concurrent", "rpm", "tpm")}
        return cls(**values)

    def describe(self) -> str:
        """"4 at once, 50 requests/min, 40000 tokens/min", or "no limits"."""
        parts = [f"{self.concurrent} at once" if self.concurrent else "",
                 f"{self.rpm} requests/min" if self.rpm else "",
                 f"{self.tpm} tokens/min" if self.tpm else ""]
        return ", ".join(p for p in parts if p) or "no limits"


@dataclass(frozen=True)
class LLMRequest:
    """Everything one model call needs; keys travel here, never into storage."""

    model: str
    """A litellm model string, e.g. "openai/gpt-4o-mini"."""
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    json_schema: dict[str, Any] | None = None
    """Ask for JSON matching this schema (response_format) when set."""
    repeat_penalty: float | None = None
    """llama.cpp's repetition penalty (1.0: none), for models on this machine; None: theirs."""
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 600.0
    """Seconds for the whole call (the overall limit; an answer still streaming is
    cut only by this)."""
    idle_timeout: float | None = 60.0
    """Seconds a streamed call may go without receiving anything (before the first
    byte, between chunks) before it is given up as stalled; None: no idle limit."""
    tools: tuple[dict[str, Any], ...] | None = None
    """OpenAI `tools=` specs the model may call; None: no tools."""
    provider: str = ""
    """The provider's name as the person knows it ("openai", "work"), for "waiting for
    <provider> rate limit"; "" : taken from the model string or the base URL."""
    limits: Limits | None = None
    """The provider's limits (agents/llm/limiter.py); None: keep what its limiter has."""
    price: Price | None = None
    """What its tokens cost when not litellm's cost map (set by the person, or free
    on this machine); None: the cost map's price, or unknown."""
    ref: str = ""
    """The model as the person named it ("llm/smol"), for history; "": `model`."""


@dataclass(frozen=True)
class Usage:
    """Tokens of a call, as the provider counted them (or Troupe, when it sent none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    """Counted by Troupe's tokenizer because the provider reported no usage (a few % off)."""

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.estimated or other.estimated,
        )


@dataclass(frozen=True)
class Response:
    """A finished model call."""

    text: str
    usage: Usage
    cost: float
    """US dollars; 0 when the model's price is unknown."""
    cost_known: bool
    model: str
    latency_ms: float
    """From sending the request to the whole answer: not the adapter's own set-up (litellm's import)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The tools the model wants called before it answers."""


@dataclass(frozen=True)
class Delta:
    """A piece of a streamed answer; the last one carries the whole Response."""

    text: str = ""
    final: Response | None = None


class LLMClient(Protocol):
    async def complete(self, request: LLMRequest) -> Response: ...

    def stream(self, request: LLMRequest) -> AsyncIterator[Delta]: ...


# --- events --------------------------------------------------------------------


class EventSink(Protocol):
    def emit(self, event: RunEvent) -> None:
        """Receive an event. Must not block: queue work, don't do it here."""
        ...


class CallbackSink:
    """An EventSink made of one function (for objects whose own `emit` means
    something else, such as a QObject's)."""

    def __init__(self, emit: Callable[[RunEvent], None]) -> None:
        self.emit = emit


class FanOut:
    """An EventSink that forwards to several sinks."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self._sinks = list(sinks)

    def emit(self, event: RunEvent) -> None:
        for sink in self._sinks:
            sink.emit(event)


# --- approvals ----------------------------------------------------------------


class Action(StrEnum):
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    OVERRIDE = "override"
    PICK = "pick"
    """A conflict: take one claim (Decision.text is its number, from 1)."""
    RETRY = "retry"
    """A conflict: run another round."""


@dataclass(frozen=True)
class ApprovalRequest:
    """Something the person must decide on before the run continues.

    The question itself is typed: exactly one of `task` / `tool` / `budget`,
    the one `subject` names. Whoever shows it renders its own text from them.
    """

    request_id: str
    run_id: str
    task_id: str
    """The task concerned ("" for the run's budget)."""
    subject: Subject
    title: str
    """A task's title, a tool's name, or the budget question in a few words."""
    task: TaskQuestion | None = None
    tool: ToolQuestion | None = None
    budget: BudgetQuestion | None = None
    conflict: ConflictQuestion | None = None
    deadline: DeadlineQuestion | None = None

    @property
    def edit_text(self) -> str:
        """What an EDIT starts from: a task's instructions, a tool call's arguments JSON."""
        if self.task is not None:
            return self.task.instructions
        if self.tool is not None:
            return self.tool.arguments
        if self.conflict is not None:
            return self.conflict.proposed
        return ""


def requested_event(request: ApprovalRequest) -> ApprovalRequested:
    """The event that records `request` (request_from_event gives it back)."""
    return ApprovalRequested(
        run_id=request.run_id, request_id=request.request_id, task_id=request.task_id,
        subject=request.subject, title=request.title,
        task=request.task, tool=request.tool, budget=request.budget, conflict=request.conflict,
        deadline=request.deadline,
    )


def request_from_event(event: ApprovalRequested) -> ApprovalRequest:
    """The request an ApprovalRequested event recorded."""
    return ApprovalRequest(
        request_id=event.request_id, run_id=event.run_id, task_id=event.task_id,
        subject=event.subject, title=event.title,
        task=event.task, tool=event.tool, budget=event.budget, conflict=event.conflict,
        deadline=event.deadline,
    )


@dataclass(frozen=True)
class Decision:
    """The person's answer to an ApprovalRequest."""

    action: Action
    text: str = ""
    """New instructions for EDIT, the output to use for OVERRIDE; for REJECT, the reason
    (a task's is kept with the run; a tool call's, if any, is what the model is told)."""


class ApprovalGate(Protocol):
    async def decide(self, request: ApprovalRequest) -> Decision: ...


class ApproveAll:
    """A gate that approves everything, risky tool calls included (tests, benchmarks).

    The CLI's `--yes` does not use it: see `app/cli/console.py` `UnattendedGate`."""

    async def decide(self, request: ApprovalRequest) -> Decision:
        return Decision(Action.APPROVE)


# --- tool calls: exactly once ----------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    """What is on record for one tool call (by its idempotency key)."""

    tool: str
    arguments_hash: str
    """Hash of the tool name and the arguments the model asked with; a resumed
    call replays only when the model asks for the same thing again."""
    arguments: str
    """The arguments that ran (JSON text; the person's edit, if any)."""
    finished: bool
    """False: it started and its end was never recorded (in doubt)."""
    result: str = ""
    error: bool = False


class ToolLedger(Protocol):
    """Durable record of tool calls, so a resumed run runs none of them twice.

    `begin` must be on disk when it returns: the tool runs right after, and a
    kill -9 during it must still leave the call on record.
    """

    async def begin(self, key: str, tool: str, arguments_hash: str, arguments: str) -> None: ...

    async def finish(self, key: str, result: str, error: bool) -> None: ...

    async def prior(self, key: str) -> LedgerEntry | None: ...
