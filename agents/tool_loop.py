"""A task whose role has tools: the model calls them, in a bounded loop, until it answers.

Each step is one model call with `tools=`. Every tool call it asks for is
announced (ToolCallRequested), checked against the ToolPolicy (deny, ask the
person through the ApprovalGate, or allow), run, and reported
(ToolCallFinished); its result goes back to the model as a "tool" message.
The first answer without tool calls is the task's output.

Exactly once: with a ToolLedger, a call is on record (key "<run>:<task>:<step>:<index>")
before its tool runs and with its result after. A resumed task asks the model
again; a call it repeats (same tool, same arguments) that finished is replayed
from the record, and one that started and never finished is "in doubt": the
person says whether to run it again, skip it or give its result.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.calls import CallContext
from agents.errors import ToolStepsExhausted
from agents.events import (
    ApprovalRequested,
    ApprovalResolved,
    ToolCallFinished,
    ToolCallRequested,
)
from agents.ports import (
    Action,
    ApprovalGate,
    ApprovalRequest,
    Decision,
    LedgerEntry,
    Message,
    Response,
    ToolCall,
    ToolLedger,
    Usage,
)
from agents.roster import Role
from agents.tools import (
    Permission,
    Risk,
    SearchFn,
    Tool,
    ToolContext,
    ToolLimits,
    ToolPolicy,
    ToolRegistry,
    invoke,
)

__all__ = ["IN_DOUBT_NOTE", "IN_DOUBT_SKIPPED", "ToolSetup", "arguments_hash", "run_tool_loop"]

EVENT_RESULT_CHARS = 4000
"""A result longer than this is cut in its ToolCallFinished event (not for the model)."""

IN_DOUBT_NOTE = "This call started before Troupe stopped and may or may not have taken effect."
IN_DOUBT_SKIPPED = "skipped: in doubt, the person chose not to re-run it"

ModelCall = Callable[[Sequence[Message], Sequence[dict]], Awaitable[tuple[Response, int]]]


@dataclass(frozen=True)
class ToolSetup:
    """The tools of a run, and who may use them how."""

    registry: ToolRegistry
    workspace: Path
    """The project's workspace folder."""
    policy: ToolPolicy = field(default_factory=ToolPolicy)
    search: SearchFn | None = None
    """Search over the project's earlier outputs (for search_outputs)."""
    limits: ToolLimits = field(default_factory=ToolLimits)
    max_steps: int = 8
    """Model calls per task, at most, while it is still calling tools."""
    ledger: ToolLedger | None = None
    """Where calls are recorded so a resumed run runs none twice; None: no record."""


@dataclass
class _Totals:
    usage: Usage = Usage()
    cost: float = 0.0
    attempts: int = 0

    def add(self, response: Response, attempts: int) -> None:
        self.usage += response.usage
        self.cost += response.cost
        self.attempts += attempts


async def run_tool_loop(
    call: ModelCall, role: Role, messages: Sequence[Message], setup: ToolSetup,
    ctx: CallContext, gate: ApprovalGate | None,
) -> tuple[Response, int]:
    """The task's final answer (usage and cost summed over its steps) and attempts used."""
    specs = setup.registry.specs(role.tools)
    tool_ctx = ToolContext(setup.workspace, ctx.run_id, ctx.task_id, setup.search, setup.limits)
    history, totals = list(messages), _Totals()
    for step in range(1, setup.max_steps + 1):
        response, attempts = await call(history, specs)
        totals.add(response, attempts)
        if not response.tool_calls:
            return replace(response, usage=totals.usage, cost=totals.cost), totals.attempts
        history.append(Message("assistant", response.text, tool_calls=response.tool_calls))
        for index, tool_call in enumerate(response.tool_calls):
            call_id = f"{ctx.task_id}:{step}:{index}"
            result = await _one_call(tool_call, call_id, role, setup, tool_ctx, ctx, gate)
            history.append(Message("tool", result, tool_call_id=tool_call.id))
    raise ToolStepsExhausted(
        f"still calling tools after {setup.max_steps} steps (the limit) without a final answer"
    )


async def _one_call(
    tool_call: ToolCall, call_id: str, role: Role, setup: ToolSetup, tool_ctx: ToolContext,
    ctx: CallContext, gate: ApprovalGate | None,
) -> str:
    ctx.sink.emit(ToolCallRequested(run_id=ctx.run_id, task_id=ctx.task_id, call_id=call_id,
                                    tool=tool_call.name, arguments=tool_call.arguments))
    started = time.perf_counter()
    result, failed, how = await _settle(tool_call, call_id, role, setup, tool_ctx, ctx, gate)
    shown = result if len(result) <= EVENT_RESULT_CHARS else result[:EVENT_RESULT_CHARS] + " [...]"
    ctx.sink.emit(ToolCallFinished(
        run_id=ctx.run_id, task_id=ctx.task_id, call_id=call_id, tool=tool_call.name, result=shown,
        error=failed, duration_ms=round((time.perf_counter() - started) * 1000, 1), permission=how,
    ))
    return result


async def _settle(
    tool_call: ToolCall, call_id: str, role: Role, setup: ToolSetup, tool_ctx: ToolContext,
    ctx: CallContext, gate: ApprovalGate | None,
) -> tuple[str, bool, str]:
    """(result, failed, how it was let through) for one call."""
    tool = setup.registry.get(tool_call.name) if tool_call.name in role.tools else None
    if tool is None:
        return f"error: there is no tool named {tool_call.name!r} for you", True, "unknown"
    args = _arguments(tool_call.arguments)
    if isinstance(args, str):
        return args, True, "invalid"
    key, digest = f"{ctx.run_id}:{call_id}", arguments_hash(tool.name, args)
    entry = await setup.ledger.prior(key) if setup.ledger is not None else None
    if entry is not None and entry.arguments_hash == digest:
        if entry.finished:
            return entry.result, entry.error, "replayed"
        if tool.risk is not Risk.READ or tool.is_mcp:  # reading twice harms no one
            return await _in_doubt(tool, entry, key, setup, tool_ctx, ctx, gate)
    permission = setup.policy.permission(tool, role.name)
    if permission is Permission.DENY:
        return "denied by policy", True, "deny"
    if permission is Permission.ASK:
        if gate is None:
            return "error: this call needs the person's approval and no one can approve here", True, "ask"
        decision = await _ask(tool.name, _pretty(args), ctx, gate)
        if decision.action is Action.REJECT:
            return "the person refused this call", True, "rejected"
        if decision.action is Action.OVERRIDE:
            return decision.text, False, "overridden"
        if decision.action is Action.EDIT:
            args = _arguments(decision.text)
            if isinstance(args, str):
                return f"{args} (in the person's edit)", True, "edited"
    result, failed = await _run(tool, args, key, digest, setup.ledger, tool_ctx)
    return result, failed, permission.value


async def _in_doubt(
    tool: Tool, entry: LedgerEntry, key: str, setup: ToolSetup, tool_ctx: ToolContext,
    ctx: CallContext, gate: ApprovalGate | None,
) -> tuple[str, bool, str]:
    """A call that started before a crash and never finished: the person decides."""
    ledger = setup.ledger
    assert ledger is not None
    if gate is None:  # left in doubt on record, for a run someone can answer
        return "error: this call may already have run and no one can say whether to re-run it", True, "in_doubt"
    details = f"{_pretty(_arguments(entry.arguments))}\n\n{IN_DOUBT_NOTE}"
    decision = await _ask(f"In doubt: {tool.name}", details, ctx, gate)
    if decision.action is Action.REJECT:
        await ledger.finish(key, IN_DOUBT_SKIPPED, True)
        return IN_DOUBT_SKIPPED, True, "in_doubt_skipped"
    if decision.action is Action.OVERRIDE:
        await ledger.finish(key, decision.text, False)
        return decision.text, False, "in_doubt_overridden"
    text = decision.text.split(IN_DOUBT_NOTE)[0] if decision.action is Action.EDIT else entry.arguments
    args = _arguments(text)
    if isinstance(args, str):
        return f"{args} (in the person's edit)", True, "edited"
    result, failed = await _run(tool, args, key, entry.arguments_hash, ledger, tool_ctx)
    return result, failed, "in_doubt_rerun"


async def _run(
    tool: Tool, args: dict[str, Any], key: str, digest: str, ledger: ToolLedger | None,
    tool_ctx: ToolContext,
) -> tuple[str, bool]:
    """Invoke the tool, on record before and after when there is a ledger."""
    if ledger is not None:
        await ledger.begin(key, tool.name, digest, json.dumps(args, ensure_ascii=False))
    result, failed = await invoke(tool, args, tool_ctx)
    if ledger is not None:
        await ledger.finish(key, result, failed)
    return result, failed


def arguments_hash(tool: str, args: dict[str, Any]) -> str:
    """Same tool and same arguments (however the model spaced its JSON): same hash."""
    canonical = json.dumps([tool, args], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _pretty(args: dict[str, Any] | str) -> str:
    return args if isinstance(args, str) else json.dumps(args, indent=2, ensure_ascii=False)


def _arguments(text: str) -> dict[str, Any] | str:
    """The arguments object, or an "error: ..." text for the model."""
    try:
        args = json.loads(text or "{}")
    except ValueError as exc:
        return f"error: the arguments are not valid JSON ({exc})"
    if not isinstance(args, dict):
        return "error: the arguments must be a JSON object"
    return args


async def _ask(title: str, details: str, ctx: CallContext, gate: ApprovalGate) -> Decision:
    request = ApprovalRequest(
        request_id=uuid.uuid4().hex[:12], run_id=ctx.run_id, task_id=ctx.task_id,
        subject="tool", title=title, details=details,
    )
    ctx.sink.emit(ApprovalRequested(
        run_id=ctx.run_id, request_id=request.request_id, task_id=ctx.task_id,
        subject=request.subject, title=request.title, details=request.details,
    ))
    decision = await gate.decide(request)
    ctx.sink.emit(ApprovalResolved(
        run_id=ctx.run_id, request_id=request.request_id, task_id=ctx.task_id,
        action=decision.action.value, text=decision.text,
    ))
    return decision
