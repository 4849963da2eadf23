"""Approval questions as plain text, for the edges that show text.

The core asks with typed values (agents.approvals); the terminal prompt
(app/cli/console.py) and the stored history (the approvals table's `details`,
app/storage/projections.py) render them here. The window's card reads the
fields itself and shares only the sentences below.
"""

from __future__ import annotations

from agents.approvals import (
    BudgetQuestion,
    BudgetScope,
    ConflictQuestion,
    DeadlineQuestion,
    TaskQuestion,
    ToolQuestion,
)
from agents.ports import Action, ApprovalRequest

IN_DOUBT_NOTE = "This call started before Troupe stopped and may or may not have taken effect."
"""Said of a tool call in doubt (ToolQuestion.in_doubt)."""
INSTEAD_NOTE = "The resumed agent now asks for this other call; it runs after you decide about this one:"
"""Heads the call the resumed model asks for where a call is in doubt (ToolQuestion.instead)."""
NO_INSTRUCTIONS = "(no instructions)"
NO_PERSON = "no person decided (--yes)"
"""Who settled a conflict under --yes: nobody; the pattern's own result was taken."""


def unattended_text(question: ConflictQuestion) -> str:
    """The answer `--yes` gives a conflict (Decision.text of its APPROVE), as stored."""
    return f"{NO_PERSON}: took the {question.kind or 'pattern'}'s own result"


def approval_text(request: ApprovalRequest) -> str:
    """What the person is asked to approve, in plain text ("" for a question without parts)."""
    if request.task is not None:
        return task_text(request.task)
    if request.tool is not None:
        return tool_text(request.tool)
    if request.budget is not None:
        return budget_text(request.budget)
    if request.conflict is not None:
        return conflict_text(request.conflict)
    if request.deadline is not None:
        return deadline_text(request.deadline)
    return ""


def task_text(question: TaskQuestion) -> str:
    lines = [f"Agent: {question.agent}", "", question.instructions.strip() or NO_INSTRUCTIONS]
    if question.inputs:
        lines += ["", "Inputs: " + ", ".join(f"{ref.title} ({ref.task_id})" for ref in question.inputs)]
    return "\n".join(lines)


def tool_text(question: ToolQuestion) -> str:
    parts = [question.arguments]
    if question.confinement:
        parts.append(question.confinement)
    if question.in_doubt:
        parts.append(IN_DOUBT_NOTE)
    if question.instead is not None:
        parts.append(f"{INSTEAD_NOTE}\n{question.instead.tool} {question.instead.arguments}")
    return "\n\n".join(parts)


def budget_text(question: BudgetQuestion) -> str:
    if question.scope is BudgetScope.PROJECT_MONTH:
        month = f" in {question.month}" if question.month else " this month"
        return (f"The runs of project “{question.project}” have spent {dollars(question.spent, 4)}{month}, "
                f"over its {dollars(question.limit)} monthly budget. Approve to let this run spend another "
                f"{dollars(question.step)}; reject to stop the run here (finished work is kept).")
    return (f"This run has spent {dollars(question.spent, 4)} of its {dollars(question.limit)} limit. "
            f"Approve to allow another {dollars(question.step)}; "
            "reject to stop the run here (finished work is kept).")


def deadline_text(question: DeadlineQuestion) -> str:
    from app.constraints import clock_text  # noqa: PLC0415 - it uses dollars() from here

    running = f", {question.running} under way" if question.running else ""
    return (f"The deadline {clock_text(question.deadline)} has come: {question.done} of {question.total} "
            f"task(s) finished{running}. Continue (without a deadline, or with a new one), or stop and "
            "write up what is finished (a partial result).")


def conflict_text(question: ConflictQuestion) -> str:
    """A conflict in full: why, every claim numbered with who said it, what accepting takes."""
    parts = [f"{kind_name(question.kind)}: {question.why}"]
    parts += [f"{n}. {claim.who}:\n{claim.text.strip()}" for n, claim in enumerate(question.claims, 1)]
    parts.append(f"Accept as is: {proposal_text(question)}")
    return "\n\n".join(parts)


def kind_name(kind: str) -> str:
    """A pattern's name as a heading: "Review", "Vote"."""
    return kind.capitalize() if kind else "Pattern"


def proposal_text(question: ConflictQuestion) -> str:
    """What "accept as is" takes: a claim by its number when it is one, else the text."""
    proposed = question.proposed.strip()
    for number, claim in enumerate(question.claims, 1):
        if proposed and proposed in (claim.text.strip(), claim.who.strip()):
            return f"claim {number} ({claim.who})"
    return proposed or "(nothing)"


def decided_by(action: str | None, text: str | None) -> str:
    """Who settled a conflict: "the person", NO_PERSON (--yes), or "" while unanswered."""
    if action is None:
        return ""
    return NO_PERSON if action == Action.APPROVE and (text or "").startswith(NO_PERSON) else "the person"


def conflict_resolution(question: ConflictQuestion, action: str | None, text: str | None) -> str:
    """A conflict's answer in words: "picked claim 2 (reviewer, review 3)"."""
    text = (text or "").strip()
    match action:
        case None:
            return "not answered"
        case Action.APPROVE:
            return f"accepted the {question.kind or 'pattern'}'s own result: {proposal_text(question)}"
        case Action.PICK:
            number = int(text) if text.isdigit() else 0
            if 1 <= number <= len(question.claims):
                return f"picked claim {number} ({question.claims[number - 1].who})"
            return f"picked {text}"
        case Action.OVERRIDE | Action.EDIT:
            return "wrote the answer: " + text
        case Action.RETRY:
            return "ran another round"
        case Action.REJECT:
            return "rejected it: the task was skipped" + (f" ({text})" if text else "")
    return str(action)


def dollars(amount: float, places: int | None = None) -> str:
    """US dollars: cents for amounts from $0.10, four places below (or `places`)."""
    if places is None:
        places = 2 if amount >= 0.1 else 4
    return f"${amount:.{places}f}"


__all__ = [
    "IN_DOUBT_NOTE", "INSTEAD_NOTE", "NO_PERSON", "approval_text", "budget_text", "conflict_resolution",
    "deadline_text",
    "conflict_text", "decided_by", "dollars", "kind_name", "proposal_text", "task_text", "tool_text",
    "unattended_text",
]
