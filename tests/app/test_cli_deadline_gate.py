"""The terminal's words for a run's intake limits: the deadline question (continue,
a new deadline, stop and write up; --yes stops) and the project's monthly budget."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from agents.approvals import BudgetQuestion, BudgetScope, DeadlineQuestion, Subject
from agents.errors import ApprovalError
from agents.ports import Action, ApprovalRequest, Decision
from app.approval_text import approval_text
from app.cli.console import UnattendedGate
from tests.app.test_approval_text import decide

WHEN = time.time() - 60
DEADLINE = ApprovalRequest("q1", "r", "", Subject.DEADLINE, "The deadline (14:30) has come",
                           deadline=DeadlineQuestion(deadline=WHEN, done=2, total=5, running=1))
MONTH = ApprovalRequest("q2", "r", "", Subject.BUDGET, "Project “Acme” has spent its $10.00 monthly budget",
                        budget=BudgetQuestion(spent=10.0123, limit=10, step=1, scope=BudgetScope.PROJECT_MONTH,
                                              project="Acme", month="December 2026"))


def unattended(request: ApprovalRequest) -> tuple[Decision, str]:
    out = io.StringIO()
    decision = asyncio.run(UnattendedGate(False, out).decide(request))
    return decision, out.getvalue()


def test_yes_stops_at_the_deadline_and_says_so_in_one_line():
    assert unattended(DEADLINE) == (Decision(Action.REJECT), "  ! the deadline (14:30) has come: --yes stops "
                                    "and writes up what is finished (partial)\n")


def test_yes_continues_past_the_projects_month_naming_it():
    assert unattended(MONTH) == (Decision(Action.APPROVE), "  ! project Acme's monthly budget: $10.0123 of "
                                 "$10.00 spent; --yes continues (another $1.00)\n")


def test_the_projects_month_in_words():
    assert approval_text(MONTH) == (
        "The runs of project “Acme” have spent $10.0123 in December 2026, over its $10.00 monthly budget. "
        "Approve to let this run spend another $1.00; reject to stop the run here (finished work is kept).")


def test_the_terminal_asks_continue_new_deadline_or_stop():
    decision, questions = decide(DEADLINE, "c")
    assert decision == Decision(Action.APPROVE)
    assert questions[0].startswith("\nThe deadline (14:30) has come\nThe deadline ")
    assert "2 of 5 task(s) finished, 1 under way" in questions[0]
    assert questions[0].endswith("[c]ontinue, [n]ew deadline, or [s]top and write up? ")
    assert decide(DEADLINE, "s")[0] == Decision(Action.REJECT)


def test_a_new_deadline_is_typed_as_on_the_command_line_and_asked_again_when_unreadable():
    before = time.time()
    decision, questions = decide(DEADLINE, "n", "later", "n", "30m")
    assert decision.action is Action.EDIT
    assert before + 1800 <= float(decision.text) <= time.time() + 1800
    assert questions[2].startswith("not a deadline: 'later'")


def test_no_answer_on_stdin_says_what_to_pass():
    with pytest.raises(ApprovalError, match="pass --yes to stop at the deadline"):
        decide(DEADLINE)
