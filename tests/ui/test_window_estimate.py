"""The cost estimate in the window: on the plan card and in the plan table's Cost
column before the run, worked out again after an edit, under the run's cost while
it runs, and next to the actual cost when the run is opened again.

Whole-window tests: the Makefile runs this file one process per test.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from app.runs.service import RunService
from app.settings import Settings
from app.storage import open_database
from tests.support.scripted_server import Reply
from tests.ui.test_main_window import _WINDOWS, qloop, until  # noqa: F401 - qloop is a fixture
from ui.main_window import MainWindow
from ui.plan_tree.cells import Column

SHOTS = Path("/tmp")
PLAN = {"goal": "Write a guide to houseplants", "tasks": [
    {"id": "r", "title": "Research care needs", "instructions": "List what houseplants need.",
     "agent": "researcher"},
    {"id": "w", "title": "Write the guide", "instructions": "Write a short guide.", "agent": "writer",
     "depends_on": ["r"]},
]}


def priced_window(db: Path, server) -> MainWindow:  # type: ignore[no-untyped-def]
    settings = Settings(default_model="openai/gpt-4o-mini", api_base=server.base_url)
    window = MainWindow(RunService(open_database(db), settings=settings))
    _WINDOWS.append(window)
    window.resize(1280, 800)
    window.show()
    return window


def cost_cell(window: MainWindow, task_id: str) -> tuple[str, str]:
    index = window.plan_model.index_for(task_id, Column.COST)
    return index.data(), index.data(3) or ""  # display, tooltip


def test_the_estimate_shows_before_the_run_follows_edits_and_meets_the_actual_cost(qloop, llm_server, tmp_path):  # noqa: F811 - the imported fixture
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    llm_server.default = Reply("Water weekly; bright, indirect light.", prompt_tokens=400, completion_tokens=300)
    db = tmp_path / "troupe.db"
    window = priced_window(db, llm_server)

    async def flow() -> str:
        window.goal.setPlainText(PLAN["goal"])
        window.send.click()
        await until(lambda: window.session.estimate is not None)
        card = window.session._plan_card
        assert card.estimate.isVisible() and "Estimated cost: ~$" in card.estimate.text()
        assert "No history yet" in card.estimate.text()
        shown, tip = cost_cell(window, "w")
        assert shown.startswith("~$") and "Estimated before the run" in tip and "model call" in tip
        first = window.session.estimate
        assert window.run_view.totals.texts()["estimate"].startswith("est. ~$")
        window.grab().save(str(SHOTS / "troupe-estimate-plan-card.png"))

        # an edit: the writer's task becomes a vote of five; the estimate is worked out again
        window.session.estimate = None
        task = window.plan_model.to_plan().task("w")
        from agents.plan.patterns import Vote  # noqa: PLC0415

        assert window.plan_model.set_pattern("w", Vote(samples=5))
        await until(lambda: window.session.estimate is not None)
        assert "vote of 5" in card.preview.text()  # the card follows the edit (issue 17: it was a snapshot)
        before, after = first.task("w").cost, window.session.estimate.task("w").cost
        assert after.expected > 4 * before.expected  # five answers where there was one
        assert window.session.estimate.total.expected > first.total.expected
        assert task.pattern is None

        window.run_action.trigger()
        await until(lambda: window.session.handle is None and not window.session._jobs
                    and window.run_view.state().value == "completed")
        return window.session.run_id or ""

    run_id = qloop.run_until_complete(asyncio.wait_for(flow(), 60))
    store = open_database(db)
    stored, cost = store.get_run(run_id).estimate, store.get_run(run_id).cost
    store.close()
    assert stored is not None and stored["total"]["expected"] > 0 and cost > 0

    # opened again from the history: the card puts the estimate next to the actual cost
    window.session.open_run(run_id)
    card = window.session._plan_card
    assert "Estimated ~$" in card.estimate.text() and "actual $" in card.estimate.text()
    assert cost_cell(window, "w")[0].startswith("$")  # the run's own cost, not the estimate


def test_run_asks_first_when_the_estimate_could_go_over_the_budget(qloop, llm_server, tmp_path):  # noqa: F811 - the imported fixture
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    llm_server.default = Reply("Water weekly.", prompt_tokens=400, completion_tokens=300)
    settings = Settings(default_model="openai/gpt-4o-mini", api_base=llm_server.base_url, budget_usd=0.0001)
    window = MainWindow(RunService(open_database(tmp_path / "troupe.db"), settings=settings))
    _WINDOWS.append(window)
    window.show()

    async def flow() -> None:
        window.goal.setPlainText(PLAN["goal"])
        window.send.click()
        await until(lambda: window.session.estimate is not None)
        card = window.session._plan_card
        card.approve_button.click()
        await until(lambda: window.session.over_budget_box is not None
                    and window.session.over_budget_box.isVisible())
        box = window.session.over_budget_box
        assert "could cost up to $0.00" in box.text() and "budget of $0.0001" in box.text()
        box.grab().save(str(SHOTS / "troupe-estimate-over-budget.png"))
        tasks_asked = len(llm_server.chat_requests)
        next(b for b in box.buttons() if b.text() == "Back to the plan").click()
        await until(lambda: card.approve_button.isVisible())
        assert window.session.handle is None and card.approve_button.isEnabled()
        assert len(llm_server.chat_requests) == tasks_asked  # nothing ran

        window.run_action.trigger()
        await until(lambda: window.session.over_budget_box is not box
                    and window.session.over_budget_box is not None
                    and window.session.over_budget_box.isVisible())
        again = window.session.over_budget_box
        next(b for b in again.buttons() if b.text() == "Run anyway").click()
        await until(lambda: window.session.handle is not None)

    qloop.run_until_complete(asyncio.wait_for(flow(), 60))
