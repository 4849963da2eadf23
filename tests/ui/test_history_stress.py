"""The history panel refreshed hundreds of times while the event writer is busy.

Issue 12: refreshing the history list crashed the app (a segfault in
Shiboken's teardown of Python-made QStandardItems, deleted by `removeRows` in
`HistoryPanel._rebuild`) while the history writer thread was storing events.
Here a real SQLite database is written by a real EventWriter, fed without
pause from another thread, while the panel is refreshed 300 times with a run
selected and the list scrolled. The panel must keep showing the stored runs,
keep the person's selection and scroll position, never report a refresh as the
person choosing a run, and update rows in place: a refresh of the same runs
removes no row, so every index the view holds stays valid.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QPersistentModelIndex
from PySide6.QtWidgets import QApplication

from agents.events import LLMCallFinished, RunFinished, RunStarted, TaskFinished, TaskStarted
from app.storage import EventWriter, Store, open_database
from ui.history import RUN_ID_ROLE, HistoryPanel

PROJECTS = ("Alpha", "Beta", "Gamma")
RUNS = 30
REFRESHES = 300
OUTPUT = "Penguins are flightless seabirds of the southern hemisphere. " * 20
PLAN = {"goal": "g", "tasks": [{"id": "t", "title": "Task", "agent": "writer"}]}


@dataclass
class BusyHistory:
    store: Store
    writer: EventWriter
    run_ids: list[str]
    paused: threading.Event

    def quiet_write(self, write):  # type: ignore[no-untyped-def]
        """Run one write of the test's own between the writer's batches.

        SQLite's busy handler is not fair: a writer that commits and begins
        again at once can starve another connection past its busy timeout
        on a loaded machine (this test failed so once). The app's writer
        batches with a linger; this feeder never rests, so pause it.
        """
        self.paused.set()
        try:
            self.writer.flush()
            return write()
        finally:
            self.paused.clear()


def _events(run_id: str, n: int) -> list:  # type: ignore[type-arg]
    now = time.time()
    call = dict(model="openai/test-model", prompt_tokens=50, completion_tokens=30, cost=0.0001,
                cost_known=True, latency_ms=5.0)
    return [
        RunStarted(run_id=run_id, goal=f"goal {n}", plan=PLAN),
        TaskStarted(run_id=run_id, task_id="t", agent="writer", attempt=1),
        LLMCallFinished(run_id=run_id, task_id="t", purpose="task", **call),  # type: ignore[arg-type]
        TaskFinished(run_id=run_id, task_id="t", output=OUTPUT, attempts=1, prompt_tokens=50,
                     completion_tokens=30, cost=0.0001, started=now - 1, finished=now),
        RunFinished(run_id=run_id, status=("completed", "failed", "cancelled")[n % 3],
                    prompt_tokens=50, completion_tokens=30, cost=0.0001),
    ]


@pytest.fixture
def busy_history(tmp_path: Path) -> Iterator[BusyHistory]:
    """A database with RUNS runs in three projects, and a writer that never rests."""
    store = open_database(tmp_path / "troupe.db")
    run_ids = [store.create_run(PROJECTS[i % len(PROJECTS)], f"Penguin report number {i}",
                                {"model": "openai/test-model"}) for i in range(RUNS)]
    writer = EventWriter(store, linger=0)
    stop = threading.Event()
    paused = threading.Event()

    def feed() -> None:  # what runs in progress do: statuses, tokens, outputs change
        n = 0
        while not stop.is_set():
            if paused.is_set():
                time.sleep(0.005)
                continue
            for event in _events(run_ids[n % RUNS], n):
                writer.emit(event)
            n += 1
            if writer.pending > 500:
                time.sleep(0.001)

    feeder = threading.Thread(target=feed, name="test-feeder", daemon=True)
    feeder.start()
    try:
        yield BusyHistory(store, writer, run_ids, paused)
    finally:
        stop.set()
        feeder.join(10)
        writer.close()
        store.close()


def _grouped(runs: list) -> list[str]:  # type: ignore[type-arg]
    """Run ids as the panel lists them: by project (first seen first), newest first."""
    by_project: dict[str, list[str]] = {}
    for run in runs:
        by_project.setdefault(run.project, []).append(run.id)
    return [run_id for ids in by_project.values() for run_id in ids]


def _selected_run_ids(panel: HistoryPanel) -> list[str]:
    return [index.data(RUN_ID_ROLE) for index in panel.tree.selectionModel().selectedIndexes()]


def test_hundreds_of_refreshes_while_the_writer_is_busy(qapp: QApplication, busy_history: BusyHistory) -> None:
    store, writer = busy_history.store, busy_history.writer
    panel = HistoryPanel(lambda text: store.list_runs(search=text or None))
    panel.resize(300, 260)  # smaller than the list: it scrolls
    panel.show()
    panel.refresh()
    chosen = busy_history.run_ids[RUNS // 2]
    opened: list[str] = []
    panel.runSelected.connect(opened.append)
    panel.select_run(chosen)  # as a click does: current and selected
    assert opened == [chosen]
    bar = panel.tree.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum() // 2)
    scrolled = bar.value()
    held = QPersistentModelIndex(panel.tree.currentIndex())  # what the view holds
    removed: list[int] = []
    panel.model.rowsAboutToBeRemoved.connect(lambda _parent, first, last: removed.append(last - first + 1))
    written_before = writer.written

    for i in range(REFRESHES):
        if i % 100 == 50:
            panel.search.setText("penguin")  # every run matches
        elif i % 100 == 75:
            panel.search.clear()
        panel.refresh()
        qapp.processEvents()
        if i % 25 == 0:
            gc.collect()  # what ui.main_thread_gc does every half second in the app
        assert panel.tree.currentIndex().data(RUN_ID_ROLE) == chosen, f"refresh {i}"
        assert _selected_run_ids(panel) == [chosen], f"refresh {i}"
        assert bar.value() == scrolled, f"refresh {i}"
        assert held.isValid() and held.data(RUN_ID_ROLE) == chosen, f"refresh {i}"

    assert writer.written > written_before, "the writer was not busy during the refreshes"
    assert writer.error_count == 0
    assert panel.run_ids() == _grouped(store.list_runs())
    assert sorted(panel.run_ids()) == sorted(busy_history.run_ids)
    assert opened == [chosen], "a refresh is not the person choosing a run"
    assert removed == [], "the same runs again: rows are updated in place, none removed"
    projects = [panel.model.index(row, 0).data() for row in range(panel.model.rowCount())]
    assert sorted(projects) == [f"{name}  ({RUNS // len(PROJECTS)})" for name in PROJECTS]
    panel.close()
    panel.deleteLater()


def test_a_new_run_and_a_search_while_the_writer_is_busy(qapp: QApplication, busy_history: BusyHistory) -> None:
    store = busy_history.store
    panel = HistoryPanel(lambda text: store.list_runs(search=text or None))
    panel.show()
    panel.refresh()
    chosen = busy_history.run_ids[3]
    panel.select_run(chosen)
    new = busy_history.quiet_write(
        lambda: store.create_run("Delta", "A fresh goal about walruses", {"model": "openai/test-model"}))
    panel.refresh()  # a fourth project, on top
    qapp.processEvents()
    assert panel.run_ids()[0] == new
    assert panel.tree.currentIndex().data(RUN_ID_ROLE) == chosen
    panel.search.setText("walruses")
    panel.refresh()
    assert panel.run_ids() == [new]
    panel.search.clear()
    panel.refresh()
    qapp.processEvents()
    assert sorted(panel.run_ids()) == sorted([*busy_history.run_ids, new])
    assert panel.run_ids() == _grouped(store.list_runs())
    panel.close()
    panel.deleteLater()
