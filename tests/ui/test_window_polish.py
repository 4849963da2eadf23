"""The window as people expect it (issue 17): focus in the composer at start,
after Approve and when a run ends; Help menu; Ctrl+, opens Settings; the offline
notice's Open Settings goes to Providers; export suggests the goal as the name and
confirms the save.

Whole-window tests: the Makefile runs this file one process per test.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from PySide6.QtWidgets import QApplication

from tests.support.scripted_server import Reply
from tests.ui.test_main_window import open_window, qloop, until  # noqa: F401 - qloop is a fixture
from ui.window_extras import SHORTCUTS, about_html, suggested_name

PLAN = {"goal": "Compare two laptops: price", "tasks": [
    {"id": "a", "title": "Compare", "instructions": "Compare them.", "agent": "writer"}]}


def test_focus_help_settings_and_export(qloop, llm_server, tmp_path, troupe_home):  # noqa: F811
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    llm_server.default = Reply("The first is cheaper.")
    window = open_window(tmp_path / "troupe.db", llm_server)

    async def flow() -> None:
        await until(lambda: QApplication.focusWidget() is window.goal)  # not the history search
        window.goal.setPlainText(PLAN["goal"])
        window.send.click()
        await until(lambda: window.plan_model.has_task("a"))
        window.session._plan_card.approve_button.click()
        await until(lambda: window.session.handle is None and not window.session._jobs
                    and window.conversation.deliverable is not None)
        await until(lambda: QApplication.focusWidget() is window.goal)  # ready for the next goal

        # Help: the shortcuts list and About (version, data folder)
        assert {"shortcuts", "about", "data", "log"} <= set(window.help_actions)
        assert str(troupe_home) in about_html() and any(k == "Ctrl+." for k, _ in SHORTCUTS)
        assert "Ctrl+," in [s.toString() for s in window.settings_action.shortcuts()]

        # the offline notice's Open Settings opens the Providers tab
        window.notice.settingsRequested.emit()
        dialog = window.settings_dialog
        assert dialog.tabs.tabText(dialog.tabs.currentIndex()).replace("&", "") == "Providers"
        dialog.reject()

        # export: the goal is the suggested name; the save is confirmed with Open / Show in folder
        window.conversation.exportRequested.emit("md")
        export = window.export_dialog
        assert export.selectedFiles()[0].endswith("Compare two laptops price.md")
        target = tmp_path / "out" / "report.md"
        target.parent.mkdir()
        export.fileSelected.emit(str(target))
        await until(lambda: getattr(window, "export_confirmation", None) is not None)
        box = window.export_confirmation
        assert str(target) in box.text() and {b.text() for b in box.buttons()} >= {"Open", "Show in folder"}
        assert target.read_text().startswith("# Compare two laptops")
        box.reject()

    qloop.run_until_complete(asyncio.wait_for(flow(), 60))


def test_the_model_picker_shows_the_model_in_use_and_picks_the_next_runs(qloop, llm_server, tmp_path):  # noqa: F811
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    window = open_window(tmp_path / "troupe.db", llm_server)

    async def flow() -> None:
        await until(lambda: window.model_picker.count() > 0)
        assert window.model_picker.currentData() == "openai/test-model"
        window.model_picker.addItem("openai/other-model", "openai/other-model")  # as a provider lists it
        window.model_picker.setCurrentIndex(window.model_picker.findData("openai/other-model"))
        window.model_picker.activated.emit(window.model_picker.currentIndex())
        assert window.session.config.model == "openai/other-model"
        assert window.service.settings.default_model == "openai/test-model"  # the default stays
        window.goal.setPlainText(PLAN["goal"])
        window.send.click()
        await until(lambda: window.plan_model.has_task("a"))

    qloop.run_until_complete(asyncio.wait_for(flow(), 60))
    [planner] = [r for r in llm_server.chat_requests if "Reply with one JSON object" in r.system]
    assert planner.body["model"] == "other-model"


def test_a_run_another_process_writes_shows_in_the_history(qloop, llm_server, tmp_path):  # noqa: F811
    from app.storage import open_database  # noqa: PLC0415

    window = open_window(tmp_path / "troupe.db", llm_server)
    window._history_poll.setInterval(50)  # the same poll, sooner

    async def flow() -> None:
        await until(lambda: window._history_seen != ())
        other = open_database(tmp_path / "troupe.db")  # as `troupe run` in a terminal does
        run_id = other.create_run("Default", "A goal from the terminal", {"model": "m"})
        other.close()
        await until(lambda: run_id in window.history.run_ids())

    qloop.run_until_complete(asyncio.wait_for(flow(), 30))


def test_suggested_names_are_safe_file_names() -> None:
    assert suggested_name("Compare A/B: which? <fast>", "html") == "Compare A B which fast.html"
    assert suggested_name("   ", "md") == "Troupe deliverable.md"
    assert len(suggested_name("x" * 300, "json")) == 80 + len(".json")
    assert Path(suggested_name("a\x00b", "md")).name == "a b.md"
