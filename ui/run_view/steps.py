"""The steps of the selected task with a pattern: drafts and reviews, votes, arguments, a map's items.

A map of 300 items is 300 rows of one QTableView over `StepsModel`, a Qt model
reading the fold's `TaskState.steps` directly: the view paints only the
rows on screen and a refresh is one insert of the new rows plus one
dataChanged, never a widget per item. Clicking (or moving to) a row shows
that step's output (or its error) in the box beside the list.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from agents.run.state import StepState, StepStatus, TaskState
from ui import theme
from ui.plan_tree.pattern_cells import map_counts, step_counts
from ui.plan_tree.subtasks import SEP
from ui.run_view.live_output import dot_icon

Index = QModelIndex | QPersistentModelIndex
_NO_INDEX = QModelIndex()

HEADERS = ("Step", "Agent", "Status", "Note")
STATUS_COLOURS = {StepStatus.RUNNING: "running", StepStatus.DONE: "completed", StepStatus.FAILED: "failed"}
STATUS_TEXT = {StepStatus.RUNNING: "running", StepStatus.DONE: "done", StepStatus.FAILED: "failed"}
StepKeyRole = Qt.ItemDataRole.UserRole + 1


class StepsModel(QAbstractTableModel):
    """The steps of one task, in the order they started (the fold's dict order)."""

    def __init__(self) -> None:
        super().__init__()
        self._task: TaskState | None = None
        self._prefix = ""
        """Only the steps of one delegated sub-task ("sub a": "sub a" and "sub a · ..."); "" for all."""
        self._keys: list[str] = []
        self._icons = {s: dot_icon(theme.status_colour(c)) for s, c in STATUS_COLOURS.items()}

    @property
    def task(self) -> TaskState | None:
        return self._task

    @property
    def prefix(self) -> str:
        return self._prefix

    def set_task(self, task: TaskState | None, prefix: str = "") -> None:
        self.beginResetModel()
        self._task, self._prefix = task, prefix
        self._keys = self._wanted()
        self.endResetModel()

    def _wanted(self) -> list[str]:
        if self._task is None:
            return []
        if not self._prefix:
            return list(self._task.steps)
        under = self._prefix + SEP
        return [k for k in self._task.steps if k == self._prefix or k.startswith(under)]

    def refresh(self) -> None:
        """Show what the fold added or changed since the last refresh (steps are never removed)."""
        if self._task is None:
            return
        keys = self._wanted()
        if keys[: len(self._keys)] != self._keys:  # a new start re-ordered them: start over
            self.set_task(self._task, self._prefix)
            return
        if len(keys) > len(self._keys):
            self.beginInsertRows(_NO_INDEX, len(self._keys), len(keys) - 1)
            self._keys = keys
            self.endInsertRows()
        if self._keys:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._keys) - 1, len(HEADERS) - 1))

    def step(self, row: int) -> StepState | None:
        if self._task is None or not 0 <= row < len(self._keys):
            return None
        return self._task.steps.get(self._keys[row])

    def rowCount(self, parent: Index = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self._keys)

    def columnCount(self, parent: Index = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        step = self.step(index.row()) if index.isValid() else None
        if step is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0 and self._prefix:  # one sub-task's steps: its prefix says nothing
                return step.step.removeprefix(self._prefix).removeprefix(SEP) or "answer"
            return _cell(step, column)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return step.step
        if role == StepKeyRole:
            return step.step
        if role == Qt.ItemDataRole.DecorationRole and column == 2:
            return self._icons[step.status]
        if role == Qt.ItemDataRole.ForegroundRole and step.status is StepStatus.FAILED and column in (2, 3):
            return QColor(theme.FAILED_COLOUR)
        if role == Qt.ItemDataRole.ToolTipRole and column == 3:
            return step.error or step.note or None
        return None


def _cell(step: StepState, column: int) -> str:
    if column == 0:
        return step.step
    if column == 1:
        return step.agent
    if column == 2:
        return STATUS_TEXT[step.status] + (" (replayed)" if step.replayed else "")
    note = step.error if step.status is StepStatus.FAILED else step.note
    return " ".join(note.split())


def summary(task: TaskState, prefix: str = "") -> str:
    """The pane's heading: the task, then "items 212/300 done, 3 failed" or "4 steps";
    for one delegated sub-task, "Task › sub-task" and its own steps."""
    if prefix:
        return f"{task.title or task.task_id}  ›  {sub_title(task, prefix)}"
    counts = map_counts(task) or step_counts(task)
    return f"{task.title or task.task_id}  ·  {counts}" if counts else (task.title or task.task_id)


def sub_title(task: TaskState, prefix: str) -> str:
    """A delegated sub-task's title from its manager's plan (its id when unknown)."""
    within, _, key = prefix.rpartition(SEP)
    sub_id = key.removeprefix("sub ")
    spec = next((t for t in task.subtasks.get(within, ()) if str(t.get("id")) == sub_id), None)
    return str(spec.get("title") or sub_id) if spec is not None else sub_id


class StepsPane(QWidget):
    """A task's steps as they happen, and the output of the one selected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = StepsModel()
        self.heading = QLabel("Steps")
        font = QFont(self.heading.font())
        font.setBold(True)
        self.heading.setFont(font)
        self.heading.setAccessibleName("Steps of the selected task")
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Steps")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the note elides
        for column, width in enumerate((80, 90, 72)):
            header.resizeSection(column, width)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setAccessibleName("Output of the selected step")
        self.output.setPlaceholderText("Select a step to read what its agent wrote.")
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.model.modelReset.connect(self._show_output)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.output)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.heading)
        layout.addWidget(splitter, 1)

    @property
    def task_id(self) -> str | None:
        return self.model.task.task_id if self.model.task is not None else None

    def show_task(self, task: TaskState | None, prefix: str = "") -> None:
        """List `task`'s steps (None: nothing); with a prefix, one delegated sub-task's."""
        if task is not self.model.task or prefix != self.model.prefix:
            self.model.set_task(task, prefix)
            self._fit_step_column()
        self.refresh()

    def _fit_step_column(self) -> None:
        """Room for a delegate's "sub draft · review 1" keys (a map's items keep the narrow column)."""
        task = self.model.task
        nested = task is not None and not self.model.prefix and len(task.steps) <= 100 and any(
            SEP in key for key in task.steps)
        width = 80
        if nested:
            self.table.resizeColumnToContents(0)
            width = min(220, max(80, self.table.columnWidth(0)))
        self.table.horizontalHeader().resizeSection(0, width)

    def refresh(self) -> None:
        """Show the fold's latest steps; the selected step's output follows it."""
        self.model.refresh()
        task = self.model.task
        self.heading.setText(summary(task, self.model.prefix) if task is not None else "Steps")
        self._show_output()

    def select_step(self, key: str) -> None:
        for row in range(self.model.rowCount()):
            if self.model.index(row, 0).data(StepKeyRole) == key:
                self.table.selectRow(row)
                self.table.scrollTo(self.model.index(row, 0))
                return

    def selected_step(self) -> StepState | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.step(rows[0].row()) if rows else None

    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_output()

    def _show_output(self) -> None:
        step = self.selected_step()
        if step is None:
            text = ""
        elif step.status is StepStatus.FAILED:
            text = f"Failed: {step.error}"
        else:
            text = step.output
        if self.output.toPlainText() != text:
            self.output.setPlainText(text)
        running = step is not None and step.status is StepStatus.RUNNING
        self.output.setPlaceholderText("Still running (or waiting for a free slot)…" if running
                                       else "Select a step to read what its agent wrote.")
