"""Keys behave as people expect (issue 17): Esc belongs to the widget with focus
(it leaves an approval editor, it clears the search) and never cancels the run;
Ctrl+Enter confirms in an approval editor; Cancel run asks first while tasks are
working; "Approve plan & run" on a plan with problems leaves the card as it was.

Whole-window tests: the Makefile runs this file one process per test.
"""

from __future__ import annotations

import asyncio
import json

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from agents.ports import Action
from tests.support.scripted_server import Gate, Reply
from tests.ui.test_main_window import open_window, qloop, until  # noqa: F401 - qloop is a fixture

PLAN = {"goal": "Check the garden", "tasks": [
    {"id": "a", "title": "Look at the roses", "instructions": "Say how the roses are.", "agent": "writer",
     "requires_approval": True},
    {"id": "b", "title": "Water the beds", "instructions": "Say when to water.", "agent": "writer"},
]}


def test_esc_and_ctrl_enter_belong_to_the_focused_widget_and_cancel_asks(qloop, llm_server, tmp_path):  # noqa: F811
    gate = Gate()
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    llm_server.on(contains="Your task (b)", reply=Reply("Water at dawn.", wait=gate))
    llm_server.default = Reply("Fine.")
    window = open_window(tmp_path / "troupe.db", llm_server)

    async def flow() -> None:
        window.goal.setPlainText(PLAN["goal"])
        window.send.click()
        await until(lambda: window.plan_model.has_task("a"))
        window.run_action.trigger()
        await until(lambda: bool(window.session._gate.pending()))
        card = window.session._gate.pending()[0]

        # Esc in the approval editor: back to the card's buttons; the run goes on
        card.open_editor(Action.EDIT)
        card.editor.setFocus()
        QTest.keyClick(card.editor, Qt.Key.Key_Escape)
        assert card.editing is None and not card.resolved and window.session.handle is not None

        # Ctrl+Enter in the approval editor confirms it (the composer's shortcut does not take it)
        card.open_editor(Action.EDIT)
        card.editor.setPlainText("Say how the roses are, in one line.")
        card.editor.setFocus()
        QTest.keyClick(card.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        assert card.resolved and window.goal.toPlainText() == ""

        # Esc in the search box clears it; the run goes on
        await until(lambda: window.session.working_tasks() > 0)
        window.history.search.setText("roses")
        window.history.search.setFocus()
        QTest.keyClick(window.history.search, Qt.Key.Key_Escape)
        assert window.history.search.text() == "" and window.session.handle is not None

        # Cancel run asks while a task is working: keep running, then cancel
        window.cancel_action.trigger()
        box = window.session.cancel_box
        assert box is not None and box.isVisible() and "1 task is working now" in box.text()
        next(b for b in box.buttons() if b.text() == "Keep running").click()
        await asyncio.sleep(0.05)
        assert window.session.handle is not None
        window.cancel_action.trigger()
        again = window.session.cancel_box
        next(b for b in again.buttons() if b.text() == "Cancel run").click()
        await until(lambda: window.session.handle is None)
        gate.open()

        # reopened, the run says what happened: the edit made at the approval
        window.session.open_run(window.session.run_id or "")
        notes = [w.text() for w in window.conversation.items() if isinstance(w, QLabel)]
        assert any("approved with the instructions edited — “Say how the roses are, in one line.”" in n
                   for n in notes), notes

    qloop.run_until_complete(asyncio.wait_for(flow(), 60))


def test_approving_a_plan_with_problems_leaves_the_card_as_it_was(qloop, llm_server, tmp_path):  # noqa: F811
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    window = open_window(tmp_path / "troupe.db", llm_server)

    async def flow() -> None:
        window.goal.setPlainText(PLAN["goal"])
        window.send.click()
        await until(lambda: window.plan_model.has_task("a"))
        card = window.session._plan_card
        # a dependency on a task that does not exist: the plan has a problem now
        index = window.plan_model.index_for("b", 2)
        assert window.plan_model.setData(index, "nowhere")
        assert not window.plan_model.is_valid()
        card.approve_button.click()
        await asyncio.sleep(0.05)
        assert not card.is_approved and card.approve_button.isVisible()
        assert window.session.handle is None
        notes = [w.text() for w in window.conversation.items() if hasattr(w, "text")]
        assert any("Fix the plan first" in n for n in notes)

    qloop.run_until_complete(asyncio.wait_for(flow(), 60))
