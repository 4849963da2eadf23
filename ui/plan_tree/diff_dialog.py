"""Review a revised plan before it replaces the current one.

    dialog = PlanDiffDialog(current, result.plan, window, comment=text, kept=keep)
    if dialog.exec() == QDialog.DialogCode.Accepted:
        replace_plan(plan_model, dialog.new_plan)   # one undoable step

The tree mirrors the new plan; removed tasks appear struck through where
they used to be. A coloured marker says what happened to each task
(+ added, − removed, ~ changed); a changed task lists each changed field,
old → new, in rows under it (the whole texts in their tooltips).

`replace_plan` swaps the model's tasks in one undo command, so the
runtime columns of the tasks that stayed survive, the swap can be undone,
and planChanged fires (the session stores it as an "edited" version).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap, QUndoCommand
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agents.plan import Plan, Task
from agents.plan.diff import FieldChange, PlanDiff, diff_plans, format_value
from ui.plan_tree.nodes import TaskNode, root_from_plan
from ui.theme import css, dim_text_colour, role_colour

if TYPE_CHECKING:
    from ui.plan_tree.model import PlanTreeModel

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"
MARKS = {ADDED: "+", REMOVED: "−", CHANGED: "~", UNCHANGED: ""}
COLOURS = {ADDED: "#43a047", REMOVED: "#e53935", CHANGED: "#fb8c00"}
KIND_ROLE = Qt.ItemDataRole.UserRole + 1
"""data() role of column 0: ADDED / REMOVED / CHANGED / UNCHANGED, or "field" for a detail row."""
ID_ROLE = Qt.ItemDataRole.UserRole + 2
"""data() role of column 0: the task id (the field name for a detail row)."""

TASK, ID, AGENT, CHANGE = range(4)
_HEADERS = ("Task", "Id", "Agent", "Change")


class PlanDiffDialog(QDialog):
    """Shows `diff_plans(old, new)`; accepted means "use the new plan"."""

    def __init__(
        self,
        old: Plan,
        new: Plan,
        parent: QWidget | None = None,
        *,
        comment: str = "",
        kept: Iterable[str] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review the revised plan")
        self.old_plan, self.new_plan = old, new
        self.diff: PlanDiff = diff_plans(old, new)
        self._kept = set(kept)
        self.tree = QTreeWidget()
        self.show_unchanged = QCheckBox("Show unchanged tasks")
        self.buttons = QDialogButtonBox()
        self.accept_button = self.buttons.addButton(
            "Use the new plan", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.keep_button = self.buttons.addButton(
            "Keep current plan", QDialogButtonBox.ButtonRole.RejectRole
        )
        self._build(comment)
        self._fill()
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.show_unchanged.toggled.connect(self._on_show_unchanged_changed)
        self.resize(860, 540)

    # --- reading ------------------------------------------------------------------

    def items(self) -> list[QTreeWidgetItem]:
        """Every task row (not the field rows), depth first."""
        out: list[QTreeWidgetItem] = []

        def visit(item: QTreeWidgetItem) -> None:
            for child in _children(item):
                if child.data(TASK, KIND_ROLE) != "field":
                    out.append(child)
                visit(child)

        visit(self.tree.invisibleRootItem())
        return out

    def item_for(self, task_id: str) -> QTreeWidgetItem | None:
        return next((i for i in self.items() if i.data(TASK, ID_ROLE) == task_id), None)

    # --- building -----------------------------------------------------------------

    def _build(self, comment: str) -> None:
        title = QLabel("The orchestrator proposes a revised plan")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        title.setFont(font)
        self.counts = QLabel(self._counts_text())
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        column = QVBoxLayout(self)
        column.setSpacing(8)
        column.addWidget(title)
        if comment.strip():
            asked = QLabel(f"You asked: “{' '.join(comment.split())}”")
            asked.setWordWrap(True)
            asked.setStyleSheet(f"color: {css(dim_text_colour())};")
            column.addWidget(asked)
        column.addWidget(self.counts)
        self.tree.setHeaderLabels(list(_HEADERS))
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(TASK, QHeaderView.ResizeMode.Interactive)
        column.addWidget(self.tree, 1)
        row = QHBoxLayout()
        self.show_unchanged.setChecked(True)
        row.addWidget(self.show_unchanged)
        row.addStretch(1)
        row.addWidget(self.buttons)
        column.addLayout(row)
        self.accept_button.setDefault(True)
        # nothing to use when the model answered with the same plan
        self.accept_button.setEnabled(self.old_plan.to_dict() != self.new_plan.to_dict())

    def _counts_text(self) -> str:
        if self.diff.is_empty():
            return "No task was added, removed or changed."
        parts = [
            (len(self.diff.added), ADDED),
            (len(self.diff.removed), REMOVED),
            (len(self.diff.changed), CHANGED),
        ]
        shown = [
            f"<span style='color:{COLOURS[kind]}; font-weight:600'>{MARKS[kind]}</span> {n} {kind}"
            for n, kind in parts
            if n
        ]
        shown.append(f"{len(self.diff.unchanged)} unchanged")
        return " &nbsp;·&nbsp; ".join(shown)

    def _fill(self) -> None:
        items: dict[str, QTreeWidgetItem] = {}
        root = self.tree.invisibleRootItem()
        new_parents = self.new_plan.parents()
        for task in self.new_plan.iter_tasks():
            parent = items[p] if (p := new_parents[task.id]) else root
            items[task.id] = self._task_item(parent, task, self._kind(task.id))
        old_parents = self.old_plan.parents()
        for task_id in self.diff.removed:
            up = old_parents[task_id]
            parent = items.get(up, root) if up else root
            row = self._removed_row(parent, task_id, up, items)
            items[task_id] = self._task_item(parent, self.old_plan.task(task_id), REMOVED, row)
        self.tree.expandAll()
        for col in (TASK, ID, AGENT):
            self.tree.resizeColumnToContents(col)
        self.tree.setColumnWidth(TASK, min(max(self.tree.columnWidth(TASK) + 12, 220), 340))

    def _removed_row(
        self, parent: QTreeWidgetItem, task_id: str, up: str | None, items: dict[str, QTreeWidgetItem]
    ) -> int:
        """Right after the nearest earlier sibling it had that is still shown there."""
        siblings = [s.id for s in (self.old_plan.task(up).children if up else self.old_plan.tasks)]
        for before in reversed(siblings[: siblings.index(task_id)]):
            item = items.get(before)
            if item is not None and (item.parent() or self.tree.invisibleRootItem()) is parent:
                return parent.indexOfChild(item) + 1
        kinds = [child.data(TASK, KIND_ROLE) for child in _children(parent)]
        return sum(k == "field" for k in kinds)  # first, after the field rows

    def _kind(self, task_id: str) -> str:
        if task_id in self.diff.added:
            return ADDED
        return CHANGED if self.diff.change(task_id) is not None else UNCHANGED

    def _task_item(
        self, parent: QTreeWidgetItem, task: Task, kind: str, row: int = -1
    ) -> QTreeWidgetItem:
        item = QTreeWidgetItem()
        if row < 0:
            parent.addChild(item)
        else:
            parent.insertChild(row, item)
        item.setData(TASK, KIND_ROLE, kind)
        item.setData(TASK, ID_ROLE, task.id)
        item.setText(TASK, task.title)
        item.setIcon(TASK, marker_icon(kind))
        item.setText(ID, task.id)
        item.setText(AGENT, "group" if task.is_group else task.agent)
        item.setText(CHANGE, self._change_text(task.id, kind))
        item.setToolTip(TASK, _task_tip(task))
        dim = dim_text_colour()
        item.setForeground(ID, dim)
        item.setForeground(AGENT, dim if task.is_group else role_colour(task.agent))
        if kind in COLOURS:
            item.setForeground(CHANGE, QColor(COLOURS[kind]))
        if kind == REMOVED:
            for col in range(len(_HEADERS)):
                font = item.font(col)
                font.setStrikeOut(col in (TASK, ID, AGENT))
                item.setFont(col, font)
                item.setForeground(col, QColor(COLOURS[REMOVED]) if col == CHANGE else dim)
        elif kind == UNCHANGED:
            item.setForeground(TASK, dim)
            item.setForeground(CHANGE, dim)
        change = self.diff.change(task.id)
        if change is not None:
            for field in change.fields:
                self._field_item(item, field)
        return item

    def _change_text(self, task_id: str, kind: str) -> str:
        finished = task_id in self._kept
        if kind == CHANGED:
            change = self.diff.change(task_id)
            assert change is not None
            labels = [f.label for f in change.fields]
            text = "moved" if labels == ["moved"] else "changed: " + ", ".join(labels)
            return text + (" · finished" if finished else "")
        if kind == UNCHANGED:
            return "finished · kept as it was" if finished else ""
        return kind

    def _field_item(self, parent: QTreeWidgetItem, change: FieldChange) -> None:
        item = QTreeWidgetItem()
        parent.addChild(item)
        item.setData(TASK, KIND_ROLE, "field")
        item.setData(TASK, ID_ROLE, change.field)
        item.setText(TASK, f"{change.label}:  {change.describe(width=48)}")
        item.setFirstColumnSpanned(True)
        font = item.font(TASK)
        font.setItalic(True)
        item.setFont(TASK, font)
        item.setToolTip(
            TASK,
            f"Before:\n{format_value(change.field, change.old, 10_000)}\n\n"
            f"After:\n{format_value(change.field, change.new, 10_000)}",
        )

    # --- handlers -------------------------------------------------------------------

    def _on_show_unchanged_changed(self, shown: bool) -> None:
        """Hide unchanged tasks unless something under them changed (they give the structure)."""

        def visit(item: QTreeWidgetItem) -> bool:
            visible_child = False
            for child in _children(item):
                visible_child |= visit(child)
            kind = item.data(TASK, KIND_ROLE)
            visible = shown or kind != UNCHANGED or visible_child
            item.setHidden(not visible)
            return visible

        for item in _children(self.tree.invisibleRootItem()):
            visit(item)


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for i in range(item.childCount()) if (child := item.child(i)) is not None]


def _task_tip(task: Task) -> str:
    text = task.instructions.strip()
    return f"{task.id} · {task.title}" + (f"\n\n{text[:400]}" if text else "")


_icons: dict[str, QIcon] = {}


def marker_icon(kind: str) -> QIcon:
    """A small rounded square with +, − or ~ in the kind's colour (blank when unchanged)."""
    if kind not in _icons:
        size = 16
        pixmap = QPixmap(size * 2, size * 2)  # 2x, crisp on HiDPI
        pixmap.setDevicePixelRatio(2.0)
        pixmap.fill(Qt.GlobalColor.transparent)
        if kind in COLOURS:
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            colour = QColor(COLOURS[kind])
            painter.setPen(colour.darker(115))
            painter.setBrush(colour)
            box = QRectF(1.5, 1.5, size - 3, size - 3)
            painter.drawRoundedRect(box, 3, 3)
            font = QFont(painter.font())
            font.setBold(True)
            font.setPixelSize(13)
            painter.setFont(font)
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(box.adjusted(0, -1, 0, 0), Qt.AlignmentFlag.AlignCenter, MARKS[kind])
            painter.end()
        _icons[kind] = QIcon(pixmap)
    return _icons[kind]


# --- applying the new plan ------------------------------------------------------------


class ReplacePlanCommand(QUndoCommand):
    """Swap all of a PlanTreeModel's tasks (and its goal) for a plan's, as one undo step.

    Runtime columns are keyed by task id and left alone, so tasks that stay
    keep their status, tokens and cost.
    """

    def __init__(self, model: PlanTreeModel, plan: Plan, text: str = "Replan") -> None:
        super().__init__(text)
        self._model = model
        self._goal = plan.goal
        self._nodes: list[TaskNode] = list(root_from_plan(plan).children)

    def redo(self) -> None:
        self._swap()

    def undo(self) -> None:
        self._swap()

    def _swap(self) -> None:
        model = self._model
        current = list(model._root.children)
        for node in reversed(current):
            model._take_node(node.id)
        for row, node in enumerate(self._nodes):
            model._insert_node(None, row, node)
        model._goal, self._goal = self._goal, model._goal
        self._nodes = current
        model._edit_done()


def replace_plan(model: PlanTreeModel, plan: Plan, text: str = "Replan") -> bool:
    """Show `plan` in `model` as one undoable edit; False when the model is locked."""
    if not model.editable:
        return False
    model.undo_stack.push(ReplacePlanCommand(model, plan, text))
    return True
