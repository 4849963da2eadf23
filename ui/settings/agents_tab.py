"""Settings › Agents: the roster editor, roles on the left, the selected role on the right."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agents.errors import RosterError
from agents.plan.roster import ORCHESTRATOR, Roster
from app.roster_store import default_roster
from ui.settings.model_list import ModelList
from ui.settings.roles import NEW_ROLE_PROMPT, RoleDraft, ToolChecks, role_icon
from ui.settings.widgets import (
    Problem,
    editor,
    hint_label,
    left,
    model_box,
    model_problem,
    set_choices,
    spin_box,
    unique_name,
)


class AgentsTab(QWidget):
    """The roster editor: roles on the left, the selected role on the right."""

    def __init__(self, roster: Roster, model_refs: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.drafts: list[RoleDraft] = []
        self._loading = False
        self.roles = QListWidget()
        self.roles.setMinimumWidth(190)
        self.roles.setSpacing(2)
        self.add_button = QPushButton("Add")
        self.duplicate_button = QPushButton("Duplicate")
        self.remove_button = QPushButton("Remove")
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Replace every role with Troupe's default team (saved on OK).")
        self.name = QLineEdit()
        self.description = QLineEdit()
        self.description.setPlaceholderText("One line shown to the planner, e.g. “Checks work for errors”")
        self.model = model_box(model_refs, "", "Default model")
        self.fallbacks = ModelList(model_refs, "A model to try if the one above fails")
        self.temperature = spin_box(QDoubleSpinBox(singleStep=0.1, decimals=2), 0, 2, 0.3)
        self.tools = ToolChecks()
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("The role's standing instructions: who it is and how it works.")
        self.note = hint_label()
        self._build()
        self._connect()
        self.load(roster)

    # --- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.add_button, self.duplicate_button, self.remove_button):
            buttons.addWidget(button)
        left_column = QVBoxLayout()
        left_column.addWidget(self.roles, 1)
        left_column.addLayout(buttons)
        left_column.addWidget(self.reset_button)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Name:", self.name)
        form.addRow("", self.note)
        form.addRow("&Description:", self.description)
        form.addRow("&Model:", self.model)
        form.addRow("&Fallbacks:", self.fallbacks)
        form.addRow("&Temperature:", left(self.temperature, "0 = focused and repeatable, 2 = most varied"))
        form.addRow("T&ools:", self.tools)
        form.addRow("System &prompt:", self.prompt)
        editor = QFrame()
        editor.setFrameShape(QFrame.Shape.StyledPanel)
        editor.setLayout(form)
        row = QHBoxLayout(self)
        row.addLayout(left_column, 0)
        row.addWidget(editor, 1)

    def _connect(self) -> None:
        self.roles.currentRowChanged.connect(self._on_role_selected)
        self.add_button.clicked.connect(self._on_add)
        self.duplicate_button.clicked.connect(self._on_duplicate)
        self.remove_button.clicked.connect(self._on_remove)
        self.reset_button.clicked.connect(lambda: self.load(default_roster()))
        self.name.textEdited.connect(self._on_name_edited)
        self.description.textEdited.connect(lambda t: self._edit(description=t))
        self.model.currentTextChanged.connect(lambda t: self._edit(model=t))
        self.fallbacks.changed.connect(lambda: self._edit(fallbacks=list(self.fallbacks.models())))
        self.temperature.valueChanged.connect(lambda v: self._edit(temperature=v))
        self.tools.toggled.connect(lambda: self._edit(tools=self.tools.checked()))
        self.prompt.textChanged.connect(lambda: self._edit(system_prompt=self.prompt.toPlainText()))

    def set_model_refs(self, refs: list[str]) -> None:
        """Offer these model references in the model pickers (what the Providers tab has)."""
        set_choices(self.model, refs)
        self.fallbacks.set_choices(refs)

    # --- state -------------------------------------------------------------------------

    def load(self, roster: Roster) -> None:
        """Show `roster` (replacing whatever was being edited)."""
        self.drafts = [RoleDraft.of(r) for r in roster]
        self.roles.clear()
        for draft in self.drafts:
            self.roles.addItem(QListWidgetItem(role_icon(draft.name), draft.name))
        self.roles.setCurrentRow(0)

    def current(self) -> RoleDraft | None:
        row = self.roles.currentRow()
        return self.drafts[row] if 0 <= row < len(self.drafts) else None

    def roster(self) -> Roster:
        """The edited roster; call problems() first (this raises RosterError if invalid)."""
        return Roster.from_dict(Roster(tuple(d.role() for d in self.drafts)).to_dict())

    def select(self, name: str) -> None:
        for row, draft in enumerate(self.drafts):
            if draft.name == name:
                self.roles.setCurrentRow(row)

    def _edit(self, **changes: object) -> None:
        draft = self.current()
        if draft is None or self._loading:
            return
        for key, value in changes.items():
            setattr(draft, key, value)

    def _on_role_selected(self, row: int) -> None:
        draft = self.current()
        self._loading = True
        try:
            self._show(draft)
        finally:
            self._loading = False
        self.remove_button.setEnabled(draft is not None and not draft.is_orchestrator)
        self.duplicate_button.setEnabled(draft is not None)

    def _show(self, draft: RoleDraft | None) -> None:
        for widget in (self.name, self.description, self.model, self.fallbacks, self.temperature,
                       self.tools, self.prompt):
            widget.setEnabled(draft is not None)
        draft = draft or RoleDraft("", "")
        self.name.setText(draft.name)
        self.name.setReadOnly(draft.is_orchestrator)
        self.note.setVisible(draft.is_orchestrator)
        self.note.setText("The orchestrator makes the plans and writes the deliverable; it can be "
                          "edited but not renamed or removed.")
        self.description.setText(draft.description)
        editor(self.model).setPlaceholderText(
            "Planner model (see the Models tab)" if draft.is_orchestrator else "Default model")
        self.model.setCurrentText(draft.model)
        self.fallbacks.set_models(draft.fallbacks)
        self.temperature.setValue(draft.temperature)
        self.prompt.setPlainText(draft.system_prompt)
        self.tools.show_tools(draft.tools)

    def _on_name_edited(self, text: str) -> None:
        item, draft = self.roles.currentItem(), self.current()
        if item is None or draft is None:
            return
        draft.name = text
        item.setText(text.strip() or "(unnamed)")
        item.setIcon(role_icon(text.strip()))

    def _insert(self, row: int, draft: RoleDraft) -> None:
        self.drafts.insert(row, draft)
        self.roles.insertItem(row, QListWidgetItem(role_icon(draft.name), draft.name))
        self.roles.setCurrentRow(row)
        self.name.setFocus()
        self.name.selectAll()

    def _names(self) -> list[str]:
        return [d.name for d in self.drafts]

    def _on_add(self) -> None:
        self._insert(len(self.drafts), RoleDraft(unique_name("new-agent", self._names()), NEW_ROLE_PROMPT))

    def _on_duplicate(self) -> None:
        draft = self.current()
        if draft is not None:
            base = re.sub(r"-copy(-\d+)?$", "", draft.name.strip()) + "-copy"  # a copy of a copy: -copy-2
            copy = replace(draft, name=unique_name(base, self._names()), tools=list(draft.tools),
                           fallbacks=list(draft.fallbacks))
            self._insert(self.roles.currentRow() + 1, copy)

    def _on_remove(self) -> None:
        draft, row = self.current(), self.roles.currentRow()
        if draft is None or draft.is_orchestrator:
            return
        del self.drafts[row]
        self.roles.takeItem(row)
        self.roles.setCurrentRow(min(row, len(self.drafts) - 1))

    # --- validation --------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        seen: set[str] = set()
        folded = [d.name.strip().casefold() for d in self.drafts]
        for row, draft in enumerate(self.drafts):
            name = draft.name.strip()
            label = f"Role {row + 1}" + (f" (“{name}”)" if name else "")
            if name and folded.count(name.casefold()) == 1:
                label = f"“{name}”"

            def at(widget: QWidget, row: int = row) -> Callable[[], None]:
                def focus() -> None:
                    self.roles.setCurrentRow(row)
                    widget.setFocus()
                return focus

            if not name:
                found.append(Problem(f"Role {row + 1} needs a name.", at(self.name)))
            elif name.casefold() in seen:
                found.append(Problem(f"Two roles are named “{name}”: role names must be unique.",
                                     at(self.name)))
            seen.add(name.casefold())
            if not draft.system_prompt.strip():
                found.append(Problem(f"{label} needs a system prompt.", at(self.prompt)))
            if message := model_problem(draft.model.strip()):
                found.append(Problem(f"{label}: {message}", at(self.model)))
        if ORCHESTRATOR not in seen:
            found.append(Problem(f"The roster needs an “{ORCHESTRATOR}” role.", self.roles.setFocus))
        if not found:
            try:
                self.roster()
            except RosterError as exc:
                found.append(Problem(str(exc), self.roles.setFocus))
        return found
