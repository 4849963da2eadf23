"""Settings: models, API keys and the agent roster, on three tabs.

    dialog = SettingsDialog(settings, roster, parent)
    if dialog.exec() == QDialog.DialogCode.Accepted:
        save_settings(dialog.result_settings())
        save_user_roster(dialog.result_roster())

The dialog never changes what it was given: OK validates everything and
keeps the results, Cancel throws the edits away. API keys are the one
exception: Save / Remove on the Keys tab act on the system keychain at
once (through app.secrets and app.keys; OK also stores a key that was
typed but not saved yet), and keys never reach the settings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from agents.errors import RosterError
from agents.roster import ORCHESTRATOR, Role, Roster
from app import keys
from app.roster_store import default_roster
from app.secrets import provider_of, set_api_key
from app.settings import Settings
from ui import theme

MODEL_SUGGESTIONS: tuple[str, ...] = (
    "openai/gpt-4o-mini",
    "openai/gpt-4o",
    "anthropic/claude-3-5-haiku-latest",
    "anthropic/claude-3-5-sonnet-latest",
    "gemini/gemini-1.5-flash",
    "mistral/mistral-small-latest",
    "groq/llama-3.1-8b-instant",
    "ollama/llama3.1",
    "openrouter/openai/gpt-4o-mini",
    "openrouter/anthropic/claude-3.5-sonnet",
)
"""litellm model strings offered in the model boxes (any other may be typed)."""

KNOWN_TOOLS: dict[str, str] = {
    "read_file": "Read a file",
    "list_files": "List the files in a folder",
    "write_file": "Write a file",
    "run_python": "Run Python code",
    "run_shell": "Run a shell command",
    "fetch_url": "Download a web page",
    "search_history": "Search earlier runs",
}
"""Tools a role may be allowed, with a short description for the tooltip."""

PROVIDER_NAMES: dict[str, str] = {
    "openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Google Gemini",
    "mistral": "Mistral", "groq": "Groq", "openrouter": "OpenRouter",
}

STATUS_CHIPS: dict[str, tuple[str, str]] = {
    keys.KEYCHAIN: ("●  In keychain", theme.STATUS_COLOURS["completed"]),
    keys.ENVIRONMENT: ("●  From environment", theme.STATUS_COLOURS["running"]),
    keys.NONE: ("○  Not set", theme.STATUS_COLOURS["pending"]),
}

NEW_ROLE_PROMPT = (
    "You are a capable specialist on a small team. Do the task you are given "
    "carefully and report the result clearly."
)

SpinBox = TypeVar("SpinBox", QSpinBox, QDoubleSpinBox)

SETTINGS_FIELDS = frozenset(f.name for f in fields(Settings))


@dataclass(frozen=True)
class Problem:
    """One reason OK was refused, and how to show the person where it is."""

    message: str
    focus: Callable[[], None]


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider)


def model_box(suggestions: tuple[str, ...], current: str | None, placeholder: str) -> QComboBox:
    """An editable combo box of model strings that keeps exactly what is typed."""
    box = QComboBox()
    box.setEditable(True)
    box.addItems(list(suggestions))
    box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    box.setMinimumContentsLength(28)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    completer = box.completer()
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)  # no inline guesses
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    box.lineEdit().setPlaceholderText(placeholder)
    box.lineEdit().setClearButtonEnabled(True)
    box.setCurrentText(current or "")
    return box


def model_problem(text: str) -> str | None:
    if any(c.isspace() for c in text):
        return f"“{text}” is not a model string: it contains a space."
    return None


def hint_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    theme.dim(label)
    return label


def banner(colour: str) -> QLabel:
    """A hidden, word-wrapped message strip tinted with `colour`."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    tint = theme.css(theme.mix(theme.palette_colour(QPalette.ColorRole.Base), QColor(colour), 0.16))
    label.setStyleSheet(
        f"QLabel {{ background: {tint}; border: 1px solid {colour}; border-radius: 4px; padding: 8px; }}"
    )
    label.hide()
    return label


# --- Models -----------------------------------------------------------------------------


class ModelsTab(QWidget):
    """Default and planner model, endpoint, concurrency, timeouts, retries, budget."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.default_model = model_box(MODEL_SUGGESTIONS, settings.default_model, "provider/model")
        self.planner_model = model_box(MODEL_SUGGESTIONS, settings.planner_model, "Same as the default model")
        self.api_base = QLineEdit(settings.api_base or "")
        self.api_base.setPlaceholderText("Provider's own endpoint")
        self.api_base.setClearButtonEnabled(True)
        self.max_parallel = spin_box(QSpinBox(), 1, 1000, settings.max_parallel)
        self.call_timeout = spin_box(QDoubleSpinBox(decimals=0, suffix=" s"), 1, 3600, settings.call_timeout)
        self.max_attempts = spin_box(QSpinBox(), 1, 20, settings.max_attempts)
        self.budget = QDoubleSpinBox(decimals=2, prefix="$ ", singleStep=0.5)
        self.budget.setSpecialValueText("No limit")
        spin_box(self.budget, 0, 1_000_000, float(getattr(settings, "budget_usd", 0.0) or 0.0))
        self.key_hint = hint_label()
        self._build()
        self.default_model.currentTextChanged.connect(self._on_model_changed)
        self._on_model_changed()

    def _build(self) -> None:
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(6)
        form.addRow(section("Models"))
        form.addRow("&Default model:", above(self.default_model, self.key_hint))
        form.addRow("&Planner model:", above(self.planner_model, hint_label(
            "Makes the plan and writes the final deliverable; empty means the default model. "
            "Any litellm model string works: “provider/model-name”.")))
        form.addRow("API &base URL:", above(self.api_base, hint_label(
            "Only for OpenAI-compatible servers such as LM Studio, vLLM or llama.cpp, "
            "e.g. http://localhost:1234/v1. Empty uses each provider's own endpoint.")))
        form.addRow(spacer(6))
        form.addRow(section("Limits"))
        form.addRow("Max &parallel calls:", left(self.max_parallel, "model calls in flight at once"))
        form.addRow("Per-call &timeout:", left(self.call_timeout, "a call that takes longer fails and is retried"))
        form.addRow("Max &attempts:", left(self.max_attempts, "tries per model call before the task fails"))
        form.addRow("B&udget per run:", left(self.budget, "in US dollars; “No limit” at $0"))

    def _on_model_changed(self) -> None:
        self.refresh_key_hint()

    def refresh_key_hint(self) -> None:
        """Say where the default model's key will come from."""
        model = self.default_model.currentText().strip()
        provider = provider_of(model) if model else ""
        name, var = provider_name(provider), keys.env_var(provider)
        if not model:
            text = ""
        elif provider not in keys.PROVIDERS:
            text = f"Troupe keeps no key for “{provider}”; local servers need none."
        else:
            text = {
                keys.KEYCHAIN: f"Uses your {name} key from the keychain.",
                keys.ENVIRONMENT: f"Uses your {name} key from {var}.",
                keys.NONE: f"No {name} key yet: add one on the API keys tab, or set {var}.",
            }[keys.key_status(provider)]
        self.key_hint.setText(text)

    def values(self) -> dict[str, object]:
        return {
            "default_model": self.default_model.currentText().strip(),
            "planner_model": self.planner_model.currentText().strip() or None,
            "api_base": self.api_base.text().strip() or None,
            "max_parallel": self.max_parallel.value(),
            "call_timeout": float(self.call_timeout.value()),
            "max_attempts": self.max_attempts.value(),
            "budget_usd": round(self.budget.value(), 2),
        }

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        default = self.default_model.currentText().strip()
        if not default:
            found.append(Problem("Choose a default model.", self.default_model.setFocus))
        for box in (self.default_model, self.planner_model):
            if message := model_problem(box.currentText().strip()):
                found.append(Problem(message, box.setFocus))
        base = self.api_base.text().strip()
        if base and not base.startswith(("http://", "https://")):
            found.append(Problem("The API base URL must start with http:// or https://.",
                                 self.api_base.setFocus))
        return found


def spin_box(box: SpinBox, low: float, high: float, value: float) -> SpinBox:
    """`box` with its range set before its value (so the value is not clamped)."""
    box.setRange(low, high)  # type: ignore[arg-type]
    box.setValue(value)  # type: ignore[arg-type]
    box.setMinimumWidth(120)
    return box


def section(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def spacer(height: int) -> QWidget:
    widget = QWidget()
    widget.setFixedHeight(height)
    return widget


def above(widget: QWidget, hint: QLabel) -> QWidget:
    """A field with a dim explanation under it, as one form row."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 6)
    layout.setSpacing(3)
    layout.addWidget(widget)
    layout.addWidget(hint)
    return box


def left(widget: QWidget, note: str = "") -> QWidget:
    """A fixed-size field on the left of its row, with a dim note after it."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    if note:
        layout.addSpacing(8)
        layout.addWidget(hint_label(note), 1)
    else:
        layout.addStretch(1)
    return row


# --- Keys -------------------------------------------------------------------------------


class KeyEdit(QLineEdit):
    """A password field whose Enter saves the key instead of closing the dialog."""

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # QLineEdit ignores it, and the dialog would take it as OK


class KeyRow:
    """One provider's widgets on the Keys tab."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.label = QLabel(provider_name(provider))
        self.edit = KeyEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumWidth(260)
        self.status = QLabel()
        self.status.setMinimumWidth(140)
        self.save = QPushButton("Save")
        self.remove = QPushButton("Remove")
        self.state = keys.NONE
        """Where the key is now (keys.KEYCHAIN / ENVIRONMENT / NONE), as last read."""


class KeysTab(QWidget):
    """One row per provider; Save / Remove act on the keychain immediately."""

    keysChanged = Signal()  # noqa: N815 - Qt signal naming
    """A key was stored or removed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problem = keys.keychain_problem()
        self.rows = {p: KeyRow(p) for p in keys.PROVIDERS}
        self.unavailable = banner(theme.STATUS_COLOURS["waiting_approval"])
        self.message = hint_label()
        self._build()
        for row in self.rows.values():
            row.edit.textChanged.connect(lambda _t, r=row: self._update_buttons(r))
            row.edit.returnPressed.connect(lambda r=row: self._on_save(r))
            row.save.clicked.connect(lambda _c=False, r=row: self._on_save(r))
            row.remove.clicked.connect(lambda _c=False, r=row: self._on_remove(r))
        self.refresh()

    @property
    def available(self) -> bool:
        return self.problem is None

    def _build(self) -> None:
        column = QVBoxLayout(self)
        intro = QLabel("API keys are stored in your system keychain, never in Troupe's settings "
                       "file or history. A key in the keychain is used before the provider's "
                       "environment variable. Save and Remove take effect immediately. Local "
                       "models (Ollama, LM Studio, vLLM) need no key.")
        intro.setWordWrap(True)
        column.addWidget(intro)
        if self.problem is not None:
            names = ", ".join(keys.env_var(p) for p in keys.PROVIDERS)
            self.unavailable.setText(
                f"<b>{html.escape(self.problem)}</b> Troupe cannot store API keys here. Set them as environment "
                f"variables before starting Troupe instead ({names}), or install and unlock a "
                "keychain service (such as GNOME Keyring or KWallet) and open Settings again.")
            self.unavailable.show()
            column.addWidget(self.unavailable)
        column.addSpacing(6)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(8)
        grid.setColumnStretch(1, 1)
        for i, row in enumerate(self.rows.values()):
            for j, widget in enumerate((row.label, row.edit, row.status, row.save, row.remove)):
                grid.addWidget(widget, i, j)
        column.addLayout(grid)
        column.addSpacing(6)
        column.addWidget(self.message)
        column.addStretch(1)

    def refresh(self) -> None:
        for row in self.rows.values():
            self._update_row(row)

    def _update_row(self, row: KeyRow) -> None:
        """Read where the key is now (the keychain is asked here, not on every keystroke)."""
        row.state = status = keys.key_status(row.provider)
        text, colour = STATUS_CHIPS[status]
        row.status.setText(text)
        row.status.setStyleSheet(f"color: {colour};")
        row.status.setToolTip(f"{keys.env_var(row.provider)} is set" if status == keys.ENVIRONMENT else "")
        row.edit.setPlaceholderText({
            keys.KEYCHAIN: "•••• stored in keychain (type a new key to replace it)",
            keys.ENVIRONMENT: f"Using {keys.env_var(row.provider)} (type a key to store one)",
            keys.NONE: f"Paste your {provider_name(row.provider)} API key",
        }[status] if self.available else f"Set {keys.env_var(row.provider)} in the environment")
        row.edit.setEnabled(self.available)
        self._update_buttons(row)

    def _update_buttons(self, row: KeyRow) -> None:
        row.save.setEnabled(self.available and bool(row.edit.text().strip()))
        row.remove.setEnabled(self.available and row.state == keys.KEYCHAIN)

    def _on_save(self, row: KeyRow) -> bool:
        """Store the typed key; False (and an inline message) if the keychain refused it."""
        key = row.edit.text().strip()
        if not key or not self.available:
            return True
        name = provider_name(row.provider)
        try:
            set_api_key(row.provider, key)
        except Exception as exc:  # noqa: BLE001 - any keyring backend failure is shown, not raised
            self._say(f"Could not store the {name} key: {exc}", error=True)
            saved = False
        else:
            row.edit.clear()
            self._say(f"{name} key saved to the keychain.")
            saved = True
        self._update_row(row)
        self.keysChanged.emit()
        return saved

    def save_typed_keys(self) -> list[Problem]:
        """On OK: store keys that were typed but not saved yet; a problem per refusal."""
        return [Problem(self.message.text(), row.edit.setFocus)
                for row in self.rows.values() if not self._on_save(row)]

    def _on_remove(self, row: KeyRow) -> None:
        name = provider_name(row.provider)
        answer = QMessageBox.question(
            self, "Remove API key", f"Remove the {name} key from the keychain?\n\n"
            "Troupe will use the environment variable instead, if it is set.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            keys.delete_api_key(row.provider)
        except Exception as exc:  # noqa: BLE001 - as in _on_save
            self._say(f"Could not remove the {name} key: {exc}", error=True)
        else:
            self._say(f"{name} key removed from the keychain.")
        self._update_row(row)
        self.keysChanged.emit()

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        colour = theme.FAILED_COLOUR if error else theme.css(theme.dim_text_colour())
        self.message.setStyleSheet(f"color: {colour};")


# --- Agents -----------------------------------------------------------------------------


@dataclass
class RoleDraft:
    """A role being edited (Role is frozen)."""

    name: str
    system_prompt: str
    description: str = ""
    model: str = ""
    temperature: float = 0.3
    tools: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, role: Role) -> RoleDraft:
        return cls(role.name, role.system_prompt, role.description, role.model or "",
                   role.temperature, list(role.tools))

    def role(self) -> Role:
        return Role(name=self.name.strip(), system_prompt=self.system_prompt.strip(),
                    description=self.description.strip(), model=self.model.strip() or None,
                    temperature=round(self.temperature, 2), tools=tuple(self.tools))

    @property
    def is_orchestrator(self) -> bool:
        return self.name == ORCHESTRATOR


def role_icon(name: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(theme.palette_colour(QPalette.ColorRole.Base), 1.2))  # shows on a selection too
    painter.setBrush(theme.role_colour(name or "?"))
    painter.drawEllipse(QRectF(1, 1, 10, 10))
    painter.end()
    return QIcon(pixmap)


def unique_name(base: str, taken: list[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


class ToolChecks(QWidget):
    """A checkable list of tool names, four to a row."""

    toggled = Signal()
    """A tool was checked or unchecked by the person."""

    COLUMNS = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boxes: dict[str, QCheckBox] = {}
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 2, 0, 2)
        self._grid.setHorizontalSpacing(14)
        self._grid.setColumnStretch(self.COLUMNS, 1)
        self.show_tools([])

    def show_tools(self, checked: list[str]) -> None:
        """Check exactly `checked`; tools Troupe does not know (a hand-edited file) are kept."""
        names = [*KNOWN_TOOLS, *(t for t in checked if t not in KNOWN_TOOLS)]
        if list(self.boxes) != names:
            for box in self.boxes.values():
                self._grid.removeWidget(box)
                box.hide()
                box.deleteLater()
            self.boxes = {}
            for i, name in enumerate(names):
                box = QCheckBox(name)
                box.setToolTip(KNOWN_TOOLS.get(name, "A tool Troupe does not know"))
                box.clicked.connect(lambda _on: self.toggled.emit())
                self._grid.addWidget(box, i // self.COLUMNS, i % self.COLUMNS)
                self.boxes[name] = box
        for name, box in self.boxes.items():
            box.setChecked(name in checked)

    def checked(self) -> list[str]:
        return [name for name, box in self.boxes.items() if box.isChecked()]


class AgentsTab(QWidget):
    """The roster editor: roles on the left, the selected role on the right."""

    def __init__(self, roster: Roster, parent: QWidget | None = None) -> None:
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
        self.model = model_box(MODEL_SUGGESTIONS, "", "Default model")
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
        self.temperature.valueChanged.connect(lambda v: self._edit(temperature=v))
        self.tools.toggled.connect(lambda: self._edit(tools=self.tools.checked()))
        self.prompt.textChanged.connect(lambda: self._edit(system_prompt=self.prompt.toPlainText()))

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
        for widget in (self.name, self.description, self.model, self.temperature, self.tools, self.prompt):
            widget.setEnabled(draft is not None)
        draft = draft or RoleDraft("", "")
        self.name.setText(draft.name)
        self.name.setReadOnly(draft.is_orchestrator)
        self.note.setVisible(draft.is_orchestrator)
        self.note.setText("The orchestrator makes the plans and writes the deliverable; it can be "
                          "edited but not renamed or removed.")
        self.description.setText(draft.description)
        self.model.lineEdit().setPlaceholderText(
            "Planner model (see the Models tab)" if draft.is_orchestrator else "Default model")
        self.model.setCurrentText(draft.model)
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
            copy = replace(draft, name=unique_name(base, self._names()), tools=list(draft.tools))
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
        seen: dict[str, str] = {}
        folded = [d.name.strip().casefold() for d in self.drafts]
        for row, draft in enumerate(self.drafts):
            name = draft.name.strip()
            label = f"Role {row + 1}" + (f" (“{name}”)" if name else "")
            if name and folded.count(name.casefold()) == 1:
                label = f"“{name}”"

            def at(widget: QWidget, row: int = row) -> Callable[[], None]:
                return lambda: (self.roles.setCurrentRow(row), widget.setFocus())

            if not name:
                found.append(Problem(f"Role {row + 1} needs a name.", at(self.name)))
            elif name.casefold() in seen:
                found.append(Problem(f"Two roles are named “{name}”: role names must be unique.",
                                     at(self.name)))
            seen.setdefault(name.casefold(), name)
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


# --- the dialog -------------------------------------------------------------------------


class SettingsDialog(QDialog):
    """Models, API keys and agents. Read the results after accept()."""

    def __init__(self, settings: Settings, roster: Roster, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self._result_settings: Settings | None = None
        self._result_roster: Roster | None = None
        self._budget_usd = float(getattr(settings, "budget_usd", 0.0) or 0.0)
        self.models_tab = ModelsTab(settings)
        self.keys_tab = KeysTab()
        self.agents_tab = AgentsTab(roster)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(padded(self.models_tab), "Models")
        self.tabs.addTab(padded(self.keys_tab), "API keys")
        self.tabs.addTab(padded(self.agents_tab), "Agents")
        self.errors = banner(theme.FAILED_COLOUR)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.errors)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.keys_tab.keysChanged.connect(self.models_tab.refresh_key_hint)
        self.resize(880, 640)

    def accept(self) -> None:
        """Validate; show the problems inline, or keep the results and close."""
        tabs = ((self.models_tab, 0), (self.agents_tab, 2))
        problems = [(index, p) for tab, index in tabs for p in tab.problems()]
        problems = problems or [(1, p) for p in self.keys_tab.save_typed_keys()]
        if problems:
            self._show_problems(problems)
            return
        values = self.models_tab.values()
        self._budget_usd = float(values["budget_usd"])  # type: ignore[arg-type]
        self._result_settings = replace(self._settings, **{k: v for k, v in values.items() if k in SETTINGS_FIELDS})
        self._result_roster = self.agents_tab.roster()
        self.errors.hide()
        super().accept()

    def _show_problems(self, problems: list[tuple[int, Problem]]) -> None:
        lines = [p.message for _, p in problems[:6]]
        if len(problems) > 6:
            lines.append(f"… and {len(problems) - 6} more.")
        self.errors.setText("<b>Please fix:</b><br>" + "<br>".join(f"•&nbsp;{html.escape(m)}" for m in lines))
        self.errors.show()
        index, first = problems[0]
        self.tabs.setCurrentIndex(index)
        first.focus()

    def result_settings(self) -> Settings:
        """The edited settings (API keys are never among them); only after accept."""
        if self._result_settings is None:
            raise RuntimeError("result_settings() is only available after the dialog was accepted")
        return self._result_settings

    def result_roster(self) -> Roster:
        """The edited, validated roster; only after accept."""
        if self._result_roster is None:
            raise RuntimeError("result_roster() is only available after the dialog was accepted")
        return self._result_roster

    def result_budget_usd(self) -> float:
        """Budget per run in US dollars, 0 for none (also in result_settings once Settings has budget_usd)."""
        return self._budget_usd


def padded(widget: QWidget) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(14, 14, 14, 10)
    layout.addWidget(widget)
    return page
