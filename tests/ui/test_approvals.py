"""ApprovalCard and QtApprovalGate: every decision by mouse and by keyboard, on a qasync loop.

The gate's `decide()` runs on a real qasync.QEventLoop (the app's loop);
inside the coroutines nothing calls qtbot.wait*: that would re-enter the Qt
loop. Waiting is `await asyncio.sleep(...)`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from agents.approvals import BudgetQuestion, Subject, TaskQuestion, TaskRef
from agents.errors import ApprovalError
from agents.events import ApprovalRequested, TaskFinished, TaskSkipped
from agents.llm.calls import RetryPolicy
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Action, ApprovalRequest, Decision, FanOut
from agents.run.agent import ModelSettings
from agents.run.runner import Runner, RunOptions, RunOutcome
from agents.run.state import TaskStatus
from agents.testing import FakeLLM, RecordingSink
from ui.approvals import ApprovalCard, QtApprovalGate, bind
from ui.conversation import ConversationView
from ui.run_view import RunView

INSTRUCTIONS = "Write the summary for the CTO.\nKeep it short."
SHOTS = os.environ.get("TROUPE_SHOTS")  # a folder: save screenshots there


def request(task_id: str = "t2", title: str = "Write the summary") -> ApprovalRequest:
    return ApprovalRequest(request_id=f"req-{task_id}", run_id="r1", task_id=task_id, subject=Subject.TASK,
                           title=title, task=TaskQuestion("writer", INSTRUCTIONS, (TaskRef("t1", "Research"),)))


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp)
    yield loop
    loop.close()


def run(loop: qasync.QEventLoop, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Host(QWidget):
    """Where the gate shows its cards: a plain column, shown and active."""

    def __init__(self) -> None:
        super().__init__()
        self.column = QVBoxLayout(self)
        self.cards: list[ApprovalCard] = []
        self.resize(700, 500)

    def show_card(self, card: ApprovalCard) -> None:
        self.cards.append(card)
        self.column.addWidget(card)
        card.show()


@pytest.fixture
def host(qtbot) -> Host:
    widget = Host()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget, timeout=2000)
    return widget


async def eventually(predicate: Callable[[], object]) -> None:
    """Poll on the loop (qtbot.waitUntil would re-enter the Qt loop from inside it)."""
    while not predicate():  # noqa: ASYNC110 - the state lives in Qt widgets, not in an Event
        await asyncio.sleep(0.005)


async def first_card(gate: QtApprovalGate) -> ApprovalCard:
    await eventually(gate.pending)
    return gate.pending()[0]


def decide_with(qloop: qasync.QEventLoop, host: Host,
                act: Callable[[ApprovalCard], Any]) -> tuple[Decision, ApprovalCard]:
    """Ask a fresh gate for a decision and let `act` answer on the card."""
    gate = QtApprovalGate(host.show_card)

    async def scenario() -> tuple[Decision, ApprovalCard]:
        pending = asyncio.ensure_future(gate.decide(request()))
        card = await first_card(gate)
        await asyncio.sleep(0.01)  # let Qt show and lay out the card
        result = act(card)
        if asyncio.iscoroutine(result):
            await result
        return await pending, card

    return run(qloop, scenario())


# --- by mouse --------------------------------------------------------------------


def click(qtbot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_approve_by_mouse(qtbot, qloop, host):
    decision, card = decide_with(qloop, host, lambda c: click(qtbot, c.approve_button))
    assert decision == Decision(Action.APPROVE)
    assert card.resolved and card.decision == decision
    assert not card.actions_row.isVisible() and not card.approve_button.isEnabled()
    assert "Approved" in card.resolved_label.text()


def test_edit_by_mouse_prefills_instructions(qtbot, qloop, host):
    seen: dict[str, str] = {}

    def act(card: ApprovalCard) -> None:
        click(qtbot, card.edit_button)
        seen["prefill"] = card.editor.toPlainText()
        assert card.editor_panel.isVisible() and card.editing is Action.EDIT
        card.editor.selectAll()
        qtbot.keyClicks(card.editor, "Write it for engineers instead.")
        click(qtbot, card.confirm_button)

    decision, card = decide_with(qloop, host, act)
    assert seen["prefill"] == INSTRUCTIONS == request().edit_text
    assert decision == Decision(Action.EDIT, "Write it for engineers instead.")
    assert not card.editor_panel.isVisible()
    assert "instructions" in card.resolved_label.text()


def test_reject_by_mouse_asks_why_and_keeps_the_reason(qtbot, qloop, host):
    def act(card: ApprovalCard) -> None:
        click(qtbot, card.reject_button)
        assert card.editing is Action.REJECT and card.reason_panel.isVisible() and not card.resolved
        assert QApplication.focusWidget() is card.reason_edit
        qtbot.keyClicks(card.reason_edit, "We already have these numbers")
        click(qtbot, card.confirm_reject_button)

    decision, card = decide_with(qloop, host, act)
    assert decision == Decision(Action.REJECT, "We already have these numbers")
    assert "Rejected" in card.resolved_label.text() and "We already have these numbers" in card.resolved_label.text()
    assert not card.reason_panel.isVisible()


def test_reject_without_a_reason_and_back(qtbot, qloop, host):
    def act(card: ApprovalCard) -> None:
        click(qtbot, card.reject_button)
        click(qtbot, card.cancel_reject_button)  # back: nothing decided
        assert card.editing is None and card.actions_row.isVisible() and not card.resolved
        click(qtbot, card.reject_button)
        click(qtbot, card.confirm_reject_button)

    decision, _card = decide_with(qloop, host, act)
    assert decision == Decision(Action.REJECT)


def test_use_my_answer_by_mouse(qtbot, qloop, host):
    def act(card: ApprovalCard) -> None:
        click(qtbot, card.override_button)
        assert card.editor.toPlainText() == ""
        assert not card.confirm_button.isEnabled()  # nothing to send yet
        qtbot.keyClicks(card.editor, "Here is my own summary.")
        assert card.confirm_button.isEnabled()
        click(qtbot, card.confirm_button)

    decision, _card = decide_with(qloop, host, act)
    assert decision == Decision(Action.OVERRIDE, "Here is my own summary.")


# --- by keyboard -------------------------------------------------------------------


def test_approve_by_keyboard_focus_starts_on_approve(qtbot, qloop, host):
    def act(card: ApprovalCard) -> None:
        assert QApplication.focusWidget() is card.approve_button
        qtbot.keyClick(card.approve_button, Qt.Key.Key_Return)

    decision, _card = decide_with(qloop, host, act)
    assert decision.action is Action.APPROVE


async def press_mnemonic(qtbot, key: Qt.Key) -> None:
    """Alt+<key> on the focused widget; a button's mnemonic clicks ~100 ms later (animateClick)."""
    qtbot.keyClick(QApplication.focusWidget(), key, Qt.KeyboardModifier.AltModifier)
    await asyncio.sleep(0.2)


def test_edit_by_keyboard_mnemonic_and_ctrl_enter(qtbot, qloop, host):
    async def act(card: ApprovalCard) -> None:
        await press_mnemonic(qtbot, Qt.Key.Key_E)
        assert card.editing is Action.EDIT
        assert QApplication.focusWidget() is card.editor
        qtbot.keyClick(card.editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(card.editor, "Shorter, please.")
        qtbot.keyClick(card.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    decision, _card = decide_with(qloop, host, act)
    assert decision == Decision(Action.EDIT, "Shorter, please.")


def test_reject_by_keyboard_mnemonic_reason_and_enter(qtbot, qloop, host):
    async def act(card: ApprovalCard) -> None:
        await press_mnemonic(qtbot, Qt.Key.Key_R)
        assert card.editing is Action.REJECT and QApplication.focusWidget() is card.reason_edit
        qtbot.keyClick(card.reason_edit, Qt.Key.Key_Escape)  # back to the buttons
        assert card.editing is None and QApplication.focusWidget() is card.approve_button
        await press_mnemonic(qtbot, Qt.Key.Key_R)
        qtbot.keyClicks(card.reason_edit, "off topic")
        qtbot.keyClick(card.reason_edit, Qt.Key.Key_Return)

    decision, _card = decide_with(qloop, host, act)
    assert decision == Decision(Action.REJECT, "off topic")


def test_use_my_answer_by_keyboard_escape_goes_back(qtbot, qloop, host):
    async def act(card: ApprovalCard) -> None:
        await press_mnemonic(qtbot, Qt.Key.Key_U)
        assert card.editing is Action.OVERRIDE
        qtbot.keyClick(card.editor, Qt.Key.Key_Escape)  # back to the buttons, nothing decided
        assert card.editing is None and card.actions_row.isVisible() and not card.resolved
        assert QApplication.focusWidget() is card.approve_button
        await press_mnemonic(qtbot, Qt.Key.Key_U)
        qtbot.keyClicks(card.editor, "My answer")
        qtbot.keyClick(card.editor, Qt.Key.Key_Enter, Qt.KeyboardModifier.ControlModifier)

    decision, _card = decide_with(qloop, host, act)
    assert decision == Decision(Action.OVERRIDE, "My answer")


# --- the card on its own -------------------------------------------------------------


def test_card_emits_once_and_ignores_later_clicks(qtbot):
    card = ApprovalCard(request())
    qtbot.addWidget(card)
    card.show()
    with qtbot.waitSignal(card.decided) as blocker:
        click(qtbot, card.approve_button)
    assert blocker.args == [Decision(Action.APPROVE)]
    emitted: list[Decision] = []
    card.decided.connect(emitted.append)
    card.reject_button.click()  # hidden and disabled: nothing happens
    card.open_editor(Action.OVERRIDE)
    card.confirm_text()
    assert emitted == [] and card.decision == Decision(Action.APPROVE)


def test_confirm_needs_text_and_mark_resolved_does_not_emit(qtbot):
    card = ApprovalCard(request())
    qtbot.addWidget(card)
    emitted: list[Decision] = []
    card.decided.connect(emitted.append)
    card.open_editor(Action.EDIT)
    card.editor.setPlainText("   ")
    assert not card.confirm_button.isEnabled()
    card.confirm_text()
    assert emitted == [] and not card.resolved
    card.mark_resolved("reject")
    assert card.resolved and emitted == []
    assert "Rejected" in card.resolved_label.text()


def test_a_task_card_shows_the_questions_fields(qtbot):
    card = ApprovalCard(request())
    qtbot.addWidget(card)
    assert card.kicker.text() == "TASK NEEDS YOUR APPROVAL" and card.title_label.text() == "Write the summary"
    assert card.details.toPlainText() == INSTRUCTIONS  # the instructions alone, no "Agent:" line to parse
    facts = card.facts_label.text()
    assert "writer" in facts and "Research" in facts and "(t1)" in facts
    bare = ApprovalCard(ApprovalRequest("q", "r", "t", Subject.TASK, "T", task=TaskQuestion("coder", "")))
    qtbot.addWidget(bare)
    assert bare.details.toPlainText() == "(no instructions)" and bare.request.edit_text == ""
    bare.open_editor(Action.EDIT)
    assert bare.editor.toPlainText() == ""


def test_long_details_scroll_inside_the_card(qtbot):
    long = "\n".join(f"line {i}" for i in range(200))
    card = ApprovalCard(ApprovalRequest("r", "run", "t", Subject.TASK, "Long one", task=TaskQuestion("writer", long)))
    qtbot.addWidget(card)
    card.resize(600, 400)
    card.show()
    qtbot.waitExposed(card)
    assert card.details.height() < 300
    assert card.details.verticalScrollBar().maximum() > 0


# --- the gate ---------------------------------------------------------------------------


def test_bind_resolves_a_future_synchronously(qtbot):
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[Decision] = loop.create_future()
        card = ApprovalCard(request())
        qtbot.addWidget(card)
        bind(card, future)
        card.reject_button.click()
        assert not future.done()  # a task's Reject asks why first
        card.confirm_reject_button.click()
        assert future.result() == Decision(Action.REJECT)
    finally:
        loop.close()


def test_cancelled_wait_marks_the_card_and_a_destroyed_card_fails_the_wait(qtbot, qloop, host):
    gate = QtApprovalGate(host.show_card)

    async def scenario() -> tuple[ApprovalCard, BaseException | None]:
        waiting = asyncio.ensure_future(gate.decide(request("t1")))
        card = await first_card(gate)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        second = asyncio.ensure_future(gate.decide(request("t2")))
        other = await first_card(gate)
        other.deleteLater()
        try:
            await second
        except ApprovalError as exc:
            return card, exc
        return card, None

    card, error = run(qloop, scenario())
    assert card.resolved and not card.approve_button.isEnabled()
    assert "cancelled" in card.resolved_label.text()
    assert isinstance(error, ApprovalError)
    assert gate.pending() == []


def test_other_tasks_keep_running_while_a_card_waits(qtbot, qloop):
    """A real Runner: `b` finishes while `a` waits on its card; `c` (after `a`) waits too."""
    conversation = ConversationView()
    run_view = RunView()
    for widget in (conversation, run_view):
        qtbot.addWidget(widget)
    conversation.show()
    gate = QtApprovalGate(conversation.add_approval_card)
    sink = RecordingSink()
    plan = Plan.from_dict({"goal": "g", "tasks": [
        {"id": "a", "title": "Needs approval", "agent": "writer", "requires_approval": True},
        {"id": "b", "title": "Independent", "agent": "researcher"},
        {"id": "c", "title": "After a", "agent": "writer", "depends_on": ["a"]},
    ]})
    runner = Runner(
        run_id="r1", plan=plan, roster=load_roster(), llm=FakeLLM(lambda r: "fine output", latency=0.01),
        settings=ModelSettings(model="fake/model"), sink=FanOut([sink, run_view.sink]), gate=gate,
        options=RunOptions(retry=RetryPolicy(max_attempts=1), synthesize=False),
    )

    async def scenario() -> RunOutcome:
        running = asyncio.ensure_future(runner.run())
        card = await first_card(gate)
        await eventually(lambda: any(e.task_id == "b" for e in sink.of(TaskFinished)))
        assert runner.states["a"].status is TaskStatus.WAITING_APPROVAL
        assert runner.states["c"].status is TaskStatus.PENDING
        assert run_view.model.rows["a"].status is TaskStatus.WAITING_APPROVAL
        assert run_view.model.rows["b"].status is TaskStatus.COMPLETED
        assert card in conversation.items()
        qtbot.mouseClick(card.reject_button, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(card.reason_edit, "not needed this week")
        qtbot.mouseClick(card.confirm_reject_button, Qt.MouseButton.LeftButton)
        return await running

    outcome = run(qloop, scenario())
    # c was blocked behind the rejected a; the rest is kept, as a partial result
    assert outcome.status == "completed" and outcome.partial
    assert [(e.task_id, e.reason) for e in sink.of(TaskSkipped)] == [("a", "rejected by the person: "
                                                                         "not needed this week")]
    assert sink.of(ApprovalRequested)[0].task_id == "a"
    assert runner.states["c"].status is TaskStatus.BLOCKED
    assert run_view.model.rows["c"].status is TaskStatus.BLOCKED


# --- screenshot ---------------------------------------------------------------------------


def test_screenshot(qtbot, tmp_path: Path):
    """Renders the card; with TROUPE_SCREENSHOTS=1 also saves docs/screenshots/dev_approval_card.png."""
    page = QWidget()
    column = QVBoxLayout(page)
    column.setContentsMargins(16, 16, 16, 16)
    column.setSpacing(14)
    pending = ApprovalCard(ApprovalRequest(
        "a1", "r", "t7", Subject.TASK, "Draft the recommendation report",
        task=TaskQuestion("writer", "Write a 1-page recommendation for the CTO comparing Qdrant, Weaviate and "
                          "pgvector\nfor 50M documents. Lead with the recommendation, then cost, latency and "
                          "operational risk.\nKeep it under 600 words and cite the benchmark numbers.",
                          (TaskRef("t5", "Cost model per 1M queries"), TaskRef("t6", "Latency comparison")))))
    editing = ApprovalCard(ApprovalRequest(
        "a2", "r", "t8", Subject.TASK, "Publish the summary to the wiki",
        task=TaskQuestion("writer", "Post the final summary on the team wiki page 'Vector search'.",
                          (TaskRef("t9", "Review the report"),))))
    rejecting = ApprovalCard(ApprovalRequest(
        "a4", "r", "t10", Subject.TASK, "Email the vendors for quotes",
        task=TaskQuestion("writer", "Ask Qdrant and Weaviate sales for a 50M-document quote.")))
    done = ApprovalCard(ApprovalRequest("a3", "r", "t3", Subject.TASK, "Research pgvector",
                                        task=TaskQuestion("researcher", "Collect pgvector's HNSW limits and costs.")))
    for card in (pending, editing, rejecting, done):
        column.addWidget(card)
    column.addStretch(1)
    qtbot.addWidget(page)
    page.resize(1100, 900)
    page.show()
    qtbot.waitExposed(page)
    editing.open_editor(Action.EDIT)
    editing.editor.setPlainText("Post the final summary on the team wiki page 'Vector search',\n"
                                "and link the benchmark notebook.")
    rejecting.open_reason()
    rejecting.reason_edit.setText("Not yet: procurement asked us to wait until Q3")
    done.mark_resolved(Action.APPROVE)
    pending.approve_button.setFocus()
    qtbot.wait(20)
    image = page.grab()
    assert image.width() >= 1100 and not image.toImage().isNull()
    image.save(os.path.join(SHOTS or str(tmp_path), "task_cards.png"))
    if os.environ.get("TROUPE_SCREENSHOTS"):
        target = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "dev_approval_card.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(target))


def test_a_budget_question_offers_continue_or_stop_only(qtbot) -> None:
    from agents.ports import Action, ApprovalRequest
    from ui.approvals import ApprovalCard

    request = ApprovalRequest(request_id="b1", run_id="r", task_id="", subject=Subject.BUDGET,
                              title="The $0.50 budget is spent",
                              budget=BudgetQuestion(spent=0.5012, limit=0.5, step=0.5))
    card = ApprovalCard(request)
    qtbot.addWidget(card)
    card.show()
    assert card.kicker.text() == "BUDGET NEEDS YOUR APPROVAL"
    assert "$0.5012" in card.facts_label.text() and "$0.50" in card.facts_label.text()
    assert card.approve_button.text() == "&Continue" and card.reject_button.text() == "&Stop the run"
    assert not card.edit_button.isVisible() and not card.override_button.isVisible()
    with qtbot.waitSignal(card.decided) as decided:
        card.reject_button.click()
    assert decided.args[0].action is Action.REJECT


def test_a_sub_task_a_manager_planned_asks_on_a_card_of_its_own(qtbot):
    """No task row is waiting (the manager's task runs on): the title names the sub-task."""
    card = ApprovalCard(ApprovalRequest("q", "r", "", Subject.TASK, "Penguin report › Publish the post",
                                        task=TaskQuestion("writer", "Publish it.")))
    qtbot.addWidget(card)
    card.show()
    decisions: list[Decision] = []
    card.decided.connect(decisions.append)
    assert card.title_label.text() == "Penguin report › Publish the post"
    card.approve_button.click()
    assert decisions == [Decision(Action.APPROVE)]


def test_the_terminal_names_a_sub_task_by_its_title():
    from app.cli.console import _heading

    request = ApprovalRequest("q", "r", "", Subject.TASK, "Penguin report › Publish the post",
                              task=TaskQuestion("writer", "Publish it."))
    assert _heading(request) == "Approval needed: Penguin report › Publish the post"


def test_the_buttons_wrap_in_a_narrow_conversation(qtbot) -> None:
    # issue 17: four buttons in a row held the conversation ~430 px wide at 1024x700
    card = ApprovalCard(request())
    qtbot.addWidget(card)
    assert card.minimumSizeHint().width() < 330
    card.resize(320, card.heightForWidth(320) if card.hasHeightForWidth() else 400)
    card.show()
    qtbot.waitUntil(lambda: card.approve_button.isVisible())
    row = card.actions_row
    for button in (card.approve_button, card.edit_button, card.reject_button, card.override_button):
        assert row.rect().contains(button.geometry()), button.text()
