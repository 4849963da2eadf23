"""The conflict card (Subject.CONFLICT): claims side by side, every choice by mouse and keyboard.

Real widgets offscreen; the last test runs a real Runner whose review never
gets approved, so the card the person answers is the one the core asked for.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from agents.approvals import Claim, ConflictQuestion, Subject
from agents.events import StepFinished
from agents.llm.calls import RetryPolicy
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Action, ApprovalRequest, Decision, FanOut
from agents.run.agent import ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.testing import FakeLLM, RecordingSink, last_user_message
from ui.approvals import ApprovalCard, QtApprovalGate

SHOTS = os.environ.get("TROUPE_SHOTS")
DRAFT = "Emperor penguins breed in the Antarctic winter; males incubate the egg for about 65 days."
FEEDBACK = "REVISE\nCite a source for the 65 days, and say where the colonies are."


def conflict_request(can_retry: bool = True, claims: tuple[Claim, ...] | None = None) -> ApprovalRequest:
    question = ConflictQuestion(
        kind="review", why="the reviewer did not approve after 3 rounds",
        claims=claims or (Claim("writer, draft 3", DRAFT), Claim("reviewer, review 3", FEEDBACK)),
        proposed=DRAFT, can_retry=can_retry)
    return ApprovalRequest("c1", "r1", "essay", Subject.CONFLICT, "Write the penguin note", conflict=question)


class Window(QWidget):
    """An active window holding one card, so mnemonics and focus behave as in the app."""

    def __init__(self, card: ApprovalCard, width: int = 900) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.addWidget(card)
        layout.addStretch(1)
        self.resize(width, 620)


@pytest.fixture
def shown(qtbot):
    windows: list[Window] = []  # (qtbot holds them weakly)

    def make(request: ApprovalRequest, width: int = 900) -> tuple[ApprovalCard, list[Decision]]:
        card = ApprovalCard(request)
        window = Window(card, width)
        windows.append(window)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
        decisions: list[Decision] = []
        card.decided.connect(decisions.append)
        return card, decisions
    return make


def alt(qtbot, key: Qt.Key) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, Qt.KeyboardModifier.AltModifier)


def test_the_card_shows_why_and_each_claim_under_who_said_it(shown):
    card, _ = shown(conflict_request())
    assert card.kicker.text() == "AGENTS DISAGREE"
    assert "the reviewer did not approve after 3 rounds" in card.facts_label.text()
    assert "Review" in card.facts_label.text()
    panel = card.claims_panel
    assert panel is not None and not panel.stacked
    assert [box.toPlainText() for box in panel.text_boxes] == [DRAFT, FEEDBACK]
    assert [box.accessibleName() for box in panel.text_boxes] == ["Claim 1: writer, draft 3",
                                                                   "Claim 2: reviewer, review 3"]
    assert [b.text() for b in panel.pick_buttons] == ["Pick this (&1)", "Pick this (&2)"]
    # side by side: the two columns share a row
    first, second = (b.parentWidget() for b in panel.text_boxes)
    assert first.y() == second.y() and first.x() < second.x()
    assert card.details.toPlainText() == DRAFT  # what "Accept as is" takes
    assert card.retry_button is not None and card.retry_button.isVisible()
    assert not card.edit_button.isVisible()


def test_narrow_cards_stack_the_claims_and_long_claims_scroll(shown):
    long = "\n".join(f"argument {i}" for i in range(80))
    card, _ = shown(conflict_request(claims=(Claim("analyst", long), Claim("coder", "No."),
                                             Claim("writer", "Maybe."))), width=520)
    panel = card.claims_panel
    assert panel is not None and panel.stacked
    first, second, _third = (b.parentWidget() for b in panel.text_boxes)
    assert second.y() > first.y()
    assert panel.text_boxes[0].height() < 200
    assert panel.text_boxes[0].verticalScrollBar().maximum() > 0


def test_pick_by_mouse_says_which_claim(qtbot, shown):
    card, decisions = shown(conflict_request())
    assert card.claims_panel is not None
    qtbot.mouseClick(card.claims_panel.pick_buttons[1], Qt.MouseButton.LeftButton)
    assert decisions == [Decision(Action.PICK, "2")]
    assert card.resolved and "Picked claim 2 (reviewer, review 3)" in card.resolved_label.text()
    assert card.kicker.text() == "CONFLICT · DECIDED"
    assert not card.claims_panel.isVisible() and card.details_toggle.isVisible()  # folded away
    card.details_toggle.click()
    assert card.claims_panel.isVisible()


def test_accept_as_is_is_where_focus_starts(qtbot, shown):
    card, decisions = shown(conflict_request())
    assert QApplication.focusWidget() is card.approve_button
    assert card.approve_button.text() == "&Accept as is"
    qtbot.keyClick(card.approve_button, Qt.Key.Key_Return)
    assert decisions == [Decision(Action.APPROVE)]
    assert "Accepted as is" in card.resolved_label.text()


def test_pick_by_mnemonic(qtbot, shown):
    card, decisions = shown(conflict_request())
    with qtbot.waitSignal(card.decided):
        alt(qtbot, Qt.Key.Key_1)
    assert decisions == [Decision(Action.PICK, "1")]


def test_write_the_answer_myself_starts_from_the_proposal(qtbot, shown):
    card, decisions = shown(conflict_request())
    alt(qtbot, Qt.Key.Key_W)
    qtbot.waitUntil(lambda: card.editing is Action.OVERRIDE)
    assert QApplication.focusWidget() is card.editor and card.editor.toPlainText() == DRAFT
    qtbot.keyClick(card.editor, Qt.Key.Key_Escape)  # back, nothing decided
    assert card.editing is None and not card.resolved and QApplication.focusWidget() is card.approve_button
    alt(qtbot, Qt.Key.Key_W)
    qtbot.waitUntil(lambda: card.editing is Action.OVERRIDE)
    qtbot.keyClicks(card.editor, " Source: BAS, 2023.")
    qtbot.keyClick(card.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert decisions == [Decision(Action.OVERRIDE, DRAFT + " Source: BAS, 2023.")]
    assert "Your answer is used" in card.resolved_label.text()


def test_run_another_round_and_skip(qtbot, shown):
    card, decisions = shown(conflict_request())
    with qtbot.waitSignal(card.decided):
        alt(qtbot, Qt.Key.Key_R)
    assert decisions == [Decision(Action.RETRY)] and "Another round" in card.resolved_label.text()
    other, skipped = shown(conflict_request())
    alt(qtbot, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: other.editing is Action.REJECT)
    qtbot.keyClicks(other.reason_edit, "not needed")
    qtbot.keyClick(other.reason_edit, Qt.Key.Key_Return)
    assert skipped == [Decision(Action.REJECT, "not needed")]


def test_no_retry_button_when_another_round_means_nothing(shown):
    card, _ = shown(conflict_request(can_retry=False))
    assert card.retry_button is not None and not card.retry_button.isVisible()
    card.mark_resolved(Action.PICK, "1")  # as history shows it
    assert "Picked claim 1 (writer, draft 3)" in card.resolved_label.text()


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp)
    yield loop
    loop.close()


def reviewer_never_approves(request) -> str:
    text = last_user_message(request)
    return FEEDBACK if "The draft to review" in text else DRAFT


def test_a_review_that_never_passes_asks_the_card_and_the_pick_is_the_output(qtbot, qloop):
    host = QWidget()
    column = QVBoxLayout(host)
    qtbot.addWidget(host)
    host.show()
    gate = QtApprovalGate(lambda card: column.addWidget(card))
    sink = RecordingSink()
    plan = Plan.from_dict({"goal": "A note on penguins", "tasks": [
        {"id": "essay", "title": "Write the penguin note", "agent": "writer", "pattern": "review",
         "reviewer": "reviewer", "max_rounds": 2}]})
    runner = Runner(run_id="r1", plan=plan, roster=load_roster(), llm=FakeLLM(reviewer_never_approves),
                    settings=ModelSettings(model="fake/model"), sink=FanOut([sink]), gate=gate,
                    options=RunOptions(retry=RetryPolicy(max_attempts=1), synthesize=False))

    async def scenario() -> None:
        running = asyncio.ensure_future(runner.run())
        while not gate.pending():  # noqa: ASYNC110 - the card lives in Qt
            await asyncio.sleep(0.005)
        card = gate.pending()[0]
        assert card.kicker.text() == "AGENTS DISAGREE" and card.claims_panel is not None
        assert [b.text() for b in card.claims_panel.pick_buttons] == ["Pick this (&1)", "Pick this (&2)"]
        assert "Cite a source for the 65 days" in card.facts_label.text()  # the objection, not a claim
        card.claims_panel.pick_buttons[1].click()  # draft 1
        await running

    qloop.run_until_complete(asyncio.wait_for(scenario(), 10))
    assert runner.states["essay"].output == DRAFT
    assert ("decision 1", "pick") in [(e.step, e.note) for e in sink.of(StepFinished)]


def test_screenshot_conflict_cards(qtbot, tmp_path: Path):
    page = QWidget()
    column = QVBoxLayout(page)
    column.setContentsMargins(16, 16, 16, 16)
    column.setSpacing(14)
    vote = ConflictQuestion(
        kind="vote", why="the votes split 1-1-1 (agreement 33%, below 50%)",
        claims=(Claim("researcher@gpt-4o", "Qdrant: the best latency at 50M vectors, and a managed tier."),
                Claim("analyst@claude-sonnet", "pgvector: we already run Postgres, so there is nothing new to "
                      "operate; HNSW indexes are good enough up to ~20M rows, and partitioning covers the rest."),
                Claim("writer", "Weaviate: hybrid search out of the box.")),
        proposed="Qdrant: the best latency at 50M vectors, and a managed tier.")
    pending = ApprovalCard(ApprovalRequest("a1", "r", "pick_db", Subject.CONFLICT, "Pick the vector database",
                                           conflict=vote))
    writing = ApprovalCard(conflict_request(can_retry=False))
    decided = ApprovalCard(ApprovalRequest("a3", "r", "route", Subject.CONFLICT, "Route the question",
                                           conflict=ConflictQuestion("route", "the router named no route twice",
                                                                     (Claim("analyst", "maybe code?"),), "")))
    for card in (pending, writing, decided):
        column.addWidget(card)
    column.addStretch(1)
    qtbot.addWidget(page)
    page.resize(1000, 1050)
    page.show()
    qtbot.waitExposed(page)
    writing.open_editor(Action.OVERRIDE)
    decided.mark_resolved(Action.PICK, "1")
    pending.approve_button.setFocus()
    qtbot.wait(20)
    image = page.grab()
    assert not image.toImage().isNull()
    image.save(os.path.join(SHOTS or str(tmp_path), "conflict_cards.png"))
    page.resize(560, 1300)
    qtbot.wait(20)
    page.grab().save(os.path.join(SHOTS or str(tmp_path), "conflict_cards_narrow.png"))
