"""Terminal side of the CLI: progress on stderr, JSON lines, prompts for approvals.

Who answers approvals: `TerminalGate` asks the person; with `--yes` no one is
there, and `UnattendedGate` answers: the plan's task approvals and budget
crossings yes, a risky tool call (its rule is "ask") or a call in doubt no,
unless `--allow-risky-tools`; every refusal is one line on stderr.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from agents.approvals import Subject
from agents.errors import ApprovalError
from agents.events import (
    LLMCallFinished,
    PlanRejectedByModel,
    RunEvent,
    RunFinished,
    RunWarning,
    TaskBlocked,
    TaskCancelled,
    TaskFailed,
    TaskFinished,
    TaskRetried,
    TaskSkipped,
    TaskStarted,
    ToolCallFinished,
    ToolCallProgress,
    ToolCallRequested,
)
from agents.plan import Plan, Task
from agents.ports import Action, ApprovalRequest, Decision
from app.approval_text import approval_text, dollars
from app.safe_text import safe_json
from app.tools.history import ToolCallRecord, short_arguments


class ProgressPrinter:
    """An EventSink printing one human line per meaningful event to stderr.

    Every tool call is one line when it ends: its task, tool, short arguments and
    outcome. With `unattended` (`--yes`), a call the UnattendedGate refused is
    left to the gate's own line, which says why.
    """

    def __init__(self, out: TextIO | None = None, unattended: bool = False) -> None:
        self._out = out or sys.stderr
        self._unattended = unattended
        self._arguments: dict[str, str] = {}  # call id -> arguments, until the call ends

    def emit(self, event: RunEvent) -> None:
        if isinstance(event, ToolCallRequested):
            self._arguments[event.call_id] = event.arguments
            return
        line = self._tool_line(event) if isinstance(event, ToolCallFinished) else _describe(event)
        if line:
            print(line, file=self._out, flush=True)

    def _tool_line(self, event: ToolCallFinished) -> str | None:
        arguments = self._arguments.pop(event.call_id, "")
        if self._unattended and event.permission in REFUSED_UNATTENDED:
            return None  # the gate said it, with the reason
        record = ToolCallRecord(event.task_id, event.call_id, event.tool, arguments, finished=True,
                                error=event.error, permission=event.permission,
                                duration_ms=event.duration_ms, result=event.result)
        return f"  ⚙ {event.task_id} {record.line()}"


REFUSED_UNATTENDED = frozenset({"rejected", "in_doubt_skipped"})
"""ToolCallFinished.permission of a call the UnattendedGate refused (with --yes, no one else can)."""


def _describe(event: RunEvent) -> str | None:
    match event:
        case TaskStarted(task_id=tid, agent=agent):
            return f"  > {tid} started ({agent})"
        case TaskFinished(task_id=tid, source="group"):
            return f"  = {tid} group complete"
        case TaskFinished(task_id=tid, prompt_tokens=p, completion_tokens=c, cost=cost, started=s, finished=f):
            return f"  + {tid} done: {p + c} tokens, ${cost:.4f}, {f - s:.1f}s"
        case TaskRetried(task_id=tid, attempt=n, error=err, delay=d):
            return f"  ~ {tid or 'call'} attempt {n} failed ({err}); retrying in {d:.1f}s"
        case TaskFailed(task_id=tid, error=err):
            return f"  x {tid} failed: {err}"
        case TaskBlocked(task_id=tid, because=dep):
            return f"  - {tid} blocked: {dep} did not complete"
        case TaskSkipped(task_id=tid, reason=reason):
            return f"  - {tid} skipped: {reason}"
        case TaskCancelled(task_id=tid):
            return f"  - {tid} cancelled"
        case PlanRejectedByModel(attempt=n, error=err):
            return f"  ~ plan attempt {n} unusable ({err}); asking again"
        case ToolCallProgress(task_id=tid, tool=tool, message=message):
            return f"  … {tid} {tool}: {message}"
        case RunWarning(message=message, task_id=tid):
            return f"  ! warning{f' ({tid})' if tid else ''}: {message}"
        case LLMCallFinished(purpose="synthesis", ok=True):
            return "  * deliverable written"
        case RunFinished(status=status, prompt_tokens=p, completion_tokens=c, cost=cost):
            return f"run {event.run_id} {status}: {p + c} tokens, ${cost:.4f}"
    return None


class JsonLinesSink:
    """An EventSink writing each event as one JSON object per line (stdout)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout

    def emit(self, event: RunEvent) -> None:
        self._out.write(safe_json(event.to_dict()) + "\n")
        self._out.flush()


def render_plan(plan: Plan) -> str:
    lines = [f"Plan for: {plan.goal}"]

    def walk(tasks: tuple[Task, ...], depth: int) -> None:
        for task in tasks:
            extras = []
            if task.depends_on:
                extras.append("after " + ", ".join(task.depends_on))
            if task.requires_approval:
                extras.append("needs approval")
            tail = f"  [{'; '.join(extras)}]" if extras else ""
            lines.append(f"{'  ' * depth}- {task.id}: {task.title} ({task.agent}){tail}")
            walk(task.children, depth + 1)

    walk(plan.tasks, 1)
    return "\n".join(lines)


class TerminalPrompter:
    """Asks the person on the terminal; one question at a time."""

    def __init__(self, stdin: TextIO | None = None, out: TextIO | None = None) -> None:
        self._in = stdin or sys.stdin
        self._out = out or sys.stderr
        self._lock = asyncio.Lock()

    async def ask(self, question: str) -> str | None:
        """The answer line without its newline, or None at end of input."""
        async with self._lock:
            self._out.write(question)
            self._out.flush()
            line = await asyncio.to_thread(self._in.readline)
        return None if line == "" else line.rstrip("\n")

    async def confirm(self, question: str) -> bool | None:
        while True:
            answer = await self.ask(f"{question} [Y/n] ")
            if answer is None:
                return None
            if answer.strip().lower() in ("", "y", "yes"):
                return True
            if answer.strip().lower() in ("n", "no"):
                return False


class UnattendedGate:
    """The ApprovalGate of `--yes`: no one is at the terminal to answer.

    Approves task approvals and budget crossings (as the budget question's
    continue does: as much again; each crossing is one line on stderr). A tool
    call reaches a gate only when its rule is "ask" (by default every tool that
    writes, executes, uses the network or comes from an MCP server) or when it
    is in doubt after a stop: it is refused (in doubt: not run again), the model
    is told why and one line on stderr says so, unless `allow_risky_tools`
    (`--allow-risky-tools`), which approves them all (in doubt: runs it again).
    """

    def __init__(self, allow_risky_tools: bool = False, out: TextIO | None = None) -> None:
        self.allow_risky_tools = allow_risky_tools
        self._out = out or sys.stderr

    async def decide(self, request: ApprovalRequest) -> Decision:
        if request.subject is Subject.BUDGET:
            if request.budget is not None:
                b = request.budget
                self._say(f"  ! budget: {dollars(b.spent, 4)} of {dollars(b.limit)} spent; --yes continues "
                          f"(another {dollars(b.step)})")
            return Decision(Action.APPROVE)
        if request.subject is not Subject.TOOL or self.allow_risky_tools:
            return Decision(Action.APPROVE)
        tool = request.tool.tool if request.tool is not None else request.title
        call = f"{tool} {short_arguments(request.tool.arguments)}" if request.tool is not None else tool
        where = f" ({request.task_id})" if request.task_id else ""
        if request.tool is not None and request.tool.in_doubt:
            self._say(f"  ! skipped {call}{where}: in doubt (it may or may not have run before Troupe "
                      "stopped) and re-running it needs approval (--allow-risky-tools re-runs it)")
            return Decision(Action.REJECT, in_doubt_refusal(tool))
        self._say(f"  ! refused {call}{where}: needs approval (allow it with `troupe tools allow {tool}`, "
                  "or pass --allow-risky-tools)")
        return Decision(Action.REJECT, refusal(tool))

    def _say(self, line: str) -> None:
        print(line, file=self._out, flush=True)


def refusal(tool: str) -> str:
    """What the model is told about a call refused under --yes."""
    return (f"refused: no one is there to approve {tool}; allow it with `troupe tools allow {tool}` "
            "or pass --allow-risky-tools")


def in_doubt_refusal(tool: str) -> str:
    """What the model is told about a call in doubt not run again under --yes."""
    return (f"skipped: this {tool} call was cut off when Troupe stopped and may or may not have taken "
            "effect; no one is there to approve running it again (--allow-risky-tools would)")


class TerminalGate:
    """An ApprovalGate answered by the person at the terminal."""

    CHOICES = {"a": Action.APPROVE, "e": Action.EDIT, "r": Action.REJECT, "o": Action.OVERRIDE}
    BUDGET_CHOICES = {"c": Action.APPROVE, "s": Action.REJECT}

    def __init__(self, prompter: TerminalPrompter, allow_risky_tools: bool = False) -> None:
        self._prompter = prompter
        self._lock = asyncio.Lock()
        self.allow_risky_tools = allow_risky_tools
        """`--allow-risky-tools`: tool calls (risky ones, in doubt ones) are approved without asking."""

    async def decide(self, request: ApprovalRequest) -> Decision:
        if self.allow_risky_tools and request.subject is Subject.TOOL:
            return Decision(Action.APPROVE)
        # One whole dialogue at a time: an edit's follow-up question must not
        # be answered by another task's approval prompt.
        async with self._lock:
            return await self._dialogue(request)

    async def _dialogue(self, request: ApprovalRequest) -> Decision:
        budget = request.subject is Subject.BUDGET
        header = f"\n{_heading(request)}\n{approval_text(request)}\n"
        question = "[c]ontinue or [s]top? " if budget else "[a]pprove, [e]dit, [r]eject, [o]verride? "
        choices = self.BUDGET_CHOICES if budget else self.CHOICES
        while True:
            answer = await self._prompter.ask(header + question)
            if answer is None:
                raise ApprovalError("no answer on standard input; pass --yes to approve the plan and "
                                    "tasks (and --allow-risky-tools for risky tool calls)")
            action = choices.get(answer.strip().lower()[:1])
            if action is None:
                header = ""
                continue
            if action in (Action.EDIT, Action.OVERRIDE):
                text = await self._prompter.ask(f"{_text_label(request, action)} (one line): ")
                if text is None:
                    raise ApprovalError("no answer on standard input")
                return Decision(action, text)
            if action is Action.REJECT and request.subject is Subject.TASK:
                reason = await self._prompter.ask("Why? (optional, kept with the run; Enter to skip): ")
                return Decision(action, (reason or "").strip())
            return Decision(action)


def _heading(request: ApprovalRequest) -> str:
    if request.subject is Subject.BUDGET:
        return request.title
    if request.tool is not None and request.tool.in_doubt:
        return f"In doubt: {request.title} (task {request.task_id}): re-run it?"
    return f"Approval needed for {request.task_id}: {request.title}"


def _text_label(request: ApprovalRequest, action: Action) -> str:
    tool = request.subject is Subject.TOOL
    if action is Action.EDIT:
        return "New arguments (a JSON object)" if tool else "New instructions"
    return "The tool's result" if tool else "Your output"
