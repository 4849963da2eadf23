"""The whole window after the last session crashed: the notice says so, points
at the crash log and resumes the run the crash interrupted. One process per
test (Makefile WINDOW_TESTS)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from agents.events import RunStarted, TaskFinished
from app.runs.service import RunService
from app.session_marker import begin
from app.settings import Settings
from app.storage import EventWriter, open_database
from tests.support.scripted_server import Reply
from tests.support.sessions import session_child
from ui.crash_notice import HEADLINE
from ui.main_window import MainWindow

PLAN = {"goal": "g", "tasks": [
    {"id": "r", "title": "Research", "instructions": "Find facts.", "agent": "researcher"},
    {"id": "w", "title": "Write", "instructions": "Write it.", "agent": "writer", "depends_on": ["r"]},
]}
GOAL = "Write a report on penguins for the zoo's newsletter"


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    while _WINDOWS:
        window = _WINDOWS.pop()
        window.close()
        loop.run_until_complete(window.session.aclose())
        loop.run_until_complete(window.service.aclose_llm())
        window.service.close()
        window.deleteLater()
    qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qapp.processEvents()
    loop.close()


_WINDOWS: list[MainWindow] = []


def open_window(db: Path, server) -> MainWindow:  # type: ignore[no-untyped-def]
    """As ui/gui.py starts: the session marker first, then the window, told how the last one ended."""
    start = begin(db.parent)
    settings = Settings(default_model="openai/test-model", api_base=server.base_url)
    window = MainWindow(RunService(open_database(db), settings=settings))
    _WINDOWS.append(window)
    window.resize(1600, 1000)  # a desktop's size: the offscreen screen is 800x600, which the window fits
    window.show()
    if start.last is not None:
        window.report_unexpected_end(start.last)
    return window


def crashed_mid_run(db: Path, server) -> str:  # type: ignore[no-untyped-def]
    """A run that a crashed process started and finished one task of."""
    store = open_database(db)
    run_id = store.create_run("Default", GOAL, {"model": "openai/test-model", "api_base": server.base_url})
    store.add_plan_version(run_id, PLAN | {"goal": GOAL}, "file")
    with EventWriter(store) as writer:
        writer.emit(RunStarted(run_id=run_id, goal=GOAL, plan=PLAN))
        now = time.time()
        writer.emit(TaskFinished(run_id=run_id, task_id="r", output="FACTS", attempts=1,
                                 prompt_tokens=1, completion_tokens=1, cost=0,
                                 started=now - 2, finished=now - 1))
    store.claim_run(run_id, pid=2**22 + 12345, token="gone")
    store.close()
    return run_id


async def until(predicate) -> None:  # type: ignore[no-untyped-def]
    while not predicate():  # noqa: ASYNC110 - polling widgets
        await asyncio.sleep(0.01)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_after_a_crash_the_notice_names_the_log_and_resumes_the_run(qloop, llm_server, troupe_home):
    llm_server.default = Reply("ok")
    db = troupe_home / "troupe.db"
    done = session_child(troupe_home, "os.kill(os.getpid(), signal.SIGSEGV)\n")  # a real segfault
    assert done.returncode == -signal.SIGSEGV
    run_id = crashed_mid_run(db, llm_server)
    window = open_window(db, llm_server)

    notice = window.crash_notice
    assert notice.isVisibleTo(window)
    text = notice.text.text()
    assert HEADLINE in text and str(troupe_home / "logs" / "fatal.log") in text
    assert "Traceback" not in text and "File " not in text  # one line, no stack
    assert notice.text.toolTip() == "Fatal Python error: Segmentation fault"
    assert notice.run_id == run_id
    assert notice.resume_button.text().startswith("Resume “Write a report")
    assert notice.open_logs.isVisibleTo(window) and notice.dismiss_button.isVisibleTo(window)

    window.session.new_project("Elsewhere")  # the person looked at something else first
    assert window.session.run_id is None
    notice.resume_button.click()
    assert window.session.run_id == run_id  # opened
    assert not notice.isVisibleTo(window)

    qloop.run_until_complete(asyncio.wait_for(
        until(lambda: window.service.get_run(run_id).status == "completed"
              and not window.session.running and not window.session._jobs), 30))
    assert not [r for r in llm_server.chat_requests if "Your task (r)" in r.last_user]  # reused
    assert [r for r in llm_server.chat_requests if "Your task (w)" in r.last_user]


def test_an_end_without_a_crash_log_still_says_so_without_resume(qloop, llm_server, troupe_home):
    db = troupe_home / "troupe.db"
    store = open_database(db)  # a run left interrupted by a window closed the day before
    older = store.create_run("Default", "an older goal")
    store.set_run_status(older, "interrupted", "the window was closed")
    store.close()
    time.sleep(0.01)
    done = session_child(troupe_home, "os._exit(3)\n")  # as kill -9 / the OOM killer
    assert done.returncode == 3
    window = open_window(db, llm_server)
    notice = window.crash_notice
    assert notice.isVisibleTo(window)
    assert HEADLINE in notice.text.text() and "crash log" not in notice.text.text()
    assert notice.run_id is None and not notice.resume_button.isVisibleTo(window)  # not the crash's run
    assert window.session.run_id == older  # still opened for Resume, as after any start
    notice.dismiss_button.click()
    assert not notice.isVisibleTo(window)


def test_a_clean_exit_leaves_no_notice_next_time(qloop, llm_server, troupe_home):
    session_child(troupe_home, "start.marker.end()\n")
    window = open_window(troupe_home / "troupe.db", llm_server)
    assert not window.crash_notice.isVisibleTo(window)
