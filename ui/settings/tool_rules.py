"""Settings › Tools, top half: who may run each tool, for a chosen project and role.

Two combo boxes pick the scope (all projects or one; every role or one).
Each tool's Rule box shows the rule set in that scope (ask / allow / deny),
or, in italics, what it inherits from a wider scope or the default, with
where that comes from. Choosing the "inherit" line removes the rule. Edits
are kept per scope in `policies()`, so switching scopes loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agents.tools.base import Permission, Risk, Tool
from app.tools.settings import ToolPolicies, scope_label
from ui import theme
from ui.settings.widgets import hint_label, row

PERMISSIONS = (Permission.ASK, Permission.ALLOW, Permission.DENY)
COLUMNS = ("Tool", "Risk", "Rule", "What it does")
RULE_COLUMN = 2
NOT_LISTED = "An MCP tool named by a rule; List tools on its server shows what it does."


@dataclass(frozen=True)
class ToolRow:
    """One line of the table."""

    name: str
    risk: str
    description: str
    default: Permission
    """What applies when no scope has a rule."""

    @classmethod
    def of(cls, tool: Tool) -> ToolRow:
        default = Permission.ALLOW if tool.risk is Risk.READ and not tool.is_mcp else Permission.ASK
        return cls(tool.name, str(tool.risk), tool.description, default)

    @classmethod
    def unlisted(cls, name: str) -> ToolRow:
        return cls(name, "?", NOT_LISTED, Permission.ASK)


class ToolRules(QWidget):
    """The tools table with one Rule box per tool, for the scope the two combo boxes pick."""

    def __init__(self, policies: ToolPolicies, tools: Iterable[Tool], projects: Iterable[str],
                 roles: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._policies = policies
        self._rows = [ToolRow.of(t) for t in tools]
        self._rows += [ToolRow.unlisted(n) for n in sorted(policies.tool_names() - self.tool_names())]
        self.boxes: dict[str, QComboBox] = {}
        self.project_box = _scope_box("All projects", "Rules for every project, or for one", projects)
        self.role_box = _scope_box("Every role", "Rules for every agent role, or for one", [])
        self.set_roles(roles)
        self.scope_hint = hint_label()
        self.clear_button = QPushButton("&Clear rules here")
        self.clear_button.setToolTip("Remove every rule of this scope: each tool inherits again")
        self.table = QTableWidget(0, len(COLUMNS))
        self._build()
        self.project_box.currentIndexChanged.connect(self._on_scope_changed)
        self.role_box.currentIndexChanged.connect(self._on_scope_changed)
        self.clear_button.clicked.connect(self.clear_scope)
        self._fill()

    def _build(self) -> None:
        table = self.table
        table.setHorizontalHeaderLabels(list(COLUMNS))
        table.setAccessibleName("Tools")
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(RULE_COLUMN, QHeaderView.ResizeMode.Interactive)  # sized to its boxes
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(row(_buddy("&Project:", self.project_box), self.project_box,
                             _buddy("&Role:", self.role_box), self.role_box, self.clear_button, stretch=None))
        layout.addWidget(self.scope_hint)
        layout.addWidget(table, 1)

    # --- what it holds ----------------------------------------------------------------

    def policies(self) -> ToolPolicies:
        """Every rule as edited, in every scope."""
        return self._policies

    def tool_names(self) -> set[str]:
        return {r.name for r in self._rows}

    def scope(self) -> tuple[str | None, str | None]:
        """(project, role); None for all projects / every role."""
        return self.project_box.currentData(), self.role_box.currentData()

    def set_scope(self, project: str | None, role: str | None) -> None:
        for box, value in ((self.project_box, project), (self.role_box, role)):
            index = box.findData(value)
            if index < 0:
                box.addItem(str(value), value)
                index = box.count() - 1
            box.setCurrentIndex(index)

    def set_roles(self, roles: Iterable[str]) -> None:
        """Offer these roles, and those some rule is for; the chosen one stays chosen."""
        chosen = self.role_box.currentData()
        names = list(dict.fromkeys([*roles, *sorted(self._policies.role_names())]))
        was = self.role_box.blockSignals(True)
        while self.role_box.count() > 1:
            self.role_box.removeItem(1)
        for name in names:
            self.role_box.addItem(name, name)
        self.role_box.setCurrentIndex(max(self.role_box.findData(chosen), 0))
        self.role_box.blockSignals(was)
        if self.role_box.currentData() != chosen and self.boxes:
            self._show_scope()

    def add_tools(self, tools: Iterable[Tool]) -> None:
        """Show these tools too (a server's, once listed); a same-named row is replaced."""
        fresh = {t.name: ToolRow.of(t) for t in tools}
        self._rows = [r for r in self._rows if r.name not in fresh] + list(fresh.values())
        self._fill()

    def clear_scope(self) -> None:
        project, role = self.scope()
        for name in self.tool_names():
            self._policies = self._policies.set(name, None, project=project, role=role)
        self._show_scope()

    # --- the table ---------------------------------------------------------------------

    def _fill(self) -> None:
        """One row per tool, with its Rule box (rebuilt only when the tools change)."""
        table = self.table
        table.setRowCount(len(self._rows))
        self.boxes = {}
        for i, tool in enumerate(self._rows):
            cells = (tool.name, tool.risk, "", tool.description)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tool.description if column != 1 else "")
                if column == len(COLUMNS) - 1:
                    item.setForeground(theme.dim_text_colour())
                table.setItem(i, column, item)
            box = QComboBox()
            box.addItem("", None)  # the inherited rule: its text depends on the scope
            for p in PERMISSIONS:
                box.addItem(p.value, p.value)
            box.setAccessibleName(f"Rule for {tool.name}")
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.currentIndexChanged.connect(lambda _i, name=tool.name, b=box: self._on_rule_changed(name, b))
            table.setCellWidget(i, RULE_COLUMN, box)
            self.boxes[tool.name] = box
        self._show_scope()

    def _show_scope(self) -> None:
        """Every Rule box as the chosen scope has it: set here, or inherited (and from where)."""
        project, role = self.scope()
        here = scope_label(project, role)
        self.scope_hint.setText(f"Rules for {here}. A tool with no rule here inherits one "
                                "(in italics, with where it comes from).")
        for tool in self._rows:
            box = self.boxes[tool.name]
            permission, source = self._policies.inherited(tool.name, project, role) or (tool.default, "the default")
            rule = self._policies.scope(project).rule(tool.name, role)
            was = box.blockSignals(True)
            box.setItemText(0, f"{permission.value} · inherited from {source}")
            box.setCurrentIndex(0 if rule is None else PERMISSIONS.index(rule) + 1)
            box.blockSignals(was)
            box.setToolTip(f"Ask you first, allow or deny {tool.name} for {here}; "
                           "the first line removes the rule here")
            _show_inherited(box)
        widest = max((b.sizeHint().width() for b in self.boxes.values()), default=0)
        self.table.setColumnWidth(RULE_COLUMN, max(widest, self.table.columnWidth(RULE_COLUMN)))

    def _on_rule_changed(self, tool: str, box: QComboBox) -> None:
        project, role = self.scope()
        chosen = box.currentData()
        self._policies = self._policies.set(tool, Permission(chosen) if chosen else None,
                                            project=project, role=role)
        _show_inherited(box)

    def _on_scope_changed(self) -> None:
        self._show_scope()


def _scope_box(everything: str, tip: str, names: Iterable[str]) -> QComboBox:
    box = QComboBox()
    box.addItem(everything, None)
    for name in names:
        box.addItem(name, name)
    box.setToolTip(tip)
    box.setMinimumContentsLength(14)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    return box


def _buddy(text: str, box: QComboBox) -> QLabel:
    label = QLabel(text)
    label.setBuddy(box)
    return label


def _show_inherited(box: QComboBox) -> None:
    """An inherited rule in dim italics, a rule set here in the normal font."""
    inherited = box.currentData() is None
    font = box.font()
    font.setItalic(inherited)
    box.setFont(font)
    box.setStyleSheet(f"QComboBox {{ color: {theme.css(theme.dim_text_colour())}; }}" if inherited else "")
