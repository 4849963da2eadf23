"""Approval questions rendered as text at the edges: the stored history and the terminal."""

from __future__ import annotations

import asyncio

from agents.approvals import AskedCall, BudgetQuestion, Subject, TaskQuestion, TaskRef, ToolQuestion
from agents.ports import Action, ApprovalRequest, Decision
from app.approval_text import IN_DOUBT_NOTE, INSTEAD_NOTE, approval_text
from app.cli.console import TerminalGate

TASK = ApprovalRequest("q1", "r", "t2", Subject.TASK, "Write the summary",
                       task=TaskQuestion("writer", "Write it.", (TaskRef("t1", "Research"),)))
TOOL = ApprovalRequest("q2", "r", "t2", Subject.TOOL, "write_file",
                       tool=ToolQuestion("write_file", '{"path": "a.txt"}', risk="write"))
IN_DOUBT = ApprovalRequest("q3", "r", "t2", Subject.TOOL, "write_file",
                           tool=ToolQuestion("write_file", '{"path": "a.txt"}', in_doubt=True,
                                             instead=AskedCall("peek", "{}")))
BUDGET = ApprovalRequest("q4", "r", "", Subject.BUDGET, "The $0.50 budget is spent",
                         budget=BudgetQuestion(spent=0.5012, limit=0.5, step=0.25))


def test_the_text_of_each_kind_of_question() -> None:
    assert approval_text(TASK) == "Agent: writer\n\nWrite it.\n\nInputs: Research (t1)"
    empty = ApprovalRequest("q", "r", "t", Subject.TASK, "T", task=TaskQuestion("coder", ""))
    assert approval_text(empty) == "Agent: coder\n\n(no instructions)"
    assert approval_text(TOOL) == '{"path": "a.txt"}'
    assert approval_text(IN_DOUBT) == f'{{"path": "a.txt"}}\n\n{IN_DOUBT_NOTE}\n\n{INSTEAD_NOTE}\npeek {{}}'
    assert approval_text(BUDGET) == ("This run has spent $0.5012 of its $0.50 limit. Approve to allow another "
                                     "$0.25; reject to stop the run here (finished work is kept).")
    assert approval_text(ApprovalRequest("q", "r", "t", Subject.TASK, "old")) == ""


class Answers:
    """A TerminalPrompter answering from a list; None at the end (end of input)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    async def ask(self, question: str) -> str | None:
        self.questions.append(question)
        return self.answers.pop(0) if self.answers else None


def decide(request: ApprovalRequest, *answers: str) -> tuple[Decision, list[str]]:
    prompter = Answers(*answers)
    decision = asyncio.run(TerminalGate(prompter).decide(request))  # type: ignore[arg-type]
    return decision, prompter.questions


def test_terminal_reject_of_a_task_takes_an_optional_reason() -> None:
    decision, questions = decide(TASK, "r", "  not needed this week ")
    assert decision == Decision(Action.REJECT, "not needed this week")
    assert "Approval needed for t2: Write the summary" in questions[0] and "Inputs: Research (t1)" in questions[0]
    assert questions[1].startswith("Why? (optional")
    assert decide(TASK, "r", "") == (Decision(Action.REJECT), questions[:2])
    assert decide(TASK, "r")[0] == Decision(Action.REJECT)  # end of input: no reason


def test_terminal_tool_questions_ask_for_arguments_and_no_reason() -> None:
    assert decide(TOOL, "r") == (Decision(Action.REJECT), ["\nApproval needed for t2: write_file\n"
                                                           '{"path": "a.txt"}\n'
                                                           "[a]pprove, [e]dit, [r]eject, [o]verride? "])
    decision, questions = decide(IN_DOUBT, "e", '{"path": "b.txt"}')
    assert decision == Decision(Action.EDIT, '{"path": "b.txt"}')
    assert questions[0].startswith("\nIn doubt: write_file (task t2): re-run it?\n") and IN_DOUBT_NOTE in questions[0]
    assert questions[1] == "New arguments (a JSON object) (one line): "


def test_terminal_budget_question() -> None:
    decision, questions = decide(BUDGET, "s")
    assert decision == Decision(Action.REJECT)
    assert questions[0].startswith("\nThe $0.50 budget is spent\nThis run has spent $0.5012")


def test_a_conflicts_text_keeps_every_claim_in_full_for_the_history() -> None:
    from agents.approvals import Claim, ConflictQuestion  # noqa: PLC0415
    from app.approval_text import conflict_resolution, decided_by  # noqa: PLC0415

    question = ConflictQuestion("vote", "the vote is tied", (Claim("analyst (answer 1)", "Emperor"),
                                                           Claim("researcher (answer 2)", "King\npenguin")),
                                proposed="Emperor")
    request = ApprovalRequest("q", "r", "q", Subject.CONFLICT, "Largest?", conflict=question)
    assert approval_text(request) == ("Vote: the vote is tied\n\n1. analyst (answer 1):\nEmperor\n\n"
                                      "2. researcher (answer 2):\nKing\npenguin\n\n"
                                      "Accept as is: claim 1 (analyst (answer 1))")
    assert conflict_resolution(question, "pick", "2") == "picked claim 2 (researcher (answer 2))"
    assert conflict_resolution(question, "retry", "") == "ran another round"
    assert conflict_resolution(question, "reject", "wrong question") == (
        "rejected it: the task was skipped (wrong question)")
    assert conflict_resolution(question, None, None) == "not answered"
    assert decided_by("approve", "no person decided (--yes): took the vote's own result") == (
        "no person decided (--yes)")
    assert decided_by("approve", "") == decided_by("pick", "1") == "the person"
    assert decided_by(None, None) == ""
