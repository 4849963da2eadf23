"""The history panel: projects and their runs, with full-text search."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QLabel, QLineEdit, QTreeView, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from app.storage.records import RunSummary

RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PROJECT_ROLE = Qt.ItemDataRole.UserRole + 2

STATUS_MARKS = {
    "completed": "✓", "failed": "✗", "running": "●", "paused": "Ⅱ",
    "cancelled": "–", "interrupted": "⚠", "planned": "○",
}


class HistoryPanel(QWidget):
    """Projects, each with its runs (newest first); a search box over all history.

    `load` is called with the search text ("" for everything) and returns runs;
    the panel never touches storage itself.
    """

    runSelected = Signal(str)
    projectSelected = Signal(str)

    SEARCH_DELAY_MS = 200  # debounce: searching on every keystroke is wasteful

    def __init__(self, load: Callable[[str], Sequence[RunSummary]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._load = load
        self.search = QLineEdit(placeholderText="Search goals, plans, outputs…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.model = QStandardItemModel(self)
        self.model.setHorizontalHeaderLabels(["Run"])
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setWordWrap(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setIndentation(14)
        self.tree.setEditTriggers(QTreeView.EditTrigger.NoEditTriggers)
        self.empty = QLabel("No runs yet. Type a goal to start.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text); padding: 16px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        self._timer = QTimer(self, singleShot=True, interval=self.SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._on_search_changed)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)

    def refresh(self) -> None:
        text = self.search.text().strip()
        runs = self._load(text)
        self._fill(runs, expand=bool(text))
        if not runs:
            self.empty.setText(f"No runs match “{text}”." if text else "No runs yet. Type a goal to start.")
        self.empty.setVisible(not runs)

    def show_loading(self) -> None:
        """Until the first refresh(): the database is still being opened."""
        self.empty.setText("Loading history…")
        self.empty.setVisible(True)

    def select_run(self, run_id: str) -> None:
        for row in range(self.model.rowCount()):
            project = self.model.item(row)
            for child_row in range(project.rowCount()):
                item = project.child(child_row)
                if item.data(RUN_ID_ROLE) == run_id:
                    self.tree.setCurrentIndex(item.index())
                    return

    def run_ids(self) -> list[str]:
        """Ids of the runs shown, top to bottom (for tests and keyboard nav)."""
        return [
            self.model.item(r).child(c).data(RUN_ID_ROLE)
            for r in range(self.model.rowCount())
            for c in range(self.model.item(r).rowCount())
        ]

    def _fill(self, runs: Sequence[RunSummary], expand: bool) -> None:
        # Rebuilding moves the current index; that is not the person selecting a
        # run, and reacting to it (opening a run) mid-rebuild crashes Qt.
        selected = self.tree.currentIndex().data(RUN_ID_ROLE)
        with QSignalBlocker(self.tree.selectionModel()):
            self._rebuild(runs, expand)
            if selected:
                self.select_run(selected)

    def _rebuild(self, runs: Sequence[RunSummary], expand: bool) -> None:
        self.model.removeRows(0, self.model.rowCount())
        projects: dict[str, QStandardItem] = {}
        for run in runs:
            parent = projects.get(run.project)
            if parent is None:
                parent = QStandardItem(run.project)
                parent.setData(run.project, PROJECT_ROLE)
                font = parent.font()
                font.setBold(True)
                parent.setFont(font)
                projects[run.project] = parent
                self.model.appendRow(parent)
            parent.appendRow(_run_item(run))
        for item in projects.values():
            item.setText(f"{item.data(PROJECT_ROLE)}  ({item.rowCount()})")
        if expand or len(projects) <= 3:
            self.tree.expandAll()

    def _on_search_changed(self, _text: str) -> None:
        self._timer.start()

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        run_id = current.data(RUN_ID_ROLE)
        if run_id:
            self.runSelected.emit(run_id)
        elif project := current.data(PROJECT_ROLE):
            self.projectSelected.emit(project)


def _run_item(run: RunSummary) -> QStandardItem:
    when = time.strftime("%b %d %H:%M", time.localtime(run.created))
    mark = STATUS_MARKS.get(run.status, "·")
    item = QStandardItem(f"{mark}  {run.goal}\n     {when} · {run.status} · ${run.cost:.3f}")
    item.setData(run.id, RUN_ID_ROLE)
    item.setToolTip(
        f"{run.goal}\n\nStatus: {run.status}\nStarted: {time.ctime(run.created)}\n"
        f"Tasks: {run.tasks_completed}/{run.task_count} · {run.total_tokens} tokens · ${run.cost:.4f}"
    )
    return item


__all__ = ["HistoryPanel"]
