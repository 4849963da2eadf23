"""The detail pane: edits the selected task through the model's undo commands."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from agents.plan import Plan, Task
from agents.plan.patterns import Pattern
from ui.plan_tree.model import PlanTreeModel
from ui.plan_tree.pattern_editor import PatternContext, PatternEditor
from ui.plan_tree.runtime import PROBLEM_COLOUR

IdRole = Qt.ItemDataRole.UserRole
SAVE_DELAY_MS = 800
"""Instructions are saved this long after the last keystroke (and on focus-out)."""


class TaskDetailPane(QWidget):
    """Title, agent, instructions, dependencies and approval of one task."""

    def __init__(self, model: PlanTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._task_id: str | None = None
        self._loading = False
        self._typing_session = 0  # instructions typed in one visit undo as one step
        self._instructions_dirty = False
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._build()
        self._save_timer.timeout.connect(self.commit_instructions)
        self.title_edit.editingFinished.connect(self._on_title_changed)
        self.agent_combo.currentIndexChanged.connect(self._on_agent_changed)
        self.instructions_edit.textChanged.connect(self._on_instructions_changed)
        self.instructions_edit.installEventFilter(self)
        self.depends_list.itemChanged.connect(self._on_depends_changed)
        self.approval_check.toggled.connect(self._on_approval_changed)
        self.pattern_editor.edited.connect(self._on_pattern_edited)
        model.planChanged.connect(self._on_plan_changed)
        model.modelReset.connect(lambda: self.set_task(None))
        model.editableChanged.connect(self._on_editable_changed)
        self.set_task(None)

    def _build(self) -> None:
        self.id_label = QLabel()
        self.id_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title_edit = QLineEdit(placeholderText="Short name shown in the tree")
        self.agent_combo = QComboBox()
        for role in self._model.roster.workers() if self._model.roster else []:
            self.agent_combo.addItem(role.name, role.name)
            self.agent_combo.setItemData(
                self.agent_combo.count() - 1, role.description, Qt.ItemDataRole.ToolTipRole
            )
        self._known_roles = self.agent_combo.count()
        self.instructions_edit = QPlainTextEdit(
            placeholderText="What the agent should do, in plain language", tabChangesFocus=True
        )
        self.depends_list = QListWidget()
        self.depends_list.setToolTip("Tasks that must finish before this one starts")
        self.approval_check = QCheckBox("Wait for my approval before running")
        self.pattern_editor = PatternEditor()
        for grow in (self.instructions_edit, self.depends_list):
            grow.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            grow.setMinimumHeight(60)
        # two columns, so the pane fits under the tree and the tree keeps its width
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Id", self.id_label)
        form.addRow("&Title", self.title_edit)
        form.addRow("A&gent", self.agent_combo)
        form.addRow("&Instructions", self.instructions_edit)
        form.addRow("", self.approval_check)
        depends_label = QLabel("&Depends on")
        depends_label.setBuddy(self.depends_list)
        right = QVBoxLayout()
        right.addWidget(depends_label)
        right.addWidget(self.depends_list, 1)
        pattern_label = QLabel("&Pattern (how agents work on it)")
        pattern_label.setBuddy(self.pattern_editor.kind_combo)
        right.addWidget(pattern_label)
        right.addWidget(self.pattern_editor)
        columns = QHBoxLayout(self)
        columns.setContentsMargins(2, 6, 2, 2)
        columns.setSpacing(12)
        columns.addLayout(form, 3)
        columns.addLayout(right, 2)
        self._fields = (
            self.title_edit,
            self.agent_combo,
            self.instructions_edit,
            self.depends_list,
            self.approval_check,
            self.pattern_editor,
        )

    # --- public -------------------------------------------------------------------------

    @property
    def task_id(self) -> str | None:
        return self._task_id

    def set_task(self, task_id: str | None) -> None:
        """Show `task_id` (None: nothing selected), saving pending instructions first."""
        self.commit_instructions()
        self._task_id = task_id if task_id and self._model.has_task(task_id) else None
        self._typing_session += 1
        self._reload()

    def commit_instructions(self) -> None:
        """Save instructions typed but not saved yet (one undo step per visit)."""
        self._save_timer.stop()
        if not self._instructions_dirty or self._task_id is None:
            return
        self._instructions_dirty = False
        key = f"{self._task_id}#{self._typing_session}"
        self._model.set_instructions(self._task_id, self.instructions_edit.toPlainText(), key)

    # --- handlers -----------------------------------------------------------------------

    def _on_title_changed(self) -> None:
        if self._loading or self._task_id is None:
            return
        if not self._model.rename(self._task_id, self.title_edit.text()):
            self._reload()  # refused (empty title or locked): show the real one
        self.title_edit.setModified(False)

    def _on_agent_changed(self, _row: int) -> None:
        if self._loading or self._task_id is None:
            return
        agent = self.agent_combo.currentData()
        if agent:
            self._model.reassign(self._task_id, agent)

    def _on_instructions_changed(self) -> None:
        if self._loading or self._task_id is None:
            return
        self._instructions_dirty = True
        self._save_timer.start()

    def _on_depends_changed(self, item: QListWidgetItem) -> None:
        if self._loading or self._task_id is None:
            return
        current = self._model.task(self._task_id).depends_on
        checked = [
            i.data(IdRole)
            for i in map(self.depends_list.item, range(self.depends_list.count()))
            if i.checkState() == Qt.CheckState.Checked
        ]
        # keep the existing order, new ones at the end
        deps = [d for d in current if d in checked] + [d for d in checked if d not in current]
        self._model.set_depends_on(self._task_id, deps)

    def _on_approval_changed(self, checked: bool) -> None:
        if not self._loading and self._task_id is not None:
            self._model.set_requires_approval(self._task_id, checked)

    def _on_pattern_edited(self, pattern: Pattern | None, field: str) -> None:
        if self._loading or self._task_id is None:
            return
        # steps of one field (spin arrows) undo as one; a new kind is its own step
        key = None if field == "kind" else f"{self._task_id}#{self._typing_session}#pattern.{field}"
        if not self._model.set_pattern(self._task_id, pattern, key):
            self._reload()  # refused (locked): show the real one

    def _on_plan_changed(self, _plan: Plan) -> None:
        if self._task_id is not None and not self._model.has_task(self._task_id):
            self._task_id = None  # deleted (or its addition undone)
        self._reload()

    def _on_editable_changed(self, _editable: bool) -> None:
        self._reload()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.instructions_edit and event.type() == QEvent.Type.FocusOut:
            self.commit_instructions()
        elif watched is self.instructions_edit and event.type() == QEvent.Type.FocusIn:
            self._typing_session += 1
        return super().eventFilter(watched, event)

    # --- filling the fields -------------------------------------------------------------

    def _reload(self) -> None:
        self._loading = True
        try:
            if self._task_id is None:
                self._clear()
            else:
                self._fill()
        finally:
            self._loading = False

    def _clear(self) -> None:
        self.id_label.setText("Select a task to edit it.")
        self.title_edit.clear()
        self.agent_combo.setCurrentIndex(-1)
        self.instructions_edit.clear()
        self._instructions_dirty = False
        self.depends_list.clear()
        self.approval_check.setChecked(False)
        self.pattern_editor.show_pattern(None, PatternContext("", "", (), (), ()))  # not the last task's
        for field in self._fields:
            field.setEnabled(False)

    def _fill(self) -> None:
        assert self._task_id is not None
        task = self._model.task(self._task_id)
        editable = self._model.editable
        kind = "group of sub-tasks" if task.is_group else "task"
        self.id_label.setText(f"{task.id}  ·  {kind}")
        if not (self.title_edit.isModified() and self.title_edit.hasFocus()):
            if self.title_edit.text() != task.title:
                self.title_edit.setText(task.title)
        self._fill_agent(task.agent, enabled=editable and not task.is_group)
        if (
            not self._instructions_dirty
            and self.instructions_edit.toPlainText() != task.instructions
        ):
            self.instructions_edit.setPlainText(task.instructions)
        self._fill_depends(task.depends_on)
        self.approval_check.setChecked(task.requires_approval)
        self.approval_check.setEnabled(editable and not task.is_group)
        self.approval_check.setToolTip(
            "A group runs its sub-tasks; ask for approval on those." if task.is_group else ""
        )
        self.title_edit.setEnabled(True)
        self.title_edit.setReadOnly(not editable)
        self.instructions_edit.setEnabled(True)
        self.instructions_edit.setReadOnly(not editable)
        self.depends_list.setEnabled(editable)
        self.pattern_editor.show_pattern(task.pattern, self._pattern_context(task))
        self.pattern_editor.setEnabled(editable and not task.is_group)
        self.pattern_editor.setToolTip(
            "A group runs its sub-tasks; give the pattern to a sub-task." if task.is_group else ""
        )

    def _pattern_context(self, task: Task) -> PatternContext:
        titles = self._model.titles()
        return PatternContext(
            task_id=task.id,
            agent=task.agent,
            roles=tuple(self._model.worker_roles),
            dependencies=tuple((d, titles[d]) for d in task.depends_on if d in titles),
            tasks=tuple((t, title) for t, title in titles.items() if t != task.id),
            dependents=tuple(t for t in self._model.task_ids() if task.id in self._model.task(t).depends_on),
        )

    def _fill_agent(self, agent: str, *, enabled: bool) -> None:
        while self.agent_combo.count() > self._known_roles:  # a previous unknown role
            self.agent_combo.removeItem(self.agent_combo.count() - 1)
        at = self.agent_combo.findData(agent)
        if at < 0:
            self.agent_combo.addItem(f"{agent} (unknown role)", agent)
            at = self.agent_combo.count() - 1
        self.agent_combo.setCurrentIndex(at)
        self.agent_combo.setEnabled(enabled)

    def _fill_depends(self, depends_on: tuple[str, ...]) -> None:
        """One checkable row per possible dependency (not this task or its sub-tasks)."""
        assert self._task_id is not None
        excluded = self._model.descendant_ids(self._task_id) | {self._task_id}
        rows = [
            (tid, "    " * self._model.depth(tid) + f"{tid}  {self._model.task(tid).title}", True)
            for tid in self._model.task_ids()
            if tid not in excluded
        ]
        rows += [
            (d, f"{d}  (missing task)", False) for d in depends_on if not self._model.has_task(d)
        ]
        same = [r[0] for r in rows] == [
            self.depends_list.item(i).data(IdRole) for i in range(self.depends_list.count())
        ]
        if not same:  # rebuild only when the set of tasks changed, not on every tick
            self.depends_list.clear()
            for tid, _label, _exists in rows:
                item = QListWidgetItem()
                item.setData(IdRole, tid)
                self.depends_list.addItem(item)
        for i, (tid, label, exists) in enumerate(rows):
            item = self.depends_list.item(i)
            item.setText(label)
            item.setCheckState(
                Qt.CheckState.Checked if tid in depends_on else Qt.CheckState.Unchecked
            )
            item.setForeground(QColor(PROBLEM_COLOUR) if not exists else self.palette().text())
            item.setToolTip("" if exists else "No task has this id; uncheck to remove it.")
