"""Fakes for tests and demos: an in-process model, a recording sink, a scripted gate.

Real tests of the LLM path use a local HTTP server (tests/support); these are
for exercising the core's logic quickly and deterministically.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from agents.errors import LLMError
from agents.events import RunEvent
from agents.ports import (
    Action,
    ApprovalRequest,
    Decision,
    Delta,
    LedgerEntry,
    LLMRequest,
    Response,
    Usage,
)

Reply = str | LLMError
Script = Callable[[LLMRequest], Reply]


@dataclass
class FakeLLM:
    """An LLMClient answering from a function of the request.

    The script returns the text to stream, or an LLMError to raise.
    """

    script: Script = field(default=lambda request: "ok")
    latency: float = 0.0
    cost_per_call: float = 0.0
    """What each answer costs (US dollars), for budget tests."""
    requests: list[LLMRequest] = field(default_factory=list)

    async def complete(self, request: LLMRequest) -> Response:
        final = None
        async for delta in self.stream(request):
            final = delta.final or final
        assert final is not None
        return final

    async def stream(self, request: LLMRequest) -> AsyncIterator[Delta]:
        self.requests.append(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        reply = self.script(request)
        if isinstance(reply, LLMError):
            raise reply
        words = reply.split(" ")
        for i, word in enumerate(words):
            yield Delta(text=word if i == 0 else " " + word)
        usage = Usage(prompt_tokens=sum(len(m.content) for m in request.messages) // 4,
                      completion_tokens=len(words))
        yield Delta(final=Response(text=reply, usage=usage, cost=self.cost_per_call,
                                   cost_known=bool(self.cost_per_call),
                                   model=request.model, latency_ms=self.latency * 1000))


class RecordingSink:
    """An EventSink keeping every event in order."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    def emit(self, event: RunEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[RunEvent]) -> list:
        return [e for e in self.events if isinstance(e, kind)]


class ScriptedGate:
    """An ApprovalGate answering from a dict of task id -> Decision (default approve)."""

    def __init__(self, decisions: dict[str, Decision] | None = None, delay: float = 0.0) -> None:
        self.decisions = decisions or {}
        self.delay = delay
        self.requests: list[ApprovalRequest] = []

    async def decide(self, request: ApprovalRequest) -> Decision:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.decisions.get(request.task_id, Decision(Action.APPROVE))


def last_user_message(request: LLMRequest) -> str:
    return next(m.content for m in reversed(request.messages) if m.role == "user")


def route(table: Sequence[tuple[str, Reply]], default: Reply = "done") -> Script:
    """A script answering by the first substring found in the last user message."""

    def script(request: LLMRequest) -> Reply:
        text = last_user_message(request)
        for needle, reply in table:
            if needle in text:
                return reply
        return default

    return script


class MemoryLedger:
    """A ToolLedger in a dict (a crash is: drop the object, keep `entries`)."""

    def __init__(self, entries: dict[str, LedgerEntry] | None = None) -> None:
        self.entries = entries if entries is not None else {}

    async def begin(self, key: str, tool: str, arguments_hash: str, arguments: str) -> None:
        self.entries[key] = LedgerEntry(tool, arguments_hash, arguments, finished=False)

    async def finish(self, key: str, result: str, error: bool) -> None:
        entry = self.entries[key]
        self.entries[key] = LedgerEntry(entry.tool, entry.arguments_hash, entry.arguments,
                                        finished=True, result=result, error=error)

    async def prior(self, key: str) -> LedgerEntry | None:
        return self.entries.get(key)
