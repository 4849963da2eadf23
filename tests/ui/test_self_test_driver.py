"""The self-test's window driver against the scripted server: fast checks of its
steps and of the reasons it fails with (the embedded-model pass is in
tests/e2e/test_self_test.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from app.paths import db_path
from app.runs.service import RunService
from app.settings import Settings
from app.storage import open_database
from tests.support.scripted_server import Reply
from ui.main_window import MainWindow
from ui.self_test import GOAL, Progress, SelfTestFailed, WindowDriver

PLAN = {"goal": "g", "tasks": [
    {"id": "r", "title": "Research", "instructions": "Find facts.", "agent": "researcher"},
    {"id": "w", "title": "Write", "instructions": "Write it.", "agent": "writer",
     "depends_on": ["r"], "requires_approval": True},
]}
PLANNER = "Reply with one JSON object"


@pytest.fixture
def window(qapp: QApplication, llm_server) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    settings = Settings(default_model="openai/test-model", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(open_database(db_path()), settings=settings)
    shown = MainWindow(service)
    shown.show()
    yield shown
    shown.close()  # as ui/self_test.py and ui/gui.py end: nothing left pending in the loop
    loop.run_until_complete(shown.session.aclose())
    loop.run_until_complete(service.aclose_llm())
    service.close()
    shown.deleteLater()
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()
    loop.close()


def drive(window: MainWindow, home: Path, timeout: float = 30) -> str:
    """Run the driver; the reason it failed with."""
    driver = WindowDriver(window, home, Progress(), timeout)
    with pytest.raises(SelfTestFailed) as failed:
        asyncio.get_event_loop().run_until_complete(driver.run())
    return str(failed.value)


def test_it_types_the_goal_approves_plan_and_task_then_checks_the_model(
        window: MainWindow, llm_server, troupe_home: Path, capsys):  # type: ignore[no-untyped-def]
    llm_server.on(predicate=lambda r: PLANNER in r.system, reply=json.dumps(PLAN))
    llm_server.on(contains="Compose the final deliverable", reply="# Hello")
    llm_server.default = Reply("done")

    reason = drive(window, troupe_home)

    # every step passed; the last check saw a model other than the embedded one
    assert reason == "the run used openai/test-model, not local/smollm2-135m"
    run = window.service.get_run(window.session.run_id or "")
    assert run.goal == GOAL and run.status == "completed"
    assert [t.status for t in run.tasks] == ["completed", "completed"]
    said = capsys.readouterr().err
    assert "self-test: planned 2 tasks in " in said
    assert "self-test: approving task 'w'" in said
    assert "self-test: run finished in " in said


def test_a_plan_the_model_gets_wrong_fails_while_planning(window: MainWindow, llm_server,  # type: ignore[no-untyped-def]
                                                          troupe_home: Path):
    llm_server.default = Reply("not a plan at all")

    reason = drive(window, troupe_home)

    assert reason.startswith("planning failed: "), reason
    assert "valid plan" in reason


def test_a_failed_run_fails_with_the_runs_error(window: MainWindow, llm_server, troupe_home: Path):  # type: ignore[no-untyped-def]
    llm_server.on(predicate=lambda r: PLANNER in r.system, reply=json.dumps(
        {"goal": "g", "tasks": [{"id": "r", "title": "Research", "agent": "researcher"}]}))
    llm_server.default = Reply.bad_request("this request cannot be served")

    reason = drive(window, troupe_home)

    assert reason.startswith("the run ended failed: "), reason


def test_a_database_outside_its_data_dir_fails_at_once(window: MainWindow, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"

    reason = drive(window, elsewhere)

    assert reason == f"the database is {db_path()}, not in the self-test's data dir {elsewhere}"


def test_the_spending_step_finds_calls_of_unknown_price(window: MainWindow, llm_server,  # type: ignore[no-untyped-def]
                                                         troupe_home: Path, capsys):
    llm_server.on(predicate=lambda r: PLANNER in r.system, reply=json.dumps(PLAN))
    llm_server.default = Reply("done")
    drive(window, troupe_home)  # stops at the model check: not the embedded model
    driver = WindowDriver(window, troupe_home, Progress(), 30)
    with pytest.raises(SelfTestFailed, match="calls to openai/test-model are 'price unknown', not free"):
        driver._check_spending()  # the embedded model's calls are free; this server's have no price
    assert window.spending is not None and window.spending.table_rows()[0][0] == "openai/test-model"
