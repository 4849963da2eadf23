"""PlanTreeView: the plan tree, a toolbar, a detail pane and a validation banner."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from agents.plan import Plan
from ui.plan_tree.columns import ColumnFitter
from ui.plan_tree.commands import DependencyCleanup
from ui.plan_tree.delegates import AgentDelegate, PaddedDelegate
from ui.plan_tree.detail import TaskDetailPane
from ui.plan_tree.graph import PlanGraphView, graph_chosen, remember_choice
from ui.plan_tree.model import Column, PlanTreeModel
from ui.plan_tree.pattern_cells import TaskDelegate

COLUMN_WIDTHS = {
    Column.AGENT: 100,
    Column.DEPENDS_ON: 200,
    Column.APPROVAL: 76,
    Column.STATUS: 140,
    Column.TOKENS: 76,
    Column.COST: 76,
}
"""Widths before the first fit (ui/plan_tree/columns.py sizes them to content)."""

_BANNER_STYLE = (
    "QLabel { background: #fdecea; color: #b71c1c; border: 1px solid #f1aeb5;"
    " border-radius: 4px; padding: 6px 8px; }"
)
_NOTICE_STYLE = (
    "QLabel { background: #fff8e1; color: #6d4c00; border: 1px solid #ffe08a;"
    " border-radius: 4px; padding: 6px 8px; }"
)


class PlanTreeView(QWidget):
    """Edits a PlanTreeModel; every change goes through the model's undo stack."""

    subtaskSelected = Signal(str, str)
    taskChosen = Signal(str)
    """The person made a plan task current (the run view follows: its steps and output)."""
    """A delegate's sub-task row became current: (the delegate task's id, the sub-task's step prefix)."""

    def __init__(self, model: PlanTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._notice_fresh = False
        self.tree = self._build_tree()
        self.detail = TaskDetailPane(model)
        self.banner = _message_label(_BANNER_STYLE, "Plan problems")
        self.notice = _message_label(_NOTICE_STYLE, "Plan notice")
        self.graph = PlanGraphView(model)
        """The same plan as a graph, in the table's place when the person picks Graph."""
        self._build_actions()
        self._build_view_switch()
        self._build_layout()
        self.graph.taskClicked.connect(self.select_task)
        self.tree.selectionModel().currentRowChanged.connect(self._on_current_changed)
        model.modelReset.connect(self._on_model_reset)
        model.rowsInserted.connect(self._on_rows_inserted)
        model.rowsMoved.connect(self._on_rows_moved)
        model.problemsChanged.connect(self._on_problems_changed)
        model.planChanged.connect(self._on_plan_changed)
        model.dependenciesRemoved.connect(self._on_dependencies_removed)
        model.editableChanged.connect(self._on_editable_changed)
        # only the signals' values: the stack also signals while it is destroyed
        model.undo_stack.canUndoChanged.connect(self._on_can_undo_changed)
        model.undo_stack.canRedoChanged.connect(self._on_can_redo_changed)
        model.undo_stack.undoTextChanged.connect(self._on_undo_text_changed)
        model.undo_stack.redoTextChanged.connect(self._on_redo_text_changed)
        self._on_model_reset()
        self._on_problems_changed(model.problems())
        self._on_editable_changed(model.editable)

    # --- building --------------------------------------------------------------------------

    def _build_tree(self) -> QTreeView:
        tree = QTreeView()
        tree.setAccessibleName("Plan tasks")
        tree.setModel(self._model)
        tree.setItemDelegate(PaddedDelegate(tree))
        tree.setItemDelegateForColumn(Column.AGENT, AgentDelegate(self._model.roster, tree))
        tree.setItemDelegateForColumn(Column.TASK, TaskDelegate(tree))
        tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        tree.setAlternatingRowColors(True)
        tree.setUniformRowHeights(True)
        tree.setAllColumnsShowFocus(True)
        tree.setDropIndicatorShown(True)
        tree.setDefaultDropAction(Qt.DropAction.MoveAction)
        tree.setAnimated(True)
        header = tree.header()
        header.setMinimumSectionSize(48)
        for column, width in COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        self.columns = ColumnFitter(tree)
        """Sizes the columns to their content, Task first, until the person drags one."""
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        fit = QAction("Fit columns to the table", header)
        fit.triggered.connect(self.columns.reset)
        header.addAction(fit)
        return tree

    def _build_actions(self) -> None:
        self.add_task_action = self._action(
            "Add task", "list-add", "Ctrl+T", self._on_add_task, "Add a task after the selected one"
        )
        self.add_subtask_action = self._action(
            "Add sub-task",
            "list-add",
            "Ctrl+Shift+T",
            self._on_add_subtask,
            "Add a sub-task inside the selected task",
        )
        self.delete_action = self._action(
            "Delete",
            "edit-delete",
            QKeySequence.StandardKey.Delete,
            self._on_delete,
            "Delete the selected task and its sub-tasks",
        )
        self.rename_action = self._action("Rename", "", "F2", self._on_rename, "Rename the task")
        self.undo_action = self._action(
            "Undo", "edit-undo", QKeySequence.StandardKey.Undo, self._model.undo_stack.undo, ""
        )
        self.redo_action = self._action(
            "Redo", "edit-redo", QKeySequence.StandardKey.Redo, self._model.undo_stack.redo, ""
        )
        # Del and F2 only act on the tree, so they still edit text in the detail pane
        for action in (self.delete_action, self.rename_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.tree.addAction(action)
        for action in (
            self.add_task_action,
            self.add_subtask_action,
            self.undo_action,
            self.redo_action,
        ):
            self.addAction(action)
        self.toolbar = QToolBar("Plan")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.addActions([self.add_task_action, self.add_subtask_action, self.delete_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.undo_action, self.redo_action])
        self.lock_label = QLabel("  Locked while the plan runs")
        self.lock_label.setStyleSheet("color: palette(mid);")
        self._lock_label_action = self.toolbar.addWidget(self.lock_label)

    def _build_view_switch(self) -> None:
        """Table | Graph right of the toolbar (never in its overflow menu); kept in window.ini."""
        group = QActionGroup(self)
        self.table_view_action = QAction("Table", group, checkable=True)
        self.table_view_action.setToolTip("Show the plan as a table")
        self.graph_view_action = QAction("Graph", group, checkable=True)
        self.graph_view_action.setToolTip("Show the plan as a graph of tasks and their dependencies")
        (self.graph_view_action if graph_chosen() else self.table_view_action).setChecked(True)
        self.view_switch = QWidget()
        row = QHBoxLayout(self.view_switch)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        for action in (self.table_view_action, self.graph_view_action):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            row.addWidget(button)
        self.graph_view_action.toggled.connect(self._on_graph_toggled)

    def _action(
        self,
        text: str,
        icon: str,
        shortcut: str | QKeySequence.StandardKey,
        slot: Callable[[], object],
        tip: str,
    ) -> QAction:
        action = QAction(QIcon.fromTheme(icon) if icon else QIcon(), text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)  # every platform binding (Ctrl+Y and Ctrl+Shift+Z)
        else:
            action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(_tip(tip or text, action))

        def run(_checked: bool = False) -> None:
            # toolbar buttons take no focus: save typed instructions first
            self.detail.commit_instructions()
            slot()

        action.triggered.connect(run)
        return action

    def _build_layout(self) -> None:
        # detail pane below the tree: seven columns need the full width
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.tasks_stack = QStackedWidget()  # the table or the graph, as the person chose
        self.tasks_stack.addWidget(self.tree)
        self.tasks_stack.addWidget(self.graph)
        self.tasks_stack.setCurrentWidget(self.graph if self.graph_view_action.isChecked() else self.tree)
        splitter.addWidget(self.tasks_stack)
        # the detail pane scrolls rather than hold the window taller than a 700 px screen
        scroller = QScrollArea()
        scroller.setWidget(self.detail)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setMinimumHeight(110)
        self.detail_scroller = scroller
        splitter.addWidget(scroller)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        self.tree.setMinimumHeight(90)
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        top = QHBoxLayout()
        top.addWidget(self.toolbar, 1)
        top.addWidget(self.view_switch)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)

    # --- public -----------------------------------------------------------------------------

    @property
    def model(self) -> PlanTreeModel:
        return self._model

    def current_task_id(self) -> str | None:
        return self._model.task_id_at(self.tree.currentIndex())

    def select_task(self, task_id: str) -> None:
        index = self._model.index_for(task_id)
        if index.isValid():
            flags = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
            self.tree.selectionModel().setCurrentIndex(index, flags)
            self.tree.scrollTo(index)

    def set_editable(self, editable: bool) -> None:
        """Lock (False) the plan while it runs; statuses keep updating."""
        if not editable:
            self.detail.commit_instructions()
        self._model.set_editable(editable)

    def showing_graph(self) -> bool:
        return self.tasks_stack.currentWidget() is self.graph

    def show_graph(self, graph: bool) -> None:
        """Show the graph (True) or the table in the tasks' place, and remember the choice."""
        (self.graph_view_action if graph else self.table_view_action).setChecked(True)

    def commit_pending(self) -> None:
        """Save what the detail pane has not saved yet (call before running)."""
        self.detail.commit_instructions()

    # --- handlers ---------------------------------------------------------------------------

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.detail.set_task(self._model.task_id_at(current))
        self._update_actions()
        sub = self._model.subtask_at(current)
        self.graph.set_current(sub[0] if sub is not None else self._model.task_id_at(current))
        if sub is not None:  # read-only: its steps are what there is to see
            self.detail.id_label.setText("A sub-task its manager planned while the run went on: read-only; "
                                         "its steps are in the run view below.")
            self.subtaskSelected.emit(*sub)
        elif (task_id := self._model.task_id_at(current)) is not None:
            self.taskChosen.emit(task_id)

    def _on_graph_toggled(self, graph: bool) -> None:
        self.tasks_stack.setCurrentWidget(self.graph if graph else self.tree)
        remember_choice(graph)

    def _on_model_reset(self) -> None:
        self.tree.expandAll()
        ids = self._model.task_ids()
        if ids:
            self.select_task(ids[0])
        else:
            self.detail.set_task(None)
        self._update_actions()

    def _on_rows_inserted(self, parent: QModelIndex, _first: int, _last: int) -> None:
        self._expand_down_from(parent)

    def _on_rows_moved(
        self, _src: QModelIndex, _s: int, _e: int, dest: QModelIndex, _row: int
    ) -> None:
        self._expand_down_from(dest)

    def _on_add_task(self) -> None:
        self._start_editing(self._model.add_sibling(self.current_task_id()))

    def _on_add_subtask(self) -> None:
        current = self.current_task_id()
        self._start_editing(self._model.add_child(current) if current else self._model.add_task())

    def _on_delete(self) -> None:
        current = self.current_task_id()
        if current:
            self._model.delete_tasks([current])

    def _on_rename(self) -> None:
        index = self.tree.currentIndex()
        if index.isValid() and self._model.editable:
            self.tree.edit(index.siblingAtColumn(Column.TASK))

    def _on_problems_changed(self, problems: list[str]) -> None:
        if not self._model.task_ids():
            problems = []  # no plan yet is not an error; Run stays disabled all the same
        if problems:
            lines = "\n".join(f"•  {p}" for p in problems)
            self.banner.setText(f"This plan can't run yet:\n{lines}")
        self.banner.setVisible(bool(problems))

    def _on_plan_changed(self, _plan: Plan) -> None:
        # a notice describes the edit that raised it; the next edit clears it
        if self._notice_fresh:
            self._notice_fresh = False
        else:
            self.notice.hide()
        self._update_actions()

    def _on_dependencies_removed(self, cleanups: list[DependencyCleanup]) -> None:
        lines = "\n".join(
            f"•  {c.title!r} ({c.task_id}) no longer waits for {', '.join(c.removed)}"
            for c in cleanups
        )
        self.notice.setText(f"Removed links to the deleted tasks (Undo brings them back):\n{lines}")
        self.notice.show()
        self._notice_fresh = True

    def _on_editable_changed(self, editable: bool) -> None:
        mode = QAbstractItemView.DragDropMode
        self.tree.setDragDropMode(mode.InternalMove if editable else mode.NoDragDrop)
        triggers = QAbstractItemView.EditTrigger
        self.tree.setEditTriggers(
            triggers.DoubleClicked | triggers.EditKeyPressed | triggers.SelectedClicked
            if editable
            else triggers.NoEditTriggers
        )
        self._lock_label_action.setVisible(not editable)
        self._update_actions()

    def _on_can_undo_changed(self, can_undo: bool) -> None:
        self.undo_action.setEnabled(self._model.editable and can_undo)

    def _on_can_redo_changed(self, can_redo: bool) -> None:
        self.redo_action.setEnabled(self._model.editable and can_redo)

    def _on_undo_text_changed(self, text: str) -> None:
        self.undo_action.setToolTip(_tip(_with_subject("Undo", text), self.undo_action))

    def _on_redo_text_changed(self, text: str) -> None:
        self.redo_action.setToolTip(_tip(_with_subject("Redo", text), self.redo_action))

    def _update_actions(self) -> None:
        editable = self._model.editable
        has_current = self.current_task_id() is not None
        self.add_task_action.setEnabled(editable)
        self.add_subtask_action.setEnabled(editable and has_current)
        self.delete_action.setEnabled(editable and has_current)
        self.rename_action.setEnabled(editable and has_current)
        stack = self._model.undo_stack
        self._on_can_undo_changed(stack.canUndo())
        self._on_can_redo_changed(stack.canRedo())

    # --- helpers ----------------------------------------------------------------------------

    def _start_editing(self, task_id: str | None) -> None:
        if task_id is None:
            return
        self.select_task(task_id)
        self.tree.setFocus()
        self.tree.edit(self._model.index_for(task_id, Column.TASK))

    def _expand_down_from(self, parent: QModelIndex) -> None:
        while parent.isValid():  # new rows should be visible
            self.tree.expand(parent)
            parent = parent.parent()


def _message_label(style: str, name: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.setAccessibleName(name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def _tip(text: str, action: QAction) -> str:
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    return f"{text} ({keys})" if keys else text


def _with_subject(verb: str, subject: str) -> str:
    return verb if not subject else f"{verb} {subject[0].lower()}{subject[1:]}"
