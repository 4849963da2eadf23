"""Approval questions as plain text, for the edges that show text.

The core asks with typed values (agents.approvals); the terminal prompt
(app/cli/console.py) and the stored history (the approvals table's `details`,
app/storage/projections.py) render them here. The window's card reads the
fields itself and shares only the sentences below.
"""

from __future__ import annotations

from agents.approvals import BudgetQuestion, TaskQuestion, ToolQuestion
from agents.ports import ApprovalRequest

IN_DOUBT_NOTE = "This call started before Troupe stopped and may or may not have taken effect."
"""Said of a tool call in doubt (ToolQuestion.in_doubt)."""
INSTEAD_NOTE = "The resumed agent now asks for this other call; it runs after you decide about this one:"
"""Heads the call the resumed model asks for where a call is in doubt (ToolQuestion.instead)."""
NO_INSTRUCTIONS = "(no instructions)"


def approval_text(request: ApprovalRequest) -> str:
    """What the person is asked to approve, in plain text ("" for a question without parts)."""
    if request.task is not None:
        return task_text(request.task)
    if request.tool is not None:
        return tool_text(request.tool)
    if request.budget is not None:
        return budget_text(request.budget)
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
    return (f"This run has spent {dollars(question.spent, 4)} of its {dollars(question.limit)} limit. "
            f"Approve to allow another {dollars(question.step)}; "
            "reject to stop the run here (finished work is kept).")


def dollars(amount: float, places: int | None = None) -> str:
    """US dollars: cents for amounts from $0.10, four places below (or `places`)."""
    if places is None:
        places = 2 if amount >= 0.1 else 4
    return f"${amount:.{places}f}"


__all__ = ["IN_DOUBT_NOTE", "INSTEAD_NOTE", "approval_text", "budget_text", "dollars", "task_text", "tool_text"]
