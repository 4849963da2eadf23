"""The detail pane's pattern section: the kind, then the fields of that kind.

The editor holds no plan state of its own: `show(pattern, context)` fills it,
and every change the person makes is emitted as a whole new Pattern value
(`edited(pattern_or_None, field)`), which the pane turns into one undoable
model edit. `field` names what changed, so typing in one box undoes as one step.
Problems are not checked here: the model validates the plan and the banner
and the row's tooltip say what is wrong, as for every other plan problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agents.plan.patterns import (
    MAP_HARD_CAP,
    MAX_DEPTH,
    MAX_ROUNDS,
    MAX_SUBTASKS,
    MAX_VOTERS,
    Debate,
    Delegate,
    Map,
    Pattern,
    PatternKind,
    Review,
    Route,
    Vote,
)
from ui import theme

KINDS = (
    (PatternKind.SINGLE, "One agent"),
    (PatternKind.REVIEW, "Review loop"),
    (PatternKind.VOTE, "Vote"),
    (PatternKind.DEBATE, "Debate"),
    (PatternKind.MAP, "Map over a list"),
    (PatternKind.ROUTE, "Route"),
    (PatternKind.DELEGATE, "Delegate to sub-tasks"),
)
HINTS = {
    PatternKind.SINGLE: "The task's agent answers once.",
    PatternKind.REVIEW: "The agent drafts; the reviewer approves or asks for a revision.",
    PatternKind.VOTE: "Independent answers, then a judge or a majority. Give voters or samples.",
    PatternKind.DEBATE: "Each round every debater sees the others' arguments; the judge decides.",
    PatternKind.MAP: "One agent per item of a dependency's list, in parallel.",
    PatternKind.ROUTE: "The agent picks one label; that task runs, the others are skipped.",
    PatternKind.DELEGATE: "The agent plans sub-tasks at run time, they run, and it integrates their results.",
}
MAJORITY = "(majority)"


@dataclass(frozen=True)
class PatternContext:
    """What the fields offer for one task."""

    task_id: str
    agent: str
    roles: tuple[str, ...]
    """Roles a reviewer, voter, debater or judge may be."""
    dependencies: tuple[tuple[str, str], ...]
    """(id, title) of the task's dependencies: what a map may go over."""
    tasks: tuple[tuple[str, str], ...]
    """(id, title) of every other task: where a route may lead."""
    dependents: tuple[str, ...] = ()
    """Tasks that depend on this one: a new route's first labels."""


def default_pattern(kind: PatternKind, context: PatternContext) -> Pattern | None:
    """A sensible start when the person switches a task to `kind`."""
    others = [r for r in context.roles if r != context.agent] or list(context.roles) or [context.agent]
    checker = "reviewer" if "reviewer" in others else others[0]
    match kind:
        case PatternKind.REVIEW:
            return Review(reviewer=checker)
        case PatternKind.VOTE:
            return Vote(samples=3)
        case PatternKind.DEBATE:
            debaters = tuple(r for r in context.roles if r != checker)[:2] or (context.agent, context.agent)
            return Debate(debaters=debaters, judge=checker)
        case PatternKind.MAP:
            return Map(over=context.dependencies[0][0] if context.dependencies else "")
        case PatternKind.ROUTE:
            return Route(routes=tuple((t, t) for t in context.dependents))
        case PatternKind.DELEGATE:
            return Delegate()
    return None


def names(text: str) -> tuple[str, ...]:
    """ "researcher, analyst@gpt-4o" -> ("researcher", "analyst@gpt-4o")."""
    return tuple(n.strip() for n in text.replace(";", ",").split(",") if n.strip())


class PatternEditor(QWidget):
    """Kind and options of one task's pattern."""

    edited = Signal(object, str)
    """(the new Pattern or None, the field that changed: "kind", "reviewer", ...)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pattern: Pattern | None = None
        self._context = PatternContext("", "", (), (), ())
        self._loading = False
        self.kind_combo = QComboBox()
        self.kind_combo.setAccessibleName("Pattern")
        for kind, text in KINDS:
            self.kind_combo.addItem(text, kind)
            self.kind_combo.setItemData(self.kind_combo.count() - 1, HINTS[kind], Qt.ItemDataRole.ToolTipRole)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        theme.dim(self.hint)
        self.pages = QStackedWidget()
        self._pages: dict[PatternKind, QWidget] = {}
        for kind, build in ((PatternKind.SINGLE, QWidget), (PatternKind.REVIEW, self._review_page),
                            (PatternKind.VOTE, self._vote_page), (PatternKind.DEBATE, self._debate_page),
                            (PatternKind.MAP, self._map_page), (PatternKind.ROUTE, self._route_page),
                            (PatternKind.DELEGATE, self._delegate_page)):
            self._pages[kind] = build()
            self.pages.addWidget(self._pages[kind])
        self.kind_combo.activated.connect(self._on_kind_chosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.kind_combo)
        layout.addWidget(self.hint)
        layout.addWidget(self.pages)

    # --- pages -----------------------------------------------------------------------------

    def _form(self) -> tuple[QWidget, QFormLayout]:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        return page, form

    def _role_combo(self, name: str, with_majority: bool = False) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        combo.setProperty("majority", with_majority)
        return combo

    def _spin(self, name: str, low: int, high: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setAccessibleName(name)
        spin.setKeyboardTracking(False)  # one edit per value, not per digit typed
        return spin

    def _review_page(self) -> QWidget:
        page, form = self._form()
        self.reviewer_combo = self._role_combo("Reviewer")
        self.max_rounds_spin = self._spin("Most rounds", 1, MAX_ROUNDS)
        form.addRow("Reviewer", self.reviewer_combo)
        form.addRow("Most rounds", self.max_rounds_spin)
        self.reviewer_combo.activated.connect(lambda: self._set("reviewer", self.reviewer_combo.currentData()))
        self.max_rounds_spin.valueChanged.connect(lambda v: self._set("max_rounds", v))
        return page

    def _vote_page(self) -> QWidget:
        page, form = self._form()
        self.voters_edit = QLineEdit(placeholderText="e.g. researcher, analyst@gpt-4o")
        self.voters_edit.setAccessibleName("Voters")
        self.voters_edit.setToolTip("Roles that answer, comma-separated; role@model picks a model")
        self.samples_spin = self._spin("Samples", 0, MAX_VOTERS)
        self.samples_spin.setSpecialValueText("none (use voters)")
        self.samples_spin.setToolTip("Or: this many answers from the task's own agent")
        self.vote_judge_combo = self._role_combo("Judge", with_majority=True)
        form.addRow("Voters", self.voters_edit)
        form.addRow("Or samples", self.samples_spin)
        form.addRow("Judge", self.vote_judge_combo)
        self.voters_edit.editingFinished.connect(lambda: self._set("voters", names(self.voters_edit.text())))
        self.samples_spin.valueChanged.connect(lambda v: self._set("samples", v))
        self.vote_judge_combo.activated.connect(lambda: self._set("judge", self.vote_judge_combo.currentData()))
        return page

    def _debate_page(self) -> QWidget:
        page, form = self._form()
        self.debaters_edit = QLineEdit(placeholderText="e.g. researcher, analyst")
        self.debaters_edit.setAccessibleName("Debaters")
        self.debaters_edit.setToolTip("At least two roles, comma-separated")
        self.rounds_spin = self._spin("Rounds", 1, MAX_ROUNDS)
        self.debate_judge_combo = self._role_combo("Judge")
        form.addRow("Debaters", self.debaters_edit)
        form.addRow("Rounds", self.rounds_spin)
        form.addRow("Judge", self.debate_judge_combo)
        self.debaters_edit.editingFinished.connect(lambda: self._set("debaters", names(self.debaters_edit.text())))
        self.rounds_spin.valueChanged.connect(lambda v: self._set("rounds", v))
        self.debate_judge_combo.activated.connect(
            lambda: self._set("judge", self.debate_judge_combo.currentData()))
        return page

    def _map_page(self) -> QWidget:
        page, form = self._form()
        self.over_combo = QComboBox()
        self.over_combo.setAccessibleName("Over")
        self.over_combo.setToolTip("The dependency whose output is the list (JSON array or Markdown list)")
        self.max_items_spin = self._spin("Most items", 1, MAP_HARD_CAP)
        form.addRow("Over", self.over_combo)
        form.addRow("Most items", self.max_items_spin)
        self.over_combo.activated.connect(lambda: self._set("over", self.over_combo.currentData()))
        self.max_items_spin.valueChanged.connect(lambda v: self._set("max_items", v))
        return page

    def _delegate_page(self) -> QWidget:
        page, form = self._form()
        self.max_subtasks_spin = self._spin("Most sub-tasks", 1, MAX_SUBTASKS)
        self.max_depth_spin = self._spin("Most levels", 1, MAX_DEPTH)
        self.max_depth_spin.setToolTip("1: sub-tasks do not delegate again")
        form.addRow("Most sub-tasks", self.max_subtasks_spin)
        form.addRow("Most levels", self.max_depth_spin)
        self.max_subtasks_spin.valueChanged.connect(lambda v: self._set("max_subtasks", v))
        self.max_depth_spin.valueChanged.connect(lambda v: self._set("max_depth", v))
        return page

    def _route_page(self) -> QWidget:
        page = QWidget()
        self.routes_table = QTableWidget(0, 2)
        self.routes_table.setAccessibleName("Routes")
        self.routes_table.setHorizontalHeaderLabels(["Label", "Runs task"])
        self.routes_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.routes_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.routes_table.verticalHeader().hide()
        self.routes_table.setMinimumHeight(80)
        self.routes_table.itemChanged.connect(lambda _item: self._routes_changed())
        self.add_route_button = QPushButton("Add route")
        self.remove_route_button = QPushButton("Remove")
        self.add_route_button.clicked.connect(self._add_route)
        self.remove_route_button.clicked.connect(self._remove_route)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_route_button)
        buttons.addWidget(self.remove_route_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.routes_table, 1)
        layout.addLayout(buttons)
        return page

    # --- filling ---------------------------------------------------------------------------

    @property
    def pattern(self) -> Pattern | None:
        return self._pattern

    def show_pattern(self, pattern: Pattern | None, context: PatternContext) -> None:
        """Show a task's pattern; emits nothing."""
        self._loading = True
        try:
            self._pattern, self._context = pattern, context
            kind = pattern.kind if pattern is not None else PatternKind.SINGLE
            at = self.kind_combo.findData(kind)
            self.kind_combo.setCurrentIndex(at)
            self.hint.setText(HINTS[kind])
            self.pages.setCurrentWidget(self._pages[kind])
            self._fill(pattern)
        finally:
            self._loading = False

    def _fill(self, pattern: Pattern | None) -> None:
        match pattern:
            case Review(reviewer, max_rounds):
                self._fill_roles(self.reviewer_combo, reviewer)
                self.max_rounds_spin.setValue(max_rounds)
            case Vote(voters, samples, judge):
                _set_text(self.voters_edit, ", ".join(voters))
                self.samples_spin.setValue(samples)
                self._fill_roles(self.vote_judge_combo, judge)
            case Debate(debaters, judge, rounds):
                _set_text(self.debaters_edit, ", ".join(debaters))
                self.rounds_spin.setValue(rounds)
                self._fill_roles(self.debate_judge_combo, judge)
            case Map(over, max_items):
                self._fill_tasks(self.over_combo, self._context.dependencies, over)
                self.max_items_spin.setValue(max_items)
            case Delegate(max_subtasks, max_depth):
                self.max_subtasks_spin.setValue(max_subtasks)
                self.max_depth_spin.setValue(max_depth)
            case Route(routes):
                self._fill_routes(routes)

    def _fill_roles(self, combo: QComboBox, current: str) -> None:
        combo.clear()
        if combo.property("majority"):
            combo.addItem(MAJORITY, "")
        for role in self._context.roles:
            combo.addItem(role, role)
        if combo.findData(current) < 0:
            combo.addItem(f"{current} (unknown role)" if current else "(none)", current)
        combo.setCurrentIndex(combo.findData(current))

    def _fill_tasks(self, combo: QComboBox, tasks: tuple[tuple[str, str], ...], current: str) -> None:
        combo.clear()
        for task_id, title in tasks:
            combo.addItem(f"{title}  ({task_id})", task_id)
        if combo.findData(current) < 0:
            combo.addItem(f"{current} (not a dependency)" if current else "(choose a dependency)", current)
        combo.setCurrentIndex(combo.findData(current))

    def _fill_routes(self, routes: tuple[tuple[str, str], ...]) -> None:
        table = self.routes_table
        table.blockSignals(True)
        try:
            table.setRowCount(len(routes))
            for row, (name, target) in enumerate(routes):
                table.setItem(row, 0, QTableWidgetItem(name))
                combo = QComboBox()
                combo.setAccessibleName(f"Route {name!r} runs task")
                self._fill_tasks(combo, self._context.tasks, target)
                combo.activated.connect(lambda _i: self._routes_changed())
                table.setCellWidget(row, 1, combo)
        finally:
            table.blockSignals(False)

    # --- edits -----------------------------------------------------------------------------

    def _on_kind_chosen(self, _row: int) -> None:
        kind = PatternKind(self.kind_combo.currentData())
        current = self._pattern.kind if self._pattern is not None else PatternKind.SINGLE
        if kind != current:
            self.edited.emit(default_pattern(kind, self._context), "kind")

    def _set(self, field: str, value: object) -> None:
        if self._loading or self._pattern is None:
            return
        pattern = replace(self._pattern, **{field: value})  # type: ignore[arg-type]
        if pattern != self._pattern:
            self._pattern = pattern
            self.edited.emit(pattern, field)

    def _routes(self) -> tuple[tuple[str, str], ...]:
        table = self.routes_table
        out = []
        for row in range(table.rowCount()):
            item = table.item(row, 0)
            combo = table.cellWidget(row, 1)
            target = combo.currentData() if isinstance(combo, QComboBox) else ""
            out.append(((item.text().strip() if item is not None else ""), target or ""))
        return tuple(out)

    def _routes_changed(self) -> None:
        self._set("routes", self._routes())

    def _add_route(self) -> None:
        used = {target for _name, target in self._routes()}
        free = [t for t, _title in self._context.tasks if t not in used]
        target = free[0] if free else ""
        self._set("routes", (*self._routes(), (target or f"route {len(used) + 1}", target)))
        self._fill(self._pattern)

    def _remove_route(self) -> None:
        row = self.routes_table.currentRow()
        routes = list(self._routes())
        if routes:
            del routes[row if 0 <= row < len(routes) else -1]
            self._set("routes", tuple(routes))
            self._fill(self._pattern)


def _set_text(edit: QLineEdit, text: str) -> None:
    """Show `text`, unless the person is typing there (their text is sent when they finish)."""
    if not (edit.hasFocus() and edit.isModified()) and edit.text() != text:
        edit.setText(text)
        edit.setModified(False)
