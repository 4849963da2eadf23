"""Refresh the real window's history hundreds of times while the writer is busy, on a real X server.

    Xvfb :78 -screen 0 1600x1000x24 &
    DISPLAY=:78 .venv/bin/python -m scripts.history_stress_xvfb [--refreshes 300] [--runs 30]

Issue 12: refreshing the history list crashed the app (a segfault in
`HistoryPanel._rebuild`) while the history writer thread was busy. This builds
the real MainWindow (xcb platform, so the view paints for real) on a fresh
temporary database, with garbage collected on the UI thread as the app does
(ui.main_thread_gc). A thread feeds the window's own EventWriter without pause
(statuses, tokens, task outputs of every run); the UI thread selects a run,
scrolls the list, then refreshes the history the way a run does
(Session.historyChanged) REFRESHES times, painting in between.

Prints one line, `history stress (xcb): OK ...` or `... FAILED: <why>`; exits 0
or 1. A segfault ends the process with no line (exit -11).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time

os.environ["TROUPE_HOME"] = tempfile.mkdtemp(prefix="troupe-history-stress-")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from PySide6.QtCore import QPersistentModelIndex  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from agents.events import (  # noqa: E402
    LLMCallFinished,
    RunEvent,
    RunFinished,
    RunStarted,
    TaskFinished,
    TaskStarted,
)
from app.runs.service import RunService  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.storage import open_database  # noqa: E402
from ui.history import RUN_ID_ROLE  # noqa: E402
from ui.main_thread_gc import MainThreadGC  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

PROJECTS = ("Alpha", "Beta", "Gamma")
OUTPUT = "Penguins are flightless seabirds of the southern hemisphere. " * 20
PLAN = {"goal": "g", "tasks": [{"id": "t", "title": "Task", "agent": "writer"}]}


def run_events(run_id: str, n: int) -> list[RunEvent]:
    now = time.time()
    return [
        RunStarted(run_id=run_id, goal=f"goal {n}", plan=PLAN),
        TaskStarted(run_id=run_id, task_id="t", agent="writer", attempt=1),
        LLMCallFinished(run_id=run_id, task_id="t", purpose="task", model="openai/test-model",
                        prompt_tokens=50, completion_tokens=30, cost=0.0001, cost_known=True,
                        latency_ms=5.0),
        TaskFinished(run_id=run_id, task_id="t", output=OUTPUT, attempts=1, prompt_tokens=50,
                     completion_tokens=30, cost=0.0001, started=now - 1, finished=now),
        RunFinished(run_id=run_id, status=("completed", "failed", "cancelled")[n % 3],
                    prompt_tokens=50, completion_tokens=30, cost=0.0001),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--refreshes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    app = QApplication(sys.argv)
    platform = QApplication.platformName()
    collector = MainThreadGC(app)
    store = open_database(os.path.join(os.environ["TROUPE_HOME"], "troupe.db"))
    run_ids = [store.create_run(PROJECTS[i % len(PROJECTS)], f"Penguin report number {i}",
                                {"model": "openai/test-model"}) for i in range(args.runs)]
    service = RunService(store, settings=Settings(default_model="openai/test-model"))
    window = MainWindow(service)
    window.show()
    writer = service.writer
    stop = threading.Event()

    def feed() -> None:
        n = 0
        while not stop.is_set():
            for event in run_events(run_ids[n % len(run_ids)], n):
                writer.emit(event)
            n += 1
            if writer.pending > 500:
                time.sleep(0.001)

    feeder = threading.Thread(target=feed, name="history-stress-feeder", daemon=True)
    problem = ""
    started = time.monotonic()
    try:
        app.processEvents()
        history = window.history
        chosen = run_ids[len(run_ids) // 2]
        history.select_run(chosen)
        bar = history.tree.verticalScrollBar()
        bar.setValue(bar.maximum() // 2)
        scrolled = bar.value()
        held = QPersistentModelIndex(history.tree.currentIndex())
        removed: list[int] = []
        history.model.rowsAboutToBeRemoved.connect(lambda _p, first, last: removed.append(last - first + 1))
        feeder.start()
        written_before = writer.written
        for i in range(args.refreshes):
            window.session.historyChanged.emit()  # what a run does when its status changes
            app.processEvents()  # paint
            if history.tree.currentIndex().data(RUN_ID_ROLE) != chosen:
                problem = f"refresh {i}: the selected run changed"
            elif not held.isValid():
                problem = f"refresh {i}: an index the view held became invalid"
            elif bar.value() != scrolled:
                problem = f"refresh {i}: the list scrolled from {scrolled} to {bar.value()}"
            if problem:
                break
        written = writer.written - written_before
        if not problem and sorted(history.run_ids()) != sorted(run_ids):
            problem = "the list does not show the stored runs"
        if not problem and written == 0:
            problem = "the writer wrote nothing during the refreshes"
        if not problem and removed:
            problem = f"{sum(removed)} rows removed by refreshes of the same runs"
    finally:
        stop.set()
        if feeder.is_alive():
            feeder.join(10)
        window.close()
        service.close()
        collector.stop()
    took = time.monotonic() - started
    if problem:
        print(f"history stress ({platform}): FAILED: {problem}")
        return 1
    print(f"history stress ({platform}): OK, {args.refreshes} refreshes of {args.runs} runs "
          f"while the writer stored {written} events, selection, scroll and held indexes kept, "
          f"{took:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
