"""PlanTreeModel: an editable agents.plan.Plan as a Qt tree model.

Edits never change the tree directly: the public edit methods (and setData,
and drops) push a command from ui.plan_tree.commands onto `undo_stack`, so
every change can be undone and emits `planChanged` with the new Plan.
Runtime columns (status, tokens, cost) are not part of the plan and are
not undoable; they come from the run's RunState (agents.run.state, the one
fold of its events): events fold in with `apply_event`, a stored run's fold
is shown with `show_state`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QUndoStack

from agents.events import RunEvent, RunStarted, SubtasksPlanned
from agents.plan import Plan, Task, plan_problems
from agents.plan.estimate import RunEstimate, TaskEstimate
from agents.plan.patterns import Pattern, PatternKind
from agents.plan.roster import Roster
from agents.run.state import Change, RunState, TaskState
from app.estimate_text import estimate_tip, task_cost
from ui import theme
from ui.plan_tree import cells, subtasks
from ui.plan_tree.cells import HEADER_TIPS, HEADERS, RUNTIME_COLUMNS, Column
from ui.plan_tree.commands import (
    AddTaskCommand,
    DeleteTasksCommand,
    MoveTasksCommand,
    SetFieldCommand,
)
from ui.plan_tree.nodes import TaskNode, next_generated_number, root_from_plan, row_problems
from ui.plan_tree.pattern_cells import PatternRole, pattern_icon, pattern_text
from ui.plan_tree.runtime import has_usage, shown, status_icon, status_label
from ui.plan_tree.subtasks import SubtaskRow

Index = QModelIndex | QPersistentModelIndex
_NO_INDEX = QModelIndex()

MIME_TYPE = "application/x-troupe-task-ids"
"""Drag payload: a JSON list of task ids."""

TaskIdRole = Qt.ItemDataRole.UserRole + 1
"""data() role giving the task id of any cell."""

_KINDS = {kind.value for kind in PatternKind} - {"single"}
"""Patterns a sub-task row may show an icon for."""

class PlanTreeModel(QAbstractItemModel):
    """The plan tree, editable through undoable commands."""

    planChanged = Signal(object)
    """Plan: emitted after every accepted edit, undo and redo."""
    validityChanged = Signal(bool)
    """Whether the plan can run; emitted when that changes."""
    problemsChanged = Signal(list)
    """list[str]: the plan's problems (empty when valid), when they change."""
    dependenciesRemoved = Signal(list)
    """list[DependencyCleanup]: a delete also removed dependencies of other tasks."""
    editableChanged = Signal(bool)

    def __init__(
        self,
        plan: Plan | None = None,
        roster: Roster | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._roster = roster
        self._roles = list(roster.names) if roster is not None else None
        self._workers = [r.name for r in roster.workers()] if roster is not None else []
        self._undo_stack = QUndoStack(self)
        self._editable = True
        self._goal = ""
        self._root = TaskNode("")
        self._nodes: dict[str, TaskNode] = {}
        self._run = RunState()
        self._estimate: RunEstimate | None = None
        """The cost estimate of the plan as it stands (the Cost column before a task reports usage)."""
        self._subrows: dict[str, list[SubtaskRow]] = {}
        """A delegate's planned sub-tasks by its task id: read-only rows after its children."""
        self._retired: list[SubtaskRow] = []
        # removed rows stay alive until the next reset: indexes may still point at them
        self._runtime_dirty: set[str] = set()
        self._runtime_timer = QTimer(self)
        self._runtime_timer.setSingleShot(True)
        self._runtime_timer.setInterval(self.RUNTIME_MS)
        self._runtime_timer.timeout.connect(self.flush_runtime)
        self._next_number = 1
        self._problems: list[str] = plan_problems(self.to_plan(), self._roles)
        self._row_problems: dict[str, list[str]] = {}
        self._valid = not self._problems
        if plan is not None:
            self.set_plan(plan)

    # --- the plan as a whole ---------------------------------------------------

    @property
    def undo_stack(self) -> QUndoStack:
        return self._undo_stack

    @property
    def goal(self) -> str:
        return self._goal

    @property
    def roster(self) -> Roster | None:
        return self._roster

    def set_roster(self, roster: Roster) -> None:
        """Use an edited roster: agent choices and role validation follow it."""
        self._roster = roster
        self._roles = list(roster.names)
        self._workers = [r.name for r in roster.workers()]
        self._revalidate()

    @property
    def worker_roles(self) -> list[str]:
        """Roles a task can be assigned to (the roster minus the orchestrator)."""
        return list(self._workers)

    def to_plan(self) -> Plan:
        return Plan(goal=self._goal, tasks=tuple(n.to_task() for n in self._root.children))

    def set_estimate(self, estimate: RunEstimate | None) -> None:
        """Show a task's estimated cost in its Cost cell until the run reports what it spent."""
        self._estimate = estimate
        for node in self._all_nodes():
            cell = self._index_of(node, Column.COST)
            self.dataChanged.emit(cell, cell)

    def _estimate_data(self, guess: TaskEstimate, role: int) -> Any:
        R = Qt.ItemDataRole
        if role == R.DisplayRole:
            return task_cost(guess)
        if role == R.ForegroundRole:
            return theme.dim_text_colour()
        if role == R.ToolTipRole:
            return estimate_tip(guess)
        return None

    def set_plan(self, plan: Plan) -> None:
        """Show `plan`: forgets the undo history and the runtime columns.

        Not an edit, so planChanged is not emitted; validityChanged and
        problemsChanged are, if the new plan's validity differs.
        """
        self.beginResetModel()
        # the old nodes stay alive until the reset is over: indexes point at
        # them (createIndex keeps no Python reference)
        old_root = self._root  # noqa: F841
        self._goal = plan.goal
        self._root = root_from_plan(plan)
        self._nodes = {n.id: n for n in self._all_nodes()}
        self._run = RunState()
        self._run.load_plan(plan.to_dict())
        self._subrows, self._retired = {}, []
        self._next_number = next_generated_number(self._nodes)
        self.endResetModel()
        self._undo_stack.clear()
        self._revalidate()

    def problems(self) -> list[str]:
        """plan_problems(to_plan(), roster role names): empty when the plan can run."""
        return list(self._problems)

    def is_valid(self) -> bool:
        return self._valid

    def task_problems(self, task_id: str) -> list[str]:
        """What is wrong with one task (unknown dependency, cycle, role)."""
        return list(self._row_problems.get(task_id, ()))

    # --- reading tasks ---------------------------------------------------------

    def task(self, task_id: str) -> Task:
        return self._nodes[task_id].to_task()

    def has_task(self, task_id: str) -> bool:
        return task_id in self._nodes

    def task_ids(self) -> list[str]:
        """Every task id, depth first, parents before children."""
        return [n.id for n in self._all_nodes()]

    def depth(self, task_id: str) -> int:
        return self._nodes[task_id].depth()

    def descendant_ids(self, task_id: str) -> set[str]:
        return {n.id for n in self._nodes[task_id].walk()} - {task_id}

    def index_for(self, task_id: str, column: int = Column.TASK) -> QModelIndex:
        node = self._nodes.get(task_id)
        return _NO_INDEX if node is None else self._index_of(node, column)

    def task_id_at(self, index: Index) -> str | None:
        return self._node_at(index).id or None

    # --- editing (every method pushes one undo command) ---------------------------

    @property
    def editable(self) -> bool:
        return self._editable

    def set_editable(self, editable: bool) -> None:
        """Lock (False) or unlock the plan; runtime columns keep updating."""
        if editable == self._editable:
            return
        self._editable = editable
        self.editableChanged.emit(editable)

    def rename(self, task_id: str, title: str) -> bool:
        title = title.strip()
        return bool(title) and self._push_field(task_id, "title", title, f"Rename to {title!r}")

    def set_instructions(self, task_id: str, text: str, merge_key: str | None = None) -> bool:
        """Set the instructions; edits with the same `merge_key` undo as one."""
        return self._push_field(task_id, "instructions", text, "Edit instructions", merge_key)

    def reassign(self, task_id: str, agent: str) -> bool:
        agent = agent.strip()
        return bool(agent) and self._push_field(task_id, "agent", agent, f"Assign to {agent}")

    def set_depends_on(self, task_id: str, depends_on: Iterable[str]) -> bool:
        deps = tuple(dict.fromkeys(d.strip() for d in depends_on if d.strip()))
        return self._push_field(task_id, "depends_on", deps, "Change dependencies")

    def set_requires_approval(self, task_id: str, required: bool) -> bool:
        text = "Require approval" if required else "Drop approval"
        return self._push_field(task_id, "requires_approval", bool(required), text)

    def set_pattern(self, task_id: str, pattern: Pattern | None, merge_key: str | None = None) -> bool:
        """Give a task a pattern (None: one agent); edits with the same `merge_key` undo as one."""
        text = f"Set pattern: {pattern.kind}" if pattern is not None else "Drop the pattern"
        return self._push_field(task_id, "pattern", pattern, text, merge_key)

    def titles(self) -> dict[str, str]:
        """Every task's title by id."""
        return {task_id: node.title for task_id, node in self._nodes.items()}

    def add_task(
        self, parent_id: str | None = None, row: int = -1, title: str = "New task"
    ) -> str | None:
        """Add a task under `parent_id` (None: top level) at `row` (-1: last); its id."""
        if not self._editable or (parent_id is not None and parent_id not in self._nodes):
            return None
        parent = self._node_or_root(parent_id)
        row = len(parent.children) if row < 0 else min(row, len(parent.children))
        node = TaskNode(self._new_task_id(), title, agent=self._default_agent())
        self._undo_stack.push(AddTaskCommand(self, parent_id, row, node))
        return node.id

    def add_child(self, task_id: str) -> str | None:
        return self.add_task(task_id)

    def add_sibling(self, task_id: str | None) -> str | None:
        """Add a task right after `task_id` (None: at the end of the top level)."""
        if task_id is None or task_id not in self._nodes:
            return self.add_task(None)
        node = self._nodes[task_id]
        return self.add_task(self._parent_id(node), node.row() + 1)

    def delete_tasks(self, task_ids: Iterable[str]) -> bool:
        """Delete tasks and their sub-tasks; dependencies on them go too (one undo)."""
        ids = [t for t in task_ids if t in self._nodes]
        if not self._editable or not ids:
            return False
        self._undo_stack.push(DeleteTasksCommand(self, ids))
        return True

    def can_move(self, task_ids: Iterable[str], parent_id: str | None) -> bool:
        """False when a task would go into itself or one of its descendants."""
        ids = list(task_ids)
        if not self._editable or not ids or any(t not in self._nodes for t in ids):
            return False
        if parent_id is None:
            return True
        target = self._nodes.get(parent_id)
        if target is None:
            return False
        moving = [self._nodes[t] for t in ids]
        return not any(target is n or target.is_descendant_of(n) for n in moving)

    def move_tasks(self, task_ids: Iterable[str], parent_id: str | None, row: int = -1) -> bool:
        """Move tasks under `parent_id` before `row` (counted before the move; -1: last)."""
        ids = list(task_ids)
        if not self.can_move(ids, parent_id):
            return False
        command = MoveTasksCommand(self, ids, parent_id, row)
        if not command.changes_anything():  # dropped where it already was
            return False
        self._undo_stack.push(command)
        return True

    # --- runtime columns -------------------------------------------------------------

    def apply_event(self, event: RunEvent) -> bool:
        """Fold a run event into the run's state; True if a row's status / tokens / cost changed."""
        changes = self._run.apply(event)
        if isinstance(event, RunStarted):  # every task starts afresh or keeps its result
            dirty = set(self._nodes)
            self._sync_all_subtasks()
        elif isinstance(event, SubtasksPlanned):
            self._sync_subtasks(event.task_id)
            return True
        else:
            task_id = getattr(event, "task_id", "")
            if task_id not in self._nodes or not changes & _ROW_CHANGES:
                return False
            dirty = {task_id}
        # data() answers with the new state at once; the views hear of it
        # at most every RUNTIME_MS, in one dataChanged per parent.
        self._runtime_dirty |= dirty
        if not self._runtime_timer.isActive():
            self._runtime_timer.start()
        return True

    RUNTIME_MS = 100

    def flush_runtime(self) -> None:
        """Tell the views about runtime changes apply_event() has folded in."""
        self._runtime_timer.stop()
        dirty, self._runtime_dirty = self._runtime_dirty, set()
        rows_by_parent: dict[int, tuple[TaskNode, list[int]]] = {}
        for task_id in dirty:
            node = self._nodes.get(task_id)
            if node is None or node.parent is None:
                continue
            rows_by_parent.setdefault(id(node.parent), (node.parent, []))[1].append(node.row())
            self._touch_subtasks(self._subrows.get(task_id, ()))
        first, last = Column.TASK, max(RUNTIME_COLUMNS)  # (the Task column: a map's counts)
        for parent, rows in rows_by_parent.values():
            parent_index = self._index_of(parent)
            self.dataChanged.emit(self.index(min(rows), first, parent_index),
                                  self.index(max(rows), last, parent_index))

    def show_state(self, state: RunState) -> None:
        """Show a run's fold (a stored run's events); later events fold into it."""
        self._run = state
        for node in self._all_nodes():
            self._touch(node, *RUNTIME_COLUMNS)
        self._sync_all_subtasks()

    @property
    def run_state(self) -> RunState:
        return self._run

    def runtime(self, task_id: str) -> TaskState | None:
        """The task as the run left it; None while the run has not touched it."""
        task = self._run.tasks.get(task_id)
        return task if task is not None and shown(self._run, task) else None

    def clear_runtime(self) -> None:
        self.show_state(RunState())

    def subtask_at(self, index: Index) -> tuple[str, str] | None:
        """(the delegate task's id, the sub-task's step prefix) of a sub-task row; None for a plan row."""
        item = index.internalPointer() if index.isValid() else None
        return (item.owner, item.prefix) if isinstance(item, SubtaskRow) else None

    def subtask_rows(self, task_id: str) -> list[SubtaskRow]:
        """The sub-task rows shown under a delegate task (its manager's plan, nested rows inside)."""
        return list(self._subrows.get(task_id, ()))

    # --- a delegate's sub-tasks (read-only rows, never part of the plan) --------------

    def _sync_all_subtasks(self) -> None:
        for task_id in list(self._nodes):
            self._sync_subtasks(task_id)

    def _sync_subtasks(self, task_id: str) -> None:
        """Show the sub-tasks the fold has for a task: new rows inserted, changed ones replaced."""
        node = self._nodes.get(task_id)
        if node is None or (task_id not in self._subrows and not self._run.tasks.get(task_id, _EMPTY).subtasks):
            return
        self._sync_rows(node, self._run.tasks.get(task_id), "", self._subrows.get(task_id, []),
                        lambda rows: self._subrows.__setitem__(task_id, rows))

    def _sync_rows(self, parent: TaskNode | SubtaskRow, task: TaskState | None, within: str,
                   current: list[SubtaskRow], store: Any) -> None:
        owner = parent.id if isinstance(parent, TaskNode) else parent.owner
        wanted = subtasks.build(owner, task, within, parent, 0)
        if subtasks.shape(wanted) == subtasks.shape(current):
            for row in current:  # the same rows: a nested manager may have planned since
                self._sync_rows(row, task, row.prefix, row.children, lambda rows, r=row: setattr(r, "children", rows))
            return
        first = len(parent.children) if isinstance(parent, TaskNode) else 0
        parent_index = self._index_of(parent) if isinstance(parent, TaskNode) else self._sub_index(parent)
        if current:
            self.beginRemoveRows(parent_index, first, first + len(current) - 1)
            store([])
            self._retired.extend(subtasks.walk(current))
            self.endRemoveRows()
        if wanted:
            self.beginInsertRows(parent_index, first, first + len(wanted) - 1)
            store(wanted)
            self.endInsertRows()

    def _sub_index(self, row: SubtaskRow, column: int = 0) -> QModelIndex:
        first = len(row.parent.children) if isinstance(row.parent, TaskNode) else 0
        return self.createIndex(first + row.row, column, row)

    def _touch_subtasks(self, rows: Iterable[SubtaskRow]) -> None:
        """Their status follows the delegate task's steps: repaint them with it."""
        rows = list(rows)
        if rows:
            self.dataChanged.emit(self._sub_index(rows[0], Column.STATUS),
                                  self._sub_index(rows[-1], Column.COST))
        for row in rows:
            self._touch_subtasks(row.children)

    def _sub_data(self, row: SubtaskRow, column: Column, role: int) -> Any:
        R = Qt.ItemDataRole
        task = self._run.tasks.get(row.owner)
        if role == R.DisplayRole:
            if column == Column.TASK:
                return row.title
            if column == Column.AGENT:
                return row.agent
            if column == Column.DEPENDS_ON:
                return ", ".join(subtasks.dependency_titles(task, row))
            if column == Column.STATUS:
                return status_label(subtasks.status(task, row))
            if column == Column.COST:
                spent = subtasks.cost(task, row)
                return f"${spent:.4f}" if spent else ""
            return None
        if role == R.DecorationRole and column == Column.STATUS:
            return status_icon(subtasks.status(task, row))
        if role == R.DecorationRole and column == Column.TASK and row.pattern in _KINDS:
            return pattern_icon(PatternKind(row.pattern))  # a sub-task with a pattern of its own
        if role == TaskIdRole:
            return row.owner
        if role == PatternRole and column == Column.TASK:
            return f"{row.pattern} · planned by its manager" if row.pattern else "planned by its manager"
        if role == R.ToolTipRole:
            return (f"{row.title} ({row.sub_id}): a sub-task its manager planned while the run went on; "
                    "read-only, not part of the plan. Select it to read its steps in the run view.")
        if role == R.FontRole and column == Column.TASK:
            font = QFont()
            font.setItalic(True)  # not an editable task of the plan
            return font
        return None

    # --- QAbstractItemModel: structure ----------------------------------------------

    def index(self, row: int, column: int, parent: Index = _NO_INDEX) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        item = parent.internalPointer() if parent.isValid() else None
        if isinstance(item, SubtaskRow):
            return self.createIndex(row, column, item.children[row])
        node = self._node_at(parent)
        if row >= len(node.children):  # a delegate's sub-task, after any plan children
            return self.createIndex(row, column, self._subrows[node.id][row - len(node.children)])
        return self.createIndex(row, column, node.children[row])

    def parent(self, index: Index | None = None) -> Any:  # type: ignore[override]
        if index is None:  # QObject.parent()
            return QObject.parent(self)
        if not index.isValid():
            return QModelIndex()
        item = index.internalPointer()
        if isinstance(item, SubtaskRow):
            owner = item.parent
            return self._sub_index(owner) if isinstance(owner, SubtaskRow) else self._index_of(owner)  # type: ignore[arg-type]
        up = self._node_at(index).parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row(), 0, up)

    def rowCount(self, parent: Index = _NO_INDEX) -> int:
        if parent.isValid() and parent.column() != Column.TASK:
            return 0
        item = parent.internalPointer() if parent.isValid() else None
        if isinstance(item, SubtaskRow):
            return len(item.children)
        node = self._node_at(parent)
        return len(node.children) + len(self._subrows.get(node.id, ())) if node.id else len(node.children)

    def columnCount(self, parent: Index = _NO_INDEX) -> int:
        return len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or section not in HEADERS:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(Column(section))
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        F = Qt.ItemFlag
        if not index.isValid():  # the viewport: drop to the top level
            return F.ItemIsDropEnabled if self._editable else F.NoItemFlags
        flags = F.ItemIsEnabled | F.ItemIsSelectable
        if not self._editable or isinstance(index.internalPointer(), SubtaskRow):  # read-only, no drops
            return flags
        node = self._node_at(index)
        flags |= F.ItemIsDragEnabled | F.ItemIsDropEnabled
        column = index.column()
        if column in (Column.TASK, Column.DEPENDS_ON) or (
            column == Column.AGENT and not node.is_group
        ):
            flags |= F.ItemIsEditable
        if column == Column.APPROVAL and not node.is_group:
            flags |= F.ItemIsUserCheckable
        return flags

    # --- QAbstractItemModel: cells ------------------------------------------------

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if isinstance(item := index.internalPointer(), SubtaskRow):
            return self._sub_data(item, Column(index.column()), role)
        node = self._node_at(index)
        column = Column(index.column())
        R = Qt.ItemDataRole
        state = self.runtime(node.id)
        problems = self._row_problems.get(node.id)
        guess = self._estimate.task(node.id) if self._estimate and column == Column.COST else None
        if guess is not None and not (state and has_usage(state)):
            return self._estimate_data(guess, role)
        if role == R.DisplayRole:
            return cells.display(node, column, state, self._nodes)
        if role == R.EditRole:
            return cells.edit_value(node, column)
        if role == TaskIdRole:
            return node.id
        if role == PatternRole:
            return pattern_text(node.pattern, state, self.titles()) if column == Column.TASK else None
        if role == R.CheckStateRole and column == Column.APPROVAL and not node.is_group:
            return Qt.CheckState.Checked if node.requires_approval else Qt.CheckState.Unchecked
        if role == R.DecorationRole:
            if column == Column.TASK and node.pattern is not None and not problems:
                return pattern_icon(node.pattern.kind)
            return cells.decoration(node, column, state, problems)
        if role == R.ForegroundRole:
            return cells.foreground(node, column, problems)
        if role == R.ToolTipRole:
            return cells.tooltip(node, column, state, problems, self._nodes)
        if role == R.FontRole and column == Column.TASK and node.is_group:
            font = QFont()
            font.setBold(True)  # groups read as headings
            return font
        if role == R.TextAlignmentRole and column in (Column.TOKENS, Column.COST):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or isinstance(index.internalPointer(), SubtaskRow):
            return False
        task_id = self._node_at(index).id
        column = index.column()
        if role == Qt.ItemDataRole.CheckStateRole and column == Column.APPROVAL:
            return self.set_requires_approval(task_id, _checked(value))
        if role != Qt.ItemDataRole.EditRole:
            return False
        if column == Column.TASK:
            return self.rename(task_id, str(value))
        if column == Column.AGENT:
            return self.reassign(task_id, str(value))
        if column == Column.DEPENDS_ON:
            return self.set_depends_on(task_id, str(value).replace(";", ",").split(","))
        return False

    # --- drag and drop -------------------------------------------------------------------

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, indexes: Iterable[Index]) -> QMimeData:
        ids = list(dict.fromkeys(self._node_at(i).id for i in indexes if i.isValid() and self._node_at(i).id))
        data = QMimeData()
        data.setData(MIME_TYPE, QByteArray(json.dumps(ids).encode()))
        return data

    def canDropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        ids = _decode_ids(data)
        if action != Qt.DropAction.MoveAction or ids is None or self.subtask_at(parent) is not None:
            return False
        return self.can_move(ids, self.task_id_at(parent))

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        if action == Qt.DropAction.IgnoreAction:
            return True
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        # The move is complete here. The view then asks removeRows() to drop
        # the "source" rows of a MoveAction; this model does not implement it
        # (the base class refuses), so nothing else is removed.
        return self.move_tasks(_decode_ids(data) or [], self.task_id_at(parent), row)

    # --- primitives used by the commands ---------------------------------------------

    def _node(self, task_id: str) -> TaskNode:
        return self._nodes[task_id]

    def _node_or_root(self, task_id: str | None) -> TaskNode:
        return self._root if task_id is None else self._nodes[task_id]

    def _all_nodes(self) -> Iterator[TaskNode]:
        walk = self._root.walk()
        next(walk)  # the root itself
        return walk

    def _set_field(self, task_id: str, field: str, value: Any) -> None:
        node = self._nodes[task_id]
        setattr(node, field, value)
        self._touch(node)
        if field == "title":  # others show it in their "Depends on" cell
            for other in self._all_nodes():
                if task_id in other.depends_on:
                    self._touch(other, Column.DEPENDS_ON)

    def _insert_node(self, parent_id: str | None, row: int, node: TaskNode) -> None:
        parent = self._node_or_root(parent_id)
        self.beginInsertRows(self._index_of(parent), row, row)
        parent.insert(row, node)
        self._nodes.update((n.id, n) for n in node.walk())
        self.endInsertRows()
        self._touch(parent)  # it may have just become a group

    def _take_node(self, task_id: str) -> tuple[str | None, int, TaskNode]:
        node = self._nodes[task_id]
        parent = node.parent
        assert parent is not None
        row = node.row()
        self.beginRemoveRows(self._index_of(parent), row, row)
        del parent.children[row]
        node.parent = None
        for gone in node.walk():
            self._nodes.pop(gone.id, None)
        self.endRemoveRows()
        self._touch(parent)
        return self._parent_id_of(parent), row, node

    def _move_node(self, task_id: str, parent_id: str | None, row: int) -> None:
        """Move a node so that it ends up at `row` among `parent_id`'s children."""
        node = self._nodes[task_id]
        old_parent, old_row = node.parent, node.row()
        new_parent = self._node_or_root(parent_id)
        assert old_parent is not None
        if old_parent is new_parent and old_row == row:
            return
        # beginMoveRows counts the destination before the removal
        dest = row + 1 if old_parent is new_parent and row > old_row else row
        ok = self.beginMoveRows(
            self._index_of(old_parent), old_row, old_row, self._index_of(new_parent), dest
        )
        assert ok, "invalid move"
        del old_parent.children[old_row]
        new_parent.insert(row, node)
        self.endMoveRows()
        self._touch(old_parent)
        self._touch(new_parent)

    def _edit_done(self) -> None:
        self._revalidate()
        self.planChanged.emit(self.to_plan())

    # --- helpers ---------------------------------------------------------------------

    def _push_field(
        self, task_id: str, field: str, value: Any, text: str, merge_key: str | None = None
    ) -> bool:
        node = self._nodes.get(task_id)
        if not self._editable or node is None or getattr(node, field) == value:
            return False
        self._undo_stack.push(SetFieldCommand(self, task_id, field, value, text, merge_key))
        return True

    def _revalidate(self) -> None:
        plan = self.to_plan()
        rows = row_problems(plan, self._roles)
        changed = {
            t
            for t in rows.keys() | self._row_problems.keys()
            if rows.get(t) != self._row_problems.get(t)
        }
        self._row_problems = rows
        for task_id in changed & self._nodes.keys():
            self._touch(self._nodes[task_id])
        problems = plan_problems(plan, self._roles)
        if problems != self._problems:
            self._problems = problems
            self.problemsChanged.emit(list(problems))
        if (valid := not problems) != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)

    def _new_task_id(self) -> str:
        # never reuse an id in this session, even one whose task was deleted
        number = max(self._next_number, next_generated_number(self._nodes))
        while f"t{number}" in self._nodes:  # e.g. a planner's "t007"-style ids
            number += 1
        self._next_number = number + 1
        return f"t{number}"

    def _default_agent(self) -> str:
        if not self._workers or "writer" in self._workers:
            return "writer"
        return self._workers[0]

    def _node_at(self, index: Index) -> TaskNode:
        """The plan's node of a row (the root for no row, and for a read-only sub-task row)."""
        item = index.internalPointer() if index.isValid() else None
        return item if isinstance(item, TaskNode) else self._root

    def _index_of(self, node: TaskNode, column: int = 0) -> QModelIndex:
        if node is self._root or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row(), column, node)

    def _parent_id(self, node: TaskNode) -> str | None:
        return self._parent_id_of(node.parent) if node.parent is not None else None

    def _parent_id_of(self, parent: TaskNode) -> str | None:
        return None if parent is self._root else parent.id

    def _touch(self, node: TaskNode, *columns: int) -> None:
        """Tell the views a row's cells changed (all columns by default)."""
        if node is self._root or node.parent is None:
            return
        first, last = (min(columns), max(columns)) if columns else (0, len(Column) - 1)
        self.dataChanged.emit(self._index_of(node, first), self._index_of(node, last))


_EMPTY = TaskState("")
_ROW_CHANGES = frozenset({Change.TIMELINE, Change.TOTALS, Change.APPROVALS, Change.STEPS})


def _checked(value: Any) -> bool:
    if isinstance(value, Qt.CheckState):
        return value == Qt.CheckState.Checked
    return int(value) == Qt.CheckState.Checked.value


def _decode_ids(data: QMimeData) -> list[str] | None:
    if not data.hasFormat(MIME_TYPE):
        return None
    try:
        ids = json.loads(bytes(data.data(MIME_TYPE).data()).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return None
    return ids
