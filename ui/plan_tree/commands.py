"""Undo commands: every edit of the plan tree is one of these.

Commands name tasks by id, never by QModelIndex or row, so they stay valid
whatever else was done and undone in between. They change the tree only
through the model's primitives (`_set_field`, `_insert_node`, `_take_node`,
`_move_node`), which send the right Qt row signals, and end with
`_edit_done()`, which revalidates the plan and emits planChanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from ui.plan_tree.nodes import TaskNode, top_most

if TYPE_CHECKING:
    from ui.plan_tree.model import PlanTreeModel


@dataclass(frozen=True)
class DependencyCleanup:
    """A task that lost dependencies because the tasks it waited for were deleted."""

    task_id: str
    title: str
    removed: tuple[str, ...]
    """The deleted ids it depended on."""


class SetFieldCommand(QUndoCommand):
    """Change one field of one task (title, instructions, agent, ...).

    Consecutive commands with the same non-empty `merge_key` fold into one
    undo step (the detail pane saves instructions while the person types).
    """

    _MERGE_ID = 1

    def __init__(
        self,
        model: PlanTreeModel,
        task_id: str,
        field: str,
        value: Any,
        text: str,
        merge_key: str | None = None,
    ):
        super().__init__(text)
        self._model = model
        self._task_id = task_id
        self._field = field
        self._new = value
        self._old = getattr(model._node(task_id), field)
        self._merge_key = merge_key

    def id(self) -> int:
        return self._MERGE_ID if self._merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (
            isinstance(other, SetFieldCommand)
            and other._merge_key == self._merge_key
            and (other._task_id, other._field) == (self._task_id, self._field)
        ):
            return False
        self._new = other._new
        self.setObsolete(self._new == self._old)  # typed back to where it was
        return True

    def redo(self) -> None:
        self._model._set_field(self._task_id, self._field, self._new)
        self._model._edit_done()

    def undo(self) -> None:
        self._model._set_field(self._task_id, self._field, self._old)
        self._model._edit_done()


class AddTaskCommand(QUndoCommand):
    """Insert a new (childless) task under `parent_id` (None: top level) at `row`."""

    def __init__(self, model: PlanTreeModel, parent_id: str | None, row: int, node: TaskNode):
        super().__init__(f"Add {node.title!r}")
        self._model = model
        self._parent_id = parent_id
        self._row = row
        self._node = node

    @property
    def task_id(self) -> str:
        return self._node.id

    def redo(self) -> None:
        self._model._insert_node(self._parent_id, self._row, self._node)
        self._model._edit_done()

    def undo(self) -> None:
        self._model._take_node(self._node.id)
        self._model._edit_done()


class DeleteTasksCommand(QUndoCommand):
    """Delete tasks with their sub-trees, and the dependencies on them.

    Removing the dependencies in the same command keeps the plan valid and
    lets one undo bring back both the tasks and the links to them.
    """

    def __init__(self, model: PlanTreeModel, task_ids: list[str]):
        nodes = top_most(model._node(t) for t in task_ids)
        names = ", ".join(repr(n.title) for n in nodes)
        super().__init__(f"Delete {names}")
        self._model = model
        self._ids = [n.id for n in nodes]
        gone = {d.id for n in nodes for d in n.walk()}
        self._cleanups = [
            (node.id, node.depends_on, tuple(d for d in node.depends_on if d not in gone))
            for node in model._all_nodes()
            if node.id not in gone and gone.intersection(node.depends_on)
        ]
        # who loses which dependencies, for the warning
        self.cleanups = [
            DependencyCleanup(tid, model._node(tid).title, tuple(d for d in old if d in gone))
            for tid, old, _ in self._cleanups
        ]
        self._taken: list[tuple[str | None, int, TaskNode]] = []

    def redo(self) -> None:
        for task_id, _, new in self._cleanups:
            self._model._set_field(task_id, "depends_on", new)
        # document order out, reverse order back in: every row is exact
        self._taken = [self._model._take_node(t) for t in self._ids]
        self._model._edit_done()
        if self.cleanups:
            self._model.dependenciesRemoved.emit(list(self.cleanups))

    def undo(self) -> None:
        for parent_id, row, node in reversed(self._taken):
            self._model._insert_node(parent_id, row, node)
        for task_id, old, _ in self._cleanups:
            self._model._set_field(task_id, "depends_on", old)
        self._model._edit_done()


class MoveTasksCommand(QUndoCommand):
    """Move tasks (with their sub-trees) to `row` under `parent_id`, keeping their order.

    `row` counts in the destination as it is before the move (-1: at the
    end), as in QAbstractItemModel.dropMimeData.
    """

    def __init__(self, model: PlanTreeModel, task_ids: list[str], parent_id: str | None, row: int):
        nodes = top_most(model._node(t) for t in task_ids)
        super().__init__("Move " + ", ".join(repr(n.title) for n in nodes))
        self._model = model
        self._ids = [n.id for n in nodes]
        self._parent_id = parent_id
        parent = model._node_or_root(parent_id)
        # insert before the first sibling at or after `row` that is not moving
        anchors = parent.children[row:] if row >= 0 else []
        anchor = next((a for a in anchors if all(a is not n for n in nodes)), None)
        self._anchor_id = anchor.id if anchor is not None else None
        self._origins: list[tuple[str | None, int]] = []

    def changes_anything(self) -> bool:
        """False when the tasks already sit, in this order, where they would go."""
        parent = self._model._node_or_root(self._parent_id)
        moving = [self._model._node(t) for t in self._ids]
        if any(n.parent is not parent for n in moving):
            return True
        rest = [c for c in parent.children if c not in moving]
        at = next((i for i, c in enumerate(rest) if c.id == self._anchor_id), len(rest))
        return rest[:at] + moving + rest[at:] != parent.children

    def redo(self) -> None:
        self._origins = []
        parent = self._model._node_or_root(self._parent_id)
        for task_id in self._ids:
            node = self._model._node(task_id)
            self._origins.append((node.parent.id or None, node.row()))  # type: ignore[union-attr]
            rest = [c for c in parent.children if c is not node]
            at = len(rest)
            if self._anchor_id is not None:
                at = next(i for i, c in enumerate(rest) if c.id == self._anchor_id)
            self._model._move_node(task_id, self._parent_id, at)
        self._model._edit_done()

    def undo(self) -> None:
        for task_id, (parent_id, row) in reversed(list(zip(self._ids, self._origins, strict=True))):
            self._model._move_node(task_id, parent_id, row)
        self._model._edit_done()
