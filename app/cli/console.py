"""Terminal side of the CLI: progress on stderr, JSON lines, prompts for approvals.

Who answers approvals: `TerminalGate` asks the person; with `--yes` no one is
there, and `UnattendedGate` answers: the plan's task approvals and budget
crossings yes, a risky tool call (its rule is "ask") or a call in doubt no,
unless `--allow-risky-tools`; every refusal is one line on stderr.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import textwrap
from typing import TextIO

from agents.approvals import BudgetScope, ConflictQuestion, Subject
from agents.errors import ApprovalError
from agents.events import (
    LLMCallFinished,
    PlanRejectedByModel,
    RateLimitWaiting,
    RunEvent,
    RunFinished,
    RunWarning,
    StepFailed,
    StepFinished,
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
from agents.plan.estimate import RunEstimate
from agents.plan.patterns import label as pattern_label
from agents.ports import Action, ApprovalRequest, Decision
from app.approval_text import approval_text, dollars, proposal_text, unattended_text
from app.cost_text import cost_text
from app.estimate_text import headline, notes, task_cost
from app.safe_text import safe_json
from app.tools.history import ToolCallRecord, short_arguments


class ProgressPrinter:
    """An EventSink printing one human line per meaningful event to stderr.

    Every tool call is one line when it ends: its task, tool, short arguments and
    outcome; so is every step of a task with a pattern (a draft, a review, a
    vote), but a map's items, which only say when they fail. With `unattended` (`--yes`), a call the UnattendedGate refused is
    left to the gate's own line, which says why.
    """

    def __init__(self, out: TextIO | None = None, unattended: bool = False) -> None:
        self._out = out or sys.stderr
        self._unattended = unattended
        self._arguments: dict[str, str] = {}  # call id -> arguments, until the call ends
        self._unpriced: dict[str, int] = {}  # task id ("" the run) -> calls of unknown price
        self._estimated: set[str] = set()  # task ids ("" the run) with tokens Troupe counted itself

    def emit(self, event: RunEvent) -> None:
        if isinstance(event, ToolCallRequested):
            self._arguments[event.call_id] = event.arguments
            return
        if isinstance(event, LLMCallFinished) and not event.cost_known:
            for key in {"", event.task_id}:
                self._unpriced[key] = self._unpriced.get(key, 0) + 1
        if isinstance(event, LLMCallFinished) and event.tokens_estimated:
            self._estimated |= {"", event.task_id}
        line = self._tool_line(event) if isinstance(event, ToolCallFinished) else _describe(event)
        if line and isinstance(event, TaskFinished | RunFinished):  # "price unknown", not $0.0000
            unpriced = self._unpriced.get(event.task_id if isinstance(event, TaskFinished) else "", 0)
            line = line.replace(f"${event.cost:.4f}", cost_text(event.cost, unpriced), 1)
            if (event.task_id if isinstance(event, TaskFinished) else "") in self._estimated:
                tokens = event.prompt_tokens + event.completion_tokens  # counted by Troupe: about
                line = line.replace(f" {tokens} tokens", f" ~{tokens} tokens", 1)
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
        case TaskFinished(task_id=tid, prompt_tokens=p, completion_tokens=c, cost=cost, started=s, finished=f,
                          waited=w):
            waits = f" (+{w:.1f}s waiting for rate limits)" if w >= 0.05 else ""
            return f"  + {tid} done: {p + c} tokens, ${cost:.4f}, {max(0.0, f - s - w):.1f}s{waits}"
        case RateLimitWaiting(task_id=tid, step=step, provider=provider, reason=reason):
            if step.startswith("item "):
                return None  # a map's hundreds of items, as with their steps
            who = " ".join(p for p in (tid or "call", step) if p)
            return f"  ⏸ {who} waiting for {provider} rate limit ({reason})"
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
        case StepFinished(task_id=tid, step=step, agent=agent, note=note, replayed=replayed):
            if step.startswith("item "):
                return None  # a map's hundreds of items: its task's lines say enough
            said = f": {note}" if note else ""
            return f"  · {tid} {step} ({agent}){said}" + (" (replayed)" if replayed else "")
        case StepFailed(task_id=tid, step=step, agent=agent, error=err):
            return f"  x {tid} {step} ({agent}) failed: {err}"
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


def render_plan(plan: Plan, estimate: RunEstimate | None = None) -> str:
    """The plan as an indented list; with an estimate, each task's cost and the total under it."""
    lines = [f"Plan for: {plan.goal}"]
    titles = {t.id: t.title for t in plan.iter_tasks()}

    def walk(tasks: tuple[Task, ...], depth: int) -> None:
        for task in tasks:
            extras = []
            if task.depends_on:
                extras.append("after " + ", ".join(task.depends_on))
            if task.requires_approval:
                extras.append("needs approval")
            if task.pattern is not None:
                extras.append(pattern_label(task.pattern, titles))
            guess = estimate.task(task.id) if estimate is not None else None
            if guess is not None:
                extras.append(task_cost(guess))
            tail = f"  [{'; '.join(extras)}]" if extras else ""
            lines.append(f"{'  ' * depth}- {task.id}: {task.title} ({task.agent}){tail}")
            walk(task.children, depth + 1)

    walk(plan.tasks, 1)
    if estimate is not None:
        lines.append(headline(estimate))
        lines += [f"  {note}" for note in notes(estimate)]
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
    A conflict (agents disagree) takes the pattern's own result, recorded as
    decided by no person, and says so in one line.
    """

    def __init__(self, allow_risky_tools: bool = False, out: TextIO | None = None) -> None:
        self.allow_risky_tools = allow_risky_tools
        self._out = out or sys.stderr

    async def decide(self, request: ApprovalRequest) -> Decision:
        if request.subject is Subject.BUDGET:
            if request.budget is not None:
                b = request.budget
                whose = (f"project {b.project}'s monthly budget" if b.scope is BudgetScope.PROJECT_MONTH
                         else "budget")
                self._say(f"  ! {whose}: {dollars(b.spent, 4)} of {dollars(b.limit)} spent; --yes continues "
                          f"(another {dollars(b.step)})")
            return Decision(Action.APPROVE)
        if request.subject is Subject.DEADLINE:
            # no one can say how much longer is worth it: stop, and write up what is finished
            self._say(f"  ! {request.title.lower()}: --yes stops and writes up what is finished (partial)")
            return Decision(Action.REJECT)
        if request.subject is Subject.CONFLICT and request.conflict is not None:
            answer = unattended_text(request.conflict)
            self._say(f"  ! conflict ({request.task_id}): {request.conflict.why}; {answer}")
            return Decision(Action.APPROVE, answer)
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

    def __init__(self, prompter: TerminalPrompter, allow_risky_tools: bool = False,
                 width: int | None = None) -> None:
        self._prompter = prompter
        self._lock = asyncio.Lock()
        self.allow_risky_tools = allow_risky_tools
        """`--allow-risky-tools`: tool calls (risky ones, in doubt ones) are approved without asking."""
        self._width = width
        """Columns to lay a conflict's claims out in; None: the terminal's."""

    async def decide(self, request: ApprovalRequest) -> Decision:
        if self.allow_risky_tools and request.subject is Subject.TOOL:
            return Decision(Action.APPROVE)
        # One whole dialogue at a time: an edit's follow-up question must not
        # be answered by another task's approval prompt.
        async with self._lock:
            return await self._dialogue(request)

    async def _dialogue(self, request: ApprovalRequest) -> Decision:
        if request.conflict is not None:
            return await self._conflict(request, request.conflict)
        if request.subject is Subject.DEADLINE:
            return await self._deadline(request)
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


    async def _conflict(self, request: ApprovalRequest, question: ConflictQuestion) -> Decision:
        """Agents disagree: accept the pattern's result, pick a claim, write the answer, or
        (when it means something) run another round. `v N` shows claim N in full."""
        width = self._width or min(shutil.get_terminal_size((100, 24)).columns, 160)
        count = len(question.claims)
        header = "\n" + conflict_screen(request, question, width) + "\n"
        choices = ["[a]ccept as is"]
        if count:
            choices.append(f"[{'1' if count == 1 else f'1-{count}'}] pick one")
        choices.append("[w]rite the answer myself")
        if question.can_retry:
            choices.append("[r]un another round")
        prompt = ", ".join(choices) + "? "
        while True:
            answer = await self._prompter.ask(header + prompt)
            if answer is None:
                raise ApprovalError("no answer on standard input; pass --yes to take each pattern's own "
                                    "result when agents disagree")
            header = ""
            word = answer.strip().lower()
            if word in ("a", "accept"):
                return Decision(Action.APPROVE)
            if word.isdigit() and 1 <= int(word) <= count:
                return Decision(Action.PICK, str(int(word)))
            if word in ("r", "retry") and question.can_retry:
                return Decision(Action.RETRY)
            if word.startswith("v") and word[1:].strip().isdigit() and 1 <= int(word[1:]) <= count:
                claim = question.claims[int(word[1:]) - 1]
                header = f"\n{word[1:].strip()}. {claim.who}:\n{claim.text.strip()}\n\n"
                continue
            if word in ("w", "write"):
                ask = ("The route to take (its label): " if question.kind == "route"
                       else "Your answer (one line; it becomes the task's output): ")
                text = await self._prompter.ask(ask)
                if text is None:
                    raise ApprovalError("no answer on standard input")
                if text.strip():
                    return Decision(Action.OVERRIDE, text.strip())


    async def _deadline(self, request: ApprovalRequest) -> Decision:
        """The deadline came: continue without one, set a new one, or stop and write up."""
        from app.constraints import BadConstraint, parse_deadline  # noqa: PLC0415

        header = f"\n{request.title}\n{approval_text(request)}\n"
        while True:
            answer = await self._prompter.ask(header + "[c]ontinue, [n]ew deadline, or [s]top and write up? ")
            if answer is None:
                raise ApprovalError("no answer on standard input; pass --yes to stop at the deadline "
                                    "and write up what is finished")
            header = ""
            word = answer.strip().lower()[:1]
            if word == "c":
                return Decision(Action.APPROVE)
            if word == "s":
                return Decision(Action.REJECT)
            if word != "n":
                continue
            text = await self._prompter.ask("New deadline (30m, 2h or HH:MM): ")
            if text is None:
                raise ApprovalError("no answer on standard input")
            try:
                return Decision(Action.EDIT, repr(parse_deadline(text)))
            except BadConstraint as exc:
                header = f"{exc}\n"


CLAIM_LINES = 10
"""A claim shown side by side is cut to this many lines (stacked: STACKED_LINES)."""
STACKED_LINES = 6
COLUMN_WIDTH = 32
"""Below this many columns per claim, claims are stacked instead of side by side."""
GUTTER = " │ "


def conflict_screen(request: ApprovalRequest, question: ConflictQuestion, width: int) -> str:
    """A conflict for the terminal: why, the claims numbered side by side (stacked when the
    terminal is too narrow or there are more than three), what accepting takes."""
    lines = [f"Agents disagree on {request.task_id}: {request.title} ({question.kind or 'pattern'})",
             f"Why: {question.why}", ""]
    count = len(question.claims)
    column = (width - len(GUTTER) * (count - 1)) // count if count else 0
    if 2 <= count <= 3 and column >= COLUMN_WIDTH:
        blocks = [_claim_block(n, c.who, c.text, column, CLAIM_LINES) for n, c in enumerate(question.claims, 1)]
        cut = any(more for _, more in blocks)
        height = max(len(b) for b, _ in blocks)
        for row in range(height):
            cells = [(b[row] if row < len(b) else "").ljust(column) for b, _ in blocks]
            lines.append(GUTTER.join(cells).rstrip())
    else:
        cut = False
        for n, claim in enumerate(question.claims, 1):
            block, more = _claim_block(n, claim.who, claim.text, width - 4, STACKED_LINES)
            cut = cut or more
            lines += [block[0], *("    " + line if line else "" for line in block[1:]), ""]
        lines.pop()
    lines.append("")
    proposal = proposal_text(question)
    short = _shorten(proposal, width - 20, 3)[0]
    lines.append("Accept as is takes: " + "\n    ".join(short))
    if cut:
        last = "1" if count == 1 else f"1…v{count}"
        lines.append(f"(claims shortened: type v{last} to read one in full; "
                     f"`troupe show {request.run_id}` keeps them all)")
    return "\n".join(lines)


def _claim_block(number: int, who: str, text: str, width: int, height: int) -> tuple[list[str], bool]:
    """A claim's heading and its text wrapped to `width`, at most `height` lines of text."""
    heading = textwrap.shorten(f"{number}. {who}", width=max(width, 10), placeholder="…")
    body, cut = _shorten(text, width, height)
    return [heading, *body], cut


def _shorten(text: str, width: int, height: int) -> tuple[list[str], bool]:
    """`text` wrapped to `width`, blank runs collapsed, cut to `height` lines ("… N more lines")."""
    lines: list[str] = []
    for paragraph in text.strip().splitlines():
        if not paragraph.strip():
            if lines and lines[-1]:
                lines.append("")
            continue
        lines += textwrap.wrap(paragraph, width=max(width, 10), replace_whitespace=False,
                               drop_whitespace=True) or [""]
    if len(lines) <= height:
        return lines or ["(empty)"], False
    kept = lines[: height - 1]
    while kept and not kept[-1]:
        kept.pop()
    return [*kept, f"… {len(lines) - len(kept)} more lines"], True


def _heading(request: ApprovalRequest) -> str:
    if request.subject in (Subject.BUDGET, Subject.DEADLINE):
        return request.title
    if request.tool is not None and request.tool.in_doubt:
        return f"In doubt: {request.title} (task {request.task_id}): re-run it?"
    if not request.task_id:  # a sub-task a manager planned: the title names it
        return f"Approval needed: {request.title}"
    return f"Approval needed for {request.task_id}: {request.title}"


def _text_label(request: ApprovalRequest, action: Action) -> str:
    tool = request.subject is Subject.TOOL
    if action is Action.EDIT:
        return "New arguments (a JSON object)" if tool else "New instructions"
    return "The tool's result" if tool else "Your output"
