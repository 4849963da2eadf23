"""The whole window against the local scripted server: goal -> plan -> edit ->
run -> approval -> deliverable -> in history after reopening the window."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from agents.plan import Plan
from app.runs.service import RunService
from app.settings import Settings
from app.storage import open_database
from tests.support.scripted_server import Reply
from ui.approvals import ApprovalCard
from ui.conversation import DeliverableCard
from ui.history import META_ROLE
from ui.main_window import MainWindow

PLAN = {"goal": "g", "tasks": [
    {"id": "r", "title": "Research", "instructions": "Find facts.", "agent": "researcher"},
    {"id": "w", "title": "Write", "instructions": "Write it.", "agent": "writer",
     "depends_on": ["r"], "requires_approval": True},
]}


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    while _WINDOWS:  # nothing of this test's windows outlives it
        window = _WINDOWS.pop()
        window.close()
        # what ui.gui does on quit: no job of the session is left pending in
        # the loop to run against deleted widgets later
        loop.run_until_complete(window.session.aclose())
        window.deleteLater()
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()
    loop.close()


_WINDOWS: list[MainWindow] = []


def open_window(db: Path, server) -> MainWindow:  # type: ignore[no-untyped-def]
    settings = Settings(default_model="openai/test-model", api_base=server.base_url)
    window = MainWindow(RunService(open_database(db), settings=settings))
    _WINDOWS.append(window)
    window.show()
    return window


async def until(predicate) -> None:  # type: ignore[no-untyped-def]
    # the caller's asyncio.wait_for bounds the wait
    while not predicate():  # noqa: ASYNC110 - polling widgets, which change state without events
        await asyncio.sleep(0.01)


def cards(window: MainWindow, kind: type) -> list:
    return [w for w in window.conversation.items() if isinstance(w, kind)]


def test_full_flow_then_history_after_restart(qloop, llm_server, tmp_path):
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    llm_server.on(contains="Your task (r)", reply="FACTS: penguins")
    llm_server.on(contains="Your task (w)", reply="Draft about penguins")
    llm_server.on(contains="Compose the final deliverable", reply="# Penguin report\n\n```python\nprint('hi')\n```")
    db = tmp_path / "troupe.db"
    window = open_window(db, llm_server)

    async def flow() -> str:
        window.goal.setPlainText("Write a report on penguins")
        window.send.click()
        await until(lambda: window.plan_model.has_task("w"))
        assert window.run_action.isEnabled()
        assert window.plan_model.rename("w", "Write the report")  # an edit before running
        window.run_action.trigger()
        await until(lambda: window.session._gate.pending())
        card = window.session._gate.pending()[0]
        assert isinstance(card, ApprovalCard) and "Write it." in card.request.edit_text
        card.approve_button.click()
        await until(lambda: window.session.handle is None and cards(window, DeliverableCard))
        return window.session.run_id or ""

    run_id = qloop.run_until_complete(asyncio.wait_for(flow(), 30))
    deliverable = cards(window, DeliverableCard)[0]
    assert "Penguin report" in deliverable.markdown and "<pre" in deliverable.html
    run = window.service.get_run(run_id)
    assert run.status == "completed"
    assert run.task("w").title == "Write the report"
    assert [v.source for v in window.service.store.plan_versions(run_id)][:2] == ["proposed", "edited"]
    assert run_id in window.history.run_ids()
    window.close()
    qloop.run_until_complete(window.service.aclose_llm())
    window.service.close()

    reopened = open_window(db, llm_server)
    assert reopened.history.run_ids() == [run_id]
    reopened.session.open_run(run_id)
    assert "Penguin report" in cards(reopened, DeliverableCard)[0].markdown
    reopened.history.search.setText("penguins")
    reopened.history.refresh()
    assert reopened.history.run_ids() == [run_id]
    reopened.close()
    reopened.service.close()


def test_a_new_goal_is_a_new_conversation_and_a_follow_up_is_asked_for(qloop, llm_server, tmp_path):
    # issue 17: every goal after a finished run silently became a follow-up; now the
    # person asks for one ("Follow up…" on the deliverable), and it is linked to its parent
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(
        {"goal": "g", "tasks": [{"id": "w", "title": "Write", "agent": "writer"}]}))
    llm_server.on(contains="Compose the final deliverable", reply="FIRST-DELIVERABLE")
    llm_server.default = Reply("ok")
    window = open_window(tmp_path / "troupe.db", llm_server)

    async def run_goal(goal: str) -> None:
        window.goal.setPlainText(goal)
        window.send.click()
        await until(lambda: window.plan_model.has_task("w") and not window.session._jobs)
        window.run_action.trigger()
        await until(lambda: window.session.handle is None and not window.session._jobs
                    and window.conversation.deliverable is not None)

    async def flow() -> None:
        await run_goal("Write a poem")
        first = window.session.run_id
        await run_goal("Write a limerick")  # not a follow-up: a conversation of its own
        assert [b.text() for b in window.conversation._bubbles if b.role == "user"] == ["Write a limerick"]
        window.conversation.deliverable.follow_up_button.click()
        assert window.follow_up_row.isVisible() and "Write a limerick" in window.follow_up_label.text()
        await run_goal("make it shorter")
        assert not window.follow_up_row.isVisible()
        assert window.service.get_run(window.session.run_id).settings["follow_up_of"] != first
        window.history.refresh()  # linked to its parent in the history too
        row = window.history._run_index(window.session.run_id or "")
        assert row.data(META_ROLE).startswith("↳ follow-up · ")
        window.session.open_run(window.session.run_id)  # reopened: it says what it follows up
        notes = [w.text() for w in window.conversation.items() if hasattr(w, "text") and callable(w.text)]
        assert "↳ Follow-up to “Write a limerick”" in notes
        window.new_conversation_action.trigger()  # Ctrl+N
        assert window.session.run_id is None and window.conversation.welcome.isVisible()

    qloop.run_until_complete(asyncio.wait_for(flow(), 60))
    planner_calls = [r for r in llm_server.chat_requests if "Reply with one JSON object" in r.system]
    assert ["FIRST-DELIVERABLE" in r.last_user for r in planner_calls] == [False, False, True]
    assert len(window.service.store.list_runs()) == 3
    window.close()
    qloop.run_until_complete(window.service.aclose_llm())
    window.service.close()


def test_a_new_project_shows_in_the_history_at_once(qloop, llm_server, tmp_path):
    window = open_window(tmp_path / "troupe.db", llm_server)
    window.new_project_action.trigger()
    window.project_dialog.textValueSelected.emit("Garden")
    assert "Garden" in window.service.store.projects() and window.session.project == "Garden"
    window.close()
    window.service.close()


def test_a_blank_goal_is_not_sent_and_a_blank_title_is_a_plan_problem(qloop, llm_server, tmp_path):
    window = open_window(tmp_path / "troupe.db", llm_server)
    window.goal.setPlainText("  \n\t ")
    window.send.click()
    assert not window.session._jobs and window.session.run_id is None
    assert window.service.store.count_runs() == 0 and not llm_server.chat_requests

    window.plan_model.set_plan(Plan.from_dict({"goal": "g", "tasks": [
        {"id": "a", "title": "   ", "agent": "writer"}]}))
    assert window.plan_view.banner.isVisibleTo(window)
    assert "task 'a' has an empty title: give it one" in window.plan_view.banner.text()
    window.close()
    window.service.close()


def test_interrupted_run_is_offered_for_resume_on_start(qloop, llm_server, tmp_path):
    from agents.events import RunStarted, TaskFinished

    llm_server.default = Reply("ok")
    db = tmp_path / "troupe.db"
    store = open_database(db)
    run_id = store.create_run("Default", "the goal", {"model": "openai/test-model",
                                                      "api_base": llm_server.base_url})
    store.add_plan_version(run_id, PLAN | {"goal": "the goal"}, "file")
    from app.storage import EventWriter

    with EventWriter(store) as writer:  # a process that started the run, then died
        writer.emit(RunStarted(run_id=run_id, goal="the goal", plan=PLAN))
        now = time.time()
        writer.emit(TaskFinished(run_id=run_id, task_id="r", output="FACTS", attempts=1,
                                 prompt_tokens=1, completion_tokens=1, cost=0,
                                 started=now - 2, finished=now - 1))
    store.claim_run(run_id, pid=2**22 + 12345, token="gone")
    store.close()

    window = open_window(db, llm_server)
    assert window.session.run_id == run_id
    assert window.run_view.state() == "interrupted"
    assert window.run_view.buttons["resume"].isEnabled()

    async def resume() -> None:
        window.run_view.buttons["resume"].click()
        await until(lambda: window.session._gate.pending())
        window.session._gate.pending()[0].approve_button.click()
        await until(lambda: window.session.handle is None and not window.session._jobs)

    qloop.run_until_complete(asyncio.wait_for(resume(), 30))
    assert window.service.get_run(run_id).status == "completed"
    assert not [r for r in llm_server.chat_requests if "Your task (r)" in r.last_user]
    window.close()
    qloop.run_until_complete(window.service.aclose_llm())
    window.service.close()


def test_replan_shows_a_diff_and_keeps_finished_work(qloop, llm_server, tmp_path):
    from ui.plan_tree.diff_dialog import PlanDiffDialog

    simple = {"goal": "g", "tasks": [{"id": "r", "title": "Research", "agent": "researcher"}]}
    revised = {"goal": "g", "tasks": [
        {"id": "r", "title": "Research (renamed by the model)", "agent": "researcher"},
        {"id": "p", "title": "Pricing", "agent": "analyst", "depends_on": ["r"]},
    ]}
    llm_server.on(predicate=lambda r: "add a pricing section" in r.all_text, reply=json.dumps(revised))
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(simple))
    llm_server.default = Reply("ok")
    window = open_window(tmp_path / "troupe.db", llm_server)

    async def flow() -> PlanDiffDialog:
        window.goal.setPlainText("Market report")
        window.send.click()
        await until(lambda: window.plan_model.has_task("r") and not window.session._jobs)
        window.run_action.trigger()
        await until(lambda: window.session.handle is None and not window.session._jobs)
        window.session.replan("add a pricing section")
        await until(lambda: window.findChildren(PlanDiffDialog))
        dialog = window.findChildren(PlanDiffDialog)[0]
        dialog.accept_button.click()
        await until(lambda: window.plan_model.has_task("p"))
        window.run_action.trigger()
        await until(lambda: window.session.handle is None and not window.session._jobs)
        return dialog

    qloop.run_until_complete(asyncio.wait_for(flow(), 30))
    run = window.service.get_run(window.session.run_id)
    assert run.task("r").title == "Research"  # finished work kept as it ran
    assert sum("Your task (r)" in r.last_user for r in llm_server.chat_requests) == 1
    assert sum("Your task (p)" in r.last_user for r in llm_server.chat_requests) == 1
    assert run.task("p").status == "completed"
    window.close()
    qloop.run_until_complete(window.service.aclose_llm())
    window.service.close()


def test_closing_mid_run_leaves_it_resumable(qloop, llm_server, tmp_path):
    from tests.support.scripted_server import Gate

    hold = Gate()
    simple = {"goal": "g", "tasks": [{"id": "a", "title": "A", "agent": "writer"},
                                     {"id": "b", "title": "B", "agent": "writer", "depends_on": ["a"]}]}
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(simple))
    llm_server.on(contains="Your task (b)", reply=Reply("B DONE", wait=hold), times=1)
    llm_server.default = Reply("ok")
    db = tmp_path / "troupe.db"
    window = open_window(db, llm_server)

    async def start_then_close() -> str:
        window.goal.setPlainText("two steps")
        window.send.click()
        await until(lambda: window.plan_model.has_task("b") and not window.session._jobs)
        window.run_action.trigger()
        await until(lambda: any("Your task (b)" in r.last_user for r in llm_server.chat_requests))
        run_id = window.session.run_id or ""
        await window.session.aclose()  # what the app does on quit, after the window closed
        await window.service.aclose_llm()
        return run_id

    run_id = qloop.run_until_complete(asyncio.wait_for(start_then_close(), 30))
    window.close()
    hold.open()
    assert window.service.get_run(run_id).status == "interrupted"
    window.service.close()

    reopened = open_window(db, llm_server)
    assert reopened.session.run_id == run_id and reopened.run_view.state() == "interrupted"

    async def resume() -> None:
        reopened.run_view.buttons["resume"].click()
        await until(lambda: reopened.session.handle is None and not reopened.session._jobs)

    qloop.run_until_complete(asyncio.wait_for(resume(), 30))
    assert reopened.service.get_run(run_id).status == "completed"
    assert sum("Your task (a)" in r.last_user for r in llm_server.chat_requests) == 1
    reopened.close()
    qloop.run_until_complete(reopened.service.aclose_llm())
    reopened.service.close()


def test_settings_dialog_saves_settings_and_roster(qloop, llm_server, tmp_path):
    from app.roster_store import load_user_roster
    from app.settings import load_settings
    from ui.settings import SettingsDialog

    window = open_window(tmp_path / "troupe.db", llm_server)
    window.settings_action.trigger()
    dialog = window.findChildren(SettingsDialog)[0]
    dialog.models_tab.max_parallel.setValue(3)
    dialog.models_tab.default_model.setEditText("openai/other-model")
    writer = dialog.agents_tab
    writer.select("writer")
    writer.prompt.setPlainText("You write haiku.")
    dialog.accept()
    assert load_settings().max_parallel == 3
    assert load_user_roster().get("writer").system_prompt == "You write haiku."
    assert window.session.config.model == "openai/other-model"
    assert window.plan_model.roster.get("writer").system_prompt == "You write haiku."
    window.close()
    window.service.close()


def test_unreachable_provider_gives_a_clear_message(qloop, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(default_model="openai/test-model", api_base=f"http://127.0.0.1:{port}/v1",
                        max_attempts=1)
    window = MainWindow(RunService(open_database(tmp_path / "troupe.db"), settings=settings))
    _WINDOWS.append(window)
    window.show()

    async def flow() -> None:
        window.goal.setPlainText("anything")
        window.send.click()
        await until(lambda: not window.session._jobs)

    qloop.run_until_complete(asyncio.wait_for(flow(), 30))
    notes = [w.text() for w in window.conversation.items() if hasattr(w, "text") and "failed" in w.text()]
    assert notes and "cannot reach" in notes[0] and f"127.0.0.1:{port}" in notes[0]
    assert window.send.isEnabled()  # the person can fix the settings and try again
    window.close()
    qloop.run_until_complete(window.service.aclose_llm())
    window.service.close()


# --- staged start: the window paints before the database is opened -----------------------


def deferred_window(qapp: QApplication) -> tuple[MainWindow, list[bool]]:
    """A window on RunService.deferred(), as ui.gui builds it; also returns
    whether the database was open at the window's first paint."""
    service = RunService.deferred(settings=Settings(default_model="openai/test-model"))
    window = MainWindow(service)
    _WINDOWS.append(window)
    at_paint: list[bool] = []
    watcher = _FirstPaint(window, lambda: at_paint.append(service.ready))
    qapp.installEventFilter(watcher)
    window._test_watcher = watcher  # type: ignore[attr-defined]
    return window, at_paint


class _FirstPaint(QObject):
    def __init__(self, window: MainWindow, on_paint) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.window, self.on_paint, self.seen = window, on_paint, False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and not self.seen and obj.isWidgetType() \
                and obj.window() is self.window:
            self.seen = True
            self.on_paint()
        return False


def test_window_paints_before_the_database_opens_then_fills_history(qapp, qloop, troupe_home):
    store = open_database(troupe_home / "troupe.db")
    run_id = store.create_run("Default", "an earlier goal")
    store.set_run_status(run_id, "completed")
    store.close()
    window, at_paint = deferred_window(qapp)
    ready: list[bool] = []
    window.storageReady.connect(lambda: ready.append(True))
    assert not window.service.ready
    assert not window.send.isEnabled()
    assert window.history.empty.text() == "Loading history…"
    window.goal.setPlainText("too early")
    window._on_send()  # Ctrl+Enter before the database is open: ignored, no crash
    assert not window.service.ready and window.goal.toPlainText() == "too early"

    window.show()
    qloop.run_until_complete(asyncio.wait_for(until(lambda: ready), 10))
    assert at_paint == [False]  # the first frame did not wait for the database
    assert window.service.ready and window.send.isEnabled()
    assert window.history.run_ids() == [run_id]
    assert not window.history.empty.isVisible()
    window.close()
    window.service.close()


def test_window_stays_up_when_the_database_cannot_be_opened(qapp, qloop, monkeypatch):
    window, _ = deferred_window(qapp)
    warnings: list[str] = []
    monkeypatch.setattr(window, "show_warning", lambda _title, text: warnings.append(text))

    def broken() -> None:
        raise OSError("disk full")

    monkeypatch.setattr(window.service, "open_store", broken)
    window.show()
    qloop.run_until_complete(asyncio.wait_for(until(lambda: warnings), 10))
    assert "disk full" in warnings[0]
    assert window.history.empty.text() == "The history could not be opened."
    assert not window.send.isEnabled()
    window.close()


def test_an_unpainted_window_still_opens_the_database(qapp, qloop, monkeypatch):
    monkeypatch.setattr(MainWindow, "STORAGE_FALLBACK_MS", 50)
    window, at_paint = deferred_window(qapp)  # never shown, so never painted
    ready: list[bool] = []
    window.storageReady.connect(lambda: ready.append(True))
    qloop.run_until_complete(asyncio.wait_for(until(lambda: ready), 10))
    assert at_paint == [] and window.service.ready and window.send.isEnabled()
    window.service.close()


def test_the_embedded_model_is_explained_until_a_stronger_one_is_set_up(qloop, tmp_path):
    from app.providers.checks import Detection, first_run
    from app.providers.registry import Providers, save_providers
    from app.settings import save_settings
    from tests.support.scripted_server import ScriptedServer
    from ui.settings import SettingsDialog

    window = MainWindow(RunService(open_database(tmp_path / "troupe.db"), settings=Settings()))
    _WINDOWS.append(window)
    window.show()
    QApplication.processEvents()
    assert window.notice.isVisible()
    assert "tiny" in window.notice.text.text() and "local/smollm2-135m" in window.notice.text.text()
    window.notice.open_settings.click()
    [dialog] = window.findChildren(SettingsDialog)
    dialog.reject()

    with ScriptedServer(models=("llama3.2",)) as ollama:  # what first-run setup finds
        providers, settings, found = first_run(Providers(), Settings(), explicit_default=False,
                                               ollama_base=ollama.base_url,
                                               lmstudio_base="http://127.0.0.1:9/v1")
    save_providers(providers)
    save_settings(settings)
    assert isinstance(found, Detection)
    window.apply_first_run(found)
    assert window.session.config.model == "ollama/llama3.2"
    assert not window.notice.isVisible()
    assert "Ollama" in window.status.text()
    window.close()
    window.service.close()


def test_view_spending_opens_the_spending_view_and_a_top_run_in_the_window(qloop, llm_server, tmp_path):
    import datetime as dt  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from tests.support.usage_data import seed_usage  # noqa: PLC0415

    db = tmp_path / "troupe.db"
    store = open_database(db)
    seeded = seed_usage(store)
    store.close()
    window = open_window(db, llm_server)
    assert "pyqtgraph" not in sys.modules  # the window's start does not pay for the chart
    assert window.spending_action.shortcut().toString() == "Ctrl+Shift+S"
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert window.spending_action in menus["&View"].actions()
    window.spending_action.trigger()
    view = window.spending
    assert view is not None and view.isVisible()
    yesterday = seeded.today - dt.timedelta(days=1)
    assert [row[0] for row in view.table_rows()] == [yesterday.isoformat(), seeded.today.isoformat()]
    view.runOpened.emit(seeded.mystery)  # a double-click in its top runs
    assert window.session.run_id == seeded.mystery
    assert window.conversation.items()  # the run's goal is shown
    window.spending_action.trigger()  # again: the same view, read again
    assert window.spending is view


def test_the_embedded_model_gets_an_offline_template_plan_and_the_card_says_so(qloop, tmp_path):
    from ui.conversation import PlanCard

    window = MainWindow(RunService(open_database(tmp_path / "troupe.db"), settings=Settings()))
    _WINDOWS.append(window)
    window.show()

    async def plan() -> PlanCard:
        window.goal.setPlainText("How to bake bread at home")
        window.send.click()
        await until(lambda: cards(window, PlanCard))
        return cards(window, PlanCard)[0]

    card = qloop.run_until_complete(asyncio.wait_for(plan(), 30))  # no model call: a template
    assert card.notice.isVisible()
    assert card.notice.text() == ("Offline template plan: the embedded model is too small to plan; "
                                  "edit it as you like.")
    assert window.plan_model.has_task("t3") and window.run_action.isEnabled()  # edit or run it
    assert window.plan_model.rename("t2", "Steps to bake bread")
    window.close()
    window.service.close()
