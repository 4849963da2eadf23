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
person says whether to run it again, skip it or give its result. When the
model now asks for a different call where one is in doubt, the person is still
asked about the one in doubt first (it moves to its own key, "<key>/in-doubt/<hash>",
so the new call can take its place on record), and the model is told what became of it.

Secrets: with `ToolSetup.redact`, every result is redacted where a tool produces
it (`_run`, before the ledger records it) and again before it is announced or
sent back to the model, so a key a tool printed is stored, shown and sent only
as "[redacted]".
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

from agents.approvals import AskedCall, Subject, ToolQuestion
from agents.errors import ToolStepsExhausted
from agents.events import (
    ApprovalResolved,
    RunWarning,
    ToolCallFinished,
    ToolCallProgress,
    ToolCallRequested,
)
from agents.llm.calls import CallContext
from agents.plan.roster import Role
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
    requested_event,
)
from agents.tools import sandbox
from agents.tools.base import (
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

__all__ = ["IN_DOUBT_SKIPPED", "ToolSetup", "arguments_hash", "run_tool_loop"]

EVENT_RESULT_CHARS = 4000
PROGRESS_EVERY = 1.0
"""Seconds between two progress events of one call (a server may report many a second)."""
"""A result longer than this is cut in its ToolCallFinished event (not for the model)."""

IN_DOUBT_SKIPPED = "skipped: in doubt, the person chose not to re-run it"
BLOCKED_BY_DOUBT = ("error: a call that was cut off here when Troupe stopped is in doubt, and no one "
                    "can say whether to re-run it, so this call was not run")

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
    allow_private_urls: bool = False
    """fetch_url may reach loopback, private, link-local and multicast addresses."""
    notices: tuple[str, ...] = ()
    """Problems met while the tools were gathered (an MCP server that did not start);
    the runner reports each as a RunWarning when the run starts."""
    redact: Callable[[str], str] | None = None
    """Takes every secret the app knows (keys it read, key shapes) out of a text; applied
    to every tool result before it is recorded, announced or sent to the model."""

    def clean(self, text: str) -> str:
        """`text` with the secrets `redact` knows replaced by "[redacted]"."""
        return self.redact(text) if self.redact is not None else text


def _confinement(tool: Tool, setup: ToolSetup) -> str:
    return sandbox.detect().describe(setup.limits.code) if tool.sandboxed else ""


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
    tool_ctx = ToolContext(setup.workspace, ctx.run_id, ctx.task_id, setup.search, setup.limits,
                           allow_private_urls=setup.allow_private_urls, warn=_warner(ctx))
    history, totals = list(messages), _Totals()
    for step in range(1, setup.max_steps + 1):
        response, attempts = await call(history, specs)
        totals.add(response, attempts)
        if not response.tool_calls:
            return replace(response, usage=totals.usage, cost=totals.cost), totals.attempts
        history.append(Message("assistant", response.text, tool_calls=response.tool_calls))
        for index, tool_call in enumerate(response.tool_calls):
            where = f"{ctx.step}/{step}" if ctx.step else str(step)
            call_id = f"{ctx.task_id}:{where}:{index}"
            result = await _one_call(tool_call, call_id, role, setup, tool_ctx, ctx, gate)
            history.append(Message("tool", result, tool_call_id=tool_call.id))
    raise ToolStepsExhausted(
        f"still calling tools after {setup.max_steps} steps (the limit) without a final answer"
    )


def _warner(ctx: CallContext) -> Callable[[str, str], None]:
    def warn(message: str, source: str) -> None:
        ctx.sink.emit(RunWarning(run_id=ctx.run_id, task_id=ctx.task_id, message=message, source=source))

    return warn


async def _one_call(
    tool_call: ToolCall, call_id: str, role: Role, setup: ToolSetup, tool_ctx: ToolContext,
    ctx: CallContext, gate: ApprovalGate | None,
) -> str:
    key = f"{ctx.run_id}:{call_id}"
    entry = await setup.ledger.prior(key) if setup.ledger is not None else None
    note: str | None = ""
    if entry is not None and not entry.finished and entry.arguments_hash != _asked_hash(tool_call):
        note = await _displaced(entry, tool_call, key, call_id, setup, tool_ctx, ctx, gate)
    started = _requested(ctx, call_id, tool_call.name, tool_call.arguments)
    tool_ctx = replace(tool_ctx, progress=_progress(ctx, call_id, tool_call.name))
    if note is None:
        result, failed, how = BLOCKED_BY_DOUBT, True, "in_doubt"
    else:
        result, failed, how = await _settle(tool_call, key, entry, role, setup, tool_ctx, ctx, gate)
        result += note
    result = setup.clean(result)  # also a result replayed from an older record, or the person's
    _finished(ctx, call_id, tool_call.name, started, result, failed, how)
    return result


def _progress(ctx: CallContext, call_id: str, tool: str) -> Callable[[str], None]:
    """Progress reports of one call as ToolCallProgress events, at most one a PROGRESS_EVERY s."""
    last = -PROGRESS_EVERY

    def report(message: str) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            ctx.sink.emit(ToolCallProgress(run_id=ctx.run_id, task_id=ctx.task_id, call_id=call_id,
                                           tool=tool, message=message))

    return report


def _requested(ctx: CallContext, call_id: str, tool: str, arguments: str) -> float:
    """Announce a call; returns when it started (for its duration)."""
    ctx.sink.emit(ToolCallRequested(run_id=ctx.run_id, task_id=ctx.task_id, call_id=call_id,
                                    tool=tool, arguments=arguments))
    return time.perf_counter()


def _finished(ctx: CallContext, call_id: str, tool: str, started: float, result: str, failed: bool,
              how: str) -> None:
    shown = result if len(result) <= EVENT_RESULT_CHARS else result[:EVENT_RESULT_CHARS] + " [...]"
    ctx.sink.emit(ToolCallFinished(
        run_id=ctx.run_id, task_id=ctx.task_id, call_id=call_id, tool=tool, result=shown,
        error=failed, duration_ms=round((time.perf_counter() - started) * 1000, 1), permission=how,
    ))


def _asked_hash(tool_call: ToolCall) -> str:
    """The hash of what the model asks for ("" when its arguments are not an object)."""
    args = _arguments(tool_call.arguments)
    return "" if isinstance(args, str) else arguments_hash(tool_call.name, args)


def _asks_when_in_doubt(tool: Tool) -> bool:
    return tool.risk is not Risk.READ or tool.is_mcp  # reading twice harms no one


async def _settle(
    tool_call: ToolCall, key: str, entry: LedgerEntry | None, role: Role, setup: ToolSetup,
    tool_ctx: ToolContext, ctx: CallContext, gate: ApprovalGate | None,
) -> tuple[str, bool, str]:
    """(result, failed, how it was let through) for one call; `entry`: what `key` had on record."""
    tool = setup.registry.get(tool_call.name) if tool_call.name in role.tools else None
    if tool is None:
        return f"error: there is no tool named {tool_call.name!r} for you", True, "unknown"
    args = _arguments(tool_call.arguments)
    if isinstance(args, str):
        return args, True, "invalid"
    digest = arguments_hash(tool.name, args)
    if entry is not None and entry.arguments_hash == digest and entry.finished:
        return entry.result, entry.error, "replayed"
    if entry is not None:
        assert setup.ledger is not None  # an entry comes from the ledger
        moved = await setup.ledger.prior(_moved_key(key, digest))
        if moved is not None and moved.finished:  # settled while another call was asked for here
            return moved.result, moved.error, "replayed"
    if entry is not None and entry.arguments_hash == digest:
        if _asks_when_in_doubt(tool):
            return await _in_doubt(tool, entry, key, setup, tool_ctx, ctx, gate)
    permission = setup.policy.permission(tool, role.name)
    if permission is Permission.DENY:
        return "denied by policy", True, "deny"
    if permission is Permission.ASK:
        if gate is None:
            return "error: this call needs the person's approval and no one can approve here", True, "ask"
        question = ToolQuestion(tool.name, _pretty(args), risk=tool.risk.value,
                                confinement=_confinement(tool, setup))
        decision = await _ask(question, ctx, gate)
        if decision.action is Action.REJECT:  # the gate's reason, if it gave one, is what the model reads
            return decision.text or "the person refused this call", True, "rejected"
        if decision.action is Action.OVERRIDE:
            return decision.text, False, "overridden"
        if decision.action is Action.EDIT:
            args = _arguments(decision.text)
            if isinstance(args, str):
                return f"{args} (in the person's edit)", True, "edited"
    result, failed = await _run(tool, args, key, digest, setup, tool_ctx)
    return result, failed, permission.value


async def _displaced(
    entry: LedgerEntry, asked: ToolCall, key: str, call_id: str, setup: ToolSetup,
    tool_ctx: ToolContext, ctx: CallContext, gate: ApprovalGate | None,
) -> str | None:
    """The model asks for another call where `entry` is in doubt: settle that one first.

    It moves to its own key before the person is asked (the new call will take
    `key`), shows as a call of its own, and the returned note tells the model.
    None: no one can answer, so the new call must not run (nor replace the record).
    """
    ledger = setup.ledger
    assert ledger is not None
    moved_key = _moved_key(key, entry.arguments_hash)
    moved = await ledger.prior(moved_key)
    tool = setup.registry.get(entry.tool)
    if (moved is not None and moved.finished) or (tool is not None and not _asks_when_in_doubt(tool)):
        return ""  # settled before a later stop, or a read: nothing to ask
    if gate is None:
        return None
    if moved is None:
        await ledger.begin(moved_key, entry.tool, entry.arguments_hash, entry.arguments)
    moved_id = f"{call_id}/in-doubt"
    started = _requested(ctx, moved_id, entry.tool, entry.arguments)
    instead = AskedCall(asked.name, _shown(asked.arguments))
    result, failed, how = await _in_doubt(tool, entry, moved_key, setup, tool_ctx, ctx, gate, instead)
    result = setup.clean(result)
    _finished(ctx, moved_id, entry.tool, started, result, failed, how)
    return _displaced_note(entry.tool, result, how)


def _moved_key(key: str, digest: str) -> str:
    """Where a call in doubt goes on record when another call takes its place."""
    return f"{key}/in-doubt/{digest[:16]}"


def _displaced_note(tool: str, result: str, how: str) -> str:
    """What the model is told about an earlier call it did not ask for again."""
    before = f"an earlier {tool} call, cut off when Troupe stopped,"
    if how == "in_doubt_rerun":
        return f"\n\n[Note: {before} was run again at the person's request; it returned:\n{result}]"
    if how == "in_doubt_overridden":
        return f"\n\n[Note: {before} had this result, says the person:\n{result}]"
    return f"\n\n[Note: {before} may or may not have taken effect; it was not run again.]"


async def _in_doubt(
    tool: Tool | None, entry: LedgerEntry, key: str, setup: ToolSetup, tool_ctx: ToolContext,
    ctx: CallContext, gate: ApprovalGate | None, instead: AskedCall | None = None,
) -> tuple[str, bool, str]:
    """A call that started before a crash and never finished: the person decides.

    `tool` is None when the call's tool is not in this run (it cannot be re-run);
    `instead` describes the call the model asks for now, when it is another one.
    """
    ledger = setup.ledger
    assert ledger is not None
    if gate is None:  # left in doubt on record, for a run someone can answer
        return "error: this call may already have run and no one can say whether to re-run it", True, "in_doubt"
    question = ToolQuestion(entry.tool, _shown(entry.arguments), in_doubt=True, instead=instead,
                            risk=tool.risk.value if tool is not None else "")
    decision = await _ask(question, ctx, gate)
    if decision.action is Action.REJECT:
        skipped = decision.text or IN_DOUBT_SKIPPED
        await ledger.finish(key, skipped, True)
        return skipped, True, "in_doubt_skipped"
    if decision.action is Action.OVERRIDE:
        await ledger.finish(key, decision.text, False)
        return decision.text, False, "in_doubt_overridden"
    text = decision.text if decision.action is Action.EDIT else entry.arguments
    args = _arguments(text)
    if isinstance(args, str):
        return f"{args} (in the person's edit)", True, "edited"
    if tool is None:  # still on record as started: a run that has the tool can settle it
        return f"error: {entry.tool} is not available in this run, so it was not re-run", True, "in_doubt"
    result, failed = await _run(tool, args, key, entry.arguments_hash, setup, tool_ctx)
    return result, failed, "in_doubt_rerun"


async def _run(
    tool: Tool, args: dict[str, Any], key: str, digest: str, setup: ToolSetup, tool_ctx: ToolContext,
) -> tuple[str, bool]:
    """Invoke the tool, on record before and after when there is a ledger; the result redacted."""
    ledger = setup.ledger
    if ledger is not None:
        await ledger.begin(key, tool.name, digest, json.dumps(args, ensure_ascii=False))
    result, failed = await invoke(tool, args, tool_ctx)
    result = setup.clean(result)  # the one place a tool's output comes in
    if ledger is not None:
        await ledger.finish(key, result, failed)
    return result, failed


def arguments_hash(tool: str, args: dict[str, Any]) -> str:
    """Same tool and same arguments (however the model spaced its JSON): same hash."""
    canonical = json.dumps([tool, args], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _pretty(args: dict[str, Any] | str) -> str:
    return args if isinstance(args, str) else json.dumps(args, indent=2, ensure_ascii=False)


def _shown(text: str) -> str:
    """Arguments as recorded, laid out for the person (as they are when not a JSON object)."""
    args = _arguments(text)
    return text if isinstance(args, str) else _pretty(args)


def _arguments(text: str) -> dict[str, Any] | str:
    """The arguments object, or an "error: ..." text for the model."""
    try:
        args = json.loads(text or "{}")
    except ValueError as exc:
        return f"error: the arguments are not valid JSON ({exc})"
    if not isinstance(args, dict):
        return "error: the arguments must be a JSON object"
    return args


async def _ask(question: ToolQuestion, ctx: CallContext, gate: ApprovalGate) -> Decision:
    request = ApprovalRequest(
        request_id=uuid.uuid4().hex[:12], run_id=ctx.run_id, task_id=ctx.task_id,
        subject=Subject.TOOL, title=question.tool, tool=question,
    )
    ctx.sink.emit(requested_event(request))
    decision = await gate.decide(request)
    ctx.sink.emit(ApprovalResolved(
        run_id=ctx.run_id, request_id=request.request_id, task_id=ctx.task_id,
        action=decision.action.value, text=decision.text,
    ))
    return decision
