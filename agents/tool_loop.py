"""A task whose role has tools: the model calls them, in a bounded loop, until it answers.

Each step is one model call with `tools=`. Every tool call it asks for is
announced (ToolCallRequested), checked against the ToolPolicy (deny, ask the
person through the ApprovalGate, or allow), run, and reported
(ToolCallFinished); its result goes back to the model as a "tool" message.
The first answer without tool calls is the task's output.
"""

from __future__ import annotations

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
    Message,
    Response,
    ToolCall,
    Usage,
)
from agents.roster import Role
from agents.tools import (
    Permission,
    SearchFn,
    Tool,
    ToolContext,
    ToolLimits,
    ToolPolicy,
    ToolRegistry,
    invoke,
)

__all__ = ["ToolSetup", "run_tool_loop"]

EVENT_RESULT_CHARS = 4000
"""A result longer than this is cut in its ToolCallFinished event (not for the model)."""

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
    permission = setup.policy.permission(tool, role.name)
    if permission is Permission.DENY:
        return "denied by policy", True, "deny"
    if permission is Permission.ASK:
        if gate is None:
            return "error: this call needs the person's approval and no one can approve here", True, "ask"
        decision = await _ask(tool, args, ctx, gate)
        if decision.action is Action.REJECT:
            return "the person refused this call", True, "rejected"
        if decision.action is Action.OVERRIDE:
            return decision.text, False, "overridden"
        if decision.action is Action.EDIT:
            args = _arguments(decision.text)
            if isinstance(args, str):
                return f"{args} (in the person's edit)", True, "edited"
    result, failed = await invoke(tool, args, tool_ctx)
    return result, failed, permission.value


def _arguments(text: str) -> dict[str, Any] | str:
    """The arguments object, or an "error: ..." text for the model."""
    try:
        args = json.loads(text or "{}")
    except ValueError as exc:
        return f"error: the arguments are not valid JSON ({exc})"
    if not isinstance(args, dict):
        return "error: the arguments must be a JSON object"
    return args


async def _ask(tool: Tool, args: dict[str, Any], ctx: CallContext, gate: ApprovalGate) -> Decision:
    request = ApprovalRequest(
        request_id=uuid.uuid4().hex[:12], run_id=ctx.run_id, task_id=ctx.task_id,
        subject="tool", title=tool.name,
        details=json.dumps(args, indent=2, ensure_ascii=False),
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
