"""The window's cards for the deadline question and the project's monthly budget:
worded from the request's typed fields; a new deadline is typed as on the command
line (30m, 2h, HH:MM) and reaches the core as epoch seconds."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtWidgets import QVBoxLayout, QWidget

from agents.approvals import BudgetQuestion, BudgetScope, DeadlineQuestion, Subject
from agents.ports import Action, ApprovalRequest
from ui.approvals import ApprovalCard

DEADLINE = ApprovalRequest("q1", "r", "", Subject.DEADLINE, "The deadline (14:30) has come",
                           deadline=DeadlineQuestion(deadline=time.time() - 5, done=2, total=5, running=1))
MONTH = ApprovalRequest("q2", "r", "", Subject.BUDGET, "Project “Acme” has spent its $10.00 monthly budget",
                        budget=BudgetQuestion(spent=10.02, limit=10, step=1, scope=BudgetScope.PROJECT_MONTH,
                                              project="Acme", month="December 2026"))


def shown(qtbot, request: ApprovalRequest) -> ApprovalCard:  # type: ignore[no-untyped-def]
    holder = QWidget()
    holder.resize(460, 300)
    card = ApprovalCard(request)
    QVBoxLayout(holder).addWidget(card)
    qtbot.addWidget(holder)
    holder.show()
    card.holder = holder  # type: ignore[attr-defined] - kept alive with the card
    return card


def test_the_deadline_card_offers_continue_a_new_deadline_or_stop(qtbot):
    card = shown(qtbot, DEADLINE)
    assert card.kicker.text() == "DEADLINE NEEDS YOUR DECISION"
    assert "<b>2</b> of 5 task(s) finished, <b>1</b> under way" in card.facts_label.text()
    assert (card.approve_button.text(), card.edit_button.text(), card.reject_button.text()) == (
        "&Continue", "&New deadline…", "&Stop")
    assert card.override_button.isHidden() and card.details.isHidden()
    if folder := os.environ.get("TROUPE_SCREENSHOTS"):
        card.window().grab().save(str(Path(folder) / "deadline-card.png"))
    decided = []
    card.decided.connect(decided.append)
    card.edit_button.click()
    card.editor.setPlainText("soon")
    card.confirm_text()
    assert not decided and "Not a deadline: 'soon'" in card.editor_error.text()
    before = time.time()
    card.editor.setPlainText("30m")
    card.confirm_text()
    [decision] = decided
    assert decision.action is Action.EDIT
    assert before + 1800 <= float(decision.text) <= time.time() + 1800
    assert "Continued with a new deadline" in card.resolved_label.text()
    assert "Until " in card.resolved_label.text()


def test_stop_at_the_deadline_is_one_click_and_says_what_follows(qtbot):
    card = shown(qtbot, DEADLINE)
    decided = []
    card.decided.connect(decided.append)
    card.reject_button.click()
    assert [d.action for d in decided] == [Action.REJECT]
    assert "what is finished is written up (a partial result)" in card.resolved_label.text()


def test_the_project_month_budget_card_says_whose_budget_it_is(qtbot):
    card = shown(qtbot, MONTH)
    facts = card.facts_label.text()
    assert "The project's runs spent <b>$10.02" in facts and "in December 2026, over its $10.00 monthly budget" in facts
    assert "Continue lets this run spend another <b>$1.00</b>" in facts
    assert card.approve_button.text() == "&Continue" and card.reject_button.text() == "&Stop the run"
