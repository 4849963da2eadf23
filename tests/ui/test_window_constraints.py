"""Budgets and deadlines at intake in the window: the composer's options row gives the
next run its own budget and deadline (stored with the run, shown in the run view,
then back to "No budget" / "No deadline"); a project's monthly budget is set from
its context menu in the history. Real widgets offscreen, the scripted server, a
real SQLite file. With TROUPE_SCREENSHOTS=<dir> the window is saved at 1280 and
1024 px wide.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from agents.approvals import BudgetScope, Subject
from app.runs.service import RunService
from app.settings import Settings
from app.storage import open_database
from app.storage.limits import project_budget, run_constraints
from tests.support.scripted_server import Reply
from tests.ui.test_main_window import _WINDOWS, qloop, until  # noqa: F401 - qloop is a fixture
from ui.main_window import MainWindow

PLAN = {"goal": "g", "tasks": [
    {"id": "a", "title": "Gather", "instructions": "Gather.", "agent": "writer", "depends_on": []},
    {"id": "b", "title": "Write", "instructions": "Write.", "agent": "writer", "depends_on": ["a"]}]}


def priced_window(db: Path, server) -> MainWindow:  # type: ignore[no-untyped-def]
    # gpt-4o-mini is in litellm's price list: 10000 + 10000 tokens cost $0.0075 a call
    settings = Settings(default_model="openai/gpt-4o-mini", api_base=server.base_url, budget_usd=5)
    window = MainWindow(RunService(open_database(db), settings=settings))
    _WINDOWS.append(window)
    window.show()
    return window


def shoot(window: MainWindow, name: str) -> None:
    folder = os.environ.get("TROUPE_SCREENSHOTS")
    if not folder:
        return
    for width in (1280, 1024):
        window.resize(width, 800)
        window.grab().save(str(Path(folder) / f"{name}-{width}.png"))


def test_the_options_row_gives_the_next_run_its_budget_and_deadline(qloop, llm_server, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-window-constraints")
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system,
                  reply=Reply(json.dumps(PLAN), prompt_tokens=10_000, completion_tokens=10_000))
    llm_server.default = Reply("done", prompt_tokens=10_000, completion_tokens=10_000)
    db = tmp_path / "troupe.db"
    window = priced_window(db, llm_server)
    row = window.constraints_row
    assert row.budget.text() == "No budget" and row.deadline.placeholderText() == "No deadline"

    async def flow() -> str:
        row.deadline.setText("nonsense")
        window.goal.setPlainText("Write it up")
        window.send.click()
        assert "not a deadline" in window.status.text() and window.session.run_id is None  # not sent
        row.budget.setValue(0.01)  # the planner's call ($0.0075) counts: asks after the first task
        row.deadline.setText("2h")
        assert row.when.text().startswith("→ ")
        window.send.click()
        await until(lambda: window.plan_model.has_task("b"))
        assert (row.budget.value(), row.deadline.text()) == (0, "")  # the next run only
        window.run_action.trigger()
        await until(lambda: window.session._gate.pending())
        card = window.session._gate.pending()[0]
        assert card.request.subject is Subject.BUDGET and card.request.budget is not None
        assert card.request.budget.scope is BudgetScope.RUN and card.request.budget.limit == 0.01
        await until(lambda: "Budget $0.0100 · $0.0150 spent" in window.run_view.limits.text())
        assert llm_server.requests[-1].last_user.count("Your task (a)")  # b never asked
        assert "Deadline " in window.run_view.limits.text() and " left" in window.run_view.limits.text()
        shoot(window, "constraints-window")
        card.reject_button.click()  # stop the run
        await until(lambda: window.session.handle is None and not window.session._jobs)
        return window.session.run_id or ""

    run_id = qloop.run_until_complete(asyncio.wait_for(flow(), 60))
    store = open_database(db)
    try:
        stored = run_constraints(store, run_id)
        assert stored.budget_usd == 0.01
        assert stored.deadline is not None and abs(stored.deadline - (time.time() + 7200)) < 120
        assert store.get_run(run_id).status == "cancelled"
    finally:
        store.close()


def test_a_projects_monthly_budget_is_set_from_its_context_menu(qloop, llm_server, tmp_path):  # noqa: F811
    db = tmp_path / "troupe.db"
    store = open_database(db)
    store.create_run("Acme", "an earlier goal", {"model": "openai/test-model"})
    store.close()
    window = priced_window(db, llm_server)
    qloop.run_until_complete(asyncio.wait_for(until(lambda: window.history.model.rowCount() > 0), 20))
    menu = window.history.project_menu("Acme")
    [action] = menu.actions()
    assert action.text() == "Monthly budget…"
    action.trigger()
    dialog = window.project_budget_dialog
    assert dialog.budget.text() == "No budget"
    dialog.budget.setValue(25)
    shoot_dialog = os.environ.get("TROUPE_SCREENSHOTS")
    if shoot_dialog:
        dialog.grab().save(str(Path(shoot_dialog) / "project-budget-dialog.png"))
    dialog.accept()
    assert window.status.text() == "Project Acme: $25.00 a month"
    found = project_budget(window.service.store, "Acme")
    assert found is not None and found.monthly_budget_usd == 25


def test_at_the_deadline_the_window_asks_and_stop_writes_up_what_finished(qloop, llm_server, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-window-constraints")
    plan = {"goal": "g", "tasks": [
        {"id": "a", "title": "Quick part", "instructions": "Quick.", "agent": "writer", "depends_on": []},
        {"id": "b", "title": "Slow part", "instructions": "Slow.", "agent": "writer", "depends_on": []}]}
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(plan))
    llm_server.on(contains="Your task (b)", reply=Reply("late", latency=30))
    llm_server.on(contains="Compose the final deliverable", reply="# What was finished")
    window = priced_window(tmp_path / "troupe.db", llm_server)

    async def flow() -> None:
        window.constraints_row.deadline.setText("4s")
        window.goal.setPlainText("Two parts")
        window.send.click()
        await until(lambda: window.plan_model.has_task("b"))
        window.run_action.trigger()
        await until(lambda: window.session._gate.pending())
        [card] = window.session._gate.pending()
        assert card.request.subject is Subject.DEADLINE and card.request.deadline is not None
        assert (card.request.deadline.done, card.request.deadline.running) == (1, 1)
        shoot(window, "deadline-window")
        card.reject_button.click()  # stop and write up
        await until(lambda: window.session.handle is None and not window.session._jobs)

    qloop.run_until_complete(asyncio.wait_for(flow(), 60))
    notes = [w.text() for w in window.conversation.items() if hasattr(w, "text") and callable(w.text)]
    assert any("Partial result: stopped at the deadline" in n for n in notes), notes
    assert window.run_view.model.run.partial
